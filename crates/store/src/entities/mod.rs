//! SeaORM entities of the tables in `migrations/`; they never leave this crate.

// The entity macros generate `pub` items; the modules themselves stay private.
#![allow(unreachable_pub)]

pub(crate) mod audit_events;
pub(crate) mod backup_codes;
pub(crate) mod permissions;
pub(crate) mod session_events;
pub(crate) mod sessions;
pub(crate) mod two_factor_failures;
pub(crate) mod users;

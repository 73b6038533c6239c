//! SeaORM entities of the tables in `migrations/`; they never leave this crate.

// The entity macros generate `pub` items; the modules themselves stay private.
#![allow(unreachable_pub)]

pub(crate) mod attempt_counters;
pub(crate) mod audit_events;
pub(crate) mod backup_codes;
pub(crate) mod email_two_factor;
pub(crate) mod known_addresses;
pub(crate) mod login_devices;
pub(crate) mod outbox;
pub(crate) mod permissions;
pub(crate) mod session_events;
pub(crate) mod sessions;
pub(crate) mod user_emails;
pub(crate) mod user_preferences;
pub(crate) mod users;

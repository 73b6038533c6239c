//! tonic adapters of the session service, and the error-code table both edges
//! share.

pub mod bounds;
mod caller;
mod convert;
mod credential;
pub mod error_table;
mod internal;
mod params;
mod public;

pub use credential::ServiceCredential;
pub use internal::{InternalApi, LongLivedStream};
pub use params::{ADDITIONAL, RestDecoding};
pub use public::PublicApi;

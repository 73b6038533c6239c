//! Entry points for the `fuzz/` targets (feature `fuzzing`, off by default).
//!
//! Thin wrappers over crate-private parsing, so the fuzzers exercise the very
//! code the service runs while normal builds expose nothing more.

use chrono::{DateTime, Utc};
use sessions_domain::{DomainResult, ListQuery, ListScope, SortDirection, SortKey};

use crate::{ListParams, ServiceConfig};

/// Listing parameters into the validated query the store runs.
pub fn build_query(
    params: &ListParams,
    scope: ListScope,
    config: &ServiceConfig,
    now: DateTime<Utc>,
) -> DomainResult<ListQuery> {
    crate::listing::build_query(params, scope, config, now)
}

/// The `sort` parameter alone; `all_users` admits the owner's fields.
pub fn parse_sort(raw: &str, all_users: bool) -> DomainResult<Vec<(SortKey, SortDirection)>> {
    crate::listing::parse_sort(raw, all_users)
}

//! Listing parameters (offset, count, filter, sort) into a listing query: never
//! a panic, counts inside the configured bounds, sorts exactly as documented.
#![no_main]

use arbitrary::Arbitrary;
use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;
use sessions_domain::{DomainError, ListScope, SortDirection, SortKey};
use sessions_service::{
    ListParams, ServiceConfig,
    fuzzing::{build_query, parse_sort},
};

/// Sort keys, valid and not; the last two only for the all-users listing.
const KEYS: &[&str] = &[
    "loginAt",
    "device.name",
    "device.os.name",
    "device.os.version",
    "password",
    "",
    "_user.name",
    "_user.username",
];
/// Sort values as JSON text; only the first four mean a direction.
const VALUES: &[&str] = &[
    "1", "-1", "1.0", "-1e0", "0", "2", "\"asc\"", "null", "true", "{}", "[1]", "1e400",
];

#[derive(Debug, Arbitrary)]
struct Input {
    offset: Option<i64>,
    count: Option<i64>,
    filter: String,
    /// Free text, or (when `entries` is given) replaced by a JSON object of them.
    sort: String,
    entries: Option<Vec<(u8, u8)>>,
    all_users: bool,
    default_count: u64,
    max_count: u64,
}

fn key(index: u8) -> &'static str {
    KEYS[usize::from(index) % KEYS.len()]
}

fn value(index: u8) -> &'static str {
    VALUES[usize::from(index) % VALUES.len()]
}

fn sort_key(name: &str, all_users: bool) -> Option<SortKey> {
    Some(match name {
        "loginAt" => SortKey::LoginAt,
        "device.name" => SortKey::DeviceName,
        "device.os.name" => SortKey::DeviceOsName,
        "device.os.version" => SortKey::DeviceOsVersion,
        "_user.name" if all_users => SortKey::UserName,
        "_user.username" if all_users => SortKey::UserUsername,
        _ => return None,
    })
}

/// What `sort` must parse to, from the entries alone (the model of the spec).
fn expected(
    entries: &[(u8, u8)],
    raw: &str,
    all_users: bool,
) -> Result<Vec<(SortKey, SortDirection)>, DomainError> {
    // `1e400` is out of serde_json's range: the text is not JSON at all.
    if entries.iter().any(|&(_, v)| value(v) == "1e400") {
        return Err(DomainError::InvalidSort(raw.to_owned()));
    }
    // Later duplicates win, in the position of the first (a JSON object).
    let mut object: Vec<(&str, &str)> = Vec::new();
    for &(k, v) in entries {
        match object.iter_mut().find(|(name, _)| *name == key(k)) {
            Some(entry) => entry.1 = value(v),
            None => object.push((key(k), value(v))),
        }
    }
    let mut directions = Vec::new();
    for (name, text) in &object {
        let direction = match *text {
            "1" | "1.0" => SortDirection::Ascending,
            "-1" | "-1e0" => SortDirection::Descending,
            _ => return Err(DomainError::InvalidSort(raw.to_owned())),
        };
        directions.push((*name, direction));
    }
    let mut sort = Vec::new();
    for (name, direction) in directions {
        sort.push((
            sort_key(name, all_users).ok_or(DomainError::InvalidSortKeys)?,
            direction,
        ));
    }
    if sort.is_empty() {
        sort.push((SortKey::LoginAt, SortDirection::Descending));
    }
    Ok(sort)
}

fuzz_target!(|input: Input| {
    let sort = match &input.entries {
        Some(entries) => {
            let fields: Vec<String> = entries
                .iter()
                .map(|&(k, v)| format!("{}:{}", serde_json::json!(key(k)), value(v)))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        None => input.sort.clone(),
    };
    let params = ListParams {
        offset: input.offset,
        count: input.count,
        filter: input.filter.clone(),
        sort: sort.clone(),
    };
    let config = ServiceConfig {
        list_default_count: input.default_count,
        list_max_count: input.max_count,
        ..ServiceConfig::default()
    };
    let scope = if input.all_users {
        ListScope::All
    } else {
        ListScope::User("u".to_owned())
    };
    let now = DateTime::<Utc>::UNIX_EPOCH;
    let parsed = parse_sort(&sort, input.all_users);
    if let Some(entries) = &input.entries {
        assert_eq!(parsed, expected(entries, &sort, input.all_users), "{sort}");
    }
    if parsed.is_ok() && !sort.is_empty() {
        assert!(matches!(
            serde_json::from_str::<serde_json::Value>(&sort),
            Ok(serde_json::Value::Object(_))
        ));
    }
    // A filter holding NUL never gets here: the string bounds every transport
    // shares refuse it first (`sessions_grpc::bounds`, fuzzed by grpc_requests).
    let built = build_query(&params, scope.clone(), &config, now);
    match built {
        Ok(query) => {
            assert_eq!(Ok(&query.sort), parsed.as_ref());
            assert!(!query.sort.is_empty());
            assert!(
                query.count >= 1 && query.count <= input.max_count.max(1),
                "{query:?}"
            );
            assert_eq!(
                query.offset,
                input.offset.unwrap_or(0).max(0).unsigned_abs()
            );
            let filter = input.filter.to_lowercase();
            assert_eq!(query.filter, Some(filter).filter(|f| !f.is_empty()));
            assert_eq!(query.scope, scope);
        }
        Err(err) => {
            assert_eq!(Err(err.clone()), parsed);
            assert!(matches!(
                err,
                DomainError::InvalidSort(_) | DomainError::InvalidSortKeys
            ));
        }
    }
});

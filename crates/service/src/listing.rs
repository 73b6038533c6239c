//! Listing parameters (offset, count, filter, sort) into a validated query.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sessions_domain::{DomainError, DomainResult, ListQuery, ListScope, SortDirection, SortKey};

use crate::ServiceConfig;

/// Raw listing parameters as the caller sent them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListParams {
    pub offset: Option<i64>,
    pub count: Option<i64>,
    pub filter: String,
    pub sort: String,
}

/// A listing whose parameters passed the parameter step; the owner (the
/// caller, or every user) and the clock are filled in by the action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ListSpec {
    filter: Option<String>,
    sort: Vec<(SortKey, SortDirection)>,
    offset: u64,
    count: u64,
}

impl ListSpec {
    /// Validates `params`; `all_users` admits the owner's sort keys.
    pub(crate) fn parse(
        params: &ListParams,
        all_users: bool,
        config: &ServiceConfig,
    ) -> DomainResult<Self> {
        let sort = parse_sort(&params.sort, all_users)?;
        let offset = params.offset.unwrap_or(0).max(0) as u64;
        // Clamped as u64 against a maximum of at least 1: a configured maximum of 0,
        // or one above i64::MAX, made `clamp` panic (min > max) on every listing.
        let max_count = config.list_max_count.max(1);
        let count = match params.count {
            Some(count) => u64::try_from(count).unwrap_or(0),
            None => config.list_default_count,
        }
        .clamp(1, max_count);
        let filter = Some(params.filter.to_lowercase()).filter(|f| !f.is_empty());
        Ok(Self {
            filter,
            sort,
            offset,
            count,
        })
    }

    pub(crate) fn query(self, scope: ListScope, now: DateTime<Utc>) -> ListQuery {
        ListQuery {
            scope,
            filter: self.filter,
            sort: self.sort,
            offset: self.offset,
            count: self.count,
            now,
        }
    }
}

/// Parse and build in one step (the fuzz targets and the tests below).
#[cfg_attr(not(any(test, feature = "fuzzing")), allow(dead_code))]
pub(crate) fn build_query(
    params: &ListParams,
    scope: ListScope,
    config: &ServiceConfig,
    now: DateTime<Utc>,
) -> DomainResult<ListQuery> {
    let spec = ListSpec::parse(params, scope == ListScope::All, config)?;
    Ok(spec.query(scope, now))
}

/// `{"loginAt":-1}` style sort; keys in the order given.
pub(crate) fn parse_sort(
    raw: &str,
    all_users: bool,
) -> DomainResult<Vec<(SortKey, SortDirection)>> {
    if raw.is_empty() {
        return Ok(vec![(SortKey::LoginAt, SortDirection::Descending)]);
    }
    let invalid = || DomainError::InvalidSort(raw.to_owned());
    let Ok(Value::Object(entries)) = serde_json::from_str::<Value>(raw) else {
        return Err(invalid());
    };
    let mut directions = Vec::with_capacity(entries.len());
    for (key, value) in &entries {
        let direction = match value.as_f64() {
            Some(1.0) => SortDirection::Ascending,
            Some(-1.0) => SortDirection::Descending,
            _ => return Err(invalid()),
        };
        directions.push((key.as_str(), direction));
    }
    let mut sort = Vec::with_capacity(directions.len());
    for (key, direction) in directions {
        let key = match key {
            "loginAt" => SortKey::LoginAt,
            "device.name" => SortKey::DeviceName,
            "device.os.name" => SortKey::DeviceOsName,
            "device.os.version" => SortKey::DeviceOsVersion,
            "_user.name" if all_users => SortKey::UserName,
            "_user.username" if all_users => SortKey::UserUsername,
            _ => return Err(DomainError::InvalidSortKeys),
        };
        sort.push((key, direction));
    }
    if sort.is_empty() {
        sort.push((SortKey::LoginAt, SortDirection::Descending));
    }
    Ok(sort)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(params: ListParams, scope: ListScope) -> DomainResult<ListQuery> {
        build_query(&params, scope, &ServiceConfig::default(), Utc::now())
    }

    #[test]
    fn defaults_and_clamps() {
        let q = query(ListParams::default(), ListScope::All).unwrap();
        assert_eq!((q.offset, q.count), (0, 50));
        assert_eq!(q.sort, vec![(SortKey::LoginAt, SortDirection::Descending)]);
        let q = query(
            ListParams {
                offset: Some(-5),
                count: Some(500),
                ..Default::default()
            },
            ListScope::All,
        )
        .unwrap();
        assert_eq!((q.offset, q.count), (0, 100));
        let q = query(
            ListParams {
                count: Some(0),
                ..Default::default()
            },
            ListScope::All,
        )
        .unwrap();
        assert_eq!(q.count, 1);
    }

    /// Found by `fuzz/listing_query`: these maximums panicked in `clamp`.
    #[test]
    fn any_configured_maximum_clamps_without_panic() {
        for (max, expected) in [(0, 1), (1 << 63, 7), (u64::MAX, 7)] {
            let config = ServiceConfig {
                list_max_count: max,
                ..ServiceConfig::default()
            };
            let params = ListParams {
                count: Some(7),
                ..Default::default()
            };
            let q = build_query(&params, ListScope::All, &config, Utc::now()).unwrap();
            assert_eq!(q.count, expected, "max {max}");
        }
    }

    #[test]
    fn sort_keys_in_given_order() {
        let q = query(
            ListParams {
                sort: r#"{"device.name":1,"loginAt":-1}"#.into(),
                ..Default::default()
            },
            ListScope::User("u".into()),
        )
        .unwrap();
        assert_eq!(
            q.sort,
            vec![
                (SortKey::DeviceName, SortDirection::Ascending),
                (SortKey::LoginAt, SortDirection::Descending)
            ]
        );
    }

    #[test]
    fn bad_sorts_are_rejected() {
        for raw in ["nope", "[1]", r#"{"loginAt":2}"#, r#"{"loginAt":"asc"}"#] {
            let err = parse_sort(raw, true).unwrap_err();
            assert_eq!(err, DomainError::InvalidSort(raw.into()), "{raw}");
        }
        assert_eq!(
            parse_sort(r#"{"password":1}"#, true).unwrap_err(),
            DomainError::InvalidSortKeys
        );
        // Owner fields sort only the all-users listing.
        assert_eq!(
            parse_sort(r#"{"_user.name":1}"#, false).unwrap_err(),
            DomainError::InvalidSortKeys
        );
        assert!(parse_sort(r#"{"_user.name":1}"#, true).is_ok());
    }

    #[test]
    fn filter_is_lowercased_literal() {
        let q = query(
            ListParams {
                filter: "ChRoMe.*".into(),
                ..Default::default()
            },
            ListScope::All,
        )
        .unwrap();
        assert_eq!(q.filter.as_deref(), Some("chrome.*"));
    }
}

/// Listing parameters from anyone: counts stay in bounds, filters stay literal,
/// and sorts are accepted exactly when the documented grammar says so.
#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Sort keys, valid and not; the `_user` ones only for the all-users listing.
    const KEYS: &[&str] = &[
        "loginAt",
        "device.name",
        "device.os.name",
        "device.os.version",
        "_user.name",
        "_user.username",
        "password",
        "",
    ];
    /// Sort values as JSON text, and their direction when they have one.
    const VALUES: &[(&str, Option<SortDirection>)] = &[
        ("1", Some(SortDirection::Ascending)),
        ("-1", Some(SortDirection::Descending)),
        ("1.0", Some(SortDirection::Ascending)),
        ("-1e0", Some(SortDirection::Descending)),
        ("0", None),
        ("2", None),
        ("\"asc\"", None),
        ("null", None),
        ("true", None),
        ("[1]", None),
    ];

    fn scope(all_users: bool) -> ListScope {
        if all_users {
            ListScope::All
        } else {
            ListScope::User("u".into())
        }
    }

    fn allowed(key: &str, all_users: bool) -> Option<SortKey> {
        Some(match key {
            "loginAt" => SortKey::LoginAt,
            "device.name" => SortKey::DeviceName,
            "device.os.name" => SortKey::DeviceOsName,
            "device.os.version" => SortKey::DeviceOsVersion,
            "_user.name" if all_users => SortKey::UserName,
            "_user.username" if all_users => SortKey::UserUsername,
            _ => return None,
        })
    }

    proptest! {
        #[test]
        fn count_and_offset_stay_in_bounds(
            offset in any::<Option<i64>>(),
            count in any::<Option<i64>>(),
            default_count in any::<u64>(),
            max_count in any::<u64>(),
        ) {
            let config = ServiceConfig {
                list_default_count: default_count,
                list_max_count: max_count,
                ..ServiceConfig::default()
            };
            let params = ListParams { offset, count, ..ListParams::default() };
            let q = build_query(&params, ListScope::All, &config, Utc::now()).unwrap();
            prop_assert!((1..=max_count.max(1)).contains(&q.count), "{q:?}");
            prop_assert_eq!(q.offset, offset.unwrap_or(0).max(0).unsigned_abs());
            if let Some(count) = count.filter(|c| (1..=max_count.max(1) as i128).contains(&(*c as i128))) {
                prop_assert_eq!(q.count, count.unsigned_abs());
            }
        }

        #[test]
        fn filter_is_lowercased_literally(filter in "\\PC{0,32}|[.*+?()\\[\\]{}|^$\\\\A-Z]{0,16}") {
            let params = ListParams { filter: filter.clone(), ..ListParams::default() };
            let q = build_query(&params, ListScope::All, &ServiceConfig::default(), Utc::now())
                .unwrap();
            let lowered = filter.to_lowercase();
            prop_assert_eq!(q.filter, Some(lowered).filter(|f| !f.is_empty()));
        }

        #[test]
        fn sort_accepts_exactly_allowed_keys_with_unit_values(
            entries in proptest::collection::vec(
                (proptest::sample::select(KEYS), proptest::sample::select(VALUES)),
                0..5,
            ),
            all_users in any::<bool>(),
        ) {
            // A JSON object: a repeated key keeps its first place and last value.
            let mut object: Vec<(&str, Option<SortDirection>)> = Vec::new();
            for (key, (_, direction)) in &entries {
                match object.iter_mut().find(|(k, _)| k == key) {
                    Some(entry) => entry.1 = *direction,
                    None => object.push((key, *direction)),
                }
            }
            let raw = format!(
                "{{{}}}",
                entries
                    .iter()
                    .map(|(key, (value, _))| format!("{}:{value}", Value::from(*key)))
                    .collect::<Vec<_>>()
                    .join(",")
            );
            let expected = if object.iter().any(|(_, d)| d.is_none()) {
                Err(DomainError::InvalidSort(raw.clone()))
            } else if object.iter().any(|(k, _)| allowed(k, all_users).is_none()) {
                Err(DomainError::InvalidSortKeys)
            } else if object.is_empty() {
                Ok(vec![(SortKey::LoginAt, SortDirection::Descending)])
            } else {
                Ok(object
                    .iter()
                    .filter_map(|(k, d)| Some((allowed(k, all_users)?, (*d)?)))
                    .collect())
            };
            prop_assert_eq!(parse_sort(&raw, all_users), expected.clone());
            let params = ListParams { sort: raw, ..ListParams::default() };
            let built = build_query(&params, scope(all_users), &ServiceConfig::default(), Utc::now());
            prop_assert_eq!(built.map(|q| q.sort), expected);
        }

        #[test]
        fn any_sort_text_is_a_sort_or_a_sort_error(raw in "\\PC{0,24}|\\{[a-zA-Z._\":, 0-9-]{0,24}\\}") {
            match parse_sort(&raw, true) {
                Ok(sort) => {
                    prop_assert!(!sort.is_empty());
                    prop_assert!(
                        raw.is_empty()
                            || matches!(serde_json::from_str::<Value>(&raw), Ok(Value::Object(_)))
                    );
                }
                Err(err) => prop_assert!(
                    err == DomainError::InvalidSort(raw.clone()) || err == DomainError::InvalidSortKeys
                ),
            }
        }
    }
}

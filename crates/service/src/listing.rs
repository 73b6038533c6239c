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

pub(crate) fn build_query(
    params: &ListParams,
    scope: ListScope,
    config: &ServiceConfig,
    now: DateTime<Utc>,
) -> DomainResult<ListQuery> {
    let sort = parse_sort(&params.sort, scope == ListScope::All)?;
    let offset = params.offset.unwrap_or(0).max(0) as u64;
    let count = params
        .count
        .map(|c| c.clamp(1, config.list_max_count as i64) as u64)
        .unwrap_or(config.list_default_count)
        .clamp(1, config.list_max_count);
    let filter = Some(params.filter.to_lowercase()).filter(|f| !f.is_empty());
    Ok(ListQuery {
        scope,
        filter,
        sort,
        offset,
        count,
        now,
    })
}

/// `{"loginAt":-1}` style sort; keys in the order given.
fn parse_sort(raw: &str, all_users: bool) -> DomainResult<Vec<(SortKey, SortDirection)>> {
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

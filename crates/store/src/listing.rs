//! The listings (`sessions/list`, `list.all`): which active sessions match,
//! in which order, one page of the columns they show, and the exact total.

use sea_orm::{
    ColumnTrait, Condition, EntityTrait, JoinType, Order, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, RelationTrait, Select,
    sea_query::{Expr, ExprTrait, Func, Query, extension::postgres::PgFunc},
    sqlx::{self, ColumnIndex, Decode, Row, Type, postgres::PgRow, sqlite::SqliteRow},
};
use sessions_domain::{
    Device, DomainResult, ListQuery, ListScope, ListedSession, Page, SortDirection, SortKey,
    UserSummary,
};

use crate::{
    Store,
    convert::{instant, map_db_error, millis},
    entities::{sessions, users},
    held::{DecodeRow, fetch_rows},
    search::contains,
};

/// Sessions whose owner's username or name contains the filter. Not the
/// joined `users` columns: an OR spanning both tables of the join can use no
/// index, so PostgreSQL read every session on each filtered `list.all` (0.7 s
/// over 1M rows). `user_id = ANY(ARRAY(subquery))` evaluates the few matching
/// users once, and its index scan joins the search term's trigram scan in one
/// BitmapOr (0.3 ms). SQLite scans either way; it gets the plain `IN`.
fn owner_matches(filter: &str, postgres: bool) -> sea_orm::sea_query::SimpleExpr {
    let owners = Query::select()
        .column(users::Column::Id)
        .from(users::Entity)
        .cond_where(
            Condition::any()
                .add(contains(users::Column::Username, filter, postgres))
                .add(contains(users::Column::Name, filter, postgres)),
        )
        .to_owned();
    let user_id = Expr::col((sessions::Entity, sessions::Column::UserId));
    if postgres {
        user_id.eq(PgFunc::any(Func::cust("ARRAY").arg(Expr::from(owners))))
    } else {
        user_id.in_subquery(owners)
    }
}

/// SQLite: sessions whose search term the FTS5 trigram index says may contain
/// `filter` (three characters at least, the shortest trigram). The index
/// finds a superset; the caller keeps the exact match beside it. The filter is one quoted phrase: never FTS syntax.
fn sqlite_search_candidates(filter: &str) -> sea_orm::sea_query::SimpleExpr {
    let phrase = format!("\"{}\"", filter.replace('"', "\"\""));
    Expr::cust_with_values(
        r#""sessions"."id" IN (SELECT session_pk FROM sessions_search WHERE sessions_search MATCH ?)"#,
        [phrase],
    )
}

/// The active sessions a listing covers, owner joined, before sort and paging.
fn matching_sessions(query: &ListQuery, postgres: bool) -> Select<sessions::Entity> {
    let mut select = sessions::Entity::find()
        .join(JoinType::InnerJoin, sessions::Relation::User.def())
        .filter(sessions::Column::LogoutAt.is_null())
        .filter(sessions::Column::ExpiresAt.gt(millis(query.now)));
    if let ListScope::User(user_id) = &query.scope {
        select = select.filter(sessions::Column::UserId.eq(user_id.as_str()));
    }
    if let Some(filter) = &query.filter {
        let mut in_search_term = contains(sessions::Column::SearchTerm, filter, postgres);
        if query.scope == ListScope::All && !postgres && filter.chars().count() >= 3 {
            in_search_term = sqlite_search_candidates(filter).and(in_search_term);
        }
        let mut any = Condition::any().add(in_search_term);
        if query.scope == ListScope::All {
            any = any.add(owner_matches(filter, postgres));
        }
        select = select.filter(any);
    }
    select
}

fn sort_column(key: SortKey) -> sea_orm::sea_query::SimpleExpr {
    use sea_orm::IntoSimpleExpr;
    match key {
        SortKey::LoginAt => sessions::Column::LoginAt.into_simple_expr(),
        SortKey::DeviceName => sessions::Column::DeviceName.into_simple_expr(),
        SortKey::DeviceOsName => sessions::Column::DeviceOsName.into_simple_expr(),
        SortKey::DeviceOsVersion => sessions::Column::DeviceOsVersion.into_simple_expr(),
        SortKey::UserName => users::Column::Name.into_simple_expr(),
        SortKey::UserUsername => users::Column::Username.into_simple_expr(),
    }
}

/// The columns a listing's answer shows, in the order `listed_columns`
/// selects them: a page is up to 100 rows, and decoding every column of each
/// session and its owner cost more than the statement itself.
struct ListedRow {
    session_id: String,
    user_id: String,
    device_type: String,
    device_name: String,
    device_long_version: String,
    device_os_name: String,
    device_os_version: String,
    device_version: String,
    host: String,
    ip: String,
    login_at: i64,
    last_activity_at: Option<i64>,
    owner_name: String,
    owner_username: String,
}

/// A listed row, read by position in the order of [`listed_columns`] (struct
/// fields are evaluated in the order written). A swap of two text columns
/// would still decode; the store's listing test compares a whole row of
/// distinct values on both databases, which catches it.
fn listed_row<'r, R>(row: &'r R) -> Result<ListedRow, sqlx::Error>
where
    R: Row,
    usize: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    let mut column = 0;
    let mut next = || {
        column += 1;
        column - 1
    };
    Ok(ListedRow {
        session_id: row.try_get(next())?,
        user_id: row.try_get(next())?,
        device_type: row.try_get(next())?,
        device_name: row.try_get(next())?,
        device_long_version: row.try_get(next())?,
        device_os_name: row.try_get(next())?,
        device_os_version: row.try_get(next())?,
        device_version: row.try_get(next())?,
        host: row.try_get(next())?,
        ip: row.try_get(next())?,
        login_at: row.try_get(next())?,
        last_activity_at: row.try_get(next())?,
        owner_name: row.try_get(next())?,
        owner_username: row.try_get(next())?,
    })
}

impl DecodeRow for ListedRow {
    fn from_postgres(row: &PgRow) -> Result<Self, sqlx::Error> {
        listed_row(row)
    }
    fn from_sqlite(row: &SqliteRow) -> Result<Self, sqlx::Error> {
        listed_row(row)
    }
}

/// A user's own listed row with the window count of every match
/// ([`MATCHING_TOTAL`], after the listed columns).
struct CountedRow {
    row: ListedRow,
    total: i64,
}

fn counted_row<'r, R>(row: &'r R) -> Result<CountedRow, sqlx::Error>
where
    R: Row,
    usize: ColumnIndex<R>,
    &'static str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(CountedRow {
        row: listed_row(row)?,
        total: row.try_get(MATCHING_TOTAL)?,
    })
}

impl DecodeRow for CountedRow {
    fn from_postgres(row: &PgRow) -> Result<Self, sqlx::Error> {
        counted_row(row)
    }
    fn from_sqlite(row: &SqliteRow) -> Result<Self, sqlx::Error> {
        counted_row(row)
    }
}

impl From<ListedRow> for ListedSession {
    fn from(row: ListedRow) -> Self {
        Self {
            session_id: row.session_id,
            user_id: row.user_id,
            device: Device {
                kind: row.device_type,
                name: row.device_name,
                long_version: row.device_long_version,
                os_name: row.device_os_name,
                os_version: row.device_os_version,
                version: row.device_version,
            },
            host: row.host,
            ip: row.ip,
            login_at: instant(row.login_at),
            last_activity_at: row.last_activity_at.map(instant),
            user: UserSummary {
                name: row.owner_name,
                username: row.owner_username,
            },
        }
    }
}

/// Only the columns of `ListedRow`; the owner's under their own names, since
/// both tables have more columns than these.
fn listed_columns(select: Select<sessions::Entity>) -> Select<sessions::Entity> {
    use sessions::Column as S;
    select
        .select_only()
        .columns([
            S::SessionId,
            S::UserId,
            S::DeviceType,
            S::DeviceName,
            S::DeviceLongVersion,
            S::DeviceOsName,
            S::DeviceOsVersion,
            S::DeviceVersion,
            S::Host,
            S::Ip,
            S::LoginAt,
            S::LastActivityAt,
        ])
        .column_as(users::Column::Name, "owner_name")
        .column_as(users::Column::Username, "owner_username")
}

/// The alias of the window count in a user's own listing.
const MATCHING_TOTAL: &str = "matching_total";

impl Store {
    /// One page of a listing, sorted (the session id breaks ties), with the
    /// total of every match.
    pub(crate) async fn list_page(&self, query: &ListQuery) -> DomainResult<Page> {
        let postgres = !self.is_sqlite();
        let mut page = matching_sessions(query, postgres);
        // A filtered `list.all` matches few rows through the trigram indexes;
        // left to itself, PostgreSQL instead walks the login-time index
        // backwards, testing every session until a page is full (0.8 s over
        // 100k rows for a filter naming one user). `login_at + 0` has no index,
        // so it reads the matches and sorts them: the work the exact `total`
        // needs anyway.
        let order_by_matches = postgres && query.filter.is_some() && query.scope == ListScope::All;
        for (key, direction) in &query.sort {
            let order = match direction {
                SortDirection::Ascending => Order::Asc,
                SortDirection::Descending => Order::Desc,
            };
            let column = match key {
                SortKey::LoginAt if order_by_matches => {
                    Expr::col((sessions::Entity, sessions::Column::LoginAt)).add(0)
                }
                key => sort_column(*key),
            };
            page = page.order_by(column, order);
        }
        let page = listed_columns(page.order_by(sessions::Column::SessionId, Order::Asc));
        let (rows, total) = match query.scope {
            ListScope::User(_) => self.own_page_with_total(page, query, postgres).await?,
            ListScope::All => self.page_then_total(page, query, postgres).await?,
        };
        Ok(Page {
            sessions: rows.into_iter().map(ListedSession::from).collect(),
            total,
        })
    }

    /// A user's own listing in one round trip: their sessions are few (one
    /// user's devices), so counting them all beside the page (`COUNT(*) OVER
    /// ()`) costs less than a second statement.
    async fn own_page_with_total(
        &self,
        page: Select<sessions::Entity>,
        query: &ListQuery,
        postgres: bool,
    ) -> DomainResult<(Vec<ListedRow>, u64)> {
        let backend = self.db.get_database_backend();
        let statement = page
            .offset(query.offset)
            .limit(query.count)
            .column_as(Expr::cust("COUNT(*) OVER ()"), MATCHING_TOTAL)
            .build(backend);
        let counted: Vec<CountedRow> = fetch_rows(self.held.as_deref(), &self.db, &statement)
            .await
            .map_err(map_db_error)?;
        let total = counted.first().map(|first| first.total);
        let rows = counted.into_iter().map(|counted| counted.row).collect();
        let total = match total {
            Some(total) => u64::try_from(total).unwrap_or_default(),
            // No row: none match, or the offset is past them all.
            None if query.offset == 0 => 0,
            None => self.count_matching(query, postgres).await?,
        };
        Ok((rows, total))
    }

    /// Every user's listing: the page with one row past it; when that row is
    /// not there the page ends the matches and the total is known without
    /// a second round trip (most filtered listings). Otherwise a separate
    /// count: a window count would make the database number every match of
    /// the whole table before it could cut the page.
    async fn page_then_total(
        &self,
        page: Select<sessions::Entity>,
        query: &ListQuery,
        postgres: bool,
    ) -> DomainResult<(Vec<ListedRow>, u64)> {
        let statement = page
            .offset(query.offset)
            .limit(query.count.saturating_add(1))
            .build(self.db.get_database_backend());
        let mut rows: Vec<ListedRow> = fetch_rows(self.held.as_deref(), &self.db, &statement)
            .await
            .map_err(map_db_error)?;
        let fetched = rows.len() as u64;
        let total = match total_from_page(query.offset, query.count, fetched) {
            Some(total) => total,
            None => self.count_matching(query, postgres).await?,
        };
        rows.truncate(usize::try_from(query.count).unwrap_or(usize::MAX));
        Ok((rows, total))
    }

    async fn count_matching(&self, query: &ListQuery, postgres: bool) -> DomainResult<u64> {
        matching_sessions(query, postgres)
            .count(&self.db)
            .await
            .map_err(map_db_error)
    }
}

/// The number of matches, when a page fetched with one row more than
/// `count` at `offset` proves it: fewer rows than that means the matches end
/// inside the page. An empty page past the start proves nothing (there may be
/// fewer matches than the offset).
fn total_from_page(offset: u64, count: u64, fetched: u64) -> Option<u64> {
    let ends_here = fetched <= count && (fetched > 0 || offset == 0);
    ends_here.then(|| offset + fetched)
}

#[cfg(test)]
mod tests {
    use super::total_from_page;

    #[test]
    fn a_page_short_of_its_extra_row_gives_the_total() {
        assert_eq!(total_from_page(0, 50, 0), Some(0));
        assert_eq!(total_from_page(0, 50, 7), Some(7));
        assert_eq!(total_from_page(0, 50, 50), Some(50));
        assert_eq!(total_from_page(100, 50, 3), Some(103));
        // The extra row came back: there are more.
        assert_eq!(total_from_page(0, 50, 51), None);
        // Nothing at the offset: there may be fewer matches than it.
        assert_eq!(total_from_page(100, 50, 0), None);
    }
}

//! `SessionRepository` over the sessions table; listings join the owner.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::OnceLock;

use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait,
    FromQueryResult, IdenStatic, IntoActiveModel, JoinType, Order, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, RelationTrait, Select, SelectA, SelectB, Statement,
    sea_query::{Expr, ExprTrait, Func, Query, extension::postgres::PgFunc},
};
use sessions_domain::{
    DomainResult, EventTemplate, ListQuery, ListScope, LoginExtras, NewEvent, Page, Session,
    SessionRepository, SessionWithUser, SortDirection, SortKey, TwoFactorTrust, User, UserIdentity,
    UserSummary,
};

use crate::{
    Store,
    convert::{map_db_error, millis, session_from_row, session_to_row, user_from_row},
    entities::{known_addresses, sessions, users},
    events::append_event,
    search::contains,
};

fn with_user(row: sessions::Model, user: Option<users::Model>) -> SessionWithUser {
    let user = user
        .map(|u| UserSummary {
            name: u.name,
            username: u.username,
        })
        .unwrap_or_default();
    SessionWithUser {
        session: session_from_row(row),
        user,
    }
}

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

/// The column a session is looked up by, with its owner joined.
#[derive(Clone, Copy)]
enum SessionKey {
    /// The token check, on every request of the platform.
    TokenHash,
    /// `sessions/info` and the logouts by session id.
    SessionId,
}

/// The lookup's SQL, built once per key and backend: sea-query would
/// otherwise build the same statement on every call. Both columns are
/// unique, so the join answers at most one row.
fn session_with_owner_sql(backend: DbBackend, key: SessionKey) -> String {
    static BUILT: [[OnceLock<String>; 2]; 2] = [
        [OnceLock::new(), OnceLock::new()],
        [OnceLock::new(), OnceLock::new()],
    ];
    let column = match key {
        SessionKey::TokenHash => sessions::Column::LoginTokenHash,
        SessionKey::SessionId => sessions::Column::SessionId,
    };
    BUILT[usize::from(backend == DbBackend::Postgres)][key as usize]
        .get_or_init(|| {
            sessions::Entity::find()
                .filter(column.eq(""))
                .find_also_related(users::Entity)
                .build(backend)
                .sql
        })
        .clone()
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

/// A listing's rows as SeaORM decodes them: each session with its owner.
type ListedRows = Vec<(sessions::Model, Option<users::Model>)>;

/// The alias of the window count in a user's own listing.
const MATCHING_TOTAL: &str = "matching_total";

impl Store {
    /// A user's own listing in one round trip: their sessions are few (one
    /// user's devices), so counting them all beside the page (`COUNT(*) OVER
    /// ()`) costs less than a second statement.
    async fn own_page_with_total(
        &self,
        page: Select<sessions::Entity>,
        query: &ListQuery,
        postgres: bool,
    ) -> DomainResult<(ListedRows, u64)> {
        let backend = self.db.get_database_backend();
        let statement = page
            .offset(query.offset)
            .limit(query.count)
            .select_also(users::Entity)
            .column_as(Expr::cust("COUNT(*) OVER ()"), MATCHING_TOTAL)
            .build(backend);
        let raw = self
            .db
            .query_all_raw(statement)
            .await
            .map_err(map_db_error)?;
        let mut total = None;
        let mut rows = Vec::with_capacity(raw.len());
        for row in &raw {
            total = Some(
                row.try_get::<i64>("", MATCHING_TOTAL)
                    .map_err(map_db_error)?,
            );
            let session =
                sessions::Model::from_query_result(row, SelectA.as_str()).map_err(map_db_error)?;
            let user = Option::<users::Model>::from_query_result(row, SelectB.as_str())
                .map_err(map_db_error)?;
            rows.push((session, user));
        }
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
    ) -> DomainResult<(ListedRows, u64)> {
        let mut rows = page
            .offset(query.offset)
            .limit(query.count.saturating_add(1))
            .select_also(users::Entity)
            .all(&self.db)
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

    /// One session by `key` with its owner's row (`None` when the owner is
    /// gone); a row that fails to decode is an error, not a stranger.
    async fn session_with_owner(
        &self,
        key: SessionKey,
        value: &str,
    ) -> DomainResult<Option<(sessions::Model, Option<users::Model>)>> {
        let backend = self.db.get_database_backend();
        let sql = session_with_owner_sql(backend, key);
        let statement = Statement::from_sql_and_values(backend, sql, [value.into()]);
        let Some(row) = self
            .db
            .query_one_raw(statement)
            .await
            .map_err(map_db_error)?
        else {
            return Ok(None);
        };
        let session =
            sessions::Model::from_query_result(&row, SelectA.as_str()).map_err(map_db_error)?;
        let user = Option::<users::Model>::from_query_result(&row, SelectB.as_str())
            .map_err(map_db_error)?;
        Ok(Some((session, user)))
    }
}

#[async_trait]
impl SessionRepository for Store {
    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn insert_session(&self, session: &Session, event: &NewEvent) -> DomainResult<()> {
        let txn = self.begin_write().await.map_err(map_db_error)?;
        sessions::Entity::insert(session_to_row(session).into_active_model())
            .exec_without_returning(&txn)
            .await
            .map_err(map_db_error)?;
        append_event(&txn, event).await?;
        txn.commit().await.map_err(map_db_error)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn insert_login_session(
        &self,
        session: &Session,
        event: &NewEvent,
        verified_password_hash: &str,
        extras: &LoginExtras,
    ) -> DomainResult<bool> {
        let txn = self.begin_write().await.map_err(map_db_error)?;
        // PostgreSQL: the row lock orders this against a password change's
        // update of the same row. SQLite: the write lock taken at BEGIN does.
        let owner = users::Entity::find_by_id(session.user_id.as_str())
            .lock_exclusive()
            .one(&txn)
            .await
            .map_err(map_db_error)?;
        if owner.and_then(|owner| owner.password_hash).as_deref() != Some(verified_password_hash) {
            txn.rollback().await.map_err(map_db_error)?;
            return Ok(false);
        }
        sessions::Entity::insert(session_to_row(session).into_active_model())
            .exec_without_returning(&txn)
            .await
            .map_err(map_db_error)?;
        append_event(&txn, event).await?;
        if let Some(mail) = &extras.mail {
            crate::mail::insert_mail(&txn, mail).await?;
        }
        if let Some(device) = &extras.device {
            crate::mail::remember_device(&txn, &session.user_id, device, session.login_at).await?;
        }
        txn.commit().await.map_err(map_db_error)?;
        Ok(true)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn find_login(&self, token_hash: &str) -> DomainResult<Option<(Session, User)>> {
        let found = self
            .session_with_owner(SessionKey::TokenHash, token_hash)
            .await?;
        Ok(found.and_then(|(session, user)| {
            user.map(|user| (session_from_row(session), user_from_row(user)))
        }))
    }

    async fn find_login_identity(
        &self,
        token_hash: &str,
        claimed_user_id: &str,
    ) -> DomainResult<Option<(Session, UserIdentity)>> {
        let cache = self.token_cache.as_deref();
        let ticket = cache.map(|cache| cache.ticket(claimed_user_id));
        if let (Some(cache), Some(ticket)) = (cache, ticket)
            && let Some(kept) = cache.get(token_hash, claimed_user_id, ticket)
        {
            return Ok(Some(kept));
        }
        let Some((mut session, user)) = self.find_login(token_hash).await? else {
            return Ok(None);
        };
        session.two_factor_trust = None;
        let user = UserIdentity::from(&user);
        // Nothing negative is kept: a logged-out session or an inactive user
        // is read again, so whatever undoes it needs no invalidation.
        if let (Some(cache), Some(ticket)) = (cache, ticket)
            && user.id == claimed_user_id
            && user.active
            && session.logout_at.is_none()
        {
            cache.insert(token_hash, ticket, &session, &user);
        }
        Ok(Some((session, user)))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn find_session(&self, session_id: &str) -> DomainResult<Option<SessionWithUser>> {
        let found = self
            .session_with_owner(SessionKey::SessionId, session_id)
            .await?;
        Ok(found.map(|(session, user)| with_user(session, user)))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn list_sessions(&self, query: &ListQuery) -> DomainResult<Page> {
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
        let page = page.order_by(sessions::Column::SessionId, Order::Asc);
        let (rows, total) = match query.scope {
            ListScope::User(_) => self.own_page_with_total(page, query, postgres).await?,
            ListScope::All => self.page_then_total(page, query, postgres).await?,
        };
        Ok(Page {
            sessions: rows
                .into_iter()
                .map(|(session, user)| with_user(session, user))
                .collect(),
            total,
        })
    }

    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn count_active_sessions(&self, now: DateTime<Utc>) -> DomainResult<u64> {
        sessions::Entity::find()
            .filter(sessions::Column::LogoutAt.is_null())
            .filter(sessions::Column::ExpiresAt.gt(millis(now)))
            .count(&self.db)
            .await
            .map_err(map_db_error)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn logout_session(
        &self,
        session_id: &str,
        at: DateTime<Utc>,
        by: &str,
        event: &NewEvent,
    ) -> DomainResult<bool> {
        let txn = self.begin_write().await.map_err(map_db_error)?;
        let update = sessions::Entity::update_many()
            .col_expr(sessions::Column::LogoutAt, Expr::value(millis(at)))
            .col_expr(sessions::Column::LogoutBy, Expr::value(by))
            .col_expr(sessions::Column::UpdatedAt, Expr::value(millis(at)))
            .filter(sessions::Column::SessionId.eq(session_id))
            .filter(sessions::Column::LogoutAt.is_null());
        let Some(owner) = update_returning_owner(&txn, update).await? else {
            return Ok(false);
        };
        append_event(&txn, event).await?;
        txn.commit().await.map_err(map_db_error)?;
        self.token_checks_changed(&owner);
        Ok(true)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn logout_user_sessions(
        &self,
        user_id: &str,
        except_session_id: Option<&str>,
        at: DateTime<Utc>,
        by: &str,
        event: &EventTemplate,
    ) -> DomainResult<Vec<String>> {
        let txn = self.begin_write().await.map_err(map_db_error)?;
        let ended =
            logout_user_sessions_in(&txn, user_id, except_session_id, at, by, event).await?;
        txn.commit().await.map_err(map_db_error)?;
        self.token_checks_changed(user_id);
        Ok(ended)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn change_password(
        &self,
        user_id: &str,
        password_hash: &str,
        keep_session_id: Option<&str>,
        at: DateTime<Utc>,
        event: &EventTemplate,
    ) -> DomainResult<Option<Vec<String>>> {
        let txn = self.begin_write().await.map_err(map_db_error)?;
        let written = users::Entity::update_many()
            .col_expr(users::Column::PasswordHash, Expr::value(password_hash))
            .filter(users::Column::Id.eq(user_id))
            .exec(&txn)
            .await
            .map_err(map_db_error)?;
        if written.rows_affected != 1 {
            return Ok(None);
        }
        let ended =
            logout_user_sessions_in(&txn, user_id, keep_session_id, at, user_id, event).await?;
        // Where whoever knew the old password logged in from is no longer a
        // place the owner is known at.
        known_addresses::Entity::delete_many()
            .filter(known_addresses::Column::UserId.eq(user_id))
            .exec(&txn)
            .await
            .map_err(map_db_error)?;
        // The kept session must pass 2FA again, as every other one would.
        sessions::Entity::update_many()
            .col_expr(
                sessions::Column::TfaTrustedUntil,
                Expr::value(Option::<i64>::None),
            )
            .col_expr(
                sessions::Column::TfaTrustedIp,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                sessions::Column::TfaTrustedUa,
                Expr::value(Option::<String>::None),
            )
            .col_expr(sessions::Column::UpdatedAt, Expr::value(millis(at)))
            .filter(sessions::Column::UserId.eq(user_id))
            .filter(sessions::Column::TfaTrustedUntil.is_not_null())
            .exec(&txn)
            .await
            .map_err(map_db_error)?;
        txn.commit().await.map_err(map_db_error)?;
        self.token_checks_changed(user_id);
        Ok(Some(ended))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn set_two_factor_trust(
        &self,
        session_id: &str,
        trust: &TwoFactorTrust,
        at: DateTime<Utc>,
    ) -> DomainResult<()> {
        let update = sessions::Entity::update_many()
            .col_expr(
                sessions::Column::TfaTrustedUntil,
                Expr::value(millis(trust.until)),
            )
            .col_expr(
                sessions::Column::TfaTrustedIp,
                Expr::value(trust.ip.as_str()),
            )
            .col_expr(
                sessions::Column::TfaTrustedUa,
                Expr::value(trust.user_agent.as_str()),
            )
            .col_expr(sessions::Column::UpdatedAt, Expr::value(millis(at)))
            .filter(sessions::Column::SessionId.eq(session_id));
        // The window is never kept in memory, but `updatedAt` is answered.
        if let Some(owner) = update_returning_owner(&self.db, update).await? {
            self.token_checks_changed(&owner);
        }
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn touch_activity(
        &self,
        session_id: &str,
        at: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> DomainResult<bool> {
        let update = sessions::Entity::update_many()
            .col_expr(sessions::Column::LastActivityAt, Expr::value(millis(at)))
            .col_expr(sessions::Column::UpdatedAt, Expr::value(millis(at)))
            .filter(sessions::Column::SessionId.eq(session_id))
            .filter(
                Condition::any()
                    .add(sessions::Column::LastActivityAt.is_null())
                    .add(sessions::Column::LastActivityAt.lte(millis(stale_before))),
            );
        // The token check answers lastActivityAt too.
        let owner = update_returning_owner(&self.db, update).await?;
        if let Some(owner) = &owner {
            self.token_checks_changed(owner);
        }
        Ok(owner.is_some())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn close_session(
        &self,
        session_id: &str,
        at: DateTime<Utc>,
        event: &NewEvent,
    ) -> DomainResult<bool> {
        let txn = self.begin_write().await.map_err(map_db_error)?;
        let update = sessions::Entity::update_many()
            .col_expr(sessions::Column::ClosedAt, Expr::value(millis(at)))
            .col_expr(sessions::Column::UpdatedAt, Expr::value(millis(at)))
            .filter(sessions::Column::SessionId.eq(session_id));
        let Some(owner) = update_returning_owner(&txn, update).await? else {
            return Ok(false);
        };
        append_event(&txn, event).await?;
        txn.commit().await.map_err(map_db_error)?;
        self.token_checks_changed(&owner);
        Ok(true)
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

/// Runs an UPDATE of at most one session (by its session id) and answers
/// its owner, `None` when it matched nothing: whose token checks changed.
async fn update_returning_owner(
    conn: &impl ConnectionTrait,
    update: sea_orm::UpdateMany<sessions::Entity>,
) -> DomainResult<Option<String>> {
    let mut statement = update.into_query();
    statement.returning_col(sessions::Column::UserId);
    let row = conn.query_one(&statement).await.map_err(map_db_error)?;
    row.map(|row| row.try_get::<String>("", sessions::Column::UserId.as_str()))
        .transpose()
        .map_err(map_db_error)
}

/// Logs out every active session of a user but `except_session_id` inside
/// `txn`, each with `event` stamped with its id; answers the session ids.
async fn logout_user_sessions_in(
    txn: &DatabaseTransaction,
    user_id: &str,
    except_session_id: Option<&str>,
    at: DateTime<Utc>,
    by: &str,
    event: &EventTemplate,
) -> DomainResult<Vec<String>> {
    // One conditional UPDATE that answers what it ended: a read of the active
    // ids and then an update by id let two overlapping logouts on PostgreSQL
    // both end (and both record) the same sessions, each reading them before
    // the other committed. Here the second waits on the rows the first
    // locked, re-checks `logout_at IS NULL` and skips them.
    let mut update = sessions::Entity::update_many()
        .col_expr(sessions::Column::LogoutAt, Expr::value(millis(at)))
        .col_expr(sessions::Column::LogoutBy, Expr::value(by))
        .col_expr(sessions::Column::UpdatedAt, Expr::value(millis(at)))
        .filter(sessions::Column::UserId.eq(user_id))
        .filter(sessions::Column::LogoutAt.is_null())
        .filter(sessions::Column::ExpiresAt.gt(millis(at)));
    if let Some(except) = except_session_id {
        update = update.filter(sessions::Column::SessionId.ne(except));
    }
    let mut statement = update.into_query();
    statement.returning_col(sessions::Column::SessionId);
    let rows = txn.query_all(&statement).await.map_err(map_db_error)?;
    let mut session_ids = rows
        .iter()
        .map(|row| row.try_get::<String>("", sessions::Column::SessionId.as_str()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(map_db_error)?;
    // RETURNING answers in no particular order; events follow session ids.
    session_ids.sort();
    for session_id in &session_ids {
        append_event(txn, &event.for_session(session_id)).await?;
    }
    Ok(session_ids)
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

//! `SessionRepository` over the sessions table (listings are in `listing`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::OnceLock;

use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait,
    FromQueryResult, IdenStatic, IntoActiveModel, PaginatorTrait, QueryFilter, QuerySelect,
    QueryTrait, SelectA, SelectB, Statement, sea_query::Expr,
};
use sessions_domain::{
    DomainResult, EventTemplate, ListQuery, LoginExtras, NewEvent, Page, Session,
    SessionRepository, SessionWithUser, TwoFactorTrust, User, UserIdentity, UserSummary,
};

use crate::{
    Store,
    convert::{map_db_error, millis, session_from_row, session_to_row, user_from_row},
    entities::{known_addresses, sessions, users},
    events::append_event,
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

/// The column one session is looked up by; both are unique, so a lookup
/// answers at most one row.
#[derive(Clone, Copy)]
enum SessionKey {
    /// The token check, on every request of the platform.
    TokenHash,
    /// `sessions/info` (alone) and `info.admin` (with the owner), the
    /// logouts by session id, activity.
    SessionId,
}

/// The owner joined, or the session's row alone (one index lookup, not two).
#[derive(Clone, Copy)]
enum Owner {
    Joined,
    Omitted,
}

/// A lookup's SQL, built once per key, shape and backend: sea-query would
/// otherwise build the same statement on every call.
fn lookup_sql(backend: DbBackend, key: SessionKey, owner: Owner) -> &'static str {
    static BUILT: [[[OnceLock<String>; 2]; 2]; 2] = [
        [
            [OnceLock::new(), OnceLock::new()],
            [OnceLock::new(), OnceLock::new()],
        ],
        [
            [OnceLock::new(), OnceLock::new()],
            [OnceLock::new(), OnceLock::new()],
        ],
    ];
    let column = match key {
        SessionKey::TokenHash => sessions::Column::LoginTokenHash,
        SessionKey::SessionId => sessions::Column::SessionId,
    };
    BUILT[usize::from(backend == DbBackend::Postgres)][key as usize][owner as usize].get_or_init(
        || {
            let find = sessions::Entity::find().filter(column.eq(""));
            match owner {
                Owner::Joined => find.find_also_related(users::Entity).build(backend),
                Owner::Omitted => find.build(backend),
            }
            .sql
        },
    )
}

impl Store {
    /// The one row of the lookup by `key` = `value`, if any.
    async fn lookup_row(
        &self,
        key: SessionKey,
        owner: Owner,
        value: &str,
    ) -> DomainResult<Option<sea_orm::QueryResult>> {
        let backend = self.db.get_database_backend();
        let sql = lookup_sql(backend, key, owner);
        if let Some(held) = &self.held {
            return held.fetch_optional(sql, value).await.map_err(map_db_error);
        }
        let statement = Statement::from_sql_and_values(backend, sql, [value.into()]);
        self.db.query_one_raw(statement).await.map_err(map_db_error)
    }

    /// One session with its owner's row (`None` when the owner is gone); a
    /// row that fails to decode is an error, not a stranger.
    async fn session_with_owner(
        &self,
        key: SessionKey,
        value: &str,
    ) -> DomainResult<Option<(sessions::Model, Option<users::Model>)>> {
        let Some(row) = self.lookup_row(key, Owner::Joined, value).await? else {
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
    async fn find_session_without_owner(&self, session_id: &str) -> DomainResult<Option<Session>> {
        let Some(row) = self
            .lookup_row(SessionKey::SessionId, Owner::Omitted, session_id)
            .await?
        else {
            return Ok(None);
        };
        let session = sessions::Model::from_query_result(&row, "").map_err(map_db_error)?;
        Ok(Some(session_from_row(session)))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn list_sessions(&self, query: &ListQuery) -> DomainResult<Page> {
        self.list_page(query).await
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

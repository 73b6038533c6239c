//! `UserRepository` over the users and backup_codes tables.

use async_trait::async_trait;
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait, Func, OnConflict},
};
use sessions_domain::{DomainResult, User, UserEmail, UserRepository};

use crate::{
    Store,
    convert::{map_db_error, millis, roles_to_json, user_from_row},
    emails,
    entities::{backup_codes, users},
};

#[async_trait]
impl UserRepository for Store {
    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn find_user(&self, id: &str) -> DomainResult<Option<User>> {
        let row = users::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await
            .map_err(map_db_error)?;
        Ok(row.map(user_from_row))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn find_user_by_username(&self, username: &str) -> DomainResult<Option<User>> {
        let row = users::Entity::find()
            .filter(users::Column::Username.eq(username))
            .one(&self.db)
            .await
            .map_err(map_db_error)?;
        if row.is_some() {
            return Ok(row.map(user_from_row));
        }
        // Then without case, when that names one user only, as Meteor's
        // `findUserByUsername` does (SQLite's `lower` folds ASCII only).
        let mut rows = users::Entity::find()
            .filter(
                Expr::expr(Func::lower(Expr::col(users::Column::Username)))
                    .eq(username.to_lowercase()),
            )
            .limit(2)
            .all(&self.db)
            .await
            .map_err(map_db_error)?;
        Ok(match rows.len() {
            1 => rows.pop().map(user_from_row),
            _ => None,
        })
    }

    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn list_users(&self) -> DomainResult<Vec<User>> {
        let rows = users::Entity::find()
            .order_by_asc(users::Column::Username)
            .all(&self.db)
            .await
            .map_err(map_db_error)?;
        Ok(rows.into_iter().map(user_from_row).collect())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn upsert_user(&self, user: &User) -> DomainResult<()> {
        write_user(&self.db, user).await?;
        // Roles, the active flag and names are in every token check's answer.
        self.token_checks_changed(&user.id);
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn upsert_user_with_emails(&self, user: &User, emails: &[UserEmail]) -> DomainResult<()> {
        let txn = self.begin_write().await.map_err(map_db_error)?;
        write_user(&txn, user).await?;
        emails::replace_emails(&txn, &user.id, emails).await?;
        txn.commit().await.map_err(map_db_error)?;
        self.token_checks_changed(&user.id);
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn user_emails(&self, user_id: &str) -> DomainResult<Vec<UserEmail>> {
        emails::user_emails(&self.db, user_id).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn find_user_by_email(&self, address: &str) -> DomainResult<Option<User>> {
        let Some(user_id) = emails::owner_of(&self.db, address).await? else {
            return Ok(None);
        };
        self.find_user(&user_id).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn set_totp(
        &self,
        user_id: &str,
        secret: Option<&str>,
        backup_code_hashes: &[String],
    ) -> DomainResult<bool> {
        let txn = self.begin_write().await.map_err(map_db_error)?;
        let result = users::Entity::update_many()
            .col_expr(
                users::Column::TotpSecret,
                Expr::value(secret.map(str::to_owned)),
            )
            .col_expr(
                users::Column::TotpLastStep,
                Expr::value(Option::<i64>::None),
            )
            .filter(users::Column::Id.eq(user_id))
            .exec(&txn)
            .await
            .map_err(map_db_error)?;
        if result.rows_affected != 1 {
            return Ok(false);
        }
        write_backup_codes(&txn, user_id, backup_code_hashes).await?;
        txn.commit().await.map_err(map_db_error)?;
        // Whether TOTP is on is in the token check's answer.
        self.token_checks_changed(user_id);
        Ok(true)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn replace_backup_codes(&self, user_id: &str, hashes: &[String]) -> DomainResult<bool> {
        let txn = self.begin_write().await.map_err(map_db_error)?;
        // PostgreSQL: the row lock queues racing replacements, so one's
        // delete cannot miss the codes another inserts and leave both sets.
        // SQLite: the write lock taken at BEGIN does.
        let exists = users::Entity::find_by_id(user_id.to_owned())
            .lock_exclusive()
            .one(&txn)
            .await
            .map_err(map_db_error)?
            .is_some();
        if !exists {
            return Ok(false);
        }
        write_backup_codes(&txn, user_id, hashes).await?;
        txn.commit().await.map_err(map_db_error)?;
        Ok(true)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn claim_totp_step(&self, user_id: &str, step: i64) -> DomainResult<bool> {
        // One conditional update: two replicas racing on the same code cannot
        // both win.
        let result = users::Entity::update_many()
            .col_expr(users::Column::TotpLastStep, Expr::value(step))
            .filter(users::Column::Id.eq(user_id))
            .filter(
                Condition::any()
                    .add(users::Column::TotpLastStep.is_null())
                    .add(users::Column::TotpLastStep.lt(step)),
            )
            .exec(&self.db)
            .await
            .map_err(map_db_error)?;
        Ok(result.rows_affected == 1)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn consume_backup_code(&self, user_id: &str, code_hash: &str) -> DomainResult<bool> {
        let result = backup_codes::Entity::delete_many()
            .filter(backup_codes::Column::UserId.eq(user_id))
            .filter(backup_codes::Column::CodeHash.eq(code_hash))
            .exec(&self.db)
            .await
            .map_err(map_db_error)?;
        Ok(result.rows_affected == 1)
    }
}

/// Inserts the user, or replaces the profile of an existing one (its secrets
/// stay as they are).
async fn write_user<C: sea_orm::ConnectionTrait>(conn: &C, user: &User) -> DomainResult<()> {
    let row = users::ActiveModel {
        id: Set(user.id.clone()),
        username: Set(user.username.clone()),
        name: Set(user.name.clone()),
        roles: Set(roles_to_json(&user.roles)),
        active: Set(user.active),
        password_hash: Set(user.password_hash.clone()),
        totp_secret: Set(user.totp_secret.clone()),
        totp_last_step: Set(user.totp_last_step),
        created_at: Set(millis(user.created_at)),
    };
    users::Entity::insert(row)
        .on_conflict(
            OnConflict::column(users::Column::Id)
                .update_columns([
                    users::Column::Username,
                    users::Column::Name,
                    users::Column::Roles,
                    users::Column::Active,
                ])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await
        .map_err(map_db_error)?;
    Ok(())
}

async fn write_backup_codes<C: sea_orm::ConnectionTrait>(
    conn: &C,
    user_id: &str,
    hashes: &[String],
) -> DomainResult<()> {
    backup_codes::Entity::delete_many()
        .filter(backup_codes::Column::UserId.eq(user_id))
        .exec(conn)
        .await
        .map_err(map_db_error)?;
    if hashes.is_empty() {
        return Ok(());
    }
    let rows = hashes.iter().map(|hash| backup_codes::ActiveModel {
        user_id: Set(user_id.to_owned()),
        code_hash: Set(hash.clone()),
    });
    backup_codes::Entity::insert_many(rows)
        .exec_without_returning(conn)
        .await
        .map_err(map_db_error)?;
    Ok(())
}

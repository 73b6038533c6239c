//! `MailRepository` over the outbox, login_devices, user_preferences and
//! email_two_factor tables. Claims are leases: on PostgreSQL `FOR UPDATE SKIP LOCKED` lets
//! replicas claim side by side without taking one message twice; SQLite has
//! one writer, which serialises claims anyway.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait,
    QueryFilter, Statement, sea_query::Expr, sea_query::OnConflict,
};
use sessions_domain::{
    ClaimedMail, DomainResult, EmailCode, LoginDevice, MailKind, MailRepository, OutboundMail,
    OutboxDepth,
};

use crate::{
    Store,
    convert::{instant, map_db_error, millis},
    entities::{email_two_factor, login_devices, outbox, user_preferences},
};

fn mail_row(mail: &OutboundMail) -> outbox::ActiveModel {
    outbox::ActiveModel {
        id: Set(mail.id.clone()),
        message_id: Set(mail.message_id.clone()),
        kind: Set(mail.kind.as_str().to_owned()),
        to_address: Set(mail.to_address.clone()),
        to_name: Set(mail.to_name.clone()),
        subject: Set(mail.subject.clone()),
        text_body: Set(mail.text_body.clone()),
        html_body: Set(mail.html_body.clone()),
        created_at: Set(millis(mail.created_at)),
        attempts: Set(0),
        next_attempt_at: Set(millis(mail.created_at)),
        claimed_until: Set(None),
        sent_at: Set(None),
        failed_at: Set(None),
        last_error: Set(None),
    }
}

fn claimed(row: outbox::Model) -> ClaimedMail {
    ClaimedMail {
        attempts: u32::try_from(row.attempts).unwrap_or(0),
        mail: OutboundMail {
            id: row.id,
            message_id: row.message_id,
            kind: MailKind::parse(&row.kind).unwrap_or(MailKind::LoginAlert),
            to_address: row.to_address,
            to_name: row.to_name,
            subject: row.subject,
            text_body: row.text_body,
            html_body: row.html_body,
            created_at: instant(row.created_at),
        },
    }
}

/// Queues `mail` on `conn`: inside the caller's transaction when it has one.
pub(crate) async fn insert_mail<C: ConnectionTrait>(
    conn: &C,
    mail: &OutboundMail,
) -> DomainResult<()> {
    outbox::Entity::insert(mail_row(mail))
        .exec_without_returning(conn)
        .await
        .map_err(map_db_error)?;
    Ok(())
}

/// Records a login's device and address as seen at `at`.
pub(crate) async fn remember_device<C: ConnectionTrait>(
    conn: &C,
    user_id: &str,
    device: &LoginDevice,
    at: DateTime<Utc>,
) -> DomainResult<()> {
    let row = login_devices::ActiveModel {
        user_id: Set(user_id.to_owned()),
        device_key: Set(device.device_key.clone()),
        address: Set(device.address.clone()),
        last_login_at: Set(millis(at)),
    };
    login_devices::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                login_devices::Column::UserId,
                login_devices::Column::DeviceKey,
                login_devices::Column::Address,
            ])
            .update_column(login_devices::Column::LastLoginAt)
            .to_owned(),
        )
        .exec_without_returning(conn)
        .await
        .map_err(map_db_error)?;
    Ok(())
}

/// The message is still unsent and under this claim: every claim adds an
/// attempt, so a worker whose lease ran out (and was claimed again) no
/// longer matches and records nothing.
fn still_claimed(claim: &ClaimedMail) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(outbox::Column::Id.eq(claim.mail.id.as_str()))
        .add(outbox::Column::Attempts.eq(i32::try_from(claim.attempts).unwrap_or(i32::MAX)))
        .add(outbox::Column::SentAt.is_null())
        .add(outbox::Column::FailedAt.is_null())
}

/// Erases the bodies of a sent or abandoned code mail: nothing in the
/// outbox can be read to log in.
async fn erase_code<C: ConnectionTrait>(conn: &C, id: &str) -> DomainResult<()> {
    outbox::Entity::update_many()
        .col_expr(outbox::Column::TextBody, Expr::value(""))
        .col_expr(outbox::Column::HtmlBody, Expr::value(""))
        .filter(outbox::Column::Id.eq(id))
        .filter(outbox::Column::Kind.eq(MailKind::TwoFactorCode.as_str()))
        .exec(conn)
        .await
        .map_err(map_db_error)?;
    Ok(())
}

#[async_trait]
impl MailRepository for Store {
    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn enqueue_mail(&self, mail: &OutboundMail) -> DomainResult<()> {
        let txn = self.begin_write().await.map_err(map_db_error)?;
        insert_mail(&txn, mail).await?;
        txn.commit().await.map_err(map_db_error)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn claim_mail(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u64,
    ) -> DomainResult<Vec<ClaimedMail>> {
        let now_ms = millis(now);
        let until = now_ms.saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX));
        let backend = self.db.get_database_backend();
        let postgres = backend == DbBackend::Postgres;
        let p = |n: usize| {
            if postgres {
                format!("${n}")
            } else {
                "?".to_owned()
            }
        };
        let lock = if postgres {
            "FOR UPDATE SKIP LOCKED"
        } else {
            ""
        };
        let statement = format!(
            "UPDATE outbox SET claimed_until = {}, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM outbox \
               WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= {} \
                 AND (claimed_until IS NULL OR claimed_until <= {}) \
               ORDER BY next_attempt_at LIMIT {} {lock}) \
             RETURNING *",
            p(1),
            p(2),
            p(3),
            p(4),
        );
        let values = [
            until.into(),
            now_ms.into(),
            now_ms.into(),
            i64::try_from(limit).unwrap_or(i64::MAX).into(),
        ];
        let txn = self.begin_write().await.map_err(map_db_error)?;
        let rows = outbox::Entity::find()
            .from_raw_sql(Statement::from_sql_and_values(backend, statement, values))
            .all(&txn)
            .await
            .map_err(map_db_error)?;
        txn.commit().await.map_err(map_db_error)?;
        Ok(rows.into_iter().map(claimed).collect())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn mail_sent(&self, claim: &ClaimedMail, now: DateTime<Utc>) -> DomainResult<()> {
        let txn = self.begin_write().await.map_err(map_db_error)?;
        let updated = outbox::Entity::update_many()
            .col_expr(outbox::Column::SentAt, Expr::value(millis(now)))
            .col_expr(
                outbox::Column::ClaimedUntil,
                Expr::value(Option::<i64>::None),
            )
            .col_expr(
                outbox::Column::LastError,
                Expr::value(Option::<String>::None),
            )
            .filter(still_claimed(claim))
            .exec(&txn)
            .await
            .map_err(map_db_error)?;
        if updated.rows_affected == 1 {
            erase_code(&txn, &claim.mail.id).await?;
        }
        txn.commit().await.map_err(map_db_error)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn mail_not_sent(
        &self,
        claim: &ClaimedMail,
        now: DateTime<Utc>,
        retry_at: Option<DateTime<Utc>>,
        error: &str,
    ) -> DomainResult<()> {
        let id = claim.mail.id.as_str();
        let txn = self.begin_write().await.map_err(map_db_error)?;
        let mut update = outbox::Entity::update_many()
            .col_expr(
                outbox::Column::ClaimedUntil,
                Expr::value(Option::<i64>::None),
            )
            .col_expr(outbox::Column::LastError, Expr::value(error.to_owned()));
        update = match retry_at {
            Some(at) => update.col_expr(outbox::Column::NextAttemptAt, Expr::value(millis(at))),
            None => update.col_expr(outbox::Column::FailedAt, Expr::value(millis(now))),
        };
        let updated = update
            .filter(still_claimed(claim))
            .exec(&txn)
            .await
            .map_err(map_db_error)?;
        if retry_at.is_none() && updated.rows_affected == 1 {
            erase_code(&txn, id).await?;
        }
        txn.commit().await.map_err(map_db_error)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn outbox_depth(&self) -> DomainResult<OutboxDepth> {
        let queued = outbox::Entity::find()
            .filter(outbox::Column::SentAt.is_null())
            .filter(outbox::Column::FailedAt.is_null())
            .count(&self.db)
            .await
            .map_err(map_db_error)?;
        let failed = outbox::Entity::find()
            .filter(outbox::Column::FailedAt.is_not_null())
            .count(&self.db)
            .await
            .map_err(map_db_error)?;
        Ok(OutboxDepth { queued, failed })
    }

    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn prune_mail(
        &self,
        done_before: DateTime<Utc>,
        seen_before: DateTime<Utc>,
    ) -> DomainResult<u64> {
        let done = millis(done_before);
        let mail = outbox::Entity::delete_many()
            .filter(
                sea_orm::Condition::any()
                    .add(outbox::Column::SentAt.lt(done))
                    .add(outbox::Column::FailedAt.lt(done)),
            )
            .exec(&self.db)
            .await
            .map_err(map_db_error)?;
        let devices = login_devices::Entity::delete_many()
            .filter(login_devices::Column::LastLoginAt.lt(millis(seen_before)))
            .exec(&self.db)
            .await
            .map_err(map_db_error)?;
        Ok(mail.rows_affected + devices.rows_affected)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn is_known_device(
        &self,
        user_id: &str,
        device: &LoginDevice,
        since: DateTime<Utc>,
    ) -> DomainResult<bool> {
        let found = login_devices::Entity::find()
            .filter(login_devices::Column::UserId.eq(user_id))
            .filter(login_devices::Column::DeviceKey.eq(device.device_key.as_str()))
            .filter(login_devices::Column::Address.eq(device.address.as_str()))
            .filter(login_devices::Column::LastLoginAt.gte(millis(since)))
            .count(&self.db)
            .await
            .map_err(map_db_error)?;
        Ok(found > 0)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn login_email_preference(&self, user_id: &str) -> DomainResult<Option<bool>> {
        let row = user_preferences::Entity::find_by_id(user_id.to_owned())
            .one(&self.db)
            .await
            .map_err(map_db_error)?;
        Ok(row.map(|row| row.receive_login_emails))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn set_login_email_preference(&self, user_id: &str, receive: bool) -> DomainResult<bool> {
        let txn = self.begin_write().await.map_err(map_db_error)?;
        let exists = crate::entities::users::Entity::find_by_id(user_id.to_owned())
            .one(&txn)
            .await
            .map_err(map_db_error)?
            .is_some();
        if !exists {
            return Ok(false);
        }
        user_preferences::Entity::insert(user_preferences::ActiveModel {
            user_id: Set(user_id.to_owned()),
            receive_login_emails: Set(receive),
        })
        .on_conflict(
            OnConflict::column(user_preferences::Column::UserId)
                .update_column(user_preferences::Column::ReceiveLoginEmails)
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await
        .map_err(map_db_error)?;
        txn.commit().await.map_err(map_db_error)?;
        Ok(true)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn email_two_factor_enabled(&self, user_id: &str) -> DomainResult<bool> {
        let row = email_two_factor::Entity::find_by_id(user_id.to_owned())
            .one(&self.db)
            .await
            .map_err(map_db_error)?;
        Ok(row.is_some_and(|row| row.enabled))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn set_email_two_factor(&self, user_id: &str, enabled: bool) -> DomainResult<bool> {
        let txn = self.begin_write().await.map_err(map_db_error)?;
        let exists = crate::entities::users::Entity::find_by_id(user_id.to_owned())
            .one(&txn)
            .await
            .map_err(map_db_error)?
            .is_some();
        if !exists {
            return Ok(false);
        }
        email_two_factor::Entity::insert(email_two_factor::ActiveModel {
            user_id: Set(user_id.to_owned()),
            enabled: Set(enabled),
            ..Default::default()
        })
        .on_conflict(
            OnConflict::column(email_two_factor::Column::UserId)
                .update_column(email_two_factor::Column::Enabled)
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await
        .map_err(map_db_error)?;
        txn.commit().await.map_err(map_db_error)?;
        Ok(true)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn email_code(&self, user_id: &str) -> DomainResult<Option<EmailCode>> {
        let row = email_two_factor::Entity::find_by_id(user_id.to_owned())
            .one(&self.db)
            .await
            .map_err(map_db_error)?;
        Ok(row.and_then(|row| {
            Some(EmailCode {
                hash: row.code_hash?,
                sealed: row.code_sealed?,
                expires_at: instant(row.code_expires_at?),
                sent_at: instant(row.code_sent_at?),
            })
        }))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn issue_email_code(
        &self,
        user_id: &str,
        code: &EmailCode,
        replaced: Option<DateTime<Utc>>,
        mail: &OutboundMail,
    ) -> DomainResult<bool> {
        let txn = self.begin_write().await.map_err(map_db_error)?;
        let still = match replaced {
            Some(at) => email_two_factor::Column::CodeExpiresAt.eq(millis(at)),
            None => email_two_factor::Column::CodeExpiresAt.is_null(),
        };
        let updated = email_two_factor::Entity::update_many()
            .col_expr(
                email_two_factor::Column::CodeHash,
                Expr::value(code.hash.clone()),
            )
            .col_expr(
                email_two_factor::Column::CodeSealed,
                Expr::value(code.sealed.clone()),
            )
            .col_expr(
                email_two_factor::Column::CodeExpiresAt,
                Expr::value(millis(code.expires_at)),
            )
            .col_expr(
                email_two_factor::Column::CodeSentAt,
                Expr::value(millis(code.sent_at)),
            )
            .filter(email_two_factor::Column::UserId.eq(user_id))
            .filter(email_two_factor::Column::Enabled.eq(true))
            .filter(still)
            .exec(&txn)
            .await
            .map_err(map_db_error)?;
        if updated.rows_affected != 1 {
            return Ok(false);
        }
        insert_mail(&txn, mail).await?;
        txn.commit().await.map_err(map_db_error)?;
        Ok(true)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn resend_email_code(
        &self,
        user_id: &str,
        last_sent: DateTime<Utc>,
        now: DateTime<Utc>,
        mail: &OutboundMail,
    ) -> DomainResult<bool> {
        let txn = self.begin_write().await.map_err(map_db_error)?;
        let updated = email_two_factor::Entity::update_many()
            .col_expr(
                email_two_factor::Column::CodeSentAt,
                Expr::value(millis(now)),
            )
            .filter(email_two_factor::Column::UserId.eq(user_id))
            .filter(email_two_factor::Column::CodeSentAt.eq(millis(last_sent)))
            .filter(email_two_factor::Column::CodeExpiresAt.gt(millis(now)))
            .exec(&txn)
            .await
            .map_err(map_db_error)?;
        if updated.rows_affected != 1 {
            return Ok(false);
        }
        insert_mail(&txn, mail).await?;
        txn.commit().await.map_err(map_db_error)?;
        Ok(true)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn consume_email_code(
        &self,
        user_id: &str,
        hash: &str,
        now: DateTime<Utc>,
    ) -> DomainResult<bool> {
        let none = || Expr::value(Option::<String>::None);
        let updated = email_two_factor::Entity::update_many()
            .col_expr(email_two_factor::Column::CodeHash, none())
            .col_expr(email_two_factor::Column::CodeSealed, none())
            .col_expr(
                email_two_factor::Column::CodeExpiresAt,
                Expr::value(Option::<i64>::None),
            )
            .col_expr(
                email_two_factor::Column::CodeSentAt,
                Expr::value(Option::<i64>::None),
            )
            .filter(email_two_factor::Column::UserId.eq(user_id))
            .filter(email_two_factor::Column::CodeHash.eq(hash))
            .filter(email_two_factor::Column::CodeExpiresAt.gt(millis(now)))
            .exec(&self.db)
            .await
            .map_err(map_db_error)?;
        Ok(updated.rows_affected == 1)
    }
}

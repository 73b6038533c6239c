//! The e-mail outbox (queued in the same transaction as what caused it, sent
//! by a worker), the devices users logged in with (the `new-device` alert
//! policy) and users' login-alert preference.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Outbox::Table)
                    .col(string(Outbox::Id).primary_key())
                    .col(string(Outbox::MessageId))
                    .col(string(Outbox::Kind))
                    .col(string(Outbox::ToAddress))
                    .col(string(Outbox::ToName))
                    .col(text(Outbox::Subject))
                    .col(text(Outbox::TextBody))
                    .col(text(Outbox::HtmlBody))
                    .col(big_integer(Outbox::CreatedAt))
                    .col(integer(Outbox::Attempts).default(0))
                    .col(big_integer(Outbox::NextAttemptAt))
                    // A worker's claim: nobody else sends it before this instant.
                    .col(big_integer_null(Outbox::ClaimedUntil))
                    .col(big_integer_null(Outbox::SentAt))
                    .col(big_integer_null(Outbox::FailedAt))
                    .col(text_null(Outbox::LastError))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("outbox_due")
                    .table(Outbox::Table)
                    .col(Outbox::SentAt)
                    .col(Outbox::FailedAt)
                    .col(Outbox::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LoginDevices::Table)
                    .col(string(LoginDevices::UserId))
                    .col(string(LoginDevices::DeviceKey))
                    .col(string(LoginDevices::Address))
                    .col(big_integer(LoginDevices::LastLoginAt))
                    .primary_key(
                        Index::create()
                            .col(LoginDevices::UserId)
                            .col(LoginDevices::DeviceKey)
                            .col(LoginDevices::Address),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(LoginDevices::Table, LoginDevices::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(UserPreferences::Table)
                    .col(string(UserPreferences::UserId).primary_key())
                    .col(boolean(UserPreferences::ReceiveLoginEmails))
                    .foreign_key(
                        ForeignKey::create()
                            .from(UserPreferences::Table, UserPreferences::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            UserPreferences::Table.into_iden(),
            LoginDevices::Table.into_iden(),
            Outbox::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Id,
    MessageId,
    Kind,
    ToAddress,
    ToName,
    Subject,
    TextBody,
    HtmlBody,
    CreatedAt,
    Attempts,
    NextAttemptAt,
    ClaimedUntil,
    SentAt,
    FailedAt,
    LastError,
}

#[derive(DeriveIden)]
enum LoginDevices {
    Table,
    UserId,
    DeviceKey,
    Address,
    LastLoginAt,
}

#[derive(DeriveIden)]
enum UserPreferences {
    Table,
    UserId,
    ReceiveLoginEmails,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

//! Attempt counters shared by replicas (failed logins per address and user,
//! wrong 2FA codes at endpoints and at login) and each user's known login
//! addresses; they replace the one-row-per-failure 2FA table.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AttemptCounters::Table)
                    .col(string(AttemptCounters::Kind))
                    .col(string(AttemptCounters::Subject))
                    .col(string(AttemptCounters::Address))
                    .col(integer(AttemptCounters::Attempts))
                    .col(big_integer(AttemptCounters::LastAttemptAt))
                    .primary_key(
                        Index::create()
                            .col(AttemptCounters::Kind)
                            .col(AttemptCounters::Subject)
                            .col(AttemptCounters::Address),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("attempt_counters_last_attempt_at")
                    .table(AttemptCounters::Table)
                    .col(AttemptCounters::LastAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(KnownAddresses::Table)
                    .col(string(KnownAddresses::UserId))
                    .col(string(KnownAddresses::Address))
                    .col(big_integer(KnownAddresses::LastLoginAt))
                    .primary_key(
                        Index::create()
                            .col(KnownAddresses::UserId)
                            .col(KnownAddresses::Address),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(KnownAddresses::Table, KnownAddresses::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(TwoFactorFailures::Table).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The old table comes back empty: its rows were counts, not records.
        manager
            .create_table(
                Table::create()
                    .table(TwoFactorFailures::Table)
                    .col(big_pk_auto(TwoFactorFailures::Id))
                    .col(string(TwoFactorFailures::UserId))
                    .col(big_integer(TwoFactorFailures::At))
                    .foreign_key(
                        ForeignKey::create()
                            .from(TwoFactorFailures::Table, TwoFactorFailures::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("two_factor_failures_user_at")
                    .table(TwoFactorFailures::Table)
                    .col(TwoFactorFailures::UserId)
                    .col(TwoFactorFailures::At)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(KnownAddresses::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(AttemptCounters::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum AttemptCounters {
    Table,
    Kind,
    Subject,
    Address,
    Attempts,
    LastAttemptAt,
}

#[derive(DeriveIden)]
enum KnownAddresses {
    Table,
    UserId,
    Address,
    LastLoginAt,
}

#[derive(DeriveIden)]
enum TwoFactorFailures {
    Table,
    Id,
    UserId,
    At,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

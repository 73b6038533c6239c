//! Users, their single-use backup codes and their recent wrong 2FA codes.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(string(Users::Id).primary_key())
                    .col(string_uniq(Users::Username))
                    .col(string(Users::Name))
                    // JSON array of role names.
                    .col(text(Users::Roles))
                    .col(boolean(Users::Active))
                    .col(text_null(Users::PasswordHash))
                    .col(text_null(Users::TotpSecret))
                    .col(big_integer_null(Users::TotpLastStep))
                    // Milliseconds since the epoch, as every timestamp here.
                    .col(big_integer(Users::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(BackupCodes::Table)
                    .col(string(BackupCodes::UserId))
                    .col(string(BackupCodes::CodeHash))
                    .primary_key(
                        Index::create()
                            .col(BackupCodes::UserId)
                            .col(BackupCodes::CodeHash),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(BackupCodes::Table, BackupCodes::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
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
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(TwoFactorFailures::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(BackupCodes::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Users::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub(crate) enum Users {
    Table,
    Id,
    Username,
    Name,
    Roles,
    Active,
    PasswordHash,
    TotpSecret,
    TotpLastStep,
    CreatedAt,
}

#[derive(DeriveIden)]
enum BackupCodes {
    Table,
    UserId,
    CodeHash,
}

#[derive(DeriveIden)]
enum TwoFactorFailures {
    Table,
    Id,
    UserId,
    At,
}

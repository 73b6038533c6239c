//! Users' e-mail 2FA: the switch (Rocket.Chat's `services.email2fa.enabled`)
//! and the one live mailed code.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // A table of its own rather than a column of `user_preferences`: a row
        // there means "the user chose about login alerts", which turning e-mail
        // 2FA on must not imply.
        manager
            .create_table(
                Table::create()
                    .table(EmailTwoFactor::Table)
                    .col(string(EmailTwoFactor::UserId).primary_key())
                    .col(boolean(EmailTwoFactor::Enabled))
                    // One live code per user, so one row holds it: its hash to
                    // check it, sealed to re-send the same code, when it
                    // expires and when it was last mailed (the cooldown).
                    .col(string_null(EmailTwoFactor::CodeHash))
                    .col(text_null(EmailTwoFactor::CodeSealed))
                    .col(big_integer_null(EmailTwoFactor::CodeExpiresAt))
                    .col(big_integer_null(EmailTwoFactor::CodeSentAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(EmailTwoFactor::Table, EmailTwoFactor::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(EmailTwoFactor::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum EmailTwoFactor {
    Table,
    UserId,
    Enabled,
    CodeHash,
    CodeSealed,
    CodeExpiresAt,
    CodeSentAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

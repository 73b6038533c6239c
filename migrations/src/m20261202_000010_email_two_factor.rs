//! Users' e-mail 2FA switch (Rocket.Chat's `services.email2fa.enabled`).

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
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

//! The durable log of session events that watchers resume from by cursor.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SessionEvents::Table)
                    .col(big_pk_auto(SessionEvents::Cursor))
                    .col(string(SessionEvents::Kind))
                    .col(string(SessionEvents::SessionId))
                    .col(string(SessionEvents::UserId))
                    .col(big_integer(SessionEvents::At))
                    .col(string_null(SessionEvents::By))
                    .col(string(SessionEvents::InstanceId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("session_events_at")
                    .table(SessionEvents::Table)
                    .col(SessionEvents::At)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SessionEvents::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum SessionEvents {
    Table,
    Cursor,
    Kind,
    SessionId,
    UserId,
    At,
    By,
    InstanceId,
}

//! Sessions, with an index for every lookup the endpoints make.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261124_000001_users::Users;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(string(Sessions::Id).primary_key())
                    .col(string(Sessions::SessionId))
                    .col(string(Sessions::InstanceId))
                    .col(string(Sessions::LoginTokenHash))
                    .col(string(Sessions::Ip))
                    .col(string(Sessions::Host))
                    .col(string(Sessions::DeviceType))
                    .col(string(Sessions::DeviceName))
                    .col(string(Sessions::DeviceLongVersion))
                    .col(string(Sessions::DeviceOsName))
                    .col(string(Sessions::DeviceOsVersion))
                    .col(string(Sessions::DeviceVersion))
                    .col(string(Sessions::UserId))
                    .col(text(Sessions::Roles))
                    .col(string(Sessions::MostImportantRole))
                    .col(big_integer(Sessions::LoginAt))
                    .col(text(Sessions::SearchTerm))
                    .col(big_integer(Sessions::CreatedAt))
                    .col(big_integer(Sessions::UpdatedAt))
                    .col(big_integer_null(Sessions::LastActivityAt))
                    .col(big_integer_null(Sessions::ClosedAt))
                    .col(big_integer_null(Sessions::LogoutAt))
                    .col(string_null(Sessions::LogoutBy))
                    .col(big_integer(Sessions::ExpiresAt))
                    .col(big_integer_null(Sessions::TfaTrustedUntil))
                    .col(string_null(Sessions::TfaTrustedIp))
                    .col(text_null(Sessions::TfaTrustedUa))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Sessions::Table, Sessions::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, columns, unique) in INDEXES {
            let mut index = Index::create();
            index.name(*name).table(Sessions::Table);
            for column in *columns {
                index.col(*column);
            }
            if *unique {
                index.unique();
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Sessions::Table).to_owned())
            .await
    }
}

/// sessions/info and logout by session id; authentication by token hash; a
/// user's listing by login time; the admin listing by login time.
const INDEXES: &[(&str, &[Sessions], bool)] = &[
    ("sessions_session_id", &[Sessions::SessionId], true),
    (
        "sessions_login_token_hash",
        &[Sessions::LoginTokenHash],
        true,
    ),
    (
        "sessions_user_id_login_at",
        &[Sessions::UserId, Sessions::LoginAt],
        false,
    ),
    ("sessions_login_at", &[Sessions::LoginAt], false),
];

#[derive(DeriveIden, Clone, Copy)]
enum Sessions {
    Table,
    Id,
    SessionId,
    InstanceId,
    LoginTokenHash,
    Ip,
    Host,
    DeviceType,
    DeviceName,
    DeviceLongVersion,
    DeviceOsName,
    DeviceOsVersion,
    DeviceVersion,
    UserId,
    Roles,
    MostImportantRole,
    LoginAt,
    SearchTerm,
    CreatedAt,
    UpdatedAt,
    LastActivityAt,
    ClosedAt,
    LogoutAt,
    LogoutBy,
    ExpiresAt,
    TfaTrustedUntil,
    TfaTrustedIp,
    TfaTrustedUa,
}

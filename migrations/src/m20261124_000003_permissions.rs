//! Permissions and the roles holding them, seeded with the spec's defaults.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

/// Spec section 7: both device-management permissions belong to `admin`.
const DEFAULTS: &[(&str, &str)] = &[
    ("view-device-management", r#"["admin"]"#),
    ("logout-device-management", r#"["admin"]"#),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Permissions::Table)
                    .col(string(Permissions::Id).primary_key())
                    // JSON array of role names.
                    .col(text(Permissions::Roles))
                    .to_owned(),
            )
            .await?;
        let mut insert = Query::insert();
        insert
            .into_table(Permissions::Table)
            .columns([Permissions::Id, Permissions::Roles]);
        for (id, roles) in DEFAULTS {
            insert.values_panic([(*id).into(), (*roles).into()]);
        }
        manager.exec_stmt(insert.to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Permissions::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Permissions {
    Table,
    Id,
    Roles,
}

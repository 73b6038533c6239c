//! `PermissionRepository` over the permissions table.

use async_trait::async_trait;
use sea_orm::{ActiveValue::Set, EntityTrait, QueryOrder, sea_query::OnConflict};
use sessions_domain::{DomainResult, Permission, PermissionRepository};

use crate::{
    Store,
    convert::{map_db_error, roles_from_json, roles_to_json},
    entities::permissions,
};

fn from_row(row: permissions::Model) -> Permission {
    Permission {
        roles: roles_from_json(&row.roles),
        id: row.id,
    }
}

#[async_trait]
impl PermissionRepository for Store {
    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn find_permission(&self, id: &str) -> DomainResult<Option<Permission>> {
        let row = permissions::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await
            .map_err(map_db_error)?;
        Ok(row.map(from_row))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn list_permissions(&self) -> DomainResult<Vec<Permission>> {
        let rows = permissions::Entity::find()
            .order_by_asc(permissions::Column::Id)
            .all(&self.db)
            .await
            .map_err(map_db_error)?;
        Ok(rows.into_iter().map(from_row).collect())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn save_permission(&self, permission: &Permission) -> DomainResult<()> {
        let row = permissions::ActiveModel {
            id: Set(permission.id.clone()),
            roles: Set(roles_to_json(&permission.roles)),
        };
        permissions::Entity::insert(row)
            .on_conflict(
                OnConflict::column(permissions::Column::Id)
                    .update_column(permissions::Column::Roles)
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await
            .map_err(map_db_error)?;
        Ok(())
    }
}

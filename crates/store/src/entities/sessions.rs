//! The `sessions` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub session_id: String,
    pub instance_id: String,
    pub login_token_hash: String,
    pub ip: String,
    pub host: String,
    pub device_type: String,
    pub device_name: String,
    pub device_long_version: String,
    pub device_os_name: String,
    pub device_os_version: String,
    pub device_version: String,
    pub user_id: String,
    pub roles: String,
    pub most_important_role: String,
    pub login_at: i64,
    pub search_term: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_activity_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub logout_at: Option<i64>,
    pub logout_by: Option<String>,
    pub expires_at: i64,
    pub tfa_trusted_until: Option<i64>,
    pub tfa_trusted_ip: Option<String>,
    pub tfa_trusted_ua: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::UserId",
        to = "super::users::Column::Id"
    )]
    User,
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

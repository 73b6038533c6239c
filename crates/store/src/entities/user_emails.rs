//! The `user_emails` table: each user's e-mail addresses, unique in any case.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_emails")]
pub struct Model {
    /// The address lowercased: the unique key lookups use.
    #[sea_orm(primary_key, auto_increment = false)]
    pub address_key: String,
    pub user_id: String,
    pub address: String,
    pub verified: bool,
    pub position: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

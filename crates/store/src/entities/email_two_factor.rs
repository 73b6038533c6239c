//! The `email_two_factor` table: whether a user's second factor may be
//! mailed, and the live mailed code.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "email_two_factor")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: String,
    pub enabled: bool,
    pub code_hash: Option<String>,
    pub code_sealed: Option<String>,
    pub code_expires_at: Option<i64>,
    pub code_sent_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

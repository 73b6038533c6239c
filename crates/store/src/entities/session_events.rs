//! The `session_events` table: the durable event log, ordered by cursor.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "session_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub cursor: i64,
    pub kind: String,
    pub session_id: String,
    pub user_id: String,
    pub at: i64,
    pub by: Option<String>,
    pub instance_id: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

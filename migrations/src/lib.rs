//! SeaORM migrations of the session service schema, one schema for SQLite and
//! PostgreSQL; every migration has a working `down`.

pub use sea_orm_migration::prelude::MigratorTrait;
use sea_orm_migration::prelude::*;

mod m20261124_000001_users;
mod m20261124_000002_sessions;
mod m20261124_000003_permissions;
mod m20261124_000004_session_events;
mod m20261124_000005_search_index;
mod m20261124_000006_audit_events;
mod m20261201_000007_attempt_counters;
mod m20261202_000008_user_emails;
mod m20261202_000009_mail;
mod m20261202_000010_email_two_factor;
mod m20261202_000011_auth_changes;

pub struct Migrator;

/// Runs raw statements in order, for what SeaORM's schema builder cannot say
/// (triggers, functions, extension indexes).
async fn run_all(
    db: &impl sea_orm_migration::sea_orm::ConnectionTrait,
    statements: impl IntoIterator<Item = impl AsRef<str>>,
) -> Result<(), DbErr> {
    for statement in statements {
        db.execute_unprepared(statement.as_ref()).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_users::Migration),
            Box::new(m20261124_000002_sessions::Migration),
            Box::new(m20261124_000003_permissions::Migration),
            Box::new(m20261124_000004_session_events::Migration),
            Box::new(m20261124_000005_search_index::Migration),
            Box::new(m20261124_000006_audit_events::Migration),
            Box::new(m20261201_000007_attempt_counters::Migration),
            Box::new(m20261202_000008_user_emails::Migration),
            Box::new(m20261202_000009_mail::Migration),
            Box::new(m20261202_000010_email_two_factor::Migration),
            Box::new(m20261202_000011_auth_changes::Migration),
        ]
    }
}

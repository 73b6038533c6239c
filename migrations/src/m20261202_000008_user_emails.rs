//! Users' e-mail addresses (`emails: [{address, verified}]` in Rocket.Chat):
//! login by e-mail, the `me` answer, and the mail of the e-mail issue; and
//! `users.logout`'s permission, `logout-other-user`, seeded for `admin`; an
//! index for usernames looked up without case.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(UserEmails::Table)
                    // Lowercased address: one address belongs to one user, in
                    // any case, as Meteor's unique index on `emails.address`
                    // with its case-insensitive lookup makes it.
                    .col(string(UserEmails::AddressKey).primary_key())
                    .col(string(UserEmails::UserId))
                    .col(string(UserEmails::Address))
                    .col(boolean(UserEmails::Verified))
                    // The order the user's addresses were given in: the first
                    // is the one Rocket.Chat mails.
                    .col(integer(UserEmails::Position))
                    .foreign_key(
                        ForeignKey::create()
                            .from(UserEmails::Table, UserEmails::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("user_emails_user_id")
                    .table(UserEmails::Table)
                    .col(UserEmails::UserId)
                    .to_owned(),
            )
            .await?;
        // Logins by a username in another case look it up folded; an index
        // on the expression keeps that from scanning the table.
        manager
            .get_connection()
            .execute_unprepared("CREATE INDEX users_username_folded ON users (lower(username))")
            .await?;
        // Spec section 7; an operator who already made it keeps theirs.
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(Permissions::Table)
                    .columns([Permissions::Id, Permissions::Roles])
                    .values_panic([LOGOUT_OTHER_USER.into(), r#"["admin"]"#.into()])
                    .on_conflict(OnConflict::column(Permissions::Id).do_nothing().to_owned())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX users_username_folded")
            .await?;
        // Also an operator's own grant of it: `up` cannot tell it left one.
        manager
            .exec_stmt(
                Query::delete()
                    .from_table(Permissions::Table)
                    .and_where(Expr::col(Permissions::Id).eq(LOGOUT_OTHER_USER))
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(UserEmails::Table).to_owned())
            .await
    }
}

const LOGOUT_OTHER_USER: &str = "logout-other-user";

#[derive(DeriveIden)]
enum Permissions {
    Table,
    Id,
    Roles,
}

#[derive(DeriveIden)]
enum UserEmails {
    Table,
    AddressKey,
    UserId,
    Address,
    Verified,
    Position,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

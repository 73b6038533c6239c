//! Users' e-mail addresses in the `user_emails` table, keyed by the lowercased
//! address so that one address, in any case, belongs to one user.

use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};
use sessions_domain::{DomainError, DomainResult, UserEmail};

use crate::{convert::map_db_error, entities::user_emails};

/// The key an address is stored and found by.
pub(crate) fn address_key(address: &str) -> String {
    address.trim().to_lowercase()
}

pub(crate) async fn user_emails<C: ConnectionTrait>(
    conn: &C,
    user_id: &str,
) -> DomainResult<Vec<UserEmail>> {
    let rows = user_emails::Entity::find()
        .filter(user_emails::Column::UserId.eq(user_id))
        .order_by_asc(user_emails::Column::Position)
        .all(conn)
        .await
        .map_err(map_db_error)?;
    Ok(rows
        .into_iter()
        .map(|row| UserEmail {
            address: row.address,
            verified: row.verified,
        })
        .collect())
}

pub(crate) async fn owner_of<C: ConnectionTrait>(
    conn: &C,
    address: &str,
) -> DomainResult<Option<String>> {
    let row = user_emails::Entity::find_by_id(address_key(address))
        .one(conn)
        .await
        .map_err(map_db_error)?;
    Ok(row.map(|row| row.user_id))
}

/// Replaces the user's addresses; inside the caller's transaction, so a
/// conflict leaves the old ones (and the rest of the write) untouched.
pub(crate) async fn replace_emails<C: ConnectionTrait>(
    conn: &C,
    user_id: &str,
    emails: &[UserEmail],
) -> DomainResult<()> {
    user_emails::Entity::delete_many()
        .filter(user_emails::Column::UserId.eq(user_id))
        .exec(conn)
        .await
        .map_err(map_db_error)?;
    for (position, email) in emails.iter().enumerate() {
        let key = address_key(&email.address);
        // Checked first for a clear message; the primary key still decides
        // when two writers race for one address.
        if let Some(owner) = owner_of(conn, &key).await? {
            let message = if owner == user_id {
                "e-mail address given twice"
            } else {
                "e-mail address already in use"
            };
            return Err(DomainError::Conflict(message.to_owned()));
        }
        let row = user_emails::ActiveModel {
            address_key: Set(key),
            user_id: Set(user_id.to_owned()),
            address: Set(email.address.trim().to_owned()),
            verified: Set(email.verified),
            position: Set(i32::try_from(position).unwrap_or(i32::MAX)),
        };
        user_emails::Entity::insert(row)
            .exec_without_returning(conn)
            .await
            .map_err(|err| match map_db_error(err) {
                DomainError::Conflict(_) => {
                    DomainError::Conflict("e-mail address already in use".to_owned())
                }
                other => other,
            })?;
    }
    Ok(())
}

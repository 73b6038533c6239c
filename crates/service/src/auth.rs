//! Who is calling: token authentication and permission checks.

use sessions_domain::{DomainError, DomainResult, Session, UserIdentity};

use crate::{
    Caller, SessionService,
    secrets::{constant_time_eq, hash_login_token},
};

/// An authenticated caller: who the user is and the session its token
/// belongs to. Identity only, as a token check may answer from memory: no
/// secret, and no 2FA remember window (`session.two_factor_trust` is `None`);
/// a use case that needs them reads them.
#[derive(Debug, Clone)]
pub struct AuthContext {
    pub user: UserIdentity,
    pub session: Session,
}

impl SessionService {
    /// The caller's user and session, or `Unauthenticated` for a missing, wrong,
    /// revoked or expired token or an inactive user. From the store's token
    /// cache, or one indexed lookup by token hash joined to the user by
    /// primary key; nothing is written.
    pub async fn authenticate(&self, caller: &Caller) -> DomainResult<AuthContext> {
        let (Some(user_id), Some(token)) = (
            caller.user_id.as_deref().filter(|v| !v.is_empty()),
            caller.auth_token.as_deref().filter(|v| !v.is_empty()),
        ) else {
            return Err(DomainError::Unauthenticated);
        };
        self.authenticate_token(user_id, token).await
    }

    pub async fn authenticate_token(
        &self,
        user_id: &str,
        token: &str,
    ) -> DomainResult<AuthContext> {
        let (session, user) = self
            .repo()
            .find_login_identity(&hash_login_token(token), user_id)
            .await?
            .ok_or(DomainError::Unauthenticated)?;
        if !constant_time_eq(&session.user_id, user_id)
            || !session.is_active(self.now())
            || !user.active
        {
            return Err(DomainError::Unauthenticated);
        }
        Ok(AuthContext { user, session })
    }

    /// `Forbidden` unless one of the user's roles holds the permission.
    pub(crate) async fn require_permission(
        &self,
        user: &UserIdentity,
        permission: &str,
    ) -> DomainResult<()> {
        let holders = self
            .repo()
            .find_permission(permission)
            .await?
            .map(|p| p.roles)
            .unwrap_or_default();
        if user.roles.iter().any(|role| holders.contains(role)) {
            Ok(())
        } else {
            Err(DomainError::Forbidden)
        }
    }
}

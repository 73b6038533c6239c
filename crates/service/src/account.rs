//! The caller's own account: `me`, `users.logout` and `users.removeOtherTokens`
//! (spec sections 3 and 9).

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use sessions_domain::{DomainError, DomainResult, User, UserEmail};

use crate::{
    Caller, SessionService, endpoints,
    params::{AuditTarget, NoParams, Params},
};

/// What keeps a username one path segment; Rocket.Chat's usernames
/// (`[0-9a-zA-Z-_.]`) pass unchanged, as its `getURL` writes them.
const PATH_SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'\\')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// What `me` shows of an account (Rocket.Chat's `IMeApiUser`).
#[derive(Debug, Clone)]
pub struct MeView {
    pub user: User,
    pub emails: Vec<UserEmail>,
    /// `<site_url>/avatar/<username>`.
    pub avatar_url: String,
}

/// The user `users.logout` names; the caller when absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserRef {
    pub user_id: Option<String>,
}

impl AuditTarget for UserRef {
    fn audit_target(&self) -> String {
        self.user_id.clone().unwrap_or_default()
    }
}

impl SessionService {
    /// The `me` view of a user, as the login answer and `GET me` show it.
    pub async fn me_view(&self, user: User) -> DomainResult<MeView> {
        let emails = self.repo().user_emails(&user.id).await?;
        let site = self.config().site_url.trim_end_matches('/');
        let avatar_url = format!(
            "{site}/avatar/{}",
            utf8_percent_encode(&user.username, PATH_SEGMENT)
        );
        Ok(MeView {
            user,
            emails,
            avatar_url,
        })
    }

    /// The caller's account (`GET me`).
    pub async fn me(&self, caller: &Caller, params: Params<NoParams>) -> DomainResult<MeView> {
        self.run(&endpoints::GET_ME, caller, params, async |ctx, _| {
            self.me_view(ctx.user.clone()).await
        })
        .await
    }

    /// Logs out every session of a user (`users.logout`): the caller's own, or
    /// another user's with `logout-other-user`. Answers the user's id.
    pub async fn logout_user(
        &self,
        caller: &Caller,
        params: Params<UserRef>,
    ) -> DomainResult<String> {
        self.run(&endpoints::LOGOUT_USER, caller, params, async |ctx, p| {
            let user_id = p
                .user_id
                .filter(|id| !id.is_empty())
                .unwrap_or_else(|| ctx.user.id.clone());
            if user_id != ctx.user.id
                && let Some(permission) = endpoints::LOGOUT_USER.permission_for_others
            {
                self.require_permission(&ctx.user, permission).await?;
            }
            match self
                .logout_user_sessions(&user_id, None, &ctx.user.id)
                .await
            {
                Err(DomainError::NotFound(_)) => Err(DomainError::InvalidUserId),
                other => other.map(|_| user_id),
            }
        })
        .await
    }

    /// Logs out every session of the caller but the calling one
    /// (`users.removeOtherTokens`).
    pub async fn remove_other_tokens(
        &self,
        caller: &Caller,
        params: Params<NoParams>,
    ) -> DomainResult<()> {
        self.run(
            &endpoints::REMOVE_OTHER_TOKENS,
            caller,
            params,
            async |ctx, _| {
                self.logout_user_sessions(&ctx.user.id, Some(&ctx.session.session_id), &ctx.user.id)
                    .await
                    .map(|_| ())
            },
        )
        .await
    }
}

//! The caller's own account: `me`, `users.logout`, `users.removeOtherTokens`,
//! the e-mail 2FA switch and code requests (spec sections 3, 5 and 9).

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
    /// Whether e-mail 2FA is on (`services.email2fa.enabled`).
    pub email_two_factor: bool,
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
        let email_two_factor = self.repo().email_two_factor_enabled(&user.id).await?;
        let site = self.config().site_url.trim_end_matches('/');
        let avatar_url = format!(
            "{site}/avatar/{}",
            utf8_percent_encode(&user.username, PATH_SEGMENT)
        );
        Ok(MeView {
            user,
            emails,
            avatar_url,
            email_two_factor,
        })
    }

    /// The caller's account (`GET me`).
    pub async fn me(&self, caller: &Caller, params: Params<NoParams>) -> DomainResult<MeView> {
        self.run(&endpoints::GET_ME, caller, params, async |ctx, _| {
            // The token check's answer has no secrets; `me` says whether
            // a password and TOTP are set.
            let user = self
                .repo()
                .find_user(&ctx.user.id)
                .await?
                .ok_or(DomainError::Unauthenticated)?;
            self.me_view(user).await
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

    /// Turns e-mail 2FA on for the caller (`users.2fa.enableEmail`).
    pub async fn enable_email_two_factor(
        &self,
        caller: &Caller,
        params: Params<NoParams>,
    ) -> DomainResult<()> {
        self.run(
            &endpoints::ENABLE_EMAIL_TWO_FACTOR,
            caller,
            params,
            async |ctx, _| self.set_email_two_factor(&ctx.user.id, true).await,
        )
        .await
    }

    /// Turns e-mail 2FA off for the caller (`users.2fa.disableEmail`); the
    /// endpoint asks for a second factor first.
    pub async fn disable_email_two_factor(
        &self,
        caller: &Caller,
        params: Params<NoParams>,
    ) -> DomainResult<()> {
        self.run(
            &endpoints::DISABLE_EMAIL_TWO_FACTOR,
            caller,
            params,
            async |ctx, _| self.set_email_two_factor(&ctx.user.id, false).await,
        )
        .await
    }

    /// Mails the live 2FA code of the user `email_or_username` names
    /// (`users.2fa.sendEmailCode`): a username, or an address when it holds
    /// `@`, as Rocket.Chat reads it. Unknown, deactivated and e-mail-2FA-less
    /// users get the same answer and no mail; the cooldown and the hourly cap
    /// of [`Self::mail_email_code`] hold here too.
    pub async fn send_email_code(
        &self,
        caller: &Caller,
        params: Params<String>,
    ) -> DomainResult<()> {
        self.run_anonymous(
            &endpoints::SEND_EMAIL_CODE,
            caller,
            params,
            async |email_or_username| {
                if email_or_username.is_empty() {
                    return Err(DomainError::ParameterRequired("emailOrUsername"));
                }
                let user = if email_or_username.contains('@') {
                    self.repo().find_user_by_email(&email_or_username).await?
                } else {
                    self.repo()
                        .find_user_by_username(&email_or_username)
                        .await?
                };
                if let Some(user) = user.filter(|u| u.active) {
                    self.mail_email_code(&user).await?;
                }
                Ok(())
            },
        )
        .await
    }

    pub(crate) async fn set_email_two_factor(
        &self,
        user_id: &str,
        enabled: bool,
    ) -> DomainResult<()> {
        if !self.repo().set_email_two_factor(user_id, enabled).await? {
            return Err(DomainError::NotFound("user"));
        }
        tracing::info!(user_id, enabled, "e-mail 2FA switched");
        Ok(())
    }
}

//! Password login (`POST /api/v1/login`), with TOTP for users who have it.

use sessions_domain::{DomainError, DomainResult, Session, User};

use crate::{
    Caller, ClientInfo, SessionService, password_work,
    secrets::{hash_login_token, password_digest},
    two_factor::CodeCheck,
};

#[derive(Clone, Default)]
pub struct LoginInput {
    pub username: String,
    pub password: String,
    pub code: Option<String>,
    pub client: ClientInfo,
    pub param_error: Option<String>,
}

/// A successful login: the user, the new session and its token (shown once).
#[derive(Debug, Clone)]
pub struct LoginOutcome {
    pub user: User,
    pub session: Session,
    pub token: String,
}

impl SessionService {
    pub async fn login(&self, input: LoginInput) -> DomainResult<LoginOutcome> {
        let caller = Caller {
            client: input.client.clone(),
            ..Caller::default()
        };
        self.throttle(&caller, "login").await?;
        if let Some(error) = input.param_error {
            return Err(DomainError::InvalidParams(error));
        }
        // Guessing one user's password is limited whatever address it comes from.
        let limits = &self.config().rate_limit;
        let user_key = input.username.to_lowercase();
        let now = self.now();
        if let Some(limited) = self.inner.login_failures.over(
            &user_key,
            limits.login_failures,
            limits.login_failure_window,
            now,
        ) {
            tracing::info!("login refused: too many failures for this user");
            return Err(limited);
        }
        let user = if input.username.is_empty() {
            None
        } else {
            self.repo().find_user_by_username(&input.username).await?
        };
        // Unknown users still cost a hash verification: no timing oracle.
        let digest = password_digest(&input.password);
        let verified = password_work::verify_password_digest(
            digest,
            user.as_ref().and_then(|u| u.password_hash.clone()),
        )
        .await?;
        let user = match user {
            Some(user) if verified && user.active && !input.password.is_empty() => user,
            _ => {
                tracing::info!("login refused");
                let _ = self.inner.login_failures.hit(
                    user_key,
                    limits.login_failures,
                    limits.login_failure_window,
                    now,
                );
                return Err(DomainError::LoginFailed);
            }
        };
        if user.totp_secret.is_some() {
            let Some(code) = input
                .code
                .as_deref()
                .map(str::trim)
                .filter(|c| !c.is_empty())
            else {
                return Err(DomainError::LoginTwoFactorRequired);
            };
            match self.check_login_code(&user, code).await? {
                CodeCheck::Accepted => {}
                CodeCheck::Rejected => return Err(DomainError::LoginTwoFactorInvalid),
                CodeCheck::TooManyAttempts => return Err(DomainError::LoginTwoFactorMaxAttempts),
            }
        }
        let token = self.ids().login_token();
        let session = self
            .open_session(&user, hash_login_token(&token), &input.client, None)
            .await?;
        Ok(LoginOutcome {
            user,
            session,
            token,
        })
    }
}

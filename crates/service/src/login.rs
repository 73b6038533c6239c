//! Password login (`POST /api/v1/login`), with TOTP for users who have it.

use sessions_domain::{DomainError, DomainResult, Session, User};

use crate::{
    Caller, ClientInfo, SessionService, endpoints,
    params::{LoginParams, Params},
    password_work,
    secrets::{hash_login_token, password_digest},
    two_factor::CodeCheck,
};

/// A successful login: the user, the new session and its token (shown once).
#[derive(Debug, Clone)]
pub struct LoginOutcome {
    pub user: User,
    pub session: Session,
    pub token: String,
}

impl SessionService {
    pub async fn login(
        &self,
        caller: &Caller,
        params: Params<LoginParams>,
    ) -> DomainResult<LoginOutcome> {
        self.run_anonymous(&endpoints::LOGIN, caller, params, async |input| {
            self.password_login(&caller.client, input).await
        })
        .await
    }

    async fn password_login(
        &self,
        client: &ClientInfo,
        input: LoginParams,
    ) -> DomainResult<LoginOutcome> {
        let user = if input.username.is_empty() {
            None
        } else {
            self.repo().find_user_by_username(&input.username).await?
        };
        let attempt = self.begin_login_attempt(user.as_ref(), client).await?;
        // Unknown users still cost a hash verification: no timing oracle.
        let digest = password_digest(&input.password);
        let verified = password_work::verify_password_digest(
            digest,
            user.as_ref().and_then(|u| u.password_hash.clone()),
        )
        .await?;
        let user = match user {
            Some(user) if verified && user.active && !input.password.is_empty() => user,
            // The reserved attempt stays counted: it is the failure.
            _ => {
                tracing::info!("login refused");
                return Err(DomainError::LoginFailed);
            }
        };
        if user.totp_secret.is_some() {
            let code = input
                .code
                .as_deref()
                .map(str::trim)
                .filter(|c| !c.is_empty());
            let refused = match code {
                None => Some(DomainError::LoginTwoFactorRequired),
                Some(code) => match self.check_login_code(&user, code).await {
                    Ok(CodeCheck::Accepted) => None,
                    Ok(CodeCheck::Rejected) => Some(DomainError::LoginTwoFactorInvalid),
                    Ok(CodeCheck::TooManyAttempts) => Some(DomainError::LoginTwoFactorMaxAttempts),
                    Err(err) => Some(err),
                },
            };
            // A right password is no failed login; wrong codes have their own count.
            if let Some(refused) = refused {
                self.login_not_failed(attempt).await?;
                return Err(refused);
            }
        }
        self.login_succeeded(attempt, &user).await?;
        let token = self.ids().login_token();
        let session = self
            .open_session(
                &user,
                hash_login_token(&token),
                client,
                None,
                user.password_hash.as_deref(),
            )
            .await?;
        Ok(LoginOutcome {
            user,
            session,
            token,
        })
    }
}

//! `POST /api/v1/login` in the forms Rocket.Chat takes (spec section 9): a
//! password login by username or e-mail, with TOTP or a mailed code for users
//! who have one, or a `resume` of an existing token.

use sessions_domain::{DomainError, DomainResult, Session, TwoFactorFailure, User};

use crate::{
    Caller, ClientInfo, SessionService, endpoints,
    params::{LoginName, LoginParams, LoginSecret, Params},
    password_work,
    secrets::{hash_login_token, password_digest},
    two_factor::{CodeCheck, Method},
};

/// A successful login: the user, the session and its token (shown once).
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
        self.run_anonymous(
            &endpoints::LOGIN,
            caller,
            params,
            async |input| match input {
                LoginParams::Password { name, secret, code } => {
                    // The code in the body, else in `x-2fa-code`, as Rocket.Chat reads it.
                    let code = code.or_else(|| caller.two_factor_code.clone());
                    self.password_login(&caller.client, name, secret, code)
                        .await
                }
                LoginParams::Resume { token } => self.resume_login(&caller.client, token).await,
            },
        )
        .await
    }

    async fn login_user(&self, name: Option<&LoginName>) -> DomainResult<Option<User>> {
        match name {
            Some(LoginName::Username(username)) if !username.is_empty() => {
                self.repo().find_user_by_username(username).await
            }
            Some(LoginName::Email(address)) if !address.is_empty() => {
                self.repo().find_user_by_email(address).await
            }
            _ => Ok(None),
        }
    }

    async fn password_login(
        &self,
        client: &ClientInfo,
        name: Option<LoginName>,
        secret: LoginSecret,
        code: Option<String>,
    ) -> DomainResult<LoginOutcome> {
        let user = self.login_user(name.as_ref()).await?;
        let attempt = self.begin_login_attempt(user.as_ref(), client).await?;
        let digest = match secret {
            LoginSecret::Password(password) if !password.is_empty() => {
                Some(password_digest(&password))
            }
            // A digest is 64 hex digits; any case, as hex is.
            LoginSecret::Digest(digest)
                if digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()) =>
            {
                Some(digest.to_ascii_lowercase())
            }
            _ => None,
        };
        // Unknown users and unusable secrets still cost a hash verification:
        // no timing oracle.
        let verified = password_work::verify_password_digest(
            digest.clone().unwrap_or_default(),
            user.as_ref().and_then(|u| u.password_hash.clone()),
        )
        .await?;
        let user = match user {
            Some(user) if verified && digest.is_some() => user,
            // The reserved attempt stays counted: it is the failure.
            _ => {
                tracing::info!("login refused");
                return Err(DomainError::LoginFailed);
            }
        };
        if !user.active {
            // Rocket.Chat's `validateLoginAttempt` says so once the password is
            // right; it still counts as a failed login there, and here.
            tracing::info!(user_id = %user.id, "login of a deactivated user refused");
            return Err(DomainError::UserNotActivated);
        }
        // Asked for only now, once the password is verified: no code is
        // mailed for a wrong one.
        if let Some((method, available_methods)) = self.login_method(&user).await? {
            let code = code.as_deref().map(str::trim).filter(|c| !c.is_empty());
            let failure = TwoFactorFailure {
                method: method.name().to_owned(),
                available_methods,
                email_code: None,
            };
            let refused = match code {
                None if method == Method::Email => match self.mail_email_code(&user).await {
                    Ok(sent) => Some(DomainError::LoginTwoFactorRequired(TwoFactorFailure {
                        email_code: Some(sent),
                        ..failure
                    })),
                    Err(err) => Some(err),
                },
                None => Some(DomainError::LoginTwoFactorRequired(failure)),
                Some(code) => match self.check_login_code(&user, method, code).await {
                    Ok(CodeCheck::Accepted) => None,
                    Ok(CodeCheck::Rejected) => Some(DomainError::LoginTwoFactorInvalid(failure)),
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

    /// Meteor's `resume` login: the token's own session, checked as every
    /// request's token is. It clears no failure count and starts no 2FA
    /// window; a refused one counts against the client's address.
    async fn resume_login(&self, client: &ClientInfo, token: String) -> DomainResult<LoginOutcome> {
        let attempt = self.begin_login_attempt(None, client).await?;
        let found = self.repo().find_login(&hash_login_token(&token)).await?;
        let refusal = match &found {
            None => Some(DomainError::ResumeLoggedOut),
            Some((session, _)) if session.logout_at.is_some() => Some(DomainError::ResumeLoggedOut),
            Some((session, _)) if !session.is_active(self.now()) => {
                Some(DomainError::ResumeExpired)
            }
            Some((_, user)) if !user.active => Some(DomainError::UserNotActivated),
            Some(_) => None,
        };
        if let Some(refusal) = refusal {
            tracing::info!(reason = refusal.label(), "resume login refused");
            return Err(refusal);
        }
        self.login_not_failed(attempt).await?;
        let Some((session, user)) = found else {
            return Err(DomainError::ResumeLoggedOut);
        };
        Ok(LoginOutcome {
            user,
            session,
            token,
        })
    }
}

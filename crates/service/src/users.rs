//! Managing users and permissions: the operator CLI and the internal API call
//! these.

use sessions_domain::{DomainError, DomainResult, EventKind, Permission, User, UserEmail};

use crate::{SessionService, password_work, secrets::hash_backup_code, totp};

/// How many backup codes a user holds at a time.
const BACKUP_CODE_COUNT: usize = 10;

/// A user's profile to create or replace.
#[derive(Debug, Clone, Default)]
pub struct UpsertUser {
    /// Generated when `None`.
    pub id: Option<String>,
    pub username: String,
    pub name: String,
    pub roles: Vec<String>,
    pub active: bool,
    /// Replaces the user's e-mail addresses when `Some`; `None` keeps them.
    pub emails: Option<Vec<UserEmail>>,
    /// Whether login alerts are mailed to the user; `None` keeps the choice.
    pub receive_login_emails: Option<bool>,
    /// Whether e-mail 2FA is on; `None` keeps it.
    pub email_two_factor: Option<bool>,
}

/// The most addresses one user holds.
const MAX_EMAILS: usize = 10;

/// A plausible address: one `@` between a local part and a domain, no spaces
/// or control characters, at most 254 bytes (RFC 5321's path limit). Mail is
/// what proves an address; this keeps garbage and header tricks out.
fn check_email(address: &str) -> DomainResult<()> {
    let address = address.trim();
    // Also none of the characters that would make it a list, a display
    // name or a route in a header: the address is sent as it is stored.
    let plausible = address.len() <= 254
        && !address
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>()[]\\,;:\"".contains(c))
        && address.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@')
        });
    if plausible {
        Ok(())
    } else {
        Err(invalid("must match format \"email\""))
    }
}

/// What an operator hands to the user once: never stored in clear.
#[derive(Debug, Clone)]
pub struct TotpEnrollment {
    pub otpauth_uri: String,
    pub backup_codes: Vec<String>,
}

fn invalid(message: &str) -> DomainError {
    DomainError::InvalidParams(message.to_owned())
}

impl SessionService {
    pub async fn upsert_user(&self, input: UpsertUser) -> DomainResult<User> {
        let username = input.username.trim();
        if username.is_empty() {
            return Err(invalid("must have required property 'username'"));
        }
        let existing = match input.id.as_deref().filter(|id| !id.is_empty()) {
            Some(id) => self.repo().find_user(id).await?,
            None => None,
        };
        let user = match existing {
            Some(mut user) => {
                user.username = username.to_owned();
                user.name = input.name;
                user.roles = input.roles;
                user.active = input.active;
                user
            }
            None => User {
                id: input
                    .id
                    .filter(|id| !id.is_empty())
                    .unwrap_or_else(|| self.ids().meteor_id()),
                username: username.to_owned(),
                name: input.name,
                roles: input.roles,
                active: input.active,
                password_hash: None,
                totp_secret: None,
                totp_last_step: None,
                created_at: self.now(),
            },
        };
        let saved = match &input.emails {
            Some(emails) => {
                if emails.len() > MAX_EMAILS {
                    return Err(invalid("must NOT have more than 10 items"));
                }
                for email in emails {
                    check_email(&email.address)?;
                }
                self.repo().upsert_user_with_emails(&user, emails).await
            }
            None => self.repo().upsert_user(&user).await,
        };
        saved.map_err(|err| match err {
            DomainError::Conflict(message) if message.starts_with("e-mail") => {
                DomainError::Conflict(message)
            }
            DomainError::Conflict(_) => {
                DomainError::Conflict(format!("username '{}' is taken", user.username))
            }
            other => other,
        })?;
        if let Some(receive) = input.receive_login_emails {
            self.repo()
                .set_login_email_preference(&user.id, receive)
                .await?;
        }
        if let Some(enabled) = input.email_two_factor {
            self.set_email_two_factor(&user.id, enabled).await?;
        }
        tracing::info!(user_id = %user.id, username = %user.username, "user saved");
        Ok(user)
    }

    pub async fn get_user(&self, user_id: &str) -> DomainResult<User> {
        self.repo()
            .find_user(user_id)
            .await?
            .ok_or(DomainError::NotFound("user"))
    }

    /// A user by id, or by username when no id matches.
    pub async fn find_user(&self, id_or_username: &str) -> DomainResult<User> {
        if let Some(user) = self.repo().find_user(id_or_username).await? {
            return Ok(user);
        }
        self.repo()
            .find_user_by_username(id_or_username)
            .await?
            .ok_or(DomainError::NotFound("user"))
    }

    /// The user's e-mail addresses, in the order they were given.
    pub async fn user_emails(&self, user_id: &str) -> DomainResult<Vec<UserEmail>> {
        self.repo().user_emails(user_id).await
    }

    pub async fn list_users(&self) -> DomainResult<Vec<User>> {
        self.repo().list_users().await
    }

    /// A deactivated user's tokens stop working at once: authentication reads
    /// the user's `active` flag on every check.
    pub async fn deactivate_user(&self, user_id: &str) -> DomainResult<User> {
        let mut user = self.get_user(user_id).await?;
        user.active = false;
        self.repo().upsert_user(&user).await?;
        tracing::info!(user_id, "user deactivated");
        Ok(user)
    }

    /// Sets a user's password and, in the same transaction, logs out the
    /// user's sessions but `keep_session_id` and ends every 2FA remember
    /// window, as Rocket.Chat does: whoever knew the old password keeps
    /// nothing. Answers the ended session ids.
    pub async fn set_password(
        &self,
        user_id: &str,
        password: &str,
        keep_session_id: Option<&str>,
    ) -> DomainResult<Vec<String>> {
        if password.is_empty() {
            return Err(invalid("must have required property 'password'"));
        }
        let hash = password_work::hash_password(password.to_owned()).await?;
        let keep_session_id = keep_session_id.filter(|s| !s.is_empty());
        // Every ended session is the owner's own doing, as in Rocket.Chat.
        let event = self.event_template(EventKind::ForceLogout, user_id, Some(user_id));
        let ended = self
            .repo()
            .change_password(user_id, &hash, keep_session_id, event.at, &event)
            .await?
            .ok_or(DomainError::NotFound("user"))?;
        tracing::info!(
            user_id,
            sessions_logged_out = ended.len(),
            kept_session = keep_session_id.is_some(),
            "password set"
        );
        Ok(ended)
    }

    /// Enables TOTP with the given base32 secret or a new random one, and
    /// replaces the backup codes.
    pub async fn enroll_totp(
        &self,
        user_id: &str,
        secret_base32: Option<&str>,
    ) -> DomainResult<TotpEnrollment> {
        let user = self.get_user(user_id).await?;
        let secret = match secret_base32.filter(|s| !s.trim().is_empty()) {
            Some(given) => {
                totp::decode_secret(given).ok_or_else(|| invalid("secret must be base32"))?
            }
            None => self.ids().totp_secret(),
        };
        let (codes, hashes) = self.new_backup_codes(&user.id);
        // Stored sealed under the configured key, bound to the user.
        let sealed = self
            .config()
            .sealer
            .seal(&user.id, &totp::encode_secret(&secret))
            .map_err(DomainError::Internal)?;
        if !self
            .repo()
            .set_totp(&user.id, Some(&sealed), &hashes)
            .await?
        {
            return Err(DomainError::NotFound("user"));
        }
        tracing::info!(user_id = %user.id, "totp enrolled");
        Ok(TotpEnrollment {
            otpauth_uri: totp::otpauth_uri(
                &self.config().two_factor.issuer,
                &user.username,
                &secret,
            ),
            backup_codes: codes,
        })
    }

    pub async fn disable_totp(&self, user_id: &str) -> DomainResult<()> {
        if !self.repo().set_totp(user_id, None, &[]).await? {
            return Err(DomainError::NotFound("user"));
        }
        tracing::info!(user_id, "totp disabled");
        Ok(())
    }

    pub async fn regenerate_backup_codes(&self, user_id: &str) -> DomainResult<Vec<String>> {
        let (codes, hashes) = self.new_backup_codes(user_id);
        if !self.repo().replace_backup_codes(user_id, &hashes).await? {
            return Err(DomainError::NotFound("user"));
        }
        tracing::info!(user_id, "backup codes regenerated");
        Ok(codes)
    }

    fn new_backup_codes(&self, user_id: &str) -> (Vec<String>, Vec<String>) {
        let codes: Vec<String> = (0..BACKUP_CODE_COUNT)
            .map(|_| self.ids().backup_code())
            .collect();
        let hashes = codes
            .iter()
            .map(|code| hash_backup_code(user_id, code))
            .collect();
        (codes, hashes)
    }

    pub async fn grant_permission(&self, permission: &str, role: &str) -> DomainResult<Permission> {
        self.change_permission(permission, role, true).await
    }

    pub async fn revoke_permission(
        &self,
        permission: &str,
        role: &str,
    ) -> DomainResult<Permission> {
        self.change_permission(permission, role, false).await
    }

    pub async fn list_permissions(&self) -> DomainResult<Vec<Permission>> {
        self.repo().list_permissions().await
    }

    async fn change_permission(
        &self,
        permission: &str,
        role: &str,
        grant: bool,
    ) -> DomainResult<Permission> {
        if permission.is_empty() || role.is_empty() {
            return Err(invalid(
                "must have required property 'permission' and 'role'",
            ));
        }
        let mut stored = self
            .repo()
            .find_permission(permission)
            .await?
            .unwrap_or_else(|| Permission {
                id: permission.to_owned(),
                roles: Vec::new(),
            });
        stored.roles.retain(|r| r != role);
        if grant {
            stored.roles.push(role.to_owned());
        }
        self.repo().save_permission(&stored).await?;
        tracing::info!(permission, role, grant, "permission changed");
        Ok(stored)
    }
}

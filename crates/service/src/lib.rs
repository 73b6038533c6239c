//! Use cases of the session service: authentication, permissions, 2FA, sessions
//! and users. Both the gRPC and the REST edge call these; the rules live here once.

mod account;
mod address;
mod audit;
mod auth;
mod config;
pub mod device;
pub mod endpoints;
mod events;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod host;
mod ids;
mod listing;
mod login;
mod login_limits;
mod mail;
mod params;
mod password_work;
mod public;
mod rate_limit;
pub mod roles;
mod runner;
mod sealing;
pub mod secrets;
mod sessions;
pub mod totp;
mod two_factor;
mod users;

use std::sync::{Arc, OnceLock};

use sessions_domain::{Clock, Repository};

pub use account::{MeView, UserRef};
pub use address::client_network;
pub use auth::AuthContext;
pub use config::{ServiceConfig, TwoFactorConfig};
pub use events::WatchSettings;
pub use ids::{IdGenerator, RandomIds};
pub use listing::ListParams;
pub use login::LoginOutcome;
pub use login_limits::LoginLimitConfig;
pub use mail::{
    DEFAULT_LOGIN_BODY, DEFAULT_LOGIN_SUBJECT, LoginEmailPolicy, MailConfig, header_safe,
};
pub use params::{LoginName, LoginParams, LoginSecret, NoParams, Params, SessionRef, missing};
pub use public::Listing;
pub use rate_limit::{RateLimitConfig, RateWindow};
pub use sealing::SecretSealer;
pub use sessions::NewSessionInput;
pub use users::{TotpEnrollment, UpsertUser};

/// What a request says about its sender, from headers or gRPC metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    pub ip: String,
    pub host: String,
    pub user_agent: String,
    /// `ip` is one of the trusted proxies (every hop was one): it names no
    /// client, so it never becomes a user's known address.
    pub ip_is_trusted_proxy: bool,
}

/// The caller of a user-facing use case.
#[derive(Clone, Default)]
pub struct Caller {
    pub user_id: Option<String>,
    pub auth_token: Option<String>,
    pub two_factor_code: Option<String>,
    pub two_factor_method: Option<String>,
    pub client: ClientInfo,
    /// Filled by the throttle step: the transports send it as headers on
    /// every answer, success or not.
    pub rate_window: Arc<OnceLock<RateWindow>>,
}

impl Caller {
    /// The window the request left on its route, once it was throttled.
    pub fn rate_window(&self) -> Option<RateWindow> {
        self.rate_window.get().copied()
    }
}

// Never print the token or the code, even in debug output.
impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("user_id", &self.user_id)
            .field(
                "auth_token",
                &self.auth_token.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "two_factor_code",
                &self.two_factor_code.as_ref().map(|_| "<redacted>"),
            )
            .field("two_factor_method", &self.two_factor_method)
            .field("client", &self.client)
            .field("rate_window", &self.rate_window.get())
            .finish()
    }
}

/// The service: every use case, over a repository, a clock and an id source.
#[derive(Clone)]
pub struct SessionService {
    inner: Arc<Inner>,
}

struct Inner {
    repo: Arc<dyn Repository>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    config: ServiceConfig,
    requests: rate_limit::RequestWindows,
}

impl SessionService {
    pub fn new(
        repo: Arc<dyn Repository>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
        config: ServiceConfig,
    ) -> Self {
        let requests = rate_limit::RequestWindows::new(config.rate_limit.table_bytes);
        Self {
            inner: Arc::new(Inner {
                repo,
                clock,
                ids,
                config,
                requests,
            }),
        }
    }

    pub fn config(&self) -> &ServiceConfig {
        &self.inner.config
    }

    fn repo(&self) -> &dyn Repository {
        self.inner.repo.as_ref()
    }

    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        // Stored timestamps carry milliseconds; truncating here keeps what we
        // answer equal to what we store.
        let now = self.inner.clock.now();
        chrono::DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
    }

    fn ids(&self) -> &dyn IdGenerator {
        self.inner.ids.as_ref()
    }

    /// Counts a request of the caller's address on `route`; over the limit,
    /// only a caller whose roles hold the exempt permission goes on.
    pub(crate) async fn throttle(
        &self,
        caller: &Caller,
        route: &'static str,
    ) -> sessions_domain::DomainResult<()> {
        let limits = &self.config().rate_limit;
        let address = address::address_key(&caller.client.ip);
        let limited = match self.inner.requests.hit(
            &address,
            route,
            limits.requests,
            limits.window,
            self.now(),
        ) {
            Ok(window) => {
                if let Some(window) = window {
                    // Set once: a request passes one throttle.
                    let _ = caller.rate_window.set(window);
                }
                return Ok(());
            }
            Err(limited) => limited,
        };
        // The exemption costs a token lookup: a caller found exempt is
        // remembered for the window, and others get a lookup only for the
        // first requests over the limit, so garbage tokens cannot turn the
        // limiter into a database load.
        if let (Some(user_id), Some(token)) = (&caller.user_id, &caller.auth_token) {
            let credentials = format!("{user_id}\0{token}");
            let windows = &self.inner.requests;
            if windows.is_exempt(&address, route, &credentials) {
                return Ok(());
            }
            if limited.count <= limits.requests.saturating_mul(2)
                && let Ok(ctx) = self.authenticate(caller).await
                && self
                    .require_permission(&ctx.user, &limits.exempt_permission)
                    .await
                    .is_ok()
            {
                windows.remember_exempt(&address, route, &credentials);
                return Ok(());
            }
        }
        tracing::info!(ip = %caller.client.ip, route, "rate limited");
        Err(limited.error)
    }
}

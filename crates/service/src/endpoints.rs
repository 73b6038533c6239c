//! The table of endpoint policies: for each public RPC, what the runner checks
//! (authentication, required parameters, permission, second factor), where it
//! is throttled and what it audits. The transports, the OpenAPI generator and
//! the rate limiter read this table; adding an endpoint is one entry here plus
//! its action.

/// `sessions/info.admin` and `sessions/list.all` (spec section 7).
pub const VIEW_DEVICE_MANAGEMENT: &str = "view-device-management";
/// `sessions/logout` (spec section 7).
pub const LOGOUT_DEVICE_MANAGEMENT: &str = "logout-device-management";
/// `users.logout` of another user (spec section 7).
pub const LOGOUT_OTHER_USER: &str = "logout-other-user";

/// The gRPC service these endpoints belong to.
pub const SERVICE: &str = "sessions.v1.SessionsService";

/// One endpoint's policy.
#[derive(Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The RPC's method name in [`SERVICE`].
    pub rpc: &'static str,
    /// The rate-limit bucket: Rocket.Chat's route name.
    pub bucket: &'static str,
    /// Whether the caller presents a login token (`X-User-Id`, `X-Auth-Token`).
    pub authenticated: bool,
    /// The permission one of the caller's roles must hold.
    pub permission: Option<&'static str>,
    /// The permission the action asks for when the request names another
    /// user than the caller (`users.logout`): it depends on a parameter, so
    /// it is checked after the parameters, by the action.
    pub permission_for_others: Option<&'static str>,
    /// Whether a second factor is asked for (`x-2fa-code`, `x-2fa-method`).
    pub two_factor: bool,
    /// Whether a session's remember window may stand in for the code
    /// (Rocket.Chat's `disableRememberMe` turns it off for turning 2FA off).
    pub two_factor_remember: bool,
    /// The audit log's name for the action; every outcome is recorded.
    pub audit: Option<&'static str>,
    /// Parameters the request must carry (JSON names, as the errors name them).
    pub required: &'static [&'static str],
    /// `null` counts as an absent parameter: Rocket.Chat reads `login`'s body
    /// loosely, and validates every other one with a schema.
    pub null_is_absent: bool,
}

impl Endpoint {
    /// `/sessions.v1.SessionsService/GetMySession`: the gRPC path, which is also
    /// the key the REST routes are found by.
    pub fn grpc_path(&self) -> String {
        format!("/{SERVICE}/{}", self.rpc)
    }

    /// `login`: no identity, and its own error bodies.
    pub fn is_login(&self) -> bool {
        std::ptr::eq(self, &LOGIN)
    }
}

const USER: Endpoint = Endpoint {
    rpc: "",
    bucket: "",
    authenticated: true,
    permission: None,
    permission_for_others: None,
    two_factor: false,
    two_factor_remember: true,
    audit: None,
    required: &[],
    null_is_absent: false,
};

pub static GET_MY_SESSION: Endpoint = Endpoint {
    rpc: "GetMySession",
    bucket: "sessions/info",
    required: &["sessionId"],
    ..USER
};

pub static GET_SESSION_ADMIN: Endpoint = Endpoint {
    rpc: "GetSessionAdmin",
    bucket: "sessions/info.admin",
    permission: Some(VIEW_DEVICE_MANAGEMENT),
    two_factor: true,
    audit: Some("sessions.info.admin"),
    required: &["sessionId"],
    ..USER
};

pub static LIST_MY_SESSIONS: Endpoint = Endpoint {
    rpc: "ListMySessions",
    bucket: "sessions/list",
    ..USER
};

pub static LIST_ALL_SESSIONS: Endpoint = Endpoint {
    rpc: "ListAllSessions",
    bucket: "sessions/list.all",
    permission: Some(VIEW_DEVICE_MANAGEMENT),
    two_factor: true,
    audit: Some("sessions.list.all"),
    ..USER
};

pub static LOGOUT_MY_SESSION: Endpoint = Endpoint {
    rpc: "LogoutMySession",
    bucket: "sessions/logout.me",
    required: &["sessionId"],
    ..USER
};

pub static LOGOUT_SESSION: Endpoint = Endpoint {
    rpc: "LogoutSession",
    bucket: "sessions/logout",
    permission: Some(LOGOUT_DEVICE_MANAGEMENT),
    two_factor: true,
    audit: Some("sessions.logout"),
    required: &["sessionId"],
    ..USER
};

pub static LOGIN: Endpoint = Endpoint {
    rpc: "Login",
    bucket: "login",
    authenticated: false,
    null_is_absent: true,
    ..USER
};

pub static LOGOUT: Endpoint = Endpoint {
    rpc: "Logout",
    bucket: "logout",
    ..USER
};

pub static GET_ME: Endpoint = Endpoint {
    rpc: "GetMe",
    bucket: "me",
    ..USER
};

pub static LOGOUT_USER: Endpoint = Endpoint {
    rpc: "LogoutUser",
    bucket: "users.logout",
    permission_for_others: Some(LOGOUT_OTHER_USER),
    audit: Some("users.logout"),
    ..USER
};

pub static REMOVE_OTHER_TOKENS: Endpoint = Endpoint {
    rpc: "RemoveOtherTokens",
    bucket: "users.removeOtherTokens",
    ..USER
};

pub static ENABLE_EMAIL_TWO_FACTOR: Endpoint = Endpoint {
    rpc: "EnableEmailTwoFactor",
    bucket: "users.2fa.enableEmail",
    audit: Some("users.2fa.enableEmail"),
    ..USER
};

/// Turning a second factor off asks for one, always a fresh one (Rocket.Chat's
/// `twoFactorRequired` with `disableRememberMe`): a stolen token alone cannot.
pub static DISABLE_EMAIL_TWO_FACTOR: Endpoint = Endpoint {
    rpc: "DisableEmailTwoFactor",
    bucket: "users.2fa.disableEmail",
    two_factor: true,
    two_factor_remember: false,
    audit: Some("users.2fa.disableEmail"),
    ..USER
};

/// No token, as Rocket.Chat: the person asking is the one who cannot log in
/// yet. `null` is as absent as in its `!emailOrUsername` check.
pub static SEND_EMAIL_CODE: Endpoint = Endpoint {
    rpc: "SendEmailCode",
    bucket: "users.2fa.sendEmailCode",
    authenticated: false,
    null_is_absent: true,
    ..USER
};

/// Every public endpoint.
pub static ENDPOINTS: &[&Endpoint] = &[
    &GET_MY_SESSION,
    &GET_SESSION_ADMIN,
    &LIST_MY_SESSIONS,
    &LIST_ALL_SESSIONS,
    &LOGOUT_MY_SESSION,
    &LOGOUT_SESSION,
    &LOGIN,
    &LOGOUT,
    &GET_ME,
    &LOGOUT_USER,
    &REMOVE_OTHER_TOKENS,
    &ENABLE_EMAIL_TWO_FACTOR,
    &DISABLE_EMAIL_TWO_FACTOR,
    &SEND_EMAIL_CODE,
];

/// The endpoint served at a gRPC path, if any.
pub fn by_grpc_path(path: &str) -> Option<&'static Endpoint> {
    let rpc = path
        .strip_prefix('/')?
        .strip_prefix(SERVICE)?
        .strip_prefix('/')?;
    ENDPOINTS.iter().copied().find(|e| e.rpc == rpc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_their_endpoints_once() {
        for endpoint in ENDPOINTS {
            assert_eq!(by_grpc_path(&endpoint.grpc_path()), Some(*endpoint));
            let same_bucket = ENDPOINTS.iter().filter(|e| e.bucket == endpoint.bucket);
            assert_eq!(same_bucket.count(), 1, "{}", endpoint.rpc);
        }
        assert_eq!(by_grpc_path("/sessions.v1.SessionsService/Nope"), None);
        assert_eq!(by_grpc_path("/other.Service/Login"), None);
        // A second factor is always audited; outside turning 2FA off it
        // comes with a permission.
        for endpoint in ENDPOINTS.iter().filter(|e| e.two_factor) {
            assert!(endpoint.audit.is_some(), "{}", endpoint.rpc);
            assert!(
                endpoint.permission.is_some() || endpoint.rpc == DISABLE_EMAIL_TWO_FACTOR.rpc,
                "{}",
                endpoint.rpc
            );
        }
    }
}

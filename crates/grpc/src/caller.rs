//! The caller of a user-facing RPC, read from metadata exactly as the REST
//! headers carry it, plus what the listener learnt about the connection.

use sessions_service::{Caller, ClientInfo};
use tonic::Request;

fn metadata_value<T>(request: &Request<T>, key: &str) -> Option<String> {
    request
        .metadata()
        .get(key)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

/// The client as the listener saw it (address after trusted proxies, Host,
/// User-Agent); empty when a test calls the service without a listener.
pub(crate) fn client_info<T>(request: &Request<T>) -> ClientInfo {
    request
        .extensions()
        .get::<ClientInfo>()
        .cloned()
        .unwrap_or_default()
}

pub(crate) fn caller<T>(request: &Request<T>) -> Caller {
    Caller {
        user_id: metadata_value(request, "x-user-id"),
        auth_token: metadata_value(request, "x-auth-token"),
        two_factor_code: metadata_value(request, "x-2fa-code"),
        two_factor_method: metadata_value(request, "x-2fa-method"),
        client: client_info(request),
        rate_window: Default::default(),
    }
}

//! The service credential that opens the internal API.

use sessions_domain::DomainError;
use sessions_service::secrets::constant_time_eq;
use tonic::{Request, Status, service::Interceptor};

use crate::error_table::to_status;

/// Checks `authorization: Bearer <secret>` in constant time. Without a
/// configured secret the internal API refuses every call.
#[derive(Clone)]
pub struct ServiceCredential {
    secret: Option<String>,
}

impl ServiceCredential {
    pub fn new(secret: Option<String>) -> Self {
        Self {
            secret: secret.filter(|s| !s.is_empty()),
        }
    }

    /// Whether an `authorization` value presents the configured secret; the
    /// one comparison behind the internal API and whatever else it opens
    /// (the full reflection listing).
    pub fn verifies(&self, authorization: Option<&str>) -> bool {
        let presented = authorization.and_then(|v| v.strip_prefix("Bearer "));
        match (&self.secret, presented) {
            (Some(secret), Some(presented)) => constant_time_eq(secret, presented),
            _ => false,
        }
    }
}

impl std::fmt::Debug for ServiceCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceCredential")
            .field("configured", &self.secret.is_some())
            .finish()
    }
}

impl Interceptor for ServiceCredential {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let authorization = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        if self.verifies(authorization) {
            Ok(request)
        } else {
            Err(to_status(DomainError::ServiceUnauthenticated))
        }
    }
}

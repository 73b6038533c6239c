//! The one table that maps each domain error to its gRPC code and to its REST
//! status and body. Both edges use it: the gRPC adapters turn errors into a
//! `Status` carrying the REST rendering in its details, and the REST edge reads
//! that rendering back, so an error cannot be mapped two ways.

use serde_json::{Value, json};
use sessions_domain::{DomainError, TwoFactorFailure};
use tonic::{Code, Status};

/// How one error is answered on both edges.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorDescription {
    pub grpc: Code,
    pub http_status: u16,
    /// The REST body, byte for byte as the spec names it.
    pub body: Value,
    /// Extra REST headers (rate-limit figures).
    pub headers: Vec<(String, String)>,
}

const LOGGED_OUT: &str = "You must be logged in to do this.";

fn failure(message: &str) -> Value {
    json!({"success": false, "error": message})
}

fn two_factor(error: &str, error_type: &str, f: &TwoFactorFailure) -> Value {
    json!({
        "success": false,
        "error": format!("{error} [{error_type}]"),
        "errorType": error_type,
        "details": details(f),
    })
}

/// Rocket.Chat's details of a 2FA error; the `email` method adds what was
/// mailed (never the code).
fn details(f: &TwoFactorFailure) -> Value {
    let mut details = json!({
        "method": f.method,
        "codeGenerated": false,
        "availableMethods": f.available_methods,
    });
    if let Some(sent) = &f.email_code {
        let expires: Vec<String> = sent.expires_iso().into_iter().collect();
        details["codeGenerated"] = json!(sent.generated);
        details["codeCount"] = json!(expires.len());
        details["codeExpires"] = json!(expires);
        details["emailOrUsername"] = json!(sent.username);
    }
    details
}

/// Rocket.Chat's login route answers `unauthorized()` and then copies the
/// Meteor error's `error`, `details` and `reason` onto it.
fn login_error(error: Value, details: Option<Value>, message: &str) -> Value {
    let mut body = json!({"success": false, "error": error, "status": "error"});
    if let Some(details) = details {
        body["details"] = details;
    }
    body["message"] = json!(message);
    body
}

/// Rocket.Chat's REST login answers `unauthorized()` with the Meteor error's
/// fields assigned onto it: `error`, `status`, `details`, `message`, in that
/// order (its `validateLoginAttempt` hook throws these two blocks).
/// A refusal of Rocket.Chat's `Accounts.validateLoginAttempt` hooks.
fn login_refused(error: &str, message: &str) -> Value {
    login_error(
        json!(error),
        Some(json!({"function": "Accounts.validateLoginAttempt"})),
        message,
    )
}

pub fn describe(err: &DomainError) -> ErrorDescription {
    use DomainError as E;
    let (grpc, http_status, body) = match err {
        E::Unauthenticated | E::ServiceUnauthenticated => (
            Code::Unauthenticated,
            401,
            json!({"success": false, "error": LOGGED_OUT, "status": "error", "message": LOGGED_OUT}),
        ),
        E::Forbidden => (
            Code::PermissionDenied,
            403,
            failure(
                "User does not have the permissions required for this action [error-unauthorized]",
            ),
        ),
        E::TwoFactorRequired(f) => (
            Code::FailedPrecondition,
            400,
            two_factor("TOTP Required", "totp-required", f),
        ),
        E::TwoFactorInvalid(f) => (
            Code::PermissionDenied,
            400,
            two_factor("TOTP Invalid", "totp-invalid", f),
        ),
        E::TwoFactorMaxAttempts(f) => (
            Code::ResourceExhausted,
            400,
            two_factor(
                "TOTP Maximum Failed Attempts Reached",
                "totp-max-attempts",
                f,
            ),
        ),
        E::SessionNotFound => (Code::NotFound, 404, failure("Session not found")),
        E::InvalidParams(message) => (
            Code::InvalidArgument,
            400,
            json!({"success": false, "error": format!("{message} [invalid-params]"), "errorType": "invalid-params"}),
        ),
        // A `Meteor.Error(error-parameter-required, ...)` thrown by the route.
        E::ParameterRequired(name) => (
            Code::InvalidArgument,
            400,
            json!({
                "success": false,
                "error": format!("{name} is required [error-parameter-required]"),
                "errorType": "error-parameter-required",
            }),
        ),
        E::InvalidSort(raw) => (
            Code::InvalidArgument,
            400,
            json!({
                "success": false,
                "error": format!("Invalid sort parameter provided: \"{raw}\" [error-invalid-sort]"),
                "errorType": "error-invalid-sort",
                "details": {"helperMethod": "parseJsonQuery"},
            }),
        ),
        E::InvalidSortKeys => (
            Code::InvalidArgument,
            400,
            failure("error-invalid-sort-keys"),
        ),
        E::RateLimited {
            retry_after_secs, ..
        } => (
            Code::ResourceExhausted,
            429,
            failure(&format!(
                "Error, too many requests. Please slow down. You must wait {retry_after_secs} seconds before trying this endpoint again. [error-too-many-requests]"
            )),
        ),
        E::LoginFailed => (
            Code::Unauthenticated,
            401,
            login_error(json!("Unauthorized"), None, "Unauthorized"),
        ),
        // The Meteor error's details, as `checkCodeForUser` builds them.
        E::LoginTwoFactorRequired(f) => (
            Code::Unauthenticated,
            401,
            login_error(json!("totp-required"), Some(details(f)), "TOTP Required"),
        ),
        E::LoginTwoFactorInvalid(f) => (
            Code::Unauthenticated,
            401,
            login_error(
                json!("totp-invalid"),
                Some(json!({"method": f.method})),
                "TOTP Invalid",
            ),
        ),
        E::LoginTwoFactorMaxAttempts => (
            Code::ResourceExhausted,
            401,
            login_error(
                json!("totp-max-attempts"),
                None,
                "TOTP Maximum Failed Attempts Reached",
            ),
        ),
        E::UserNotActivated => (
            Code::PermissionDenied,
            401,
            login_refused("error-user-is-not-activated", "User is not activated"),
        ),
        // Meteor's resume handler: `Meteor.Error(403, reason)`, so `error` is
        // the number 403.
        E::ResumeLoggedOut => (
            Code::Unauthenticated,
            401,
            login_error(
                json!(403),
                None,
                "You've been logged out by the server. Please log in again.",
            ),
        ),
        E::ResumeExpired => (
            Code::Unauthenticated,
            401,
            login_error(
                json!(403),
                None,
                "Your session has expired. Please log in again.",
            ),
        ),
        E::InvalidUserId => (
            Code::NotFound,
            400,
            json!({
                "success": false,
                "error": "Invalid user id [error-invalid-user-id]",
                "errorType": "error-invalid-user-id",
            }),
        ),
        E::LoginBlockedForAddress => (
            Code::Unauthenticated,
            401,
            login_refused(
                "error-login-blocked-for-ip",
                "Login has been temporarily blocked For IP",
            ),
        ),
        E::LoginBlockedForUser => (
            Code::Unauthenticated,
            401,
            login_refused(
                "error-login-blocked-for-user",
                "Login has been temporarily blocked For User",
            ),
        ),
        E::NotFound(what) => (
            Code::NotFound,
            404,
            failure(&format!("{} not found", capitalized(what))),
        ),
        E::Conflict(message) => (Code::AlreadyExists, 409, failure(message)),
        E::Unavailable(_) => (Code::Unavailable, 503, failure("Service unavailable")),
        E::Internal(_) => (Code::Internal, 500, failure("Internal server error")),
    };
    let headers = match err {
        E::RateLimited {
            limit, reset_at_ms, ..
        } => vec![
            ("X-RateLimit-Limit".to_owned(), limit.to_string()),
            ("X-RateLimit-Remaining".to_owned(), "0".to_owned()),
            ("X-RateLimit-Reset".to_owned(), reset_at_ms.to_string()),
        ],
        _ => Vec::new(),
    };
    ErrorDescription {
        grpc,
        http_status,
        body,
        headers,
    }
}

/// What the REST edge answers by itself, before any RPC is called: transport
/// matters, not domain ones, rendered beside the domain's in this one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeError {
    /// A request body over the configured limit.
    PayloadTooLarge,
    /// No route at this path.
    RouteNotFound,
    /// The path exists with other methods.
    MethodNotAllowed,
}

pub fn describe_edge(err: EdgeError) -> ErrorDescription {
    let (grpc, http_status, body) = match err {
        EdgeError::PayloadTooLarge => (
            Code::InvalidArgument,
            413,
            failure("Request entity too large"),
        ),
        EdgeError::RouteNotFound => (Code::Unimplemented, 404, failure("Not found")),
        EdgeError::MethodNotAllowed => (Code::Unimplemented, 405, failure("Method not allowed")),
    };
    ErrorDescription {
        grpc,
        http_status,
        body,
        headers: Vec::new(),
    }
}

fn capitalized(what: &str) -> String {
    let mut chars = what.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The gRPC answer to a domain error. Causes of internal and storage errors are
/// logged here and never leave the process.
pub fn to_status(err: DomainError) -> Status {
    to_status_with_headers(err, &[])
}

/// `to_status`, with headers every answer of the route carries (its
/// rate-limit window); the error's own headers win.
pub fn to_status_with_headers(err: DomainError, extra: &[(&str, String)]) -> Status {
    match &err {
        DomainError::Internal(cause) => tracing::error!(error = %cause, "internal error"),
        DomainError::Unavailable(cause) => tracing::warn!(error = %cause, "storage unavailable"),
        _ => {}
    }
    let mut description = describe(&err);
    for (name, value) in extra {
        if !description
            .headers
            .iter()
            .any(|(have, _)| have.eq_ignore_ascii_case(name))
        {
            description
                .headers
                .push(((*name).to_owned(), value.clone()));
        }
    }
    let message = description
        .body
        .get("error")
        .and_then(Value::as_str)
        .unwrap_or("error")
        .to_owned();
    let rendering = json!({
        "httpStatus": description.http_status,
        "body": description.body,
        "headers": description.headers,
    });
    let mut status = Status::with_details(
        description.grpc,
        message,
        rendering.to_string().into_bytes().into(),
    );
    // gRPC callers read the rate-limit window from metadata, as REST callers
    // read headers.
    for (name, value) in &description.headers {
        if let (Ok(key), Ok(value)) = (
            tonic::metadata::MetadataKey::from_bytes(name.to_ascii_lowercase().as_bytes()),
            tonic::metadata::MetadataValue::try_from(value.as_str()),
        ) {
            status.metadata_mut().insert(key, value);
        }
    }
    status
}

/// The REST answer carried by a `Status` from [`to_status`]; any other status
/// (a transport failure, say) is a generic 500 or 503.
pub fn rest_from_status(status: &Status) -> (u16, Value, Vec<(String, String)>) {
    if let Ok(rendering) = serde_json::from_slice::<Value>(status.details()) {
        let http_status = rendering.get("httpStatus").and_then(Value::as_u64);
        let body = rendering.get("body");
        if let (Some(http_status), Some(body)) = (http_status, body) {
            let headers = rendering
                .get("headers")
                .and_then(|h| serde_json::from_value::<Vec<(String, String)>>(h.clone()).ok())
                .unwrap_or_default();
            return (http_status as u16, body.clone(), headers);
        }
    }
    let fallback = match status.code() {
        Code::Unavailable => DomainError::Unavailable(status.message().to_owned()),
        _ => DomainError::Internal(status.message().to_owned()),
    };
    tracing::error!(code = ?status.code(), message = status.message(), "grpc status without a rendering");
    let description = describe(&fallback);
    (description.http_status, description.body, Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_rendering_survives_the_status() {
        let err = DomainError::InvalidSort("{bad".into());
        let (status, body, _) = rest_from_status(&to_status(err));
        assert_eq!(status, 400);
        assert_eq!(
            body.to_string(),
            r#"{"success":false,"error":"Invalid sort parameter provided: \"{bad\" [error-invalid-sort]","errorType":"error-invalid-sort","details":{"helperMethod":"parseJsonQuery"}}"#
        );
    }

    #[test]
    fn internal_causes_stay_inside() {
        let status = to_status(DomainError::Internal("SELECT secret FROM x".into()));
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("SELECT"));
        let (http, body, _) = rest_from_status(&status);
        assert_eq!(http, 500);
        assert_eq!(
            body.to_string(),
            r#"{"success":false,"error":"Internal server error"}"#
        );
    }

    #[test]
    fn statuses_without_rendering_are_generic() {
        let (http, body, _) = rest_from_status(&Status::unavailable("connection refused"));
        assert_eq!(http, 503);
        assert_eq!(
            body.to_string(),
            r#"{"success":false,"error":"Service unavailable"}"#
        );
    }
}

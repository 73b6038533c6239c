//! The edge's error answers as OpenAPI schemas, read off the error table's own
//! renderings of sample errors, so the document cannot drift from what is sent.

use serde_json::{Map, Value, json};
use sessions_domain::{DomainError, TwoFactorFailure};
use sessions_grpc::error_table::{EdgeError, ErrorDescription, describe, describe_edge};

/// Stands for the variable text of a sample error (a parameter problem, a raw
/// `sort`); the schema then accepts any text in its place.
const TEXT_HOLE: &str = "\u{1}text\u{1}";
/// Stands for the seconds to wait of a sample rate-limit error; a number no
/// fixed message contains.
const SECONDS_HOLE: u64 = 987_654_321;

/// One kind of error answer, with a component schema of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Answer {
    InvalidParams,
    ParameterRequired,
    TwoFactor,
    InvalidSort,
    InvalidSortKeys,
    Unauthorized,
    LoginFailed,
    InvalidUserId,
    Forbidden,
    SessionNotFound,
    PayloadTooLarge,
    RateLimited,
    Internal,
    Unavailable,
    RouteNotFound,
    MethodNotAllowed,
}

impl Answer {
    pub(super) const ALL: [Self; 16] = [
        Self::InvalidParams,
        Self::ParameterRequired,
        Self::TwoFactor,
        Self::InvalidSort,
        Self::InvalidSortKeys,
        Self::Unauthorized,
        Self::LoginFailed,
        Self::InvalidUserId,
        Self::Forbidden,
        Self::SessionNotFound,
        Self::PayloadTooLarge,
        Self::RateLimited,
        Self::Internal,
        Self::Unavailable,
        Self::RouteNotFound,
        Self::MethodNotAllowed,
    ];

    pub(super) fn schema_name(self) -> &'static str {
        match self {
            Self::InvalidParams => "InvalidParamsError",
            Self::ParameterRequired => "ParameterRequiredError",
            Self::TwoFactor => "TwoFactorError",
            Self::InvalidSort => "InvalidSortError",
            Self::InvalidSortKeys => "InvalidSortKeysError",
            Self::Unauthorized => "UnauthorizedError",
            Self::LoginFailed => "LoginError",
            Self::InvalidUserId => "InvalidUserIdError",
            Self::Forbidden => "ForbiddenError",
            Self::SessionNotFound => "SessionNotFoundError",
            Self::PayloadTooLarge => "PayloadTooLargeError",
            Self::RateLimited => "RateLimitError",
            Self::Internal => "InternalError",
            Self::Unavailable => "UnavailableError",
            Self::RouteNotFound => "NotFoundError",
            Self::MethodNotAllowed => "MethodNotAllowedError",
        }
    }

    pub(super) fn description(self) -> &'static str {
        match self {
            Self::InvalidParams => "A missing, extra or mistyped parameter.",
            Self::ParameterRequired => "A parameter the route checks itself is absent or empty.",
            Self::TwoFactor => "The second factor is missing or wrong, or too many wrong codes.",
            Self::InvalidSort => "`sort` is not a JSON object of 1/-1 values.",
            Self::InvalidSortKeys => "`sort` names a key that cannot be sorted on.",
            Self::Unauthorized => "Missing, wrong, revoked or expired X-User-Id/X-Auth-Token.",
            Self::LoginFailed => {
                "Wrong user or password, a missing or wrong TOTP code, a blocked login, a deactivated user or a dead resume token."
            }
            Self::InvalidUserId => "The user to log out does not exist.",
            Self::Forbidden => "The caller lacks the permission.",
            Self::SessionNotFound => "No such session, not the caller's, or (admin) not active.",
            Self::PayloadTooLarge => "The body is over the configured limit.",
            Self::RateLimited => "Too many requests from this address to this route.",
            Self::Internal => "An unexpected fault; details only in the server log.",
            Self::Unavailable => "Storage unavailable or the request timed out.",
            Self::RouteNotFound => "No route at this path.",
            Self::MethodNotAllowed => "The path exists with other methods, listed in Allow.",
        }
    }

    /// Renderings standing for every body of this kind: each variant, and
    /// each value a fixed-set field (a method, the available methods) can take.
    pub(super) fn samples(self) -> Vec<ErrorDescription> {
        let edge = |err: EdgeError| vec![describe_edge(err)];
        let errors = match self {
            Self::InvalidParams => vec![DomainError::InvalidParams(TEXT_HOLE.to_owned())],
            Self::ParameterRequired => vec![DomainError::ParameterRequired("emailOrUsername")],
            Self::TwoFactor => {
                // Section 5: `method` is `totp`, `email` or `password`;
                // `availableMethods` lists enabled methods among `totp` and `email`.
                let failures = [
                    ("totp", &["totp", "email"][..]),
                    ("email", &["email"][..]),
                    ("password", &[][..]),
                ]
                .map(|(method, available)| TwoFactorFailure {
                    method: method.to_owned(),
                    available_methods: available.iter().map(|m| (*m).to_owned()).collect(),
                    email_code: None,
                });
                let mut errors: Vec<DomainError> = failures
                    .iter()
                    .flat_map(|f| {
                        [
                            DomainError::TwoFactorRequired(f.clone()),
                            DomainError::TwoFactorInvalid(f.clone()),
                            DomainError::TwoFactorMaxAttempts(f.clone()),
                        ]
                    })
                    .collect();
                errors.push(DomainError::TwoFactorRequired(email_code_failure()));
                errors
            }
            Self::InvalidSort => vec![DomainError::InvalidSort(TEXT_HOLE.to_owned())],
            Self::InvalidSortKeys => vec![DomainError::InvalidSortKeys],
            Self::Unauthorized => vec![DomainError::Unauthenticated],
            Self::LoginFailed => {
                let totp = TwoFactorFailure {
                    method: "totp".to_owned(),
                    available_methods: vec!["totp".to_owned()],
                    email_code: None,
                };
                vec![
                    DomainError::LoginFailed,
                    DomainError::LoginTwoFactorRequired(totp.clone()),
                    DomainError::LoginTwoFactorRequired(email_code_failure()),
                    DomainError::LoginTwoFactorInvalid(totp),
                    DomainError::LoginTwoFactorMaxAttempts,
                    DomainError::LoginBlockedForAddress,
                    DomainError::LoginBlockedForUser,
                    DomainError::UserNotActivated,
                    DomainError::ResumeLoggedOut,
                    DomainError::ResumeExpired,
                ]
            }
            Self::InvalidUserId => vec![DomainError::InvalidUserId],
            Self::Forbidden => vec![DomainError::Forbidden],
            Self::SessionNotFound => vec![DomainError::SessionNotFound],
            Self::PayloadTooLarge => return edge(EdgeError::PayloadTooLarge),
            Self::RateLimited => vec![DomainError::RateLimited {
                limit: 1,
                retry_after_secs: SECONDS_HOLE,
                reset_at_ms: 1,
            }],
            Self::Internal => vec![DomainError::Internal(String::new())],
            Self::Unavailable => vec![DomainError::Unavailable(String::new())],
            Self::RouteNotFound => return edge(EdgeError::RouteNotFound),
            Self::MethodNotAllowed => return edge(EdgeError::MethodNotAllowed),
        };
        errors.iter().map(describe).collect()
    }

    /// The REST status the table gives this kind (a test checks all samples agree).
    pub(super) fn status(self) -> u16 {
        self.samples()
            .first()
            .map_or(500, |sample| sample.http_status)
    }

    /// A schema every body of this kind matches, and no other body does: the
    /// sampled keys are required and no other key is allowed.
    pub(super) fn schema(self) -> Value {
        let bodies: Vec<Value> = self.samples().into_iter().map(|e| e.body).collect();
        shape(&bodies.iter().collect::<Vec<_>>())
    }

    /// The response headers this kind carries (the rate-limit figures).
    pub(super) fn headers(self) -> Map<String, Value> {
        let mut headers = Map::new();
        for sample in self.samples() {
            for (name, _) in sample.headers {
                let description = match name.as_str() {
                    "X-RateLimit-Limit" => "Requests allowed per window",
                    "X-RateLimit-Remaining" => "Requests left in the window",
                    "X-RateLimit-Reset" => "When the window resets, in Unix milliseconds",
                    _ => "",
                };
                headers.insert(
                    name,
                    json!({"description": description, "schema": {"type": "integer"}}),
                );
            }
        }
        headers
    }
}

/// The narrowest schema the sampled values match: objects by their keys,
/// arrays by their items, leaves by the sampled values, and text with a hole
/// by the fixed text around it.
fn shape(values: &[&Value]) -> Value {
    // Leaves of more than one JSON type (login's `error`: text, or Meteor's
    // number 403 for a dead resume token): their values, whatever the type.
    let kind = |v: &Value| std::mem::discriminant(v);
    let leaves = values.iter().all(|v| !v.is_object() && !v.is_array());
    if leaves && values.iter().any(|v| kind(v) != kind(values[0])) {
        return json!({"enum": distinct(values)});
    }
    match values.first() {
        Some(Value::Object(_)) => {
            let objects: Vec<&Map<String, Value>> =
                values.iter().filter_map(|v| v.as_object()).collect();
            let mut properties = Map::new();
            let mut required = Vec::new();
            for object in &objects {
                for key in object.keys() {
                    if properties.contains_key(key) {
                        continue;
                    }
                    let present: Vec<&Value> = objects.iter().filter_map(|o| o.get(key)).collect();
                    if present.len() == objects.len() {
                        required.push(key.clone());
                    }
                    properties.insert(key.clone(), shape(&present));
                }
            }
            super::object_schema(properties, required)
        }
        Some(Value::Array(_)) => {
            let items: Vec<&Value> = values
                .iter()
                .filter_map(|v| v.as_array())
                .flatten()
                .collect();
            json!({"type": "array", "items": shape(&items)})
        }
        Some(Value::String(text)) => match hole_pattern(text) {
            Some(pattern) => json!({"type": "string", "pattern": pattern}),
            None => json!({"type": "string", "enum": distinct(values)}),
        },
        Some(Value::Bool(_)) => json!({"type": "boolean", "enum": distinct(values)}),
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => {
            json!({"type": "integer", "enum": distinct(values)})
        }
        Some(Value::Number(_)) => json!({"type": "number", "enum": distinct(values)}),
        Some(Value::Null) | None => json!({}),
    }
}

fn distinct(values: &[&Value]) -> Vec<Value> {
    let mut seen: Vec<Value> = Vec::new();
    for value in values {
        if !seen.contains(value) {
            seen.push((*value).clone());
        }
    }
    seen
}

/// `^fixed…$` for a sampled text with holes: the text hole takes any text, the
/// seconds hole any digits. `None` when the text has no hole.
fn hole_pattern(text: &str) -> Option<String> {
    let seconds = SECONDS_HOLE.to_string();
    let holes = [(TEXT_HOLE, r"[\s\S]*"), (seconds.as_str(), "[0-9]+")];
    let mut pattern = String::from("^");
    let mut rest = text;
    let mut found = false;
    while let Some((at, hole, matches)) = holes
        .iter()
        .filter_map(|(hole, matches)| rest.find(hole).map(|at| (at, *hole, *matches)))
        .min_by_key(|(at, ..)| *at)
    {
        pattern.push_str(&escape(&rest[..at]));
        pattern.push_str(matches);
        rest = &rest[at + hole.len()..];
        found = true;
    }
    pattern.push_str(&escape(rest));
    pattern.push('$');
    found.then_some(pattern)
}

/// Escapes the regular-expression metacharacters ECMA 262 and Python share.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if r"\^$.|?*+()[]{}".contains(c) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// The `email` method's answer to a check without a code: what was mailed.
fn email_code_failure() -> TwoFactorFailure {
    TwoFactorFailure {
        method: "email".to_owned(),
        available_methods: vec!["email".to_owned()],
        email_code: Some(sessions_domain::EmailCodeSent {
            generated: true,
            expires_at: Some(Default::default()),
            username: TEXT_HOLE.to_owned(),
        }),
    }
}

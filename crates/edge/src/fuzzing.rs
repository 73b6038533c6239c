//! Entry points for the `fuzz/` targets (feature `fuzzing`, off by default).
//!
//! The REST parameter decoding is crate-private; these wrappers let the fuzzers
//! drive the exact code the edge runs without widening the normal public API.

use prost_reflect::{DynamicMessage, MessageDescriptor};

/// A query string (`offset=10&sessionId=abc`) into `descriptor`'s message,
/// with the first parameter problem found, if any.
pub fn decode_query(
    descriptor: &MessageDescriptor,
    query: &str,
) -> (DynamicMessage, Option<String>) {
    let decoded = crate::decode::from_query(descriptor, query);
    let problem = decoded.problem();
    (decoded.message, problem)
}

/// A JSON request body into `descriptor`'s message, with the first parameter
/// problem found, if any; the login request goes through its body adapter,
/// as the edge sends it.
pub fn decode_json_body(
    descriptor: &MessageDescriptor,
    body: &[u8],
) -> (DynamicMessage, Option<String>) {
    let is_login = descriptor.full_name() == "sessions.v1.LoginRequest";
    let reshape = is_login
        .then(|| crate::body_shapes::reshape_for(&sessions_service::endpoints::LOGIN.grpc_path()))
        .flatten();
    let decoded = crate::decode::from_json_body(descriptor, body, is_login, reshape);
    let problem = decoded.problem();
    (decoded.message, problem)
}

//! The bounds every string parameter of a public request must keep, checked
//! once for both transports: REST requests are transcoded onto the same
//! handlers, so a bound enforced here holds for REST, gRPC and gRPC-web alike.

use std::sync::OnceLock;

use prost_reflect::{DescriptorPool, DynamicMessage, MapKey, Value};
use sessions_domain::NUL_CHARACTER;

/// Longest string parameter accepted: ids, filters, passwords and codes are
/// all far shorter, and a bound keeps hostile input out of queries, memory
/// and logs.
pub const MAX_STRING_CHARS: usize = 1024;

/// The `invalid-params` message of a string over the bound.
pub const TOO_LONG: &str = "must NOT have more than 1024 characters";

/// The problem with one string parameter, if any.
pub fn text_problem(text: &str) -> Option<&'static str> {
    // Counting characters only when the bytes could exceed the bound.
    if text.len() > MAX_STRING_CHARS && text.chars().count() > MAX_STRING_CHARS {
        Some(TOO_LONG)
    } else if text.contains('\0') {
        // PostgreSQL refuses it in text and SQLite's FTS ends strings at it.
        Some(NUL_CHARACTER)
    } else {
        None
    }
}

fn pool() -> Option<&'static DescriptorPool> {
    static POOL: OnceLock<Option<DescriptorPool>> = OnceLock::new();
    POOL.get_or_init(|| DescriptorPool::decode(sessions_proto::FILE_DESCRIPTOR_SET).ok())
        .as_ref()
}

/// The first string of `message`, nested and repeated fields included, that
/// breaks a bound.
pub fn message_problem<M: prost::Name>(message: &M) -> Option<&'static str> {
    let encoded = message.encoded_len();
    // No string inside can be longer than the whole message, nor hold a NUL
    // byte the encoding lacks: most requests stop here.
    if encoded <= MAX_STRING_CHARS && !message.encode_to_vec().contains(&0) {
        return None;
    }
    dynamic_problem(&reflect(message)?)
}

/// The message as reflection sees it: its fields, their presence and values.
pub(crate) fn reflect<M: prost::Name>(message: &M) -> Option<DynamicMessage> {
    let descriptor = pool()?.get_message_by_name(&M::full_name())?;
    DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice()).ok()
}

/// As [`message_problem`], for a message the REST edge decoded.
pub fn dynamic_problem(message: &DynamicMessage) -> Option<&'static str> {
    message.fields().find_map(|(_, value)| value_problem(value))
}

fn value_problem(value: &Value) -> Option<&'static str> {
    match value {
        Value::String(text) => text_problem(text),
        Value::Message(inner) => dynamic_problem(inner),
        Value::List(items) => items.iter().find_map(value_problem),
        Value::Map(entries) => entries.iter().find_map(|(key, value)| match key {
            MapKey::String(text) => text_problem(text).or_else(|| value_problem(value)),
            _ => value_problem(value),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sessions_proto::v1 as pb;

    #[test]
    fn strings_of_any_request_are_bounded() {
        let fine = pb::LoginRequest {
            user: "rod".into(),
            password: "x".repeat(MAX_STRING_CHARS),
            ..Default::default()
        };
        assert_eq!(message_problem(&fine), None);
        let long = pb::LoginRequest {
            user: "é".repeat(MAX_STRING_CHARS + 1),
            ..Default::default()
        };
        assert_eq!(message_problem(&long), Some(TOO_LONG));
        // 1024 two-byte characters are 2048 bytes, and within the bound.
        let wide = pb::LoginRequest {
            user: "é".repeat(MAX_STRING_CHARS),
            ..Default::default()
        };
        assert_eq!(message_problem(&wide), None);
        let nul = pb::ListSessionsRequest {
            filter: "a\0b".into(),
            ..Default::default()
        };
        assert_eq!(message_problem(&nul), Some(NUL_CHARACTER));
        // A zero byte that is a number, not text, is fine.
        let zero = pb::ListSessionsRequest {
            offset: Some(0),
            ..Default::default()
        };
        assert_eq!(message_problem(&zero), None);
    }
}

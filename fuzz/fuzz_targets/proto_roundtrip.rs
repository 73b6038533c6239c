//! Proto <-> domain conversions on the REST path: REST JSON -> DynamicMessage ->
//! protobuf bytes -> typed `sessions_proto::v1` request, and typed responses ->
//! DynamicMessage -> the REST JSON the edge answers -> back, without loss.
#![no_main]

use std::{fmt::Debug, sync::OnceLock};

use chrono::{DateTime, Datelike, SecondsFormat};
use libfuzzer_sys::fuzz_target;
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, SerializeOptions};
use sessions_edge::fuzzing::{decode_json_body, decode_query};
use sessions_proto::v1 as pb;

fn pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(sessions_proto::FILE_DESCRIPTOR_SET).expect("descriptor set")
    })
}

fn descriptor(name: &str) -> MessageDescriptor {
    pool()
        .get_message_by_name(&format!("sessions.v1.{name}"))
        .expect("message in the set")
}

/// A decoded REST request crosses to its typed message (what tonic's prost
/// codec decodes) and back with every field intact.
fn request<T: Message + Default + PartialEq + Debug>(name: &str, input: &[u8], query: bool) {
    let desc = descriptor(name);
    let (dynamic, _) = if query {
        decode_query(&desc, &String::from_utf8_lossy(input))
    } else {
        decode_json_body(&desc, input)
    };
    let typed = T::decode(dynamic.encode_to_vec().as_slice()).expect("typed decode");
    let back = DynamicMessage::decode(desc, typed.encode_to_vec().as_slice()).expect("back");
    for (field, value) in dynamic.fields() {
        // Implicit-presence defaults are not on the wire: they come back unset.
        if field.supports_presence() || !value.is_default_for_field(&field) {
            assert_eq!(&*back.get_field(&field), value, "{}", field.name());
        }
    }
    let again = T::decode(back.encode_to_vec().as_slice()).expect("typed again");
    assert_eq!(typed, again);
}

/// A typed response (any bytes prost accepts) is rendered as the edge renders
/// it (the prost type's serde derive), byte for byte as reflection renders it,
/// and that JSON reads back as the same message.
fn response<T: Message + Default + PartialEq + Debug>(name: &str, bytes: &[u8]) {
    let Ok(typed) = T::decode(bytes) else {
        return;
    };
    let desc = descriptor(name);
    let encoded = typed.encode_to_vec();
    let dynamic = DynamicMessage::decode(desc.clone(), encoded.as_slice()).expect("dynamic");
    // The edge's fallback options (lib.rs `json_options`): defaults are written out.
    let options = SerializeOptions::new().skip_default_fields(false);
    let mut reflected = Vec::new();
    dynamic
        .serialize_with_options(&mut serde_json::Serializer::new(&mut reflected), &options)
        .expect("reflection renders every response");
    let json = match sessions_proto::render_json(desc.full_name(), &encoded) {
        // REST answers are rendered by their type; reflection must agree.
        Some(typed) => {
            let typed = typed.expect("the edge can render every response");
            assert_eq!(typed, reflected, "typed and reflected JSON differ");
            typed
        }
        None => reflected,
    };
    let text = String::from_utf8(json).expect("JSON is UTF-8");
    assert!(text.starts_with('{'));
    let mut deserializer = serde_json::Deserializer::from_str(&text);
    let read = DynamicMessage::deserialize(desc, &mut deserializer).expect("JSON reads back");
    let again = T::decode(read.encode_to_vec().as_slice()).expect("typed again");
    assert_eq!(typed, again);
}

/// Every timestamp in a response is `format_timestamp` of a domain instant:
/// `2023-05-23T16:33:45.202Z`, which must parse back to the same millisecond.
fn timestamp(bytes: &[u8]) {
    let mut millis = [0u8; 8];
    for (slot, byte) in millis.iter_mut().zip(bytes) {
        *slot = *byte;
    }
    let Some(at) = DateTime::from_timestamp_millis(i64::from_le_bytes(millis)) else {
        return;
    };
    let text = sessions_domain::format_timestamp(at);
    assert_eq!(text, at.to_rfc3339_opts(SecondsFormat::Millis, true));
    if (0..=9999).contains(&at.year()) {
        assert_eq!(text.len(), 24, "{text}");
        let parsed = DateTime::parse_from_rfc3339(&text).expect("RFC 3339");
        assert_eq!(parsed.timestamp_millis(), at.timestamp_millis());
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    let query = selector & 0x80 != 0;
    match selector & 0x7f {
        0 => request::<pb::GetSessionRequest>("GetSessionRequest", input, query),
        1 => request::<pb::ListSessionsRequest>("ListSessionsRequest", input, query),
        2 => request::<pb::LogoutSessionRequest>("LogoutSessionRequest", input, query),
        3 => request::<pb::LoginRequest>("LoginRequest", input, query),
        4 => request::<pb::LogoutRequest>("LogoutRequest", input, query),
        5 => response::<pb::Session>("Session", input),
        6 => response::<pb::AdminSession>("AdminSession", input),
        7 => response::<pb::ListSessionsResponse>("ListSessionsResponse", input),
        8 => response::<pb::LogoutSessionResponse>("LogoutSessionResponse", input),
        9 => response::<pb::LoginResponse>("LoginResponse", input),
        10 => response::<pb::LogoutResponse>("LogoutResponse", input),
        11 => response::<pb::User>("User", input),
        12 => response::<pb::SessionEvent>("SessionEvent", input),
        13 => response::<pb::AuditEvent>("AuditEvent", input),
        _ => timestamp(input),
    }
});

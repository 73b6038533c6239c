//! REST parameter validation: any query string or JSON body, decoded into any
//! message of the service and checked against the string bounds every
//! transport shares, ends in a message or a documented parameter error.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use prost_reflect::{DescriptorPool, MessageDescriptor, Value};
use sessions_edge::fuzzing::{decode_json_body, decode_query};

/// What the edge may answer a bad parameter with: Rocket.Chat's (ajv's)
/// wording, plus our string length bound.
const DOCUMENTED: &[&str] = &[
    "must NOT have additional properties",
    "must be number",
    "must be string",
    "must be boolean",
    "must be object",
    "must NOT have more than 1024 characters",
    sessions_domain::NUL_CHARACTER,
];

/// The REST routes' inputs first (low selector values hit them), then every
/// message of `sessions.v1`, whose nested, repeated and enum fields the
/// routes do not have yet.
fn messages() -> &'static [MessageDescriptor] {
    static ALL: OnceLock<Vec<MessageDescriptor>> = OnceLock::new();
    ALL.get_or_init(|| {
        let set = sessions_proto::FILE_DESCRIPTOR_SET;
        let mut all: Vec<MessageDescriptor> = sessions_edge::routes_from_descriptors(set)
            .expect("routes")
            .into_iter()
            .map(|route| route.input)
            .collect();
        let pool = DescriptorPool::decode(set).expect("descriptor set");
        all.extend(
            pool.all_messages()
                .filter(|m| m.package_name() == "sessions.v1"),
        );
        all
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    let all = messages();
    let descriptor = &all[usize::from(selector >> 1) % all.len()];
    let (message, problem) = if selector & 1 == 0 {
        decode_query(descriptor, &String::from_utf8_lossy(input))
    } else {
        let decoded = decode_json_body(descriptor, input);
        let blank = input.iter().all(u8::is_ascii_whitespace);
        let object = matches!(
            serde_json::from_slice::<serde_json::Value>(input),
            Ok(serde_json::Value::Object(_))
        );
        if !blank && !object {
            assert_eq!(decoded.1.as_deref(), Some("must be object"));
        }
        decoded
    };
    // The parameter step: decoding problems first, then the shared bounds.
    let problem = problem.or_else(|| sessions_grpc::bounds::dynamic_problem(&message).map(str::to_owned));
    if let Some(problem) = &problem {
        assert!(
            DOCUMENTED.contains(&problem.as_str()),
            "undocumented: {problem}"
        );
    }
    if problem.is_none() {
        for (field, value) in message.fields() {
            if let Value::String(text) = value {
                assert!(text.chars().count() <= 1024, "{} too long", field.name());
                assert!(!text.contains('\0'), "{} holds NUL", field.name());
            }
        }
    }
    // What tonic does next: the message encodes and decodes again.
    let bytes = prost::Message::encode_to_vec(&message);
    prost_reflect::DynamicMessage::decode(descriptor.clone(), bytes.as_slice())
        .expect("an encoded request decodes");
});

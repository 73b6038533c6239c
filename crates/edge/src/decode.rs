//! REST parameters (query string or JSON body) into a request message, checked
//! the way Rocket.Chat's validators check them: unknown keys, wrong types.
//! String bounds are the handlers' (`sessions_grpc::bounds`), for every transport.

use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, Value};
use serde_json::Value as Json;
use sessions_grpc::RestDecoding;

use crate::body_shapes::Reshape;

/// The decoded message and what decoding found; the handlers report it at
/// the parameter step, in Rocket.Chat's order, with the required fields and
/// string bounds every transport shares (`sessions_grpc::params`).
pub(crate) struct Decoded {
    pub(crate) message: DynamicMessage,
    pub(crate) report: RestDecoding,
}

impl Decoded {
    fn new(descriptor: &MessageDescriptor) -> Self {
        Self {
            message: DynamicMessage::new(descriptor.clone()),
            report: RestDecoding::default(),
        }
    }

    /// Records one key of the input and how its value decoded.
    fn take(&mut self, field: Option<FieldDescriptor>, value: Result<Option<Value>, &'static str>) {
        let Some(field) = field else {
            self.report.additional = true;
            return;
        };
        if !self.report.present.iter().any(|p| p == field.json_name()) {
            self.report.present.push(field.json_name().to_owned());
        }
        match value {
            Ok(Some(value)) => self.message.set_field(&field, value),
            Ok(None) => {}
            Err(EXTRA) => self.report.additional = true,
            Err(problem) => {
                self.report
                    .wrong_type
                    .get_or_insert_with(|| problem.to_owned());
            }
        }
    }

    /// The first problem decoding alone can see: a body that is no object,
    /// then an additional property, then a wrong type.
    #[cfg_attr(not(any(test, feature = "fuzzing")), allow(dead_code))]
    pub(crate) fn problem(&self) -> Option<String> {
        if self.report.not_object {
            Some("must be object".to_owned())
        } else if self.report.additional {
            Some(EXTRA.to_owned())
        } else {
            self.report.wrong_type.clone()
        }
    }
}

fn find_field(descriptor: &MessageDescriptor, key: &str) -> Option<FieldDescriptor> {
    descriptor
        .get_field_by_json_name(key)
        .or_else(|| descriptor.get_field_by_name(key))
        .filter(|field| !field.is_list() && !field.is_map())
}

const EXTRA: &str = sessions_grpc::ADDITIONAL;

/// `?offset=10&sessionId=abc`: values arrive as strings and are coerced.
pub(crate) fn from_query(descriptor: &MessageDescriptor, query: &str) -> Decoded {
    let mut decoded = Decoded::new(descriptor);
    for (key, raw) in url::form_urlencoded::parse(query.as_bytes()) {
        let field = find_field(descriptor, &key);
        let value = field
            .as_ref()
            .map_or(Ok(None), |field| coerce_text(field, &raw).map(Some));
        decoded.take(field, value);
    }
    decoded
}

/// A JSON object body; an empty body counts as `{}`. `null_is_absent`: the
/// endpoint reads its body loosely (Rocket.Chat's `login`: `"code": null` is
/// no code); every other one validates with a schema, where `null` is a value
/// of the wrong type (`must be string`).
/// `reshape` is the route's adapter of Rocket.Chat's other body shapes.
pub(crate) fn from_json_body(
    descriptor: &MessageDescriptor,
    body: &[u8],
    null_is_absent: bool,
    reshape: Option<Reshape>,
) -> Decoded {
    let mut decoded = Decoded::new(descriptor);
    if body.iter().all(u8::is_ascii_whitespace) {
        return decoded;
    }
    let Ok(Json::Object(mut object)) = serde_json::from_slice::<Json>(body) else {
        decoded.report.not_object = true;
        return decoded;
    };
    if let Some(reshape) = reshape {
        reshape(&mut object);
    }
    for (key, json) in object {
        let field = find_field(descriptor, &key);
        let value = match &field {
            None => Ok(None),
            Some(_) if json.is_null() && null_is_absent => Ok(None),
            Some(field) => coerce_json(field, &json).map(Some),
        };
        decoded.take(field, value);
    }
    decoded
}

/// A query value as ajv's type coercion reads it (`data && data == +data`):
/// JavaScript's `Number()` of a non-empty string, so `0x10` is 16, `1e1` is
/// 10, surrounding white space is dropped and blank text is 0.
fn js_number(raw: &str) -> Option<f64> {
    if raw.is_empty() {
        return None;
    }
    // JavaScript's white space: Unicode's, plus the byte-order mark.
    let text = raw.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    if text.is_empty() {
        return Some(0.0);
    }
    match text {
        "Infinity" | "+Infinity" => return Some(f64::INFINITY),
        "-Infinity" => return Some(f64::NEG_INFINITY),
        _ => {}
    }
    // Radix literals take no sign in `Number()`.
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        let Some(digits) = text
            .get(..2)
            .filter(|p| p.eq_ignore_ascii_case(prefix))
            .map(|_| &text[2..])
        else {
            continue;
        };
        if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
            return None;
        }
        return Some(digits.chars().fold(0.0, |value, c| {
            value * f64::from(radix) + f64::from(c.to_digit(radix).unwrap_or(0))
        }));
    }
    // A decimal literal; Rust's parser takes the same forms once its own
    // words (`inf`, `nan`) are kept out.
    if !text
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
    {
        return None;
    }
    text.parse::<f64>().ok()
}

fn number(raw: f64, kind: &Kind) -> Result<Value, &'static str> {
    // Infinity passes ajv's type check and clamps like any huge number.
    if raw.is_nan() {
        return Err("must be number");
    }
    // Out-of-range values are clamped, as the service clamps counts anyway.
    Ok(match kind {
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            Value::I32(raw.clamp(i32::MIN as f64, i32::MAX as f64) as i32)
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(raw as i64),
        Kind::Uint32 | Kind::Fixed32 => Value::U32(raw.clamp(0.0, u32::MAX as f64) as u32),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(raw.max(0.0) as u64),
        Kind::Float => Value::F32(raw as f32),
        Kind::Double => Value::F64(raw),
        _ => return Err("must be number"),
    })
}

fn is_numeric(kind: &Kind) -> bool {
    !matches!(
        kind,
        Kind::String | Kind::Bool | Kind::Bytes | Kind::Message(_) | Kind::Enum(_)
    )
}

fn coerce_text(field: &FieldDescriptor, raw: &str) -> Result<Value, &'static str> {
    let kind = field.kind();
    match kind {
        Kind::String => Ok(Value::String(raw.to_owned())),
        Kind::Bool => match raw {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err("must be boolean"),
        },
        ref k if is_numeric(k) => number(js_number(raw).ok_or("must be number")?, k),
        _ => Err(EXTRA),
    }
}

fn coerce_json(field: &FieldDescriptor, json: &Json) -> Result<Value, &'static str> {
    let kind = field.kind();
    match (&kind, json) {
        (Kind::String, Json::String(s)) => Ok(Value::String(s.clone())),
        (Kind::String, _) => Err("must be string"),
        (Kind::Bool, Json::Bool(b)) => Ok(Value::Bool(*b)),
        (Kind::Bool, _) => Err("must be boolean"),
        (k, Json::Number(n)) if is_numeric(k) => number(n.as_f64().unwrap_or(f64::NAN), k),
        (k, Json::String(s)) if is_numeric(k) => coerce_text(field, s),
        (k, _) if is_numeric(k) => Err("must be number"),
        _ => Err(EXTRA),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost_reflect::DescriptorPool;

    fn descriptor(name: &str) -> MessageDescriptor {
        DescriptorPool::decode(sessions_proto::FILE_DESCRIPTOR_SET)
            .unwrap()
            .get_message_by_name(name)
            .unwrap()
    }

    #[test]
    fn query_coerces_numbers_and_reports_problems() {
        let list = descriptor("sessions.v1.ListSessionsRequest");
        let decoded = from_query(&list, "offset=10&count=5&filter=chr%20ome");
        assert!(decoded.problem().is_none());
        assert_eq!(
            decoded
                .message
                .get_field_by_name("offset")
                .unwrap()
                .as_i32(),
            Some(10)
        );
        assert_eq!(
            decoded
                .message
                .get_field_by_name("filter")
                .unwrap()
                .as_str(),
            Some("chr ome")
        );
        let decoded = from_query(&list, "count=ten");
        assert_eq!(decoded.problem().as_deref(), Some("must be number"));
        let decoded = from_query(&list, "foo=1");
        assert_eq!(decoded.problem().as_deref(), Some(EXTRA));
    }

    #[test]
    fn query_numbers_read_as_javascript_reads_them() {
        for (raw, expected) in [
            ("10", Some(10.0)),
            ("0x10", Some(16.0)),
            ("0X1f", Some(31.0)),
            ("0b11", Some(3.0)),
            ("0o17", Some(15.0)),
            ("1e1", Some(10.0)),
            (" 5 ", Some(5.0)),
            ("\t", Some(0.0)),
            ("1.5", Some(1.5)),
            (".5", Some(0.5)),
            ("-2", Some(-2.0)),
            ("Infinity", Some(f64::INFINITY)),
            ("", None),
            ("-0x10", None),
            ("0x", None),
            ("inf", None),
            ("NaN", None),
            ("1_0", None),
            ("ten", None),
            ("1e", None),
        ] {
            assert_eq!(js_number(raw), expected, "{raw:?}");
        }
        let list = descriptor("sessions.v1.ListSessionsRequest");
        let decoded = from_query(&list, "count=0x10&offset=1e1");
        assert!(decoded.problem().is_none());
        assert_eq!(
            decoded.message.get_field_by_name("count").unwrap().as_i32(),
            Some(16)
        );
        assert_eq!(
            decoded
                .message
                .get_field_by_name("offset")
                .unwrap()
                .as_i32(),
            Some(10)
        );
    }

    #[test]
    fn body_types_are_checked() {
        let logout = descriptor("sessions.v1.LogoutSessionRequest");
        let ok = from_json_body(&logout, br#"{"sessionId":"abc"}"#, false, None);
        assert!(ok.problem().is_none());
        assert_eq!(
            ok.message.get_field_by_name("session_id").unwrap().as_str(),
            Some("abc")
        );
        let wrong = from_json_body(&logout, br#"{"sessionId":123}"#, false, None);
        assert_eq!(wrong.problem().as_deref(), Some("must be string"));
        let null = from_json_body(&logout, br#"{"sessionId":null}"#, false, None);
        assert_eq!(null.problem().as_deref(), Some("must be string"));
        let login = descriptor("sessions.v1.LoginRequest");
        let no_code = from_json_body(
            &login,
            br#"{"user":"a","password":"b","code":null}"#,
            true,
            None,
        );
        assert!(no_code.problem().is_none());
        let extra = from_json_body(&logout, br#"{"sessionId":"a","x":1}"#, false, None);
        assert_eq!(extra.problem().as_deref(), Some(EXTRA));
        assert!(
            from_json_body(&logout, b"", false, None)
                .problem()
                .is_none()
        );
        assert_eq!(
            from_json_body(&logout, b"[1]", false, None)
                .problem()
                .as_deref(),
            Some("must be object")
        );
    }
}

/// Hostile parameters: whatever arrives, decoding ends in a message or in one
/// of the documented parameter errors, never a panic or an ad-hoc message.
#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;
    use prost_reflect::DescriptorPool;
    use serde_json::json;

    /// Rocket.Chat's (ajv's) wording; string bounds are checked after
    /// decoding, for both transports (`sessions_grpc::bounds`).
    const DOCUMENTED: &[&str] = &[
        "must NOT have additional properties",
        "must be number",
        "must be string",
        "must be boolean",
        "must be object",
    ];

    /// Field names (proto and JSON) of the REST requests, and a few that are not.
    const KEYS: &[&str] = &[
        "sessionId",
        "session_id",
        "offset",
        "count",
        "filter",
        "sort",
        "user",
        "username",
        "password",
        "code",
        "_id",
        "x",
        "",
    ];

    /// Decoded once: building the pool per case would dominate the run time.
    fn pool() -> &'static DescriptorPool {
        static POOL: std::sync::OnceLock<DescriptorPool> = std::sync::OnceLock::new();
        POOL.get_or_init(|| DescriptorPool::decode(sessions_proto::FILE_DESCRIPTOR_SET).unwrap())
    }

    /// Every message of `sessions.v1`: the REST inputs and messages with
    /// nested, repeated and enum fields the routes may grow into.
    fn any_descriptor() -> impl Strategy<Value = MessageDescriptor> {
        let all: Vec<_> = pool()
            .all_messages()
            .filter(|m| m.package_name() == "sessions.v1")
            .collect();
        proptest::sample::select(all)
    }

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            proptest::sample::select(KEYS).prop_map(str::to_owned),
            "\\PC{0,8}",
        ]
    }

    fn text_value() -> impl Strategy<Value = String> {
        prop_oneof![
            "\\PC{0,16}",
            any::<i64>().prop_map(|n| n.to_string()),
            any::<f64>().prop_map(|n| n.to_string()),
            proptest::sample::select(&["true", "false", " 1 ", "NaN", "inf", "1e400", "-0"][..])
                .prop_map(str::to_owned),
            Just("x".repeat(sessions_grpc::bounds::MAX_STRING_CHARS + 1)),
        ]
    }

    fn query() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-zA-Z_%=&+0-9.-]{0,48}",
            proptest::collection::vec((key(), text_value()), 0..5).prop_map(|pairs| {
                url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(pairs)
                    .finish()
            }),
        ]
    }

    fn json_value() -> impl Strategy<Value = Json> {
        let leaf = prop_oneof![
            Just(Json::Null),
            any::<bool>().prop_map(Json::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>().prop_map(|n| json!(n)),
            text_value().prop_map(Json::String),
        ];
        leaf.prop_recursive(2, 8, 3, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..3).prop_map(Json::Array),
                proptest::collection::vec((key(), inner), 0..3)
                    .prop_map(|entries| Json::Object(entries.into_iter().collect())),
            ]
        })
    }

    fn body() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..48),
            json_value().prop_map(|value| value.to_string().into_bytes()),
            proptest::collection::vec((key(), json_value()), 0..5).prop_map(|entries| {
                Json::Object(entries.into_iter().collect())
                    .to_string()
                    .into_bytes()
            }),
        ]
    }

    fn is_documented(problem: &Option<String>) -> bool {
        problem
            .as_deref()
            .is_none_or(|problem| DOCUMENTED.contains(&problem))
    }

    proptest! {
        #[test]
        fn any_query_decodes_or_is_a_documented_error(
            descriptor in any_descriptor(),
            query in query(),
        ) {
            let decoded = from_query(&descriptor, &query);
            prop_assert!(is_documented(&decoded.problem()), "{:?}", decoded.problem());
        }

        #[test]
        fn any_body_decodes_or_is_a_documented_error(
            descriptor in any_descriptor(),
            body in body(),
        ) {
            let decoded = from_json_body(&descriptor, &body, false, None);
            prop_assert!(is_documented(&decoded.problem()), "{:?}", decoded.problem());
            let blank = body.iter().all(u8::is_ascii_whitespace);
            let object = matches!(serde_json::from_slice::<Json>(&body), Ok(Json::Object(_)));
            if !blank && !object {
                prop_assert_eq!(decoded.problem(), Some("must be object".to_owned()));
            }
        }

        #[test]
        fn keys_outside_the_message_are_additional_properties(
            descriptor in any_descriptor(),
            key in "[a-z]{1,12}",
        ) {
            prop_assume!(find_field(&descriptor, &key).is_none());
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair(&key, "1")
                .finish();
            let extra = Some(EXTRA.to_owned());
            prop_assert_eq!(from_query(&descriptor, &query).problem(), extra.clone());
            let body = json!({ key: 1 }).to_string();
            prop_assert_eq!(from_json_body(&descriptor, body.as_bytes(), false, None).problem(), extra);
        }

        #[test]
        fn well_typed_listing_parameters_decode_exactly(
            offset in any::<i32>(),
            count in any::<i32>(),
            filter in "\\PC{0,40}",
            sort in "\\PC{0,40}",
        ) {
            let descriptor = pool().get_message_by_name("sessions.v1.ListSessionsRequest").unwrap();
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("offset", &offset.to_string())
                .append_pair("count", &count.to_string())
                .append_pair("filter", &filter)
                .append_pair("sort", &sort)
                .finish();
            let body = json!({"offset": offset, "count": count, "filter": filter, "sort": sort});
            for decoded in [
                from_query(&descriptor, &query),
                from_json_body(&descriptor, body.to_string().as_bytes(), false, None),
            ] {
                prop_assert_eq!(decoded.problem(), None);
                let field = |name: &str| decoded.message.get_field_by_name(name).unwrap().into_owned();
                prop_assert_eq!(field("offset"), Value::I32(offset));
                prop_assert_eq!(field("count"), Value::I32(count));
                prop_assert_eq!(field("filter"), Value::String(filter.clone()));
                prop_assert_eq!(field("sort"), Value::String(sort.clone()));
            }
        }
    }
}

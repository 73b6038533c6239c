//! The generated document: its rules, that real answers validate against it,
//! and that the checked-in copy is current.

use std::path::Path;

use axum::body::Body;
use http::{Request, StatusCode, header};
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage};
use serde_json::{Value, json};
use sessions_domain::{DomainError, TwoFactorFailure};
use sessions_grpc::error_table::{EdgeError, describe, describe_edge};
use sessions_proto::{FILE_DESCRIPTOR_SET, v1 as pb};
use tower::ServiceExt;

use super::*;

fn doc() -> Value {
    openapi_document(FILE_DESCRIPTOR_SET).unwrap()
}

fn response_schema(doc: &Value, method: &str, path: &str, status: &str) -> Value {
    doc["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"].clone()
}

/// Just enough JSON Schema to check bodies against the document: `$ref`,
/// `oneOf`, `enum`, `pattern`, `maxLength`, int32 ranges, objects and arrays.
fn conforms(doc: &Value, schema: &Value, value: &Value) -> bool {
    assert!(schema.is_object(), "not a schema: {schema}");
    if let Some(target) = schema.get("$ref").and_then(Value::as_str) {
        let key = target.trim_start_matches("#/components/schemas/");
        return conforms(doc, &doc["components"]["schemas"][key], value);
    }
    if let Some(options) = schema.get("oneOf").and_then(Value::as_array) {
        return options.iter().filter(|s| conforms(doc, s, value)).count() == 1;
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        return false;
    }
    if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
        let pattern = regex::Regex::new(pattern).unwrap();
        if !value.as_str().is_some_and(|text| pattern.is_match(text)) {
            return false;
        }
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("object") => {
            let Some(object) = value.as_object() else {
                return false;
            };
            let required = schema["required"].as_array().cloned().unwrap_or_default();
            required
                .iter()
                .all(|key| object.contains_key(key.as_str().unwrap()))
                && object
                    .iter()
                    .all(|(key, field)| match schema["properties"].get(key) {
                        Some(property) => conforms(doc, property, field),
                        None => match &schema["additionalProperties"] {
                            Value::Bool(allowed) => *allowed,
                            extra => conforms(doc, extra, field),
                        },
                    })
        }
        Some("array") => value.as_array().is_some_and(|items| {
            items
                .iter()
                .all(|item| conforms(doc, &schema["items"], item))
        }),
        Some("string") => value.as_str().is_some_and(|text| {
            schema["maxLength"]
                .as_u64()
                .is_none_or(|max| text.chars().count() as u64 <= max)
        }),
        Some("integer") => value
            .as_i64()
            .is_some_and(|n| schema["format"] != "int32" || i32::try_from(n).is_ok()),
        Some("boolean") => value.is_boolean(),
        Some("number") => value.is_number(),
        None => true,
        Some(other) => panic!("unexpected type {other}"),
    }
}

/// What the edge writes for a message.
fn written(message: &impl Message, name: &str) -> Value {
    let descriptor = DescriptorPool::decode(FILE_DESCRIPTOR_SET)
        .unwrap()
        .get_message_by_name(name)
        .unwrap();
    DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice())
        .unwrap()
        .serialize_with_options(serde_json::value::Serializer, &crate::codec::json_options())
        .unwrap()
}

/// `crates/edge/openapi.json` is the generated document, checked in so API
/// changes show up in review as a diff. After changing the protos or the error
/// table, regenerate it with
/// `UPDATE_OPENAPI=1 cargo test -p sessions-edge checked_in_document` and
/// commit the result.
#[test]
fn checked_in_document_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json");
    let generated = format!("{}\n", serde_json::to_string_pretty(&doc()).unwrap());
    if std::env::var("UPDATE_OPENAPI").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    if checked_in != generated {
        let line = checked_in
            .lines()
            .zip(generated.lines())
            .position(|(old, new)| old != new)
            .unwrap_or_else(|| checked_in.lines().count().min(generated.lines().count()));
        panic!(
            "crates/edge/openapi.json is out of date (first difference at line {}); \
             regenerate it with `UPDATE_OPENAPI=1 cargo test -p sessions-edge \
             checked_in_document` and review the diff",
            line + 1
        );
    }
}

#[test]
fn every_route_has_a_policy_naming_real_fields() {
    let routes = routes_from_descriptors(FILE_DESCRIPTOR_SET).unwrap();
    for policy in endpoints::ENDPOINTS {
        assert!(
            routes.iter().any(|r| r.grpc_path == policy.grpc_path()),
            "{} has no route",
            policy.rpc
        );
    }
    for route in &routes {
        let policy = endpoint(route).unwrap();
        for name in policy.required {
            assert!(
                route.input.get_field_by_json_name(name).is_some(),
                "{} requires {name}",
                policy.rpc
            );
        }
    }
    // Endpoints sharing a request message agree on what it requires.
    for route in &routes {
        for other in routes.iter().filter(|r| r.input == route.input) {
            assert_eq!(
                endpoint(route).unwrap().required,
                endpoint(other).unwrap().required
            );
        }
    }
    for answer in Answer::ALL {
        for sample in answer.samples() {
            assert_eq!(sample.http_status, answer.status(), "{sample:?}");
        }
    }
}

#[test]
fn session_info_takes_a_required_session_id_and_the_identity_headers() {
    let doc = doc();
    let parameters = &doc["paths"]["/api/v1/sessions/info"]["get"]["parameters"];
    assert_eq!(
        parameters,
        &json!([
            {"$ref": "#/components/parameters/X-User-Id"},
            {"$ref": "#/components/parameters/X-Auth-Token"},
            {"name": "sessionId", "in": "query", "required": true,
             "schema": {"type": "string", "maxLength": 1024, "pattern": "^[^\\u0000]*$"}},
        ])
    );
    let admin = doc["paths"]["/api/v1/sessions/info.admin"]["get"]["parameters"].to_string();
    assert!(admin.contains("x-2fa-code") && admin.contains("x-2fa-method"));
    assert_eq!(
        doc["paths"]["/api/v1/sessions/info"]["get"]["operationId"],
        "GetMySession"
    );
}

#[test]
fn listing_parameters_are_typed_and_optional() {
    let doc = doc();
    let parameters = doc["paths"]["/api/v1/sessions/list"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .clone();
    let find = |name: &str| {
        parameters
            .iter()
            .find(|p| p["name"] == name)
            .unwrap()
            .clone()
    };
    for name in ["offset", "count"] {
        assert_eq!(
            find(name)["schema"],
            json!({"type": "integer", "format": "int32"})
        );
        assert_eq!(find(name)["required"], false);
    }
    assert_eq!(find("sort")["schema"]["type"], "string");
}

#[test]
fn bodies_are_closed_objects_and_login_needs_no_identity() {
    let doc = doc();
    let logout = &doc["paths"]["/api/v1/sessions/logout.me"]["post"];
    assert_eq!(logout["requestBody"]["required"], true);
    let body = &doc["components"]["schemas"]["LogoutSessionRequest"];
    assert_eq!(body["required"], json!(["sessionId"]));
    assert_eq!(body["additionalProperties"], false);
    assert!(!conforms(&doc, body, &json!({"sessionId": "a", "x": 1})));
    let login = &doc["paths"]["/api/v1/login"]["post"];
    assert!(login.get("parameters").is_none());
    assert_eq!(login["requestBody"]["required"], false);
}

#[test]
fn session_schema_requires_exactly_the_fields_always_written() {
    let doc = doc();
    let session = &doc["components"]["schemas"]["Session"];
    let required = session["required"].as_array().unwrap();
    for key in ["_id", "_updatedAt", "sessionId", "roles", "day", "success"] {
        assert!(required.contains(&json!(key)), "{key}");
    }
    for key in [
        "logoutAt",
        "logoutBy",
        "closedAt",
        "lastActivityAt",
        "device",
    ] {
        assert!(session["properties"].get(key).is_some(), "{key}");
        assert!(!required.contains(&json!(key)), "{key}");
    }
    assert_eq!(
        session["properties"]["day"],
        json!({"type": "integer", "format": "int32"})
    );
    assert_eq!(
        response_schema(&doc, "get", "/api/v1/sessions/info", "200"),
        json!({"$ref": "#/components/schemas/Session"})
    );
}

#[test]
fn written_answers_validate() {
    let doc = doc();
    let device = pb::Device {
        r#type: "browser".into(),
        os: Some(pb::OperatingSystem::default()),
        ..Default::default()
    };
    let mut session = pb::Session {
        id: "a".repeat(24),
        device: Some(device.clone()),
        logout_at: Some("2023-05-23T16:33:45.202Z".into()),
        day: 23,
        ..Default::default()
    };
    let info = response_schema(&doc, "get", "/api/v1/sessions/info", "200");
    for body in [
        written(&session, "sessions.v1.Session"),
        written(&pb::Session::default(), "sessions.v1.Session"),
    ] {
        assert!(conforms(&doc, &info, &body), "{body}");
    }
    session.logout_at = None;
    let mut body = written(&session, "sessions.v1.Session");
    assert!(body.get("logoutAt").is_none());
    body.as_object_mut().unwrap().remove("_id");
    assert!(!conforms(&doc, &info, &body), "a body without _id passed");

    let summary = pb::SessionSummary {
        device: Some(device),
        user: Some(pb::SessionUser::default()),
        ..Default::default()
    };
    let listing = pb::ListSessionsResponse {
        sessions: vec![summary, pb::SessionSummary::default()],
        total: 2,
        ..Default::default()
    };
    let body = written(&listing, "sessions.v1.ListSessionsResponse");
    let schema = response_schema(&doc, "get", "/api/v1/sessions/list.all", "200");
    assert!(conforms(&doc, &schema, &body), "{body}");
    let login = pb::LoginResponse {
        status: "success".into(),
        data: Some(pb::LoginData {
            me: Some(pb::Me {
                roles: vec!["user".into()],
                emails: vec![pb::UserEmail::default()],
                email: Some("a@b.c".into()),
                settings: Some(pb::MeSettings {
                    profile: Some(pb::MeProfile {}),
                    preferences: Some(pb::MePreferences {}),
                    calendar: Some(pb::MeCalendar {}),
                }),
                services: Some(pb::MeServices {
                    password: Some(pb::MePassword { exists: true }),
                    totp: Some(pb::MeEnabled { enabled: true }),
                    email2fa: None,
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        success: true,
    };
    let body = written(&login, "sessions.v1.LoginResponse");
    let schema = response_schema(&doc, "post", "/api/v1/login", "200");
    assert!(conforms(&doc, &schema, &body), "{body}");
}

#[test]
fn every_error_body_matches_exactly_its_own_schema() {
    let doc = doc();
    let failure = |method: &str, available: &[&str]| TwoFactorFailure {
        method: method.into(),
        available_methods: available.iter().map(|m| (*m).into()).collect(),
        email_code: None,
    };
    let cases = [
        (
            Answer::InvalidParams,
            DomainError::InvalidParams("must have required property 'sessionId'".into()),
        ),
        (
            Answer::InvalidParams,
            DomainError::InvalidParams("must be number".into()),
        ),
        (
            Answer::ParameterRequired,
            DomainError::ParameterRequired("emailOrUsername"),
        ),
        (
            Answer::TwoFactor,
            DomainError::TwoFactorRequired(failure("totp", &[])),
        ),
        (
            Answer::TwoFactor,
            DomainError::TwoFactorInvalid(failure("password", &[])),
        ),
        (
            Answer::TwoFactor,
            DomainError::TwoFactorMaxAttempts(failure("totp", &["totp"])),
        ),
        (
            Answer::InvalidSort,
            DomainError::InvalidSort("{\"loginAt\":2}\n[(.*)]".into()),
        ),
        (Answer::InvalidSortKeys, DomainError::InvalidSortKeys),
        (Answer::Unauthorized, DomainError::Unauthenticated),
        (Answer::LoginFailed, DomainError::LoginFailed),
        (Answer::LoginFailed, DomainError::LoginTwoFactorMaxAttempts),
        (Answer::LoginFailed, DomainError::LoginBlockedForAddress),
        (Answer::Forbidden, DomainError::Forbidden),
        (Answer::SessionNotFound, DomainError::SessionNotFound),
        (
            Answer::RateLimited,
            DomainError::RateLimited {
                limit: 300,
                retry_after_secs: 37,
                reset_at_ms: 1,
            },
        ),
        (Answer::Internal, DomainError::Internal("SELECT 1".into())),
        (
            Answer::Unavailable,
            DomainError::Unavailable("pool timed out".into()),
        ),
    ];
    let edge_cases = [
        (Answer::PayloadTooLarge, EdgeError::PayloadTooLarge),
        (Answer::RouteNotFound, EdgeError::RouteNotFound),
        (Answer::MethodNotAllowed, EdgeError::MethodNotAllowed),
    ];
    let descriptions = cases
        .into_iter()
        .map(|(answer, error)| (answer, describe(&error)))
        .chain(
            edge_cases
                .into_iter()
                .map(|(answer, error)| (answer, describe_edge(error))),
        );
    for (expected, description) in descriptions {
        let body = description.body;
        let matching: Vec<Answer> = Answer::ALL
            .into_iter()
            .filter(|a| conforms(&doc, &schema_ref(a.schema_name()), &body))
            .collect();
        assert_eq!(matching, vec![expected], "{body}");
    }
}

#[test]
fn each_route_lists_the_errors_it_can_answer() {
    let doc = doc();
    let statuses = |method: &str, path: &str| -> Vec<String> {
        doc["paths"][path][method]["responses"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    assert_eq!(
        statuses("get", "/api/v1/sessions/info"),
        ["200", "400", "401", "404", "429", "500", "503"]
    );
    assert_eq!(
        statuses("get", "/api/v1/sessions/info.admin"),
        ["200", "400", "401", "403", "404", "429", "500", "503"]
    );
    assert_eq!(
        statuses("get", "/api/v1/sessions/list"),
        ["200", "400", "401", "429", "500", "503"]
    );
    assert_eq!(
        statuses("post", "/api/v1/sessions/logout"),
        [
            "200", "400", "401", "403", "404", "413", "429", "500", "503"
        ]
    );
    assert_eq!(
        statuses("post", "/api/v1/login"),
        ["200", "400", "401", "413", "429", "500", "503"]
    );

    let body = |error: DomainError| describe(&error).body;
    let two_factor = body(DomainError::TwoFactorRequired(TwoFactorFailure {
        method: "totp".into(),
        available_methods: vec![],
        email_code: None,
    }));
    let info = response_schema(&doc, "get", "/api/v1/sessions/info", "400");
    assert!(
        !conforms(&doc, &info, &two_factor),
        "info asks for no second factor"
    );
    let admin = response_schema(&doc, "get", "/api/v1/sessions/info.admin", "400");
    assert!(conforms(&doc, &admin, &two_factor));
    let list = response_schema(&doc, "get", "/api/v1/sessions/list", "400");
    assert!(conforms(
        &doc,
        &list,
        &body(DomainError::InvalidSort("x".into()))
    ));
    assert!(conforms(&doc, &list, &body(DomainError::InvalidSortKeys)));

    let login = response_schema(&doc, "post", "/api/v1/login", "401");
    let logout = response_schema(&doc, "post", "/api/v1/logout", "401");
    assert!(conforms(
        &doc,
        &login,
        &body(DomainError::LoginTwoFactorRequired(TwoFactorFailure {
            method: "totp".into(),
            available_methods: vec!["totp".into()],
            email_code: None,
        }))
    ));
    assert!(!conforms(&doc, &login, &body(DomainError::Unauthenticated)));
    assert!(conforms(&doc, &logout, &body(DomainError::Unauthenticated)));
    assert!(!conforms(&doc, &logout, &body(DomainError::LoginFailed)));
    let limited = &doc["paths"]["/api/v1/logout"]["post"]["responses"]["429"]["headers"];
    for name in [
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
    ] {
        assert_eq!(limited[name]["schema"]["type"], "integer", "{name}");
    }
}

#[tokio::test]
async fn served_without_credentials_and_never_cached() {
    let edge = crate::RestEdge::new(
        FILE_DESCRIPTOR_SET,
        tonic::service::Routes::default(),
        1024,
        false,
    )
    .unwrap();
    let router = edge.into_router();
    let request = Request::get(OPENAPI_PATH).body(Body::empty()).unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap(), doc());

    let request = Request::post(OPENAPI_PATH).body(Body::empty()).unwrap();
    let response = router.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()[header::ALLOW], "GET, HEAD");
}

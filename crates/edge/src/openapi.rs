//! The OpenAPI 3.0.3 document of the REST edge, generated from the same
//! descriptors and error table the edge answers with, so it cannot drift from them.

mod errors;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};
use serde_json::{Map, Value, json};

use self::errors::Answer;
use crate::routes::{Route, RouteError, routes_from_descriptors};
use sessions_grpc::bounds::MAX_STRING_CHARS;
use sessions_service::endpoints::{self, Endpoint};

/// Where the edge serves the document (no authentication).
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";

/// The endpoint policy of a route: which checks its RPC makes is behaviour,
/// not shape, so it comes from the service's table, not the descriptors.
fn endpoint(route: &Route) -> Result<&'static Endpoint, RouteError> {
    endpoints::by_grpc_path(&route.grpc_path)
        .ok_or_else(|| RouteError::NoPolicy(route.grpc_path.clone()))
}

/// Request fields some endpoint insists on ("must have required property"),
/// by message and JSON name; proto3 has no way to say so.
fn required_fields(routes: &[Route]) -> Result<BTreeSet<(String, String)>, RouteError> {
    let mut required = BTreeSet::new();
    for route in routes {
        for name in endpoint(route)?.required {
            required.insert((route.input.full_name().to_owned(), (*name).to_owned()));
        }
    }
    Ok(required)
}

/// The document for every annotated RPC in `descriptor_set`.
pub fn openapi_document(descriptor_set: &[u8]) -> Result<Value, RouteError> {
    let routes = routes_from_descriptors(descriptor_set)?;
    let mut schemas = Schemas {
        required: required_fields(&routes)?,
        ..Schemas::default()
    };
    for answer in Answer::ALL {
        schemas
            .by_key
            .insert(answer.schema_name().to_owned(), answer.schema());
    }
    let mut paths = Map::new();
    for route in &routes {
        let operation = operation(route, &mut schemas)?;
        if let Value::Object(item) = paths.entry(route.path.clone()).or_insert_with(|| json!({})) {
            item.insert(route.method.as_str().to_lowercase(), operation);
        }
    }
    Ok(json!({
        "openapi": "3.0.3",
        "info": {
            "title": "sessions REST edge",
            "description": "Rocket.Chat's device management endpoints as sessionsd serves them. \
                Generated from the google.api.http annotations of proto/sessions/v1 and the \
                error table; served at /api/v1/openapi.json.",
            "version": env!("CARGO_PKG_VERSION"),
        },
        "paths": paths,
        "components": {
            "parameters": header_parameters(),
            "responses": {
                "NotFound": error_response(&[Answer::RouteNotFound]),
                "MethodNotAllowed": error_response(&[Answer::MethodNotAllowed]),
            },
            "schemas": schemas.by_key.into_iter().collect::<Map<_, _>>(),
        },
    }))
}

fn operation(route: &Route, schemas: &mut Schemas) -> Result<Value, RouteError> {
    let grpc_path = route.grpc_path.as_str();
    let policy = endpoint(route)?;
    let login = policy.is_login();
    let admin = policy.two_factor;
    let mut parameters = Vec::new();
    if policy.authenticated {
        parameters.extend(["X-User-Id", "X-Auth-Token"].map(parameter_ref));
    }
    if admin {
        parameters.extend(["x-2fa-code", "x-2fa-method"].map(parameter_ref));
    }
    let mut operation = Map::new();
    let rpc = grpc_path.rsplit('/').next().unwrap_or(grpc_path);
    // Operation ids are unique: an RPC's additional bindings (GET logout)
    // are named after their method.
    let id = if schemas.operation_ids.insert(rpc.to_owned()) {
        rpc.to_owned()
    } else {
        let method = route.method.as_str().to_lowercase();
        let id = format!("{rpc}_{method}");
        schemas.operation_ids.insert(id.clone());
        id
    };
    operation.insert("operationId".into(), json!(id));
    // The edge reads the query when the rule has no body, the JSON body otherwise.
    if route.body.is_empty() {
        parameters.extend(input_fields(&route.input).map(|(field, schema)| {
            json!({
                "name": field.json_name(),
                "in": "query",
                "required": schemas.is_required(&field),
                "schema": schema,
            })
        }));
    }
    if !parameters.is_empty() {
        operation.insert("parameters".into(), Value::Array(parameters));
    }
    if !route.body.is_empty() {
        // An empty body counts as `{}`, so it is required only when a field is.
        let required = input_fields(&route.input).any(|(field, _)| schemas.is_required(&field));
        operation.insert(
            "requestBody".into(),
            json!({
                "required": required,
                "content": {"application/json": {
                    "schema": schemas.reference(&route.input, Mode::Input)?,
                }},
            }),
        );
    }

    let mut answers = vec![Answer::InvalidParams];
    if login {
        answers.push(Answer::LoginFailed);
    } else if policy.authenticated {
        answers.push(Answer::Unauthorized);
    }
    if policy.permission.is_some() || policy.permission_for_others.is_some() {
        answers.push(Answer::Forbidden);
    }
    if policy.permission_for_others.is_some() {
        answers.push(Answer::InvalidUserId);
    }
    if admin {
        answers.push(Answer::TwoFactor);
    }
    // Errors that follow from a parameter the request carries.
    if route.input.get_field_by_name("sort").is_some() {
        answers.extend([Answer::InvalidSort, Answer::InvalidSortKeys]);
    }
    if route.input.get_field_by_name("email_or_username").is_some() {
        answers.push(Answer::ParameterRequired);
    }
    if route.input.get_field_by_name("session_id").is_some() {
        answers.push(Answer::SessionNotFound);
    }
    if !route.body.is_empty() {
        answers.push(Answer::PayloadTooLarge);
    }
    answers.extend([Answer::RateLimited, Answer::Internal, Answer::Unavailable]);
    let mut by_status: BTreeMap<u16, Vec<Answer>> = BTreeMap::new();
    for answer in answers {
        by_status.entry(answer.status()).or_default().push(answer);
    }

    let mut responses = Map::new();
    responses.insert(
        "200".into(),
        json!({
            "description": "OK",
            "headers": Answer::RateLimited.headers(),
            "content": {"application/json": {
                "schema": schemas.reference(&route.output, Mode::Output)?,
            }},
        }),
    );
    for (status, answers) in by_status {
        responses.insert(status.to_string(), error_response(&answers));
    }
    operation.insert("responses".into(), Value::Object(responses));
    Ok(Value::Object(operation))
}

/// One status's error answer; several kinds share a status as `oneOf`, which
/// their distinct keys and `errorType` values keep exclusive.
fn error_response(answers: &[Answer]) -> Value {
    let description: Vec<&str> = answers.iter().map(|a| a.description()).collect();
    let schema = match answers {
        [one] => schema_ref(one.schema_name()),
        _ => {
            json!({"oneOf": answers.iter().map(|a| schema_ref(a.schema_name())).collect::<Vec<_>>()})
        }
    };
    let mut response = Map::new();
    response.insert("description".into(), json!(description.join(" ")));
    let headers: Map<String, Value> = answers.iter().flat_map(|a| a.headers()).collect();
    if !headers.is_empty() {
        response.insert("headers".into(), Value::Object(headers));
    }
    response.insert(
        "content".into(),
        json!({"application/json": {"schema": schema}}),
    );
    Value::Object(response)
}

/// The identity and second-factor headers, as the REST clients send them.
fn header_parameters() -> Value {
    let header = |name: &str, required: bool, description: &str| {
        json!({
            "name": name,
            "in": "header",
            "required": required,
            "description": description,
            "schema": {"type": "string"},
        })
    };
    json!({
        "X-User-Id": header("X-User-Id", true, "The caller's user id."),
        "X-Auth-Token": header("X-Auth-Token", true, "The caller's login token."),
        "x-2fa-code": header(
            "x-2fa-code",
            false,
            "A TOTP or backup code, or for users without TOTP the hex SHA-256 of the \
             password. Not needed while an earlier check of this session is remembered.",
        ),
        "x-2fa-method": header(
            "x-2fa-method",
            false,
            "`totp` or `password`; the user's own method is used regardless.",
        ),
    })
}

fn parameter_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/parameters/{name}")})
}

fn schema_ref(key: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{key}")})
}

/// An object with exactly these properties: bodies are written and read
/// field by field from the descriptors, so nothing else can appear.
fn object_schema(properties: Map<String, Value>, required: Vec<String>) -> Value {
    let mut schema = Map::new();
    schema.insert("type".into(), json!("object"));
    schema.insert("properties".into(), Value::Object(properties));
    // OpenAPI 3.0 wants a non-empty `required` or none at all.
    if !required.is_empty() {
        schema.insert("required".into(), json!(required));
    }
    schema.insert("additionalProperties".into(), json!(false));
    Value::Object(schema)
}

/// The fields the edge accepts as parameters, with their schemas: scalars
/// only, as `decode` reads them (anything else is an additional property).
fn input_fields(
    message: &MessageDescriptor,
) -> impl Iterator<Item = (FieldDescriptor, Value)> + '_ {
    message.fields().filter_map(|field| {
        if field.is_list() || field.is_map() {
            return None;
        }
        scalar(&field.kind(), Mode::Input).map(|schema| (field, schema))
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// A request: what `decode` accepts.
    Input,
    /// A response: what prost-reflect writes with `skip_default_fields(false)`.
    Output,
}

/// Any string without the NUL character, in ECMA-262 regex syntax.
const NO_NUL_PATTERN: &str = "^[^\\u0000]*$";

fn scalar(kind: &Kind, mode: Mode) -> Option<Value> {
    let input = mode == Mode::Input;
    Some(match kind {
        // No U+0000: the decoder refuses it (PostgreSQL cannot store it).
        Kind::String if input => {
            json!({"type": "string", "maxLength": MAX_STRING_CHARS, "pattern": NO_NUL_PATTERN})
        }
        Kind::String => json!({"type": "string"}),
        Kind::Bool => json!({"type": "boolean"}),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            json!({"type": "integer", "format": "int32"})
        }
        Kind::Uint32 | Kind::Fixed32 => {
            json!({"type": "integer", "format": "int64", "minimum": 0, "maximum": u32::MAX})
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 | Kind::Uint64 | Kind::Fixed64 if input => {
            json!({"type": "integer", "format": "int64"})
        }
        // The proto3 JSON mapping writes 64-bit integers as strings.
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 | Kind::Uint64 | Kind::Fixed64 => {
            json!({"type": "string", "format": "int64"})
        }
        Kind::Float => json!({"type": "number", "format": "float"}),
        Kind::Double => json!({"type": "number", "format": "double"}),
        Kind::Bytes if !input => json!({"type": "string", "format": "byte"}),
        Kind::Enum(e) if !input => {
            let names: Vec<String> = e.values().map(|v| v.name().to_owned()).collect();
            json!({"type": "string", "enum": names})
        }
        Kind::Bytes | Kind::Enum(_) | Kind::Message(_) => return None,
    })
}

/// The component schemas: the error answers, then one per message and mode.
#[derive(Default)]
struct Schemas {
    /// Sorted, so the document lists components in a stable order.
    by_key: BTreeMap<String, Value>,
    /// Message full name (and mode) to its key, so each is described once.
    keys: BTreeMap<String, String>,
    /// See [`required_fields`].
    required: BTreeSet<(String, String)>,
    /// Operation ids given so far.
    operation_ids: BTreeSet<String>,
}

impl Schemas {
    fn is_required(&self, field: &FieldDescriptor) -> bool {
        let key = (
            field.parent_message().full_name().to_owned(),
            field.json_name().to_owned(),
        );
        self.required.contains(&key)
    }

    fn reference(&mut self, message: &MessageDescriptor, mode: Mode) -> Result<Value, RouteError> {
        let owner = match mode {
            Mode::Output => message.full_name().to_owned(),
            Mode::Input => format!("{}.Input", message.full_name()),
        };
        if let Some(key) = self.keys.get(&owner) {
            return Ok(schema_ref(key));
        }
        if message.package_name() == "google.protobuf" && message.name() != "Empty" {
            return Err(RouteError::UnsupportedMessage(
                message.full_name().to_owned(),
            ));
        }
        // Short names read best in generated clients; a clash takes the full name.
        let key = if self.by_key.contains_key(message.name()) {
            owner.clone()
        } else {
            message.name().to_owned()
        };
        self.keys.insert(owner, key.clone());
        // Taken before recursing: a message may contain itself.
        self.by_key.insert(key.clone(), Value::Null);
        let schema = match mode {
            Mode::Input => {
                let mut properties = Map::new();
                let mut required = Vec::new();
                for (field, schema) in input_fields(message) {
                    if self.is_required(&field) {
                        required.push(field.json_name().to_owned());
                    }
                    properties.insert(field.json_name().to_owned(), schema);
                }
                object_schema(properties, required)
            }
            Mode::Output => self.output_schema(message)?,
        };
        self.by_key.insert(key.clone(), schema);
        Ok(schema_ref(&key))
    }

    /// Fields without presence (plain scalars, lists, maps) are always written;
    /// proto3 `optional` scalars and message fields only when set.
    fn output_schema(&mut self, message: &MessageDescriptor) -> Result<Value, RouteError> {
        let mut properties = Map::new();
        let mut required = Vec::new();
        for field in message.fields() {
            let schema = if field.is_map() {
                let Kind::Message(entry) = field.kind() else {
                    continue;
                };
                let value = self.output_kind(&entry.map_entry_value_field().kind())?;
                json!({"type": "object", "additionalProperties": value})
            } else if field.is_list() {
                json!({"type": "array", "items": self.output_kind(&field.kind())?})
            } else {
                self.output_kind(&field.kind())?
            };
            if !field.supports_presence() {
                required.push(field.json_name().to_owned());
            }
            properties.insert(field.json_name().to_owned(), schema);
        }
        Ok(object_schema(properties, required))
    }

    fn output_kind(&mut self, kind: &Kind) -> Result<Value, RouteError> {
        match kind {
            Kind::Message(message) => self.reference(message, Mode::Output),
            other => Ok(scalar(other, Mode::Output).unwrap_or_else(|| json!({}))),
        }
    }
}

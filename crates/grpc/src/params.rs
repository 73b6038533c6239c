//! The parameter step's input, decoded once for both transports: a request's
//! typed parameters, or its first problem in Rocket.Chat's (ajv's) order: a
//! missing required property, then an additional property, then a wrong type,
//! then a string past its bound.

use prost_reflect::ReflectMessage;
use sessions_domain::DomainError;
use sessions_service::{Params, endpoints::Endpoint, missing};
use tonic::Request;

use crate::bounds;

/// What the REST edge found decoding a query string or JSON body. It rides in
/// the request's extensions (never metadata a client could send); gRPC
/// requests, decoded by protobuf, have none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestDecoding {
    /// The body was not a JSON object.
    pub not_object: bool,
    /// Some key names no field of the request.
    pub additional: bool,
    /// The first value of the wrong type, as ajv words it (`must be string`).
    pub wrong_type: Option<String>,
    /// JSON names of the fields the input carried, well typed or not.
    pub present: Vec<String>,
}

/// The `invalid-params` answer for an additional property.
pub const ADDITIONAL: &str = "must NOT have additional properties";

fn invalid(message: &str) -> DomainError {
    DomainError::InvalidParams(message.to_owned())
}

/// Checks `request` against `endpoint`'s parameters and the shared bounds,
/// then builds its typed parameters with `typed`, which may rely on every
/// required field being present.
pub(crate) fn decode<M, P>(
    request: &Request<M>,
    endpoint: &Endpoint,
    typed: impl FnOnce(&M) -> P,
) -> Params<P>
where
    M: prost::Name,
{
    let rest = request.extensions().get::<RestDecoding>();
    if rest.is_some_and(|r| r.not_object) {
        return Err(invalid("must be object"));
    }
    if !endpoint.required.is_empty() {
        let reflected = bounds::reflect(request.get_ref());
        for name in endpoint.required {
            let in_message = reflected.as_ref().is_some_and(|message| {
                message
                    .descriptor()
                    .get_field_by_json_name(name)
                    .is_some_and(|field| message.has_field(&field))
            });
            let in_input = rest.is_some_and(|r| r.present.iter().any(|p| p == name));
            if !in_message && !in_input {
                return Err(missing(name));
            }
        }
    }
    if let Some(rest) = rest {
        if rest.additional {
            return Err(invalid(ADDITIONAL));
        }
        if let Some(problem) = &rest.wrong_type {
            return Err(invalid(problem));
        }
    }
    if let Some(problem) = bounds::message_problem(request.get_ref()) {
        return Err(invalid(problem));
    }
    Ok(typed(request.get_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sessions_proto::v1 as pb;
    use sessions_service::endpoints;

    fn session_ref(
        message: pb::GetSessionRequest,
        rest: Option<RestDecoding>,
    ) -> Result<String, DomainError> {
        let mut request = Request::new(message);
        if let Some(rest) = rest {
            request.extensions_mut().insert(rest);
        }
        decode(&request, &endpoints::GET_MY_SESSION, |m| {
            m.session_id.clone().unwrap_or_default()
        })
    }

    #[test]
    fn problems_come_in_rocket_chats_order() {
        let none = pb::GetSessionRequest::default();
        let message = |e: DomainError| match e {
            DomainError::InvalidParams(m) => m,
            other => format!("{other:?}"),
        };
        // Missing beats additional and wrong type.
        let rest = RestDecoding {
            additional: true,
            wrong_type: Some("must be number".into()),
            ..RestDecoding::default()
        };
        assert_eq!(
            session_ref(none.clone(), Some(rest)).map_err(message),
            Err("must have required property 'sessionId'".into())
        );
        // A present but mistyped field is not missing.
        let rest = RestDecoding {
            wrong_type: Some("must be string".into()),
            present: vec!["sessionId".into()],
            ..RestDecoding::default()
        };
        assert_eq!(
            session_ref(none.clone(), Some(rest)).map_err(message),
            Err("must be string".into())
        );
        let given = pb::GetSessionRequest {
            session_id: Some("abc".into()),
        };
        let rest = RestDecoding {
            additional: true,
            wrong_type: Some("must be string".into()),
            present: vec!["sessionId".into()],
            ..RestDecoding::default()
        };
        assert_eq!(
            session_ref(given.clone(), Some(rest)).map_err(message),
            Err(ADDITIONAL.into())
        );
        // gRPC: presence is the field's; an empty id is present.
        assert_eq!(session_ref(given, None), Ok("abc".into()));
        let empty = pb::GetSessionRequest {
            session_id: Some(String::new()),
        };
        assert_eq!(session_ref(empty, None), Ok(String::new()));
        assert_eq!(
            session_ref(none, None).map_err(message),
            Err("must have required property 'sessionId'".into())
        );
        let long = pb::GetSessionRequest {
            session_id: Some("x".repeat(bounds::MAX_STRING_CHARS + 1)),
        };
        assert_eq!(
            session_ref(long, None).map_err(message),
            Err(bounds::TOO_LONG.into())
        );
    }
}

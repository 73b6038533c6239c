//! The REST routes, derived from the `google.api.http` annotations in the
//! descriptor set: one route per annotated RPC, no hand-written list.

use http::Method;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, Value};

/// One REST binding of an RPC.
#[derive(Debug, Clone)]
pub struct Route {
    pub method: Method,
    pub path: String,
    /// `/sessions.v1.SessionsService/GetMySession`.
    pub grpc_path: String,
    pub input: MessageDescriptor,
    pub output: MessageDescriptor,
    /// `*` when the request message is the JSON body.
    pub body: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error("descriptor set does not decode: {0}")]
    Descriptor(String),
    #[error("google.api.http is not in the descriptor set")]
    MissingExtension,
    #[error("{0}: path templates with variables are not supported")]
    TemplatedPath(String),
    /// Well-known types have their own JSON mapping, which the OpenAPI
    /// generator would describe wrongly as plain messages.
    #[error("{0}: well-known types are not described in the OpenAPI document")]
    UnsupportedMessage(String),
    /// A public RPC with a route but no entry in the endpoint table.
    #[error("{0} has a REST route but no endpoint policy")]
    NoPolicy(String),
}

/// Every annotated method of every service in the set.
pub fn routes_from_descriptors(descriptor_set: &[u8]) -> Result<Vec<Route>, RouteError> {
    let pool = DescriptorPool::decode(descriptor_set)
        .map_err(|e| RouteError::Descriptor(e.to_string()))?;
    let http = pool
        .get_extension_by_name("google.api.http")
        .ok_or(RouteError::MissingExtension)?;
    let mut routes = Vec::new();
    for service in pool.services() {
        for method in service.methods() {
            let options = method.options();
            if !options.has_extension(&http) {
                continue;
            }
            let Value::Message(rule) = options.get_extension(&http).into_owned() else {
                continue;
            };
            // The rule, then its `additional_bindings` (one level, as the
            // HttpRule documentation allows).
            let additional = match rule.get_field_by_name("additional_bindings") {
                Some(value) => match value.as_list() {
                    Some(list) => list
                        .iter()
                        .filter_map(|v| v.as_message().cloned())
                        .collect(),
                    None => Vec::new(),
                },
                None => Vec::new(),
            };
            for rule in std::iter::once(rule).chain(additional) {
                let Some((verb, path)) = binding(&rule) else {
                    continue;
                };
                if path.contains('{') {
                    return Err(RouteError::TemplatedPath(path));
                }
                routes.push(Route {
                    method: verb,
                    path,
                    grpc_path: format!("/{}/{}", service.full_name(), method.name()),
                    input: method.input(),
                    output: method.output(),
                    body: string_field(&rule, "body"),
                });
            }
        }
    }
    Ok(routes)
}

fn string_field(message: &DynamicMessage, name: &str) -> String {
    message
        .get_field_by_name(name)
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn binding(rule: &DynamicMessage) -> Option<(Method, String)> {
    for (field, method) in [
        ("get", Method::GET),
        ("post", Method::POST),
        ("put", Method::PUT),
        ("delete", Method::DELETE),
        ("patch", Method::PATCH),
    ] {
        if rule.has_field_by_name(field) {
            return Some((method, string_field(rule, field)));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_endpoint_has_a_route() {
        let routes = routes_from_descriptors(sessions_proto::FILE_DESCRIPTOR_SET).unwrap();
        let mut found: Vec<(String, String, String)> = routes
            .iter()
            .map(|r| (r.method.to_string(), r.path.clone(), r.grpc_path.clone()))
            .collect();
        found.sort();
        let service = "/sessions.v1.SessionsService/";
        let mut expected: Vec<(String, String, String)> = [
            ("GET", "/api/v1/sessions/info", "GetMySession"),
            ("GET", "/api/v1/sessions/info.admin", "GetSessionAdmin"),
            ("GET", "/api/v1/sessions/list", "ListMySessions"),
            ("GET", "/api/v1/sessions/list.all", "ListAllSessions"),
            ("POST", "/api/v1/sessions/logout.me", "LogoutMySession"),
            ("POST", "/api/v1/sessions/logout", "LogoutSession"),
            ("POST", "/api/v1/login", "Login"),
            ("POST", "/api/v1/logout", "Logout"),
            ("GET", "/api/v1/logout", "Logout"),
            ("GET", "/api/v1/me", "GetMe"),
            ("POST", "/api/v1/users.logout", "LogoutUser"),
            (
                "POST",
                "/api/v1/users.removeOtherTokens",
                "RemoveOtherTokens",
            ),
            (
                "POST",
                "/api/v1/users.2fa.enableEmail",
                "EnableEmailTwoFactor",
            ),
            (
                "POST",
                "/api/v1/users.2fa.disableEmail",
                "DisableEmailTwoFactor",
            ),
            ("POST", "/api/v1/users.2fa.sendEmailCode", "SendEmailCode"),
        ]
        .iter()
        .map(|(m, p, rpc)| (m.to_string(), p.to_string(), format!("{service}{rpc}")))
        .collect();
        expected.sort();
        assert_eq!(found, expected);
    }
}

//! Rocket.Chat body shapes that a route's request message spells differently,
//! rewritten onto its fields before the generic decoder reads the body: one
//! adapter per route that needs one, declared here beside its route's path.

use serde_json::{Map, Value as Json};
use sessions_service::endpoints;

/// Rewrites a JSON object body in place.
pub(crate) type Reshape = fn(&mut Map<String, Json>);

/// The adapter of the route served by `grpc_path`, if it has one.
pub(crate) fn reshape_for(grpc_path: &str) -> Option<Reshape> {
    (grpc_path == endpoints::LOGIN.grpc_path()).then_some(login as Reshape)
}

/// `POST /api/v1/login` (spec section 9): Meteor's `totp: {login, code}`
/// wrapper, `user: {username}` / `user: {email}`, and the Meteor client's
/// `password: {digest, algorithm: "sha-256"}`. Other shapes stay as sent, so
/// the decoder refuses them with its usual `must be string`.
fn login(body: &mut Map<String, Json>) {
    if let Some(Json::Object(totp)) = body.get("totp")
        && let (Some(Json::Object(inner)), Some(code)) = (totp.get("login"), totp.get("code"))
    {
        let (inner, code) = (inner.clone(), code.clone());
        body.remove("totp");
        for (key, value) in inner {
            body.entry(key).or_insert(value);
        }
        body.entry("code").or_insert(code);
    }
    if let Some(Json::Object(user)) = body.get("user")
        && user.len() == 1
        && let Some((key @ ("username" | "email"), Json::String(value))) =
            user.iter().next().map(|(k, v)| (k.as_str(), v))
        && !body.contains_key(key)
    {
        let (key, value) = (key.to_owned(), value.clone());
        body.remove("user");
        body.insert(key, Json::String(value));
    }
    if let Some(Json::Object(password)) = body.get("password")
        && password.len() == 2
        && password.get("algorithm") == Some(&Json::String("sha-256".to_owned()))
        && let Some(Json::String(digest)) = password.get("digest")
        && !body.contains_key("passwordDigest")
    {
        let digest = digest.clone();
        body.remove("password");
        body.insert("passwordDigest".to_owned(), Json::String(digest));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn reshaped(body: Json) -> Json {
        let Json::Object(mut map) = body else {
            unreachable!()
        };
        login(&mut map);
        Json::Object(map)
    }

    #[test]
    fn login_forms_become_fields() {
        assert_eq!(
            reshaped(json!({"user": {"username": "rod"}, "password": "pw"})),
            json!({"username": "rod", "password": "pw"})
        );
        assert_eq!(
            reshaped(
                json!({"user": {"email": "r@x.io"}, "password": {"digest": "ab", "algorithm": "sha-256"}})
            ),
            json!({"email": "r@x.io", "passwordDigest": "ab"})
        );
        assert_eq!(
            reshaped(
                json!({"totp": {"login": {"user": {"username": "rod"}, "password": "pw"}, "code": "123456"}})
            ),
            json!({"username": "rod", "password": "pw", "code": "123456"})
        );
    }

    #[test]
    fn other_shapes_are_left_for_the_decoder() {
        for body in [
            json!({"user": {"id": "x"}, "password": "pw"}),
            json!({"user": {"username": "a", "email": "b"}, "password": "pw"}),
            json!({"user": "rod", "password": {"digest": "ab", "algorithm": "sha-1"}}),
            json!({"user": "rod", "password": {"digest": 5, "algorithm": "sha-256"}}),
            json!({"user": {"username": "rod"}, "username": "other", "password": "pw"}),
        ] {
            assert_eq!(reshaped(body.clone()), body);
        }
    }
}

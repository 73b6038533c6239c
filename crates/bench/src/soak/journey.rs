//! One soak client's journey: log in, look up, list, act as the admin, log out
//! one of three ways, and prove the token is refused, checking every answer
//! against the spec.

use std::sync::{Arc, atomic::Ordering};

use serde_json::{Value, json};
use sessions_proto::v1::{
    AuthenticateRequest, GetSessionRequest, RecordActivityRequest,
    internal_sessions_service_client::InternalSessionsServiceClient,
    sessions_service_client::SessionsServiceClient,
};
use tonic::{Code, Request, metadata::MetadataValue, transport::Channel};

use super::report::{Failure, Tally};
use crate::{
    scenarios::{Clients, INTERNAL_TOKEN},
    seed::Login,
};

/// The spec's answer to a refused token.
fn logged_out_body() -> Value {
    let message = "You must be logged in to do this.";
    json!({"success": false, "error": message, "status": "error", "message": message})
}

/// One soak client: REST and gRPC to the server, its own user.
pub(super) struct Journey {
    pub(super) clients: Clients,
    pub(super) tally: Arc<Tally>,
    pub(super) admin: Login,
    pub(super) two_factor_code: String,
    pub(super) username: String,
    pub(super) password: String,
}

impl Journey {
    async fn rest(
        &self,
        step: &'static str,
        request: reqwest::RequestBuilder,
        expected: u16,
    ) -> Result<Value, Failure> {
        let _timer = self.tally.time(step);
        let response = request.send().await.map_err(|e| Failure::Other {
            step,
            what: e.to_string(),
        })?;
        let status = response.status().as_u16();
        let body = response.text().await.map_err(|e| Failure::Other {
            step,
            what: e.to_string(),
        })?;
        if status != expected {
            return Err(Failure::Status {
                step,
                status,
                body: body.chars().take(200).collect(),
            });
        }
        serde_json::from_str(&body).map_err(|e| Failure::Other {
            step,
            what: format!("not JSON: {e}"),
        })
    }

    fn get(&self, path: &str, login: &Login) -> reqwest::RequestBuilder {
        self.clients
            .http
            .get(format!("{}{path}", self.clients.base))
            .header("x-user-id", &login.user_id)
            .header("x-auth-token", &login.token)
    }

    fn post(&self, path: &str, login: &Login, body: Value) -> reqwest::RequestBuilder {
        self.clients
            .http
            .post(format!("{}{path}", self.clients.base))
            .header("x-user-id", &login.user_id)
            .header("x-auth-token", &login.token)
            .json(&body)
    }

    fn channel(&self) -> Channel {
        self.clients.channels[0].clone()
    }

    async fn authenticate(&self, login: &Login) -> Result<Option<String>, Failure> {
        let step = "grpc Authenticate";
        let _timer = self.tally.time(step);
        let answer = InternalSessionsServiceClient::new(self.channel())
            .authenticate(with_credential(AuthenticateRequest {
                user_id: login.user_id.clone(),
                login_token: login.token.clone(),
            }))
            .await;
        match answer {
            Ok(answer) => Ok(answer.into_inner().session.map(|s| s.session_id)),
            Err(status) if status.code() == Code::Unauthenticated => Ok(None),
            Err(status) => Err(grpc_failure(step, &status)),
        }
    }

    /// One journey; `n` picks the logout variant.
    pub(super) async fn run(&self, n: u64) -> Result<(), Failure> {
        let body = self
            .rest(
                "POST login",
                self.clients
                    .http
                    .post(format!("{}/api/v1/login", self.clients.base))
                    .json(&json!({"user": self.username, "password": self.password})),
                200,
            )
            .await?;
        let data = &body["data"];
        let (Some(user_id), Some(token)) = (data["userId"].as_str(), data["authToken"].as_str())
        else {
            return Err(Failure::Other {
                step: "POST login",
                what: format!("no userId/authToken in {body}"),
            });
        };
        let mut login = Login {
            user_id: user_id.to_owned(),
            token: token.to_owned(),
            session_id: String::new(),
        };
        login.session_id = self.authenticate(&login).await?.ok_or(Failure::Other {
            step: "grpc Authenticate",
            what: "a fresh token was refused".to_owned(),
        })?;
        let session_query = format!("?sessionId={}", login.session_id);

        let info = self
            .rest(
                "GET sessions/info",
                self.get(&format!("/api/v1/sessions/info{session_query}"), &login),
                200,
            )
            .await?;
        expect_eq(
            "GET sessions/info",
            &info["sessionId"],
            &json!(login.session_id),
        )?;
        let list = self
            .rest(
                "GET sessions/list",
                self.get("/api/v1/sessions/list", &login),
                200,
            )
            .await?;
        if list["total"].as_u64().unwrap_or(0) == 0 {
            return Err(Failure::Other {
                step: "GET sessions/list",
                what: format!("the caller's session is missing: {list}"),
            });
        }
        self.grpc_get_my_session(&login).await?;
        self.record_activity(&login).await?;

        // The admin side: everyone's list filtered to this user, then this session.
        let code = self.two_factor_code.as_str();
        let everyone = self
            .rest(
                "GET sessions/list.all (admin)",
                self.get(
                    &format!("/api/v1/sessions/list.all?filter={}&count=5", self.username),
                    &self.admin,
                )
                .header("x-2fa-code", code),
                200,
            )
            .await?;
        if everyone["total"].as_u64().unwrap_or(0) == 0 {
            return Err(Failure::Other {
                step: "GET sessions/list.all (admin)",
                what: format!("the filter missed the user's session: {everyone}"),
            });
        }
        let admin_view = self
            .rest(
                "GET sessions/info.admin (admin)",
                self.get(
                    &format!("/api/v1/sessions/info.admin{session_query}"),
                    &self.admin,
                )
                .header("x-2fa-code", code),
                200,
            )
            .await?;
        expect_eq(
            "GET sessions/info.admin (admin)",
            &admin_view["_user"]["username"],
            &json!(self.username),
        )?;

        let logged_out = match n % 3 {
            0 => {
                self.rest(
                    "POST logout",
                    self.post("/api/v1/logout", &login, json!({})),
                    200,
                )
                .await?
            }
            1 => {
                self.rest(
                    "POST sessions/logout.me",
                    self.post(
                        "/api/v1/sessions/logout.me",
                        &login,
                        json!({"sessionId": login.session_id}),
                    ),
                    200,
                )
                .await?
            }
            _ => {
                self.rest(
                    "POST sessions/logout (admin)",
                    self.post(
                        "/api/v1/sessions/logout",
                        &self.admin,
                        json!({"sessionId": login.session_id}),
                    )
                    .header("x-2fa-code", code),
                    200,
                )
                .await?
            }
        };
        if logged_out["success"] != json!(true) && logged_out["status"] != json!("success") {
            return Err(Failure::Other {
                step: "logout",
                what: format!("unexpected answer {logged_out}"),
            });
        }
        self.tally.logouts.fetch_add(1, Ordering::Relaxed);

        // The logout took effect at once, on both edges.
        let refused = self
            .rest(
                "GET sessions/list (logged out: 401)",
                self.get("/api/v1/sessions/list", &login),
                401,
            )
            .await?;
        expect_eq(
            "GET sessions/list (logged out: 401)",
            &refused,
            &logged_out_body(),
        )?;
        if self.authenticate(&login).await?.is_some() {
            return Err(Failure::Other {
                step: "grpc Authenticate",
                what: "a logged-out token was accepted".to_owned(),
            });
        }
        if let Ok(mut all) = self.tally.logged_out.lock() {
            all.push(login);
        }
        Ok(())
    }

    async fn grpc_get_my_session(&self, login: &Login) -> Result<(), Failure> {
        let step = "grpc GetMySession";
        let _timer = self.tally.time(step);
        let mut request = Request::new(GetSessionRequest {
            session_id: Some(login.session_id.clone()),
        });
        insert_metadata(&mut request, "x-user-id", &login.user_id, step)?;
        insert_metadata(&mut request, "x-auth-token", &login.token, step)?;
        SessionsServiceClient::new(self.channel())
            .get_my_session(request)
            .await
            .map_err(|s| grpc_failure(step, &s))?;
        Ok(())
    }

    async fn record_activity(&self, login: &Login) -> Result<(), Failure> {
        let step = "grpc RecordActivity";
        let _timer = self.tally.time(step);
        InternalSessionsServiceClient::new(self.channel())
            .record_activity(with_credential(RecordActivityRequest {
                session_id: login.session_id.clone(),
            }))
            .await
            .map_err(|s| grpc_failure(step, &s))?;
        Ok(())
    }
}

fn expect_eq(step: &'static str, actual: &Value, expected: &Value) -> Result<(), Failure> {
    if actual == expected {
        Ok(())
    } else {
        Err(Failure::Other {
            step,
            what: format!("expected {expected}, got {actual}"),
        })
    }
}

fn insert_metadata<T>(
    request: &mut Request<T>,
    key: &'static str,
    value: &str,
    step: &'static str,
) -> Result<(), Failure> {
    let value = MetadataValue::try_from(value).map_err(|_| Failure::Other {
        step,
        what: format!("{key} is not valid metadata"),
    })?;
    request.metadata_mut().insert(key, value);
    Ok(())
}

/// A gRPC error as the REST status it stands for, so 5xx and 4xx are counted
/// the same way on both edges.
fn grpc_failure(step: &'static str, status: &tonic::Status) -> Failure {
    let http = match status.code() {
        Code::Internal | Code::Unavailable | Code::Unknown | Code::DeadlineExceeded => 500,
        Code::Ok => 200,
        _ => 400,
    };
    Failure::Status {
        step,
        status: http,
        body: format!("{:?}: {}", status.code(), status.message()),
    }
}

pub(super) fn with_credential<T>(message: T) -> Request<T> {
    let mut request = Request::new(message);
    if let Ok(value) = MetadataValue::try_from(format!("Bearer {INTERNAL_TOKEN}")) {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

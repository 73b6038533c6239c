//! The public `SessionsService`: each RPC decodes its parameters (the table
//! entry says which are required), calls its use case and converts the answer.

use sessions_domain::DomainResult;
use sessions_proto::v1::{self as pb, sessions_service_server::SessionsService};
use sessions_service::{
    Caller, ListParams, LoginName, LoginParams, LoginSecret, NoParams, SessionRef, SessionService,
    UserRef, endpoints, endpoints::Endpoint,
};
use tonic::{
    Request, Response, Status,
    metadata::{MetadataKey, MetadataValue},
};

use crate::{caller::caller, convert, error_table::to_status_with_headers, params::decode};

pub struct PublicApi {
    service: SessionService,
}

impl PublicApi {
    pub fn new(service: SessionService) -> Self {
        Self { service }
    }
}

/// The caller and the typed parameters of a request.
fn inputs<M: prost::Name, P>(
    request: &Request<M>,
    endpoint: &Endpoint,
    typed: impl FnOnce(&M) -> P,
) -> (sessions_service::Caller, sessions_service::Params<P>) {
    (caller(request), decode(request, endpoint, typed))
}

/// A use case's answer converted, or its error through the table; either way
/// with the `X-RateLimit-*` of the route's window (REST headers, gRPC metadata).
fn reply<T, M>(
    caller: &Caller,
    result: DomainResult<T>,
    convert: impl FnOnce(T) -> M,
) -> Result<Response<M>, Status> {
    let headers = caller
        .rate_window()
        .map(|window| window.headers().to_vec())
        .unwrap_or_default();
    match result {
        Ok(answer) => {
            let mut response = Response::new(convert(answer));
            for (name, value) in headers {
                if let (Ok(key), Ok(value)) = (
                    MetadataKey::from_bytes(name.to_ascii_lowercase().as_bytes()),
                    MetadataValue::try_from(value.as_str()),
                ) {
                    response.metadata_mut().insert(key, value);
                }
            }
            Ok(response)
        }
        Err(err) => Err(to_status_with_headers(err, &headers)),
    }
}

fn session_ref(session_id: &Option<String>) -> SessionRef {
    SessionRef {
        session_id: session_id.clone().unwrap_or_default(),
    }
}

fn list_params(request: &pb::ListSessionsRequest) -> ListParams {
    ListParams {
        offset: request.offset.map(i64::from),
        count: request.count.map(i64::from),
        filter: request.filter.clone(),
        sort: request.sort.clone(),
    }
}

/// Rocket.Chat's rules (`loginCompatibility`, Meteor's handlers): a password
/// makes it a password login even beside `resume`; `user` is an e-mail
/// address when it holds `@`, else a username; then `username`, then `email`.
fn login_params(request: &pb::LoginRequest) -> LoginParams {
    let has_password = !request.password.is_empty() || !request.password_digest.is_empty();
    if !has_password && !request.resume.is_empty() {
        return LoginParams::Resume {
            token: request.resume.clone(),
        };
    }
    let name = if !request.user.is_empty() {
        Some(if request.user.contains('@') {
            LoginName::Email(request.user.clone())
        } else {
            LoginName::Username(request.user.clone())
        })
    } else if !request.username.is_empty() {
        Some(LoginName::Username(request.username.clone()))
    } else if !request.email.is_empty() {
        Some(LoginName::Email(request.email.clone()))
    } else {
        None
    };
    let secret = if request.password.is_empty() {
        LoginSecret::Digest(request.password_digest.clone())
    } else {
        LoginSecret::Password(request.password.clone())
    };
    LoginParams::Password {
        name,
        secret,
        code: Some(request.code.clone()).filter(|c| !c.is_empty()),
    }
}

fn listing(listing: sessions_service::Listing, with_user: bool) -> pb::ListSessionsResponse {
    let total = i32::try_from(listing.page.total).unwrap_or(i32::MAX);
    pb::ListSessionsResponse {
        sessions: listing
            .page
            .sessions
            .into_iter()
            .map(|found| convert::summary(found, with_user, &listing.caller_session_id))
            .collect(),
        total,
        count: i32::try_from(listing.count).unwrap_or(i32::MAX),
        offset: i32::try_from(listing.offset).unwrap_or(i32::MAX),
        success: true,
    }
}

fn logged_out(session_id: String) -> pb::LogoutSessionResponse {
    pb::LogoutSessionResponse {
        session_id,
        success: true,
    }
}

#[tonic::async_trait]
impl SessionsService for PublicApi {
    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "GetMySession"))]
    async fn get_my_session(
        &self,
        request: Request<pb::GetSessionRequest>,
    ) -> Result<Response<pb::Session>, Status> {
        let (caller, params) = inputs(&request, &endpoints::GET_MY_SESSION, |r| {
            session_ref(&r.session_id)
        });
        let session = self.service.my_session(&caller, params).await;
        reply(&caller, session, |s| convert::session(&s))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "GetSessionAdmin"))]
    async fn get_session_admin(
        &self,
        request: Request<pb::GetSessionRequest>,
    ) -> Result<Response<pb::AdminSession>, Status> {
        let (caller, params) = inputs(&request, &endpoints::GET_SESSION_ADMIN, |r| {
            session_ref(&r.session_id)
        });
        let found = self.service.admin_session(&caller, params).await;
        reply(&caller, found, |f| convert::admin_session(&f))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "ListMySessions"))]
    async fn list_my_sessions(
        &self,
        request: Request<pb::ListSessionsRequest>,
    ) -> Result<Response<pb::ListSessionsResponse>, Status> {
        let (caller, params) = inputs(&request, &endpoints::LIST_MY_SESSIONS, list_params);
        let page = self.service.list_my_sessions(&caller, params).await;
        reply(&caller, page, |p| listing(p, false))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "ListAllSessions"))]
    async fn list_all_sessions(
        &self,
        request: Request<pb::ListSessionsRequest>,
    ) -> Result<Response<pb::ListSessionsResponse>, Status> {
        let (caller, params) = inputs(&request, &endpoints::LIST_ALL_SESSIONS, list_params);
        let page = self.service.list_all_sessions(&caller, params).await;
        reply(&caller, page, |p| listing(p, true))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "LogoutMySession"))]
    async fn logout_my_session(
        &self,
        request: Request<pb::LogoutSessionRequest>,
    ) -> Result<Response<pb::LogoutSessionResponse>, Status> {
        let (caller, params) = inputs(&request, &endpoints::LOGOUT_MY_SESSION, |r| {
            session_ref(&r.session_id)
        });
        let ended = self.service.logout_my_session(&caller, params).await;
        reply(&caller, ended, logged_out)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "LogoutSession"))]
    async fn logout_session(
        &self,
        request: Request<pb::LogoutSessionRequest>,
    ) -> Result<Response<pb::LogoutSessionResponse>, Status> {
        let (caller, params) = inputs(&request, &endpoints::LOGOUT_SESSION, |r| {
            session_ref(&r.session_id)
        });
        let ended = self.service.logout_session(&caller, params).await;
        reply(&caller, ended, logged_out)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "Login"))]
    async fn login(
        &self,
        request: Request<pb::LoginRequest>,
    ) -> Result<Response<pb::LoginResponse>, Status> {
        let (caller, params) = inputs(&request, &endpoints::LOGIN, login_params);
        let outcome = match self.service.login(&caller, params).await {
            Ok(outcome) => {
                let me = self.service.me_view(outcome.user).await;
                me.map(|me| (me, outcome.token))
            }
            Err(err) => Err(err),
        };
        reply(&caller, outcome, |(me, token)| pb::LoginResponse {
            status: "success".to_owned(),
            data: Some(pb::LoginData {
                user_id: me.user.id.clone(),
                auth_token: token,
                me: Some(convert::me(me, None)),
            }),
            success: true,
        })
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "Logout"))]
    async fn logout(
        &self,
        request: Request<pb::LogoutRequest>,
    ) -> Result<Response<pb::LogoutResponse>, Status> {
        let (caller, params) = inputs(&request, &endpoints::LOGOUT, |_| NoParams);
        let outcome = self.service.logout(&caller, params).await;
        reply(&caller, outcome, |()| pb::LogoutResponse {
            status: "success".to_owned(),
            data: Some(pb::LogoutData {
                message: "You've been logged out!".to_owned(),
            }),
        })
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "GetMe"))]
    async fn get_me(&self, request: Request<pb::GetMeRequest>) -> Result<Response<pb::Me>, Status> {
        let (caller, params) = inputs(&request, &endpoints::GET_ME, |_| NoParams);
        let me = self.service.me(&caller, params).await;
        reply(&caller, me, |me| convert::me(me, Some(true)))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "LogoutUser"))]
    async fn logout_user(
        &self,
        request: Request<pb::LogoutUserRequest>,
    ) -> Result<Response<pb::LogoutUserResponse>, Status> {
        let (caller, params) = inputs(&request, &endpoints::LOGOUT_USER, |r| UserRef {
            user_id: r.user_id.clone(),
        });
        let ended = self.service.logout_user(&caller, params).await;
        reply(&caller, ended, |user_id| pb::LogoutUserResponse {
            message: format!("User {user_id} has been logged out!"),
            success: true,
        })
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "RemoveOtherTokens"))]
    async fn remove_other_tokens(
        &self,
        request: Request<pb::RemoveOtherTokensRequest>,
    ) -> Result<Response<pb::RemoveOtherTokensResponse>, Status> {
        let (caller, params) = inputs(&request, &endpoints::REMOVE_OTHER_TOKENS, |_| NoParams);
        let outcome = self.service.remove_other_tokens(&caller, params).await;
        reply(&caller, outcome, |()| pb::RemoveOtherTokensResponse {
            success: true,
        })
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "EnableEmailTwoFactor"))]
    async fn enable_email_two_factor(
        &self,
        request: Request<pb::EnableEmailTwoFactorRequest>,
    ) -> Result<Response<pb::EnableEmailTwoFactorResponse>, Status> {
        let (caller, params) = inputs(&request, &endpoints::ENABLE_EMAIL_TWO_FACTOR, |_| NoParams);
        let outcome = self.service.enable_email_two_factor(&caller, params).await;
        reply(&caller, outcome, |()| pb::EnableEmailTwoFactorResponse {
            success: true,
        })
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "SendEmailCode"))]
    async fn send_email_code(
        &self,
        request: Request<pb::SendEmailCodeRequest>,
    ) -> Result<Response<pb::SendEmailCodeResponse>, Status> {
        let (caller, params) = inputs(&request, &endpoints::SEND_EMAIL_CODE, |r| {
            r.email_or_username.clone().unwrap_or_default()
        });
        let outcome = self.service.send_email_code(&caller, params).await;
        reply(&caller, outcome, |()| pb::SendEmailCodeResponse {
            success: true,
        })
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "DisableEmailTwoFactor"))]
    async fn disable_email_two_factor(
        &self,
        request: Request<pb::DisableEmailTwoFactorRequest>,
    ) -> Result<Response<pb::DisableEmailTwoFactorResponse>, Status> {
        let (caller, params) = inputs(&request, &endpoints::DISABLE_EMAIL_TWO_FACTOR, |_| NoParams);
        let outcome = self.service.disable_email_two_factor(&caller, params).await;
        reply(&caller, outcome, |()| pb::DisableEmailTwoFactorResponse {
            success: true,
        })
    }
}

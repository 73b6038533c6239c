//! The public `SessionsService`: each RPC decodes its parameters (the table
//! entry says which are required), calls its use case and converts the answer.

use sessions_proto::v1::{self as pb, sessions_service_server::SessionsService};
use sessions_service::{
    ListParams, LoginParams, NoParams, SessionRef, SessionService, endpoints, endpoints::Endpoint,
};
use tonic::{Request, Response, Status};

use crate::{caller::caller, convert, error_table::to_status, params::decode};

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

fn login_params(request: &pb::LoginRequest) -> LoginParams {
    let username = if request.user.is_empty() {
        &request.username
    } else {
        &request.user
    };
    LoginParams {
        username: username.clone(),
        password: request.password.clone(),
        code: Some(request.code.clone()).filter(|c| !c.is_empty()),
    }
}

fn listing(listing: sessions_service::Listing, with_user: bool) -> pb::ListSessionsResponse {
    pb::ListSessionsResponse {
        sessions: listing
            .page
            .sessions
            .iter()
            .map(|found| convert::summary(found, with_user))
            .collect(),
        total: i32::try_from(listing.page.total).unwrap_or(i32::MAX),
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
        Ok(Response::new(convert::session(
            &session.map_err(to_status)?,
        )))
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
        Ok(Response::new(convert::admin_session(
            &found.map_err(to_status)?,
        )))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "ListMySessions"))]
    async fn list_my_sessions(
        &self,
        request: Request<pb::ListSessionsRequest>,
    ) -> Result<Response<pb::ListSessionsResponse>, Status> {
        let (caller, params) = inputs(&request, &endpoints::LIST_MY_SESSIONS, list_params);
        let page = self.service.list_my_sessions(&caller, params).await;
        Ok(Response::new(listing(page.map_err(to_status)?, false)))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "ListAllSessions"))]
    async fn list_all_sessions(
        &self,
        request: Request<pb::ListSessionsRequest>,
    ) -> Result<Response<pb::ListSessionsResponse>, Status> {
        let (caller, params) = inputs(&request, &endpoints::LIST_ALL_SESSIONS, list_params);
        let page = self.service.list_all_sessions(&caller, params).await;
        Ok(Response::new(listing(page.map_err(to_status)?, true)))
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
        Ok(Response::new(logged_out(ended.map_err(to_status)?)))
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
        Ok(Response::new(logged_out(ended.map_err(to_status)?)))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "Login"))]
    async fn login(
        &self,
        request: Request<pb::LoginRequest>,
    ) -> Result<Response<pb::LoginResponse>, Status> {
        let (caller, params) = inputs(&request, &endpoints::LOGIN, login_params);
        let outcome = self
            .service
            .login(&caller, params)
            .await
            .map_err(to_status)?;
        let user = outcome.user;
        Ok(Response::new(pb::LoginResponse {
            status: "success".to_owned(),
            data: Some(pb::LoginData {
                user_id: user.id.clone(),
                auth_token: outcome.token,
                me: Some(pb::LoginUser {
                    id: user.id,
                    username: user.username,
                    name: user.name,
                    roles: user.roles,
                }),
            }),
        }))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "Logout"))]
    async fn logout(
        &self,
        request: Request<pb::LogoutRequest>,
    ) -> Result<Response<pb::LogoutResponse>, Status> {
        let (caller, params) = inputs(&request, &endpoints::LOGOUT, |_| NoParams);
        self.service
            .logout(&caller, params)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::LogoutResponse {
            status: "success".to_owned(),
            data: Some(pb::LogoutData {
                message: "You've been logged out!".to_owned(),
            }),
        }))
    }
}

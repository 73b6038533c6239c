//! The public `SessionsService`: the RPCs behind the documented endpoints.

use sessions_proto::v1::{self as pb, sessions_service_server::SessionsService};
use sessions_service::{ListParams, LoginInput, SessionService};
use tonic::{Request, Response, Status};

use crate::{
    caller::{caller, client_info, param_error},
    convert,
    error_table::to_status,
};

pub struct PublicApi {
    service: SessionService,
}

impl PublicApi {
    pub fn new(service: SessionService) -> Self {
        Self { service }
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

fn listing(listing: sessions_service::Listing, with_user: bool) -> pb::ListSessionsResponse {
    pb::ListSessionsResponse {
        sessions: listing
            .page
            .sessions
            .iter()
            .map(|found| convert::summary(found, with_user))
            .collect(),
        total: i32::try_from(listing.page.total).unwrap_or(i32::MAX),
        count: listing.count as i32,
        offset: i32::try_from(listing.offset).unwrap_or(i32::MAX),
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
        let caller = caller(&request);
        let session = self
            .service
            .my_session(&caller, request.get_ref().session_id.as_deref())
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert::session(&session)))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "GetSessionAdmin"))]
    async fn get_session_admin(
        &self,
        request: Request<pb::GetSessionRequest>,
    ) -> Result<Response<pb::AdminSession>, Status> {
        let caller = caller(&request);
        let found = self
            .service
            .admin_session(&caller, request.get_ref().session_id.as_deref())
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert::admin_session(&found)))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "ListMySessions"))]
    async fn list_my_sessions(
        &self,
        request: Request<pb::ListSessionsRequest>,
    ) -> Result<Response<pb::ListSessionsResponse>, Status> {
        let caller = caller(&request);
        let page = self
            .service
            .list_my_sessions(&caller, &list_params(request.get_ref()))
            .await
            .map_err(to_status)?;
        Ok(Response::new(listing(page, false)))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "ListAllSessions"))]
    async fn list_all_sessions(
        &self,
        request: Request<pb::ListSessionsRequest>,
    ) -> Result<Response<pb::ListSessionsResponse>, Status> {
        let caller = caller(&request);
        let page = self
            .service
            .list_all_sessions(&caller, &list_params(request.get_ref()))
            .await
            .map_err(to_status)?;
        Ok(Response::new(listing(page, true)))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "LogoutMySession"))]
    async fn logout_my_session(
        &self,
        request: Request<pb::LogoutSessionRequest>,
    ) -> Result<Response<pb::LogoutSessionResponse>, Status> {
        let caller = caller(&request);
        let session_id = self
            .service
            .logout_my_session(&caller, request.get_ref().session_id.as_deref())
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::LogoutSessionResponse {
            session_id,
            success: true,
        }))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "LogoutSession"))]
    async fn logout_session(
        &self,
        request: Request<pb::LogoutSessionRequest>,
    ) -> Result<Response<pb::LogoutSessionResponse>, Status> {
        let caller = caller(&request);
        let session_id = self
            .service
            .logout_session(&caller, request.get_ref().session_id.as_deref())
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::LogoutSessionResponse {
            session_id,
            success: true,
        }))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "Login"))]
    async fn login(
        &self,
        request: Request<pb::LoginRequest>,
    ) -> Result<Response<pb::LoginResponse>, Status> {
        let client = client_info(&request);
        let param_error = param_error(&request);
        let body = request.into_inner();
        let username = if body.user.is_empty() {
            body.username
        } else {
            body.user
        };
        let outcome = self
            .service
            .login(LoginInput {
                username,
                password: body.password,
                code: Some(body.code).filter(|c| !c.is_empty()),
                client,
                param_error,
            })
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
        let caller = caller(&request);
        self.service.logout(&caller).await.map_err(to_status)?;
        Ok(Response::new(pb::LogoutResponse {
            status: "success".to_owned(),
            data: Some(pb::LogoutData {
                message: "You've been logged out!".to_owned(),
            }),
        }))
    }
}

//! The internal `InternalSessionsService` for the platform's other services.

use std::pin::Pin;

use futures::StreamExt;
use sessions_proto::v1::{self as pb, internal_sessions_service_server::InternalSessionsService};
use sessions_service::{ClientInfo, NewSessionInput, SessionService, UpsertUser, WatchSettings};
use tokio_stream::{Stream, wrappers::ReceiverStream};
use tonic::{Request, Response, Status};

use crate::{convert, error_table::to_status};

pub struct InternalApi {
    service: SessionService,
    watch: WatchSettings,
    draining: tokio::sync::watch::Receiver<bool>,
}

impl InternalApi {
    /// `draining` turns true when the server starts shutting down: event streams
    /// then end, so watchers reconnect to another replica and the drain is not
    /// held up by connections that never finish on their own.
    pub fn new(
        service: SessionService,
        watch: WatchSettings,
        draining: tokio::sync::watch::Receiver<bool>,
    ) -> Self {
        Self {
            service,
            watch,
            draining,
        }
    }
}

fn non_empty(value: String) -> Option<String> {
    Some(value).filter(|v| !v.is_empty())
}

type EventStream = Pin<Box<dyn Stream<Item = Result<pb::SessionEvent, Status>> + Send>>;

#[tonic::async_trait]
impl InternalSessionsService for InternalApi {
    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "CreateSession"))]
    async fn create_session(
        &self,
        request: Request<pb::CreateSessionRequest>,
    ) -> Result<Response<pb::Session>, Status> {
        let r = request.into_inner();
        let session = self
            .service
            .create_session(NewSessionInput {
                user_id: r.user_id,
                login_token: non_empty(r.login_token),
                login_token_hash: non_empty(r.login_token_hash),
                client: ClientInfo {
                    ip: r.ip,
                    host: r.host,
                    user_agent: r.user_agent,
                    ip_is_trusted_proxy: false,
                },
                instance_id: non_empty(r.instance_id),
            })
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert::session(&session)))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "Authenticate"))]
    async fn authenticate(
        &self,
        request: Request<pb::AuthenticateRequest>,
    ) -> Result<Response<pb::AuthenticateResponse>, Status> {
        let r = request.into_inner();
        let ctx = self
            .service
            .authenticate_token(&r.user_id, &r.login_token)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::AuthenticateResponse {
            user: Some(convert::user(&ctx.user)),
            session: Some(convert::session(&ctx.session)),
        }))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "RecordActivity"))]
    async fn record_activity(
        &self,
        request: Request<pb::RecordActivityRequest>,
    ) -> Result<Response<pb::RecordActivityResponse>, Status> {
        let recorded = self
            .service
            .record_activity(&request.get_ref().session_id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::RecordActivityResponse { recorded }))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "CloseConnection"))]
    async fn close_connection(
        &self,
        request: Request<pb::CloseConnectionRequest>,
    ) -> Result<Response<pb::CloseConnectionResponse>, Status> {
        self.service
            .close_connection(&request.get_ref().session_id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::CloseConnectionResponse {}))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "LogoutUserSessions"))]
    async fn logout_user_sessions(
        &self,
        request: Request<pb::LogoutUserSessionsRequest>,
    ) -> Result<Response<pb::LogoutUserSessionsResponse>, Status> {
        let r = request.into_inner();
        let ended = self
            .service
            .logout_user_sessions(&r.user_id, Some(r.except_session_id.as_str()), &r.logout_by)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::LogoutUserSessionsResponse {
            logged_out: i32::try_from(ended.len()).unwrap_or(i32::MAX),
        }))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "UpsertUser"))]
    async fn upsert_user(
        &self,
        request: Request<pb::UpsertUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let r = request.into_inner();
        let user = self
            .service
            .upsert_user(UpsertUser {
                id: non_empty(r.id),
                username: r.username,
                name: r.name,
                roles: r.roles,
                active: r.active,
            })
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert::user(&user)))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "GetUser"))]
    async fn get_user(
        &self,
        request: Request<pb::GetUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let user = self
            .service
            .get_user(&request.get_ref().user_id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert::user(&user)))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "ListUsers"))]
    async fn list_users(
        &self,
        _request: Request<pb::ListUsersRequest>,
    ) -> Result<Response<pb::ListUsersResponse>, Status> {
        let users = self.service.list_users().await.map_err(to_status)?;
        Ok(Response::new(pb::ListUsersResponse {
            users: users.iter().map(convert::user).collect(),
        }))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "DeactivateUser"))]
    async fn deactivate_user(
        &self,
        request: Request<pb::DeactivateUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let user = self
            .service
            .deactivate_user(&request.get_ref().user_id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert::user(&user)))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "SetPassword"))]
    async fn set_password(
        &self,
        request: Request<pb::SetPasswordRequest>,
    ) -> Result<Response<pb::SetPasswordResponse>, Status> {
        let r = request.into_inner();
        let ended = self
            .service
            .set_password(&r.user_id, &r.password, r.keep_session_id.as_deref())
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::SetPasswordResponse {
            logged_out: i32::try_from(ended.len()).unwrap_or(i32::MAX),
        }))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "EnrollTotp"))]
    async fn enroll_totp(
        &self,
        request: Request<pb::EnrollTotpRequest>,
    ) -> Result<Response<pb::EnrollTotpResponse>, Status> {
        let r = request.into_inner();
        let enrollment = self
            .service
            .enroll_totp(&r.user_id, Some(r.secret_base32.as_str()))
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::EnrollTotpResponse {
            otpauth_uri: enrollment.otpauth_uri,
            backup_codes: enrollment.backup_codes,
        }))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "DisableTotp"))]
    async fn disable_totp(
        &self,
        request: Request<pb::DisableTotpRequest>,
    ) -> Result<Response<pb::DisableTotpResponse>, Status> {
        self.service
            .disable_totp(&request.get_ref().user_id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::DisableTotpResponse {}))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "RegenerateBackupCodes"))]
    async fn regenerate_backup_codes(
        &self,
        request: Request<pb::RegenerateBackupCodesRequest>,
    ) -> Result<Response<pb::RegenerateBackupCodesResponse>, Status> {
        let backup_codes = self
            .service
            .regenerate_backup_codes(&request.get_ref().user_id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::RegenerateBackupCodesResponse {
            backup_codes,
        }))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "GrantPermission"))]
    async fn grant_permission(
        &self,
        request: Request<pb::PermissionChange>,
    ) -> Result<Response<pb::Permission>, Status> {
        let r = request.into_inner();
        let permission = self
            .service
            .grant_permission(&r.permission, &r.role)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::Permission {
            id: permission.id,
            roles: permission.roles,
        }))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "RevokePermission"))]
    async fn revoke_permission(
        &self,
        request: Request<pb::PermissionChange>,
    ) -> Result<Response<pb::Permission>, Status> {
        let r = request.into_inner();
        let permission = self
            .service
            .revoke_permission(&r.permission, &r.role)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::Permission {
            id: permission.id,
            roles: permission.roles,
        }))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "ListPermissions"))]
    async fn list_permissions(
        &self,
        _request: Request<pb::ListPermissionsRequest>,
    ) -> Result<Response<pb::ListPermissionsResponse>, Status> {
        let permissions = self.service.list_permissions().await.map_err(to_status)?;
        Ok(Response::new(pb::ListPermissionsResponse {
            permissions: permissions
                .into_iter()
                .map(|p| pb::Permission {
                    id: p.id,
                    roles: p.roles,
                })
                .collect(),
        }))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "ListAuditEvents"))]
    async fn list_audit_events(
        &self,
        request: Request<pb::ListAuditEventsRequest>,
    ) -> Result<Response<pb::ListAuditEventsResponse>, Status> {
        let r = request.into_inner();
        let limit = if r.limit <= 0 { 100 } else { r.limit as u64 };
        let records = self
            .service
            .audit_log(r.after_id, Some(r.actor_id.as_str()), limit)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ListAuditEventsResponse {
            events: records.iter().map(convert::audit).collect(),
        }))
    }

    type WatchSessionEventsStream = EventStream;

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "WatchSessionEvents"))]
    async fn watch_session_events(
        &self,
        request: Request<pb::WatchSessionEventsRequest>,
    ) -> Result<Response<Self::WatchSessionEventsStream>, Status> {
        let after = request.get_ref().after_cursor;
        let events = self.service.watch_events(after, self.watch.clone());
        let mut draining = self.draining.clone();
        let drained = async move {
            let _ = draining.wait_for(|draining| *draining).await;
        };
        let stream = ReceiverStream::new(events)
            .map(|item| match item {
                Ok(event) => Ok(convert::event(&event)),
                Err(err) => Err(to_status(err)),
            })
            .take_until(Box::pin(drained));
        Ok(Response::new(Box::pin(stream)))
    }
}

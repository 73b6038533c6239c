//! The internal `InternalSessionsService` for the platform's other services.
//! Every RPC is one use case: its request mapped in, its answer converted out
//! (`answer`), so the handlers below differ only in what they map.

use std::{future::Future, pin::Pin};

use futures::StreamExt;
use sessions_domain::{DomainResult, User, UserEmail};
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

/// Awaits a use case and converts its answer, or its error through the table.
async fn answer<T, R>(
    outcome: impl Future<Output = DomainResult<T>>,
    into_message: impl FnOnce(T) -> R,
) -> Result<Response<R>, Status> {
    outcome
        .await
        .map(|value| Response::new(into_message(value)))
        .map_err(to_status)
}

impl InternalApi {
    /// A user use case's answer with the user's e-mail addresses, as
    /// `pb::User` shows them.
    async fn user_answer(
        &self,
        outcome: impl Future<Output = DomainResult<User>>,
    ) -> Result<Response<pb::User>, Status> {
        answer(
            async {
                let user = outcome.await?;
                let emails = self.service.user_emails(&user.id).await?;
                Ok((user, emails))
            },
            |(user, emails)| convert::user(&user, &emails),
        )
        .await
    }
}

/// Marks a response whose stream may rightly stay open for long: the
/// listener keeps such a connection from idling, and no other.
#[derive(Debug, Clone, Copy)]
pub struct LongLivedStream;

fn non_empty(value: String) -> Option<String> {
    Some(value).filter(|v| !v.is_empty())
}

fn count(items: usize) -> i32 {
    i32::try_from(items).unwrap_or(i32::MAX)
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
        let input = NewSessionInput {
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
        };
        answer(self.service.create_session(input), |s| convert::session(&s)).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "Authenticate"))]
    async fn authenticate(
        &self,
        request: Request<pb::AuthenticateRequest>,
    ) -> Result<Response<pb::AuthenticateResponse>, Status> {
        let r = request.get_ref();
        let outcome = self.service.authenticate_token(&r.user_id, &r.login_token);
        answer(outcome, |ctx| pb::AuthenticateResponse {
            // The hot path of every service's request: no e-mail lookup.
            user: Some(convert::identity(&ctx.user)),
            session: Some(convert::session(&ctx.session)),
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "RecordActivity"))]
    async fn record_activity(
        &self,
        request: Request<pb::RecordActivityRequest>,
    ) -> Result<Response<pb::RecordActivityResponse>, Status> {
        let outcome = self.service.record_activity(&request.get_ref().session_id);
        answer(outcome, |recorded| pb::RecordActivityResponse { recorded }).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "CloseConnection"))]
    async fn close_connection(
        &self,
        request: Request<pb::CloseConnectionRequest>,
    ) -> Result<Response<pb::CloseConnectionResponse>, Status> {
        let outcome = self.service.close_connection(&request.get_ref().session_id);
        answer(outcome, |()| pb::CloseConnectionResponse {}).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "LogoutUserSessions"))]
    async fn logout_user_sessions(
        &self,
        request: Request<pb::LogoutUserSessionsRequest>,
    ) -> Result<Response<pb::LogoutUserSessionsResponse>, Status> {
        let r = request.get_ref();
        let outcome = self.service.logout_user_sessions(
            &r.user_id,
            Some(r.except_session_id.as_str()),
            &r.logout_by,
        );
        answer(outcome, |ended| pb::LogoutUserSessionsResponse {
            logged_out: count(ended.len()),
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "UpsertUser"))]
    async fn upsert_user(
        &self,
        request: Request<pb::UpsertUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let r = request.into_inner();
        let input = UpsertUser {
            id: non_empty(r.id),
            username: r.username,
            name: r.name,
            roles: r.roles,
            active: r.active,
            emails: r.emails.map(|list| {
                list.emails
                    .into_iter()
                    .map(|e| UserEmail {
                        address: e.address,
                        verified: e.verified,
                    })
                    .collect()
            }),
            receive_login_emails: r.receive_login_emails,
            email_two_factor: r.email_two_factor,
        };
        self.user_answer(self.service.upsert_user(input)).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "GetUser"))]
    async fn get_user(
        &self,
        request: Request<pb::GetUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let outcome = self.service.get_user(&request.get_ref().user_id);
        self.user_answer(outcome).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "ListUsers"))]
    async fn list_users(
        &self,
        _request: Request<pb::ListUsersRequest>,
    ) -> Result<Response<pb::ListUsersResponse>, Status> {
        let listing = async {
            let mut listed = Vec::new();
            for user in self.service.list_users().await? {
                let emails = self.service.user_emails(&user.id).await?;
                listed.push(convert::user(&user, &emails));
            }
            Ok(listed)
        };
        answer(listing, |users| pb::ListUsersResponse { users }).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "DeactivateUser"))]
    async fn deactivate_user(
        &self,
        request: Request<pb::DeactivateUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let outcome = self.service.deactivate_user(&request.get_ref().user_id);
        self.user_answer(outcome).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "SetPassword"))]
    async fn set_password(
        &self,
        request: Request<pb::SetPasswordRequest>,
    ) -> Result<Response<pb::SetPasswordResponse>, Status> {
        let r = request.get_ref();
        let outcome =
            self.service
                .set_password(&r.user_id, &r.password, r.keep_session_id.as_deref());
        answer(outcome, |ended| pb::SetPasswordResponse {
            logged_out: count(ended.len()),
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "EnrollTotp"))]
    async fn enroll_totp(
        &self,
        request: Request<pb::EnrollTotpRequest>,
    ) -> Result<Response<pb::EnrollTotpResponse>, Status> {
        let r = request.get_ref();
        let outcome = self
            .service
            .enroll_totp(&r.user_id, Some(r.secret_base32.as_str()));
        answer(outcome, |enrollment| pb::EnrollTotpResponse {
            otpauth_uri: enrollment.otpauth_uri,
            backup_codes: enrollment.backup_codes,
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "DisableTotp"))]
    async fn disable_totp(
        &self,
        request: Request<pb::DisableTotpRequest>,
    ) -> Result<Response<pb::DisableTotpResponse>, Status> {
        let outcome = self.service.disable_totp(&request.get_ref().user_id);
        answer(outcome, |()| pb::DisableTotpResponse {}).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "RegenerateBackupCodes"))]
    async fn regenerate_backup_codes(
        &self,
        request: Request<pb::RegenerateBackupCodesRequest>,
    ) -> Result<Response<pb::RegenerateBackupCodesResponse>, Status> {
        let outcome = self
            .service
            .regenerate_backup_codes(&request.get_ref().user_id);
        answer(outcome, |backup_codes| pb::RegenerateBackupCodesResponse {
            backup_codes,
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "GrantPermission"))]
    async fn grant_permission(
        &self,
        request: Request<pb::PermissionChange>,
    ) -> Result<Response<pb::Permission>, Status> {
        let r = request.get_ref();
        let outcome = self.service.grant_permission(&r.permission, &r.role);
        answer(outcome, convert::permission).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "RevokePermission"))]
    async fn revoke_permission(
        &self,
        request: Request<pb::PermissionChange>,
    ) -> Result<Response<pb::Permission>, Status> {
        let r = request.get_ref();
        let outcome = self.service.revoke_permission(&r.permission, &r.role);
        answer(outcome, convert::permission).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "ListPermissions"))]
    async fn list_permissions(
        &self,
        _request: Request<pb::ListPermissionsRequest>,
    ) -> Result<Response<pb::ListPermissionsResponse>, Status> {
        answer(self.service.list_permissions(), |permissions| {
            pb::ListPermissionsResponse {
                permissions: permissions.into_iter().map(convert::permission).collect(),
            }
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "ListAuditEvents"))]
    async fn list_audit_events(
        &self,
        request: Request<pb::ListAuditEventsRequest>,
    ) -> Result<Response<pb::ListAuditEventsResponse>, Status> {
        let r = request.get_ref();
        let limit = u64::try_from(r.limit)
            .ok()
            .filter(|l| *l > 0)
            .unwrap_or(100);
        let outcome = self
            .service
            .audit_log(r.after_id, Some(r.actor_id.as_str()), limit);
        answer(outcome, |records| pb::ListAuditEventsResponse {
            events: records.iter().map(convert::audit).collect(),
        })
        .await
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
        let mut response = Response::new(Box::pin(stream) as EventStream);
        response.extensions_mut().insert(LongLivedStream);
        Ok(response)
    }
}

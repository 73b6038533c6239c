//! The one runner of the spec's order of checks (section 4): throttle, then
//! authentication, parameters, permission, second factor, the action, and the
//! audit entry. Every public use case is one call of it with its table entry.

use sessions_domain::DomainResult;

use crate::{
    AuthContext, Caller, SessionService,
    endpoints::Endpoint,
    params::{AuditTarget, Params},
};

impl SessionService {
    /// Runs an endpoint whose caller presents a login token.
    pub(crate) async fn run<P, T>(
        &self,
        endpoint: &'static Endpoint,
        caller: &Caller,
        params: Params<P>,
        action: impl AsyncFnOnce(&AuthContext, P) -> DomainResult<T>,
    ) -> DomainResult<T>
    where
        P: AuditTarget,
    {
        debug_assert!(endpoint.authenticated, "{} runs anonymously", endpoint.rpc);
        // Before authentication: token guessing is throttled too.
        self.throttle(caller, endpoint.bucket).await?;
        let ctx = self.authenticate(caller).await?;
        let target = params
            .as_ref()
            .map(AuditTarget::audit_target)
            .unwrap_or_default();
        let result = async {
            let params = params?;
            if let Some(permission) = endpoint.permission {
                self.require_permission(&ctx.user, permission).await?;
            }
            if endpoint.two_factor {
                self.require_two_factor(&ctx, caller, endpoint.two_factor_remember)
                    .await?;
            }
            action(&ctx, params).await
        }
        .await;
        if let Some(action) = endpoint.audit {
            self.audit(&ctx, caller, action, &target, &result).await;
        }
        result
    }

    /// Runs an endpoint without a token (`login`): throttle, parameters, action.
    pub(crate) async fn run_anonymous<P, T>(
        &self,
        endpoint: &'static Endpoint,
        caller: &Caller,
        params: Params<P>,
        action: impl AsyncFnOnce(P) -> DomainResult<T>,
    ) -> DomainResult<T> {
        debug_assert!(!endpoint.authenticated, "{} needs a token", endpoint.rpc);
        self.throttle(caller, endpoint.bucket).await?;
        action(params?).await
    }
}

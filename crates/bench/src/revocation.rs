//! Revocation lag: a token kept in a second replica's memory is logged out
//! through the first, and the second is asked until it refuses; the time from
//! the logout's answer to the first refusal, against the 100 ms goal.

use std::time::{Duration, Instant};

use serde::Serialize;
use sessions_proto::v1::{
    AuthenticateRequest, internal_sessions_service_client::InternalSessionsServiceClient,
};
use tonic::{Code, Request, metadata::MetadataValue};

use crate::{
    scenarios::{Clients, INTERNAL_TOKEN},
    seed::Login,
};

/// Milliseconds from a logout answered by one replica to another's refusal.
#[derive(Debug, Clone, Serialize)]
pub struct RevocationLag {
    pub samples: usize,
    pub p50_ms: f64,
    pub max_ms: f64,
}

async fn authenticate(clients: &Clients, login: &Login) -> Result<(), Code> {
    let mut request = Request::new(AuthenticateRequest {
        user_id: login.user_id.clone(),
        login_token: login.token.clone(),
    });
    if let Ok(value) = MetadataValue::try_from(format!("Bearer {INTERNAL_TOKEN}")) {
        request.metadata_mut().insert("authorization", value);
    }
    InternalSessionsServiceClient::new(clients.channels[0].clone())
        .authenticate(request)
        .await
        .map(|_| ())
        .map_err(|status| status.code())
}

/// Logs each of `logins` out through `writer` and times `reader`'s refusal.
/// The logins are spent: run this last.
pub async fn measure(
    writer: &Clients,
    reader: &Clients,
    logins: &[Login],
) -> anyhow::Result<RevocationLag> {
    let mut lags = Vec::new();
    for login in logins {
        // Twice: the second answer may come from memory.
        for _ in 0..2 {
            authenticate(reader, login)
                .await
                .map_err(|code| anyhow::anyhow!("token refused before its logout: {code:?}"))?;
        }
        let response = writer
            .http
            .post(format!("{}/api/v1/logout", writer.base))
            .header("x-user-id", &login.user_id)
            .header("x-auth-token", &login.token)
            .send()
            .await?;
        anyhow::ensure!(
            response.status().is_success(),
            "logout: {}",
            response.status()
        );
        let answered = Instant::now();
        loop {
            match authenticate(reader, login).await {
                Err(Code::Unauthenticated) => break,
                Err(code) => anyhow::bail!("the other replica answered {code:?}"),
                Ok(()) => {
                    anyhow::ensure!(
                        answered.elapsed() < Duration::from_secs(5),
                        "the other replica still accepts a token logged out 5 s ago"
                    );
                }
            }
        }
        lags.push(answered.elapsed().as_secs_f64() * 1000.0);
    }
    lags.sort_by(f64::total_cmp);
    anyhow::ensure!(!lags.is_empty(), "no login to revoke");
    Ok(RevocationLag {
        samples: lags.len(),
        p50_ms: lags[lags.len() / 2],
        max_ms: lags[lags.len() - 1],
    })
}

//! The gRPC request surface: any bytes, decoded as a public RPC's request the
//! way tonic decodes them, go through the service's own handlers on an
//! SQLite store. Every answer is a success or a documented error:
//! never a panic, never INTERNAL (a 2 MiB filter once reached SQLite and came
//! back "LIKE or GLOB pattern too complex"), and a string past its bound is
//! refused as invalid-params before it reaches storage.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use prost::Message;
use sessions_domain::SystemClock;
use sessions_grpc::{PublicApi, bounds};
use sessions_proto::v1::{
    GetSessionRequest, ListSessionsRequest, LoginRequest, LogoutRequest, LogoutSessionRequest,
    sessions_service_server::SessionsService,
};
use sessions_service::{
    ClientInfo, NewSessionInput, RandomIds, RateLimitConfig, ServiceConfig, SessionService,
    UpsertUser,
};
use sessions_store::{Store, StoreOptions};
use tonic::{Code, Request, Status};

const TOKEN: &str = "fuzz-login-token";

struct World {
    runtime: tokio::runtime::Runtime,
    api: PublicApi,
    user_id: String,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let (api, user_id) = runtime.block_on(async {
            // A file, not `:memory:`: the store opens a connection of its own
            // for writes, and each `:memory:` connection is its own database.
            let path = std::env::temp_dir().join(format!("sessions-fuzz-{}.db", std::process::id()));
            let _ = std::fs::remove_file(&path);
            let options = StoreOptions::new(format!("sqlite://{}", path.display()));
            let store = Store::connect(&options).await.expect("store");
            store.migrate().await.expect("migrations");
            let config = ServiceConfig {
                // Rate limits would answer most inputs before validation.
                rate_limit: RateLimitConfig {
                    requests: 0,
                    ..RateLimitConfig::default()
                },
                ..ServiceConfig::default()
            };
            let service = SessionService::new(
                Arc::new(store),
                Arc::new(SystemClock),
                Arc::new(RandomIds),
                config,
            );
            let user = service
                .upsert_user(UpsertUser {
                    id: None,
                    username: "fuzz".into(),
                    name: "Fuzz".into(),
                    roles: vec!["admin".into()],
                    active: true,
                })
                .await
                .expect("user");
            service
                .create_session(NewSessionInput {
                    user_id: user.id.clone(),
                    login_token: Some(TOKEN.into()),
                    client: ClientInfo::default(),
                    ..NewSessionInput::default()
                })
                .await
                .expect("session");
            (PublicApi::new(service.clone()), user.id)
        });
        World {
            runtime,
            api,
            user_id,
        }
    })
}

/// The request as tonic hands it over, with the caller's identity when asked.
fn request<T>(message: T, authenticated: bool, world: &World) -> Request<T> {
    let mut request = Request::new(message);
    if authenticated {
        let metadata = request.metadata_mut();
        metadata.insert("x-user-id", world.user_id.parse().expect("ascii id"));
        metadata.insert("x-auth-token", TOKEN.parse().expect("ascii token"));
    }
    request
}

/// Every refusal is one the error table documents; an over-bound string is
/// refused as invalid-params once the caller is known.
fn check(answer: Result<(), Status>, over_bound: bool, authenticated: bool) {
    match answer {
        Ok(()) => assert!(!over_bound, "a string past its bound was accepted"),
        Err(status) => {
            assert!(
                !matches!(status.code(), Code::Internal | Code::Unknown),
                "{status:?}"
            );
            let rendering: serde_json::Value =
                serde_json::from_slice(status.details()).expect("details carry the REST answer");
            assert!(rendering["body"]["success"] == false, "{rendering}");
            if over_bound && authenticated {
                assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let world = world();
    let api = &world.api;
    let authenticated = selector & 0x80 != 0;
    world.runtime.block_on(async {
        match selector % 6 {
            0 => {
                let Ok(message) = GetSessionRequest::decode(bytes) else { return };
                let over = bounds::message_problem(&message).is_some();
                let answer = api.get_my_session(request(message, authenticated, world)).await;
                check(answer.map(drop), over, authenticated);
            }
            1 => {
                let Ok(message) = GetSessionRequest::decode(bytes) else { return };
                let over = bounds::message_problem(&message).is_some();
                let answer = api.get_session_admin(request(message, authenticated, world)).await;
                check(answer.map(drop), over, authenticated);
            }
            2 => {
                let Ok(message) = ListSessionsRequest::decode(bytes) else { return };
                let over = bounds::message_problem(&message).is_some();
                let answer = if selector & 0x40 == 0 {
                    api.list_my_sessions(request(message, authenticated, world)).await
                } else {
                    api.list_all_sessions(request(message, authenticated, world)).await
                };
                check(answer.map(drop), over, authenticated);
            }
            3 => {
                let Ok(message) = LogoutSessionRequest::decode(bytes) else { return };
                let over = bounds::message_problem(&message).is_some();
                // Never the fuzzer's own session: later inputs need it.
                if message.session_id.is_none() && !over {
                    return;
                }
                let answer = api.logout_my_session(request(message, authenticated, world)).await;
                check(answer.map(drop), over, authenticated);
            }
            4 => {
                let Ok(message) = LoginRequest::decode(bytes) else { return };
                let over = bounds::message_problem(&message).is_some();
                // A login within bounds costs an Argon2 verification: only the
                // refusals are fast enough to fuzz.
                if !over {
                    return;
                }
                let answer = api.login(request(message, false, world)).await;
                check(answer.map(drop), over, true);
            }
            _ => {
                // Logout has no parameters; it must still decode and refuse
                // strangers.
                let Ok(message) = LogoutRequest::decode(bytes) else { return };
                let answer = api.logout(request(message, false, world)).await;
                check(answer.map(drop), false, false);
            }
        }
    });
});

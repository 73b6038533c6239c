//! Token checks from memory (spec section 11): every kind of revocation made
//! through one replica, the internal API or the CLI is refused by another
//! replica that kept the token, and a replica whose change feed was lost
//! forgets what it kept.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use sea_orm::{ConnectionTrait, Database};
use serde_json::json;
use sessions_proto::v1 as pb;
use sessions_server::cli::{self, Command, UserCommand};
use sessions_testkit::{Backend, LoggedIn, ManualClock, TestApp, TestDatabase, not_logged_in};

on_both_databases!(every_revocation_reaches_the_other_replica);

/// Generous, so loaded CI stays green; the harness measures the real lag.
const BOUND: Duration = Duration::from_secs(3);

/// Two replicas on one database, and the wall clock (the CLI reads it).
async fn replicas(backend: Backend) -> (TestApp, TestApp) {
    let database = Arc::new(TestDatabase::create(backend).await.unwrap());
    let clock = ManualClock::new(chrono::Utc::now());
    let first = TestApp::spawn_on(database.clone(), clock.clone(), |_| {}).await;
    let second = TestApp::spawn_on(database, clock, |_| {}).await;
    (first, second)
}

async fn authenticate(
    app: &TestApp,
    who: &LoggedIn,
) -> Result<pb::AuthenticateResponse, tonic::Status> {
    app.internal()
        .await
        .authenticate(pb::AuthenticateRequest {
            user_id: who.user_id.clone(),
            login_token: who.token.clone(),
        })
        .await
        .map(tonic::Response::into_inner)
}

/// The token works on `app`, twice, once its cache is trusted: the second
/// check answers from memory (an answer kept before the feed started is
/// cleared when it starts).
async fn kept(app: &TestApp, who: &LoggedIn) {
    app.until_token_cache_trusted().await;
    for _ in 0..2 {
        authenticate(app, who).await.expect("the token works");
    }
}

/// Waits until `app` refuses the token over gRPC, then checks REST refuses
/// it with the spec's 401 body too; panics after [`BOUND`].
async fn refused_within_bound(app: &TestApp, who: &LoggedIn, what: &str) {
    let started = Instant::now();
    loop {
        match authenticate(app, who).await {
            Err(status) if status.code() == tonic::Code::Unauthenticated => {
                let answer = app.get("/api/v1/me", who, &[]).await;
                assert_eq!(answer, (401, not_logged_in()), "{what}: REST");
                return;
            }
            Err(status) => panic!("{what}: {status:?}"),
            Ok(_) => assert!(
                started.elapsed() < BOUND,
                "{what}: still accepted after {BOUND:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn upsert(app: &TestApp, id: &str, roles: &[&str], active: bool) {
    app.update_user(id, |user| {
        user.roles = roles.iter().map(|r| (*r).to_owned()).collect();
        user.active = active;
    })
    .await;
}

async fn every_revocation_reaches_the_other_replica(backend: Backend) {
    let (first, second) = replicas(backend).await;
    let rod = first.create_user("rod", Some("pw"), &["user"]).await;

    // Logout of the session itself, over REST.
    let session = first.login("rod", "pw").await;
    kept(&second, &session).await;
    let (status, _) = first.post("/api/v1/logout", &session, json!({}), &[]).await;
    assert_eq!(status, 200);
    refused_within_bound(&second, &session, "logout").await;

    // Logout of one device from another.
    let (phone, laptop) = (
        first.login("rod", "pw").await,
        first.login("rod", "pw").await,
    );
    kept(&second, &phone).await;
    let (status, _) = first
        .post(
            "/api/v1/sessions/logout.me",
            &laptop,
            json!({"sessionId": phone.session_id}),
            &[],
        )
        .await;
    assert_eq!(status, 200);
    refused_within_bound(&second, &phone, "sessions/logout.me").await;

    // Every other token of the user; the caller's keeps working.
    let other = first.login("rod", "pw").await;
    kept(&second, &other).await;
    kept(&second, &laptop).await;
    let (status, _) = first
        .post("/api/v1/users.removeOtherTokens", &laptop, json!({}), &[])
        .await;
    assert_eq!(status, 200);
    refused_within_bound(&second, &other, "removeOtherTokens").await;
    authenticate(&second, &laptop)
        .await
        .expect("the caller's token stays");

    // Every token of the user.
    kept(&second, &laptop).await;
    let (status, _) = first
        .post("/api/v1/users.logout", &laptop, json!({}), &[])
        .await;
    assert_eq!(status, 200);
    refused_within_bound(&second, &laptop, "users.logout").await;

    // A role change shows in the other replica's answer.
    let session = first.login("rod", "pw").await;
    kept(&second, &session).await;
    upsert(&first, &rod, &["user", "auditor"], true).await;
    let started = Instant::now();
    loop {
        let answer = authenticate(&second, &session).await.unwrap();
        if answer.user.unwrap().roles == ["user", "auditor"] {
            break;
        }
        assert!(started.elapsed() < BOUND, "role change unseen");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Deactivation through the internal API.
    kept(&second, &session).await;
    upsert(&first, &rod, &["user"], false).await;
    refused_within_bound(&second, &session, "deactivation").await;
    upsert(&first, &rod, &["user"], true).await;

    // A password change through the internal API.
    let session = first.login("rod", "pw").await;
    kept(&second, &session).await;
    first
        .internal()
        .await
        .set_password(pb::SetPasswordRequest {
            user_id: rod.clone(),
            password: "pw2".into(),
            keep_session_id: None,
        })
        .await
        .unwrap();
    refused_within_bound(&second, &session, "password change").await;

    // A password change by the CLI, another writer with no cache of its own.
    let session = first.login("rod", "pw2").await;
    kept(&second, &session).await;
    kept(&first, &session).await;
    cli::run(
        Command::User(UserCommand::SetPassword {
            user: "rod".into(),
            password: Some("pw3".into()),
        }),
        &first.config,
        async {},
        &mut Vec::new(),
    )
    .await
    .expect("set-password succeeds");
    refused_within_bound(&second, &session, "CLI password change").await;
    refused_within_bound(&first, &session, "CLI password change").await;

    // Expiry needs no notification: every answer is checked against the clock.
    let session = first.login("rod", "pw3").await;
    kept(&second, &session).await;
    second.clock.advance(chrono::Duration::days(400));
    let refused = authenticate(&second, &session).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
}

/// A revocation the feed never carries (triggers off, written past the
/// service), then the replica's notification connection is cut: the token
/// works from memory until then, and never again once the replica has
/// reconnected, which clears what it kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_that_loses_its_notifications_forgets_what_it_kept() {
    let app = TestApp::spawn(Backend::Postgres).await;
    app.create_user("rod", Some("pw"), &["user"]).await;
    let session = app.login("rod", "pw").await;
    kept(&app, &session).await;
    let db = Database::connect(app.database.url()).await.unwrap();
    db.execute_unprepared("ALTER TABLE sessions DISABLE TRIGGER USER")
        .await
        .unwrap();
    db.execute_unprepared(&format!(
        "UPDATE sessions SET logout_at = 1 WHERE session_id = '{}'",
        session.session_id
    ))
    .await
    .unwrap();
    // Nothing told the replica: its memory still answers (once its
    // heartbeat is fresh, which a loaded machine may delay).
    let started = Instant::now();
    while authenticate(&app, &session).await.is_err() {
        assert!(started.elapsed() < BOUND, "the kept token never answered");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let cut = db
        .execute_unprepared(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND query LIKE 'LISTEN%'",
        )
        .await
        .unwrap();
    assert_eq!(cut.rows_affected(), 1, "one listening connection");
    refused_within_bound(&app, &session, "after the feed was lost").await;
    // And it stays refused once the replica listens again.
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(500) {
        assert!(authenticate(&app, &session).await.is_err());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Listening again, it keeps and answers new tokens.
    let fresh = app.login("rod", "pw").await;
    kept(&app, &fresh).await;
    let _ = db.close().await;
}

/// SQLite: a revocation written past the change log is answered from memory,
/// until the replica finds change-log rows pruned before it read them; then
/// it forgets everything it kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_replica_that_missed_changes_forgets_what_it_kept() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.create_user("rod", Some("pw"), &["user"]).await;
    let session = app.login("rod", "pw").await;
    kept(&app, &session).await;
    let db = Database::connect(app.database.url()).await.unwrap();
    db.execute_unprepared("DROP TRIGGER sessions_auth_update")
        .await
        .unwrap();
    db.execute_unprepared(&format!(
        "UPDATE sessions SET logout_at = 1 WHERE session_id = '{}'",
        session.session_id
    ))
    .await
    .unwrap();
    let started = Instant::now();
    while authenticate(&app, &session).await.is_err() {
        assert!(started.elapsed() < BOUND, "the kept token never answered");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // A change the replica never saw: written and pruned in one transaction.
    db.execute_unprepared(
        "BEGIN; INSERT INTO auth_changes (user_id, changed_at) VALUES ('someone', 0); \
         DELETE FROM auth_changes WHERE user_id = 'someone'; COMMIT;",
    )
    .await
    .unwrap();
    refused_within_bound(&app, &session, "after changes were missed").await;
    let _ = db.close().await;
}

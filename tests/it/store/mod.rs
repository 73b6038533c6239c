//! The store's repository suite: every operation of the `sessions-domain`
//! repository traits on the store's own API, run on SQLite and PostgreSQL
//! alike, so the two backends are held to one set of exact answers.

mod attempts;
mod concurrency;
mod listing;
mod mail;
mod records;
mod sessions;
mod users;

use chrono::{DateTime, Duration, TimeZone, Utc};
use sessions_domain::{
    Device, EventKind, EventRepository, EventTemplate, NewEvent, Session, SessionRepository, User,
    UserRepository,
};
use sessions_store::{Store, StoreOptions};
use sessions_testkit::{Backend, TestDatabase};

/// A migrated store on a fresh database; keep the database for the test's life.
async fn fresh(backend: Backend) -> (Store, TestDatabase) {
    let database = TestDatabase::create(backend).await.unwrap();
    let store = Store::connect(&StoreOptions::new(database.url()))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    (store, database)
}

/// A fixed instant `seconds` after a round start, whole milliseconds as stored.
fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_780_000_000 + seconds, 0).unwrap()
}

fn user(id: &str, username: &str, name: &str) -> User {
    User {
        id: id.to_owned(),
        username: username.to_owned(),
        name: name.to_owned(),
        roles: vec!["user".to_owned()],
        active: true,
        password_hash: Some(format!("hash-of-{id}")),
        totp_secret: None,
        totp_last_step: None,
        created_at: at(-1000),
    }
}

/// A session of `user_id` logged in at `login` (seconds), valid for a day,
/// its search term made by the domain's own formula.
fn session(session_id: &str, user_id: &str, login: i64) -> Session {
    let device = Device {
        kind: "browser".to_owned(),
        name: "Firefox".to_owned(),
        long_version: "125.0".to_owned(),
        os_name: "Linux".to_owned(),
        os_version: "6.1".to_owned(),
        version: "125".to_owned(),
    };
    Session {
        id: format!("{session_id:0>24}"),
        session_id: session_id.to_owned(),
        instance_id: "instance-1".to_owned(),
        login_token_hash: format!("token-of-{session_id}"),
        ip: "192.0.2.10".to_owned(),
        host: "chat.example.com".to_owned(),
        search_term: Session::search_term_for(&device, session_id, user_id),
        device,
        user_id: user_id.to_owned(),
        roles: vec!["user".to_owned()],
        most_important_role: "user".to_owned(),
        login_at: at(login),
        created_at: at(login),
        updated_at: at(login),
        last_activity_at: None,
        closed_at: None,
        logout_at: None,
        logout_by: None,
        expires_at: at(login) + Duration::days(1),
        two_factor_trust: None,
    }
}

fn event(kind: EventKind, session: &Session, seconds: i64, by: Option<&str>) -> NewEvent {
    NewEvent {
        kind,
        session_id: session.session_id.clone(),
        user_id: session.user_id.clone(),
        at: at(seconds),
        by: by.map(str::to_owned),
        instance_id: "instance-1".to_owned(),
    }
}

/// The template of a mass logout's events, as the service would make it.
fn force_logout(user_id: &str, seconds: i64, by: &str) -> EventTemplate {
    EventTemplate {
        kind: EventKind::ForceLogout,
        user_id: user_id.to_owned(),
        at: at(seconds),
        by: Some(by.to_owned()),
        instance_id: "instance-2".to_owned(),
    }
}

/// Stores the users and their sessions, each with its `created` event.
async fn seed(store: &Store, users: &[User], sessions: &[Session]) {
    for user in users {
        store.upsert_user(user).await.unwrap();
    }
    for session in sessions {
        let created = event(EventKind::Created, session, 0, None);
        store.insert_session(session, &created).await.unwrap();
    }
}

/// Every stored event, oldest first.
async fn all_events(store: &Store) -> Vec<NewEvent> {
    let events = store.events_after(0, 10_000).await.unwrap();
    events.into_iter().map(|stored| stored.event).collect()
}

/// The stored session, which must exist.
async fn stored(store: &Store, session_id: &str) -> Session {
    store
        .find_session(session_id)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("session {session_id} is stored"))
        .session
}

//! `SessionRepository` writes: storing a session with its event, the login
//! guard against a changed password, token lookups, logouts one by one and en
//! masse, password changes, 2FA trust, activity and closing.

use chrono::Duration;
use sessions_domain::{
    DomainError, EventKind, NewEvent, SessionRepository, SessionWithUser, TwoFactorTrust,
    UserSummary,
};
use sessions_testkit::Backend;

use super::{all_events, at, event, force_logout, fresh, seed, session, stored, user};

on_both_databases!(
    a_session_is_stored_with_its_event,
    a_login_is_stored_only_while_its_password_is_current,
    tokens_find_their_session_and_owner,
    one_session_logs_out_once,
    mass_logout_ends_every_active_session_but_one,
    a_password_change_ends_sessions_and_trust,
    trust_activity_and_closing,
);

async fn a_session_is_stored_with_its_event(backend: Backend) {
    let (store, _database) = fresh(backend).await;
    let hana = user("u-hana", "hana", "Hana Ito");
    let mut first = session("SESSIONAAAAAAAAA1", "u-hana", 10);
    first.last_activity_at = Some(at(11));
    first.two_factor_trust = Some(TwoFactorTrust {
        until: at(100),
        ip: "192.0.2.99".to_owned(),
        user_agent: "curl/8".to_owned(),
    });
    seed(
        &store,
        std::slice::from_ref(&hana),
        std::slice::from_ref(&first),
    )
    .await;
    assert_eq!(
        store.find_session("SESSIONAAAAAAAAA1").await.unwrap(),
        Some(SessionWithUser {
            session: first.clone(),
            user: UserSummary {
                name: "Hana Ito".to_owned(),
                username: "hana".to_owned(),
            },
        })
    );
    assert_eq!(store.find_session("SESSIONAAAAAAAAA2").await.unwrap(), None);
    // Without the owner: the same session, two-factor trust and all.
    assert_eq!(
        store
            .find_session_without_owner("SESSIONAAAAAAAAA1")
            .await
            .unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        store
            .find_session_without_owner("SESSIONAAAAAAAAA2")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        all_events(&store).await,
        vec![event(EventKind::Created, &first, 0, None)]
    );

    // A second session with the same token hash or session id is refused, and
    // leaves no event behind.
    let mut twin = session("SESSIONAAAAAAAAA2", "u-hana", 12);
    twin.login_token_hash = first.login_token_hash.clone();
    let err = store
        .insert_session(&twin, &event(EventKind::Created, &twin, 12, None))
        .await
        .unwrap_err();
    assert!(matches!(err, DomainError::Conflict(_)), "{err:?}");
    assert_eq!(store.find_session("SESSIONAAAAAAAAA2").await.unwrap(), None);
    assert_eq!(all_events(&store).await.len(), 1);
}

async fn a_login_is_stored_only_while_its_password_is_current(backend: Backend) {
    let (store, _database) = fresh(backend).await;
    seed(&store, &[user("u-ivan", "ivan", "Ivan")], &[]).await;
    let fresh_login = session("SESSIONBBBBBBBBB1", "u-ivan", 10);
    let created = event(EventKind::Created, &fresh_login, 10, None);
    assert!(
        store
            .insert_login_session(
                &fresh_login,
                &created,
                "hash-of-u-ivan",
                &Default::default()
            )
            .await
            .unwrap()
    );
    assert_eq!(stored(&store, "SESSIONBBBBBBBBB1").await, fresh_login);

    // The password changed after this login verified the old one.
    let stale = session("SESSIONBBBBBBBBB2", "u-ivan", 11);
    let stale_created = event(EventKind::Created, &stale, 11, None);
    assert!(
        !store
            .insert_login_session(&stale, &stale_created, "an older hash", &Default::default())
            .await
            .unwrap()
    );
    // A login of a user deleted meanwhile is refused the same way.
    let orphan = session("SESSIONBBBBBBBBB3", "u-nobody", 12);
    assert!(
        !store
            .insert_login_session(
                &orphan,
                &event(EventKind::Created, &orphan, 12, None),
                "hash-of-u-nobody",
                &Default::default(),
            )
            .await
            .unwrap()
    );
    assert_eq!(store.find_session("SESSIONBBBBBBBBB2").await.unwrap(), None);
    assert_eq!(store.find_session("SESSIONBBBBBBBBB3").await.unwrap(), None);
    assert_eq!(all_events(&store).await, vec![created]);
}

async fn tokens_find_their_session_and_owner(backend: Backend) {
    let (store, _database) = fresh(backend).await;
    let jana = user("u-jana", "jana", "Jana");
    let theirs = session("SESSIONCCCCCCCCC1", "u-jana", 10);
    seed(
        &store,
        std::slice::from_ref(&jana),
        std::slice::from_ref(&theirs),
    )
    .await;
    assert_eq!(
        store
            .find_login("token-of-SESSIONCCCCCCCCC1")
            .await
            .unwrap(),
        Some((theirs, jana))
    );
    assert_eq!(store.find_login("token-of-nobody").await.unwrap(), None);
    // A logged-out session is still found: whether it counts is the service's
    // call, made on the session it answers.
    store
        .logout_session(
            "SESSIONCCCCCCCCC1",
            at(20),
            "u-jana",
            &event(
                EventKind::LoggedOut,
                &session("SESSIONCCCCCCCCC1", "u-jana", 0),
                20,
                Some("u-jana"),
            ),
        )
        .await
        .unwrap();
    let (found, _) = store
        .find_login("token-of-SESSIONCCCCCCCCC1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.logout_at, Some(at(20)));
}

async fn one_session_logs_out_once(backend: Backend) {
    let (store, _database) = fresh(backend).await;
    let kofi = session("SESSIONDDDDDDDDD1", "u-kofi", 10);
    seed(
        &store,
        &[user("u-kofi", "kofi", "Kofi")],
        std::slice::from_ref(&kofi),
    )
    .await;
    let logged_out = event(EventKind::LoggedOut, &kofi, 20, Some("u-admin"));
    assert!(
        store
            .logout_session("SESSIONDDDDDDDDD1", at(20), "u-admin", &logged_out)
            .await
            .unwrap()
    );
    let again = event(EventKind::LoggedOut, &kofi, 30, Some("u-kofi"));
    assert!(
        !store
            .logout_session("SESSIONDDDDDDDDD1", at(30), "u-kofi", &again)
            .await
            .unwrap()
    );
    assert!(
        !store
            .logout_session("SESSIONDDDDDDDDD9", at(30), "u-kofi", &again)
            .await
            .unwrap()
    );
    let ended = stored(&store, "SESSIONDDDDDDDDD1").await;
    assert_eq!(ended.logout_at, Some(at(20)));
    assert_eq!(ended.logout_by.as_deref(), Some("u-admin"));
    assert_eq!(ended.updated_at, at(20));
    // The first logout's event only: a refused one appends nothing.
    assert_eq!(
        all_events(&store).await,
        vec![event(EventKind::Created, &kofi, 0, None), logged_out]
    );
}

/// The events a mass logout appends: its template's, one per ended session.
fn force_logouts(user_id: &str, seconds: i64, by: &str, ended: &[&str]) -> Vec<NewEvent> {
    ended
        .iter()
        .map(|session_id| NewEvent {
            kind: EventKind::ForceLogout,
            session_id: (*session_id).to_owned(),
            user_id: user_id.to_owned(),
            at: at(seconds),
            by: Some(by.to_owned()),
            instance_id: "instance-2".to_owned(),
        })
        .collect()
}

async fn mass_logout_ends_every_active_session_but_one(backend: Backend) {
    let (store, _database) = fresh(backend).await;
    let mut sessions = vec![
        session("SESSIONEEEEEEEEE1", "u-lena", 10),
        session("SESSIONEEEEEEEEE2", "u-lena", 11),
        session("SESSIONEEEEEEEEE3", "u-lena", 12),
        session("SESSIONEEEEEEEEE4", "u-lena", 13),
        session("SESSIONEEEEEEEEE5", "u-mateo", 14),
    ];
    // One already logged out, one expired: neither is ended again.
    sessions[2].logout_at = Some(at(5));
    sessions[2].logout_by = Some("u-lena".to_owned());
    sessions[3].expires_at = at(15);
    let users = [
        user("u-lena", "lena", "Lena"),
        user("u-mateo", "mateo", "Mateo"),
    ];
    seed(&store, &users, &sessions).await;
    let before = all_events(&store).await;

    let mut ended = store
        .logout_user_sessions(
            "u-lena",
            Some("SESSIONEEEEEEEEE1"),
            at(20),
            "u-admin",
            &force_logout("u-lena", 20, "u-admin"),
        )
        .await
        .unwrap();
    ended.sort();
    assert_eq!(ended, vec!["SESSIONEEEEEEEEE2"]);
    let kept = stored(&store, "SESSIONEEEEEEEEE1").await;
    assert_eq!(kept, sessions[0]);
    let second = stored(&store, "SESSIONEEEEEEEEE2").await;
    assert_eq!(
        (
            second.logout_at,
            second.logout_by.as_deref(),
            second.updated_at
        ),
        (Some(at(20)), Some("u-admin"), at(20))
    );
    assert_eq!(stored(&store, "SESSIONEEEEEEEEE3").await, sessions[2]);
    assert_eq!(stored(&store, "SESSIONEEEEEEEEE4").await, sessions[3]);
    assert_eq!(stored(&store, "SESSIONEEEEEEEEE5").await, sessions[4]);

    // Without a session to keep, the kept one goes too; then nothing is left.
    let ended = store
        .logout_user_sessions(
            "u-lena",
            None,
            at(30),
            "u-lena",
            &force_logout("u-lena", 30, "u-lena"),
        )
        .await
        .unwrap();
    assert_eq!(ended, vec!["SESSIONEEEEEEEEE1"]);
    let none = store
        .logout_user_sessions(
            "u-lena",
            None,
            at(40),
            "u-lena",
            &force_logout("u-lena", 40, "u-lena"),
        )
        .await
        .unwrap();
    assert!(none.is_empty(), "{none:?}");

    let mut expected = before;
    expected.extend(force_logouts(
        "u-lena",
        20,
        "u-admin",
        &["SESSIONEEEEEEEEE2"],
    ));
    expected.extend(force_logouts(
        "u-lena",
        30,
        "u-lena",
        &["SESSIONEEEEEEEEE1"],
    ));
    assert_eq!(all_events(&store).await, expected);
}

async fn a_password_change_ends_sessions_and_trust(backend: Backend) {
    let (store, _database) = fresh(backend).await;
    let trust = TwoFactorTrust {
        until: at(1000),
        ip: "192.0.2.5".to_owned(),
        user_agent: "Firefox".to_owned(),
    };
    let mut sessions = vec![
        session("SESSIONFFFFFFFFF1", "u-nadia", 10),
        session("SESSIONFFFFFFFFF2", "u-nadia", 11),
        session("SESSIONFFFFFFFFF3", "u-omar", 12),
    ];
    for s in &mut sessions {
        s.two_factor_trust = Some(trust.clone());
    }
    let users = [
        user("u-nadia", "nadia", "Nadia"),
        user("u-omar", "omar", "Omar"),
    ];
    seed(&store, &users, &sessions).await;
    use sessions_domain::AttemptRepository;
    store
        .remember_address("u-nadia", "192.0.2.5", at(5), 5)
        .await
        .unwrap();
    let before = all_events(&store).await;

    assert_eq!(
        store
            .change_password(
                "u-nobody",
                "new",
                None,
                at(20),
                &force_logout("u-nobody", 20, "u-nobody")
            )
            .await
            .unwrap(),
        None
    );
    let ended = store
        .change_password(
            "u-nadia",
            "new hash",
            Some("SESSIONFFFFFFFFF1"),
            at(20),
            &force_logout("u-nadia", 20, "u-nadia"),
        )
        .await
        .unwrap();
    assert_eq!(ended, Some(vec!["SESSIONFFFFFFFFF2".to_owned()]));
    use sessions_domain::UserRepository;
    let nadia = store.find_user("u-nadia").await.unwrap().unwrap();
    assert_eq!(nadia.password_hash.as_deref(), Some("new hash"));
    // The kept session stays logged in but must pass 2FA again.
    let kept = stored(&store, "SESSIONFFFFFFFFF1").await;
    assert_eq!(kept.logout_at, None);
    assert_eq!(kept.two_factor_trust, None);
    assert_eq!(kept.updated_at, at(20));
    let ended = stored(&store, "SESSIONFFFFFFFFF2").await;
    assert_eq!(
        (
            ended.logout_at,
            ended.logout_by.as_deref(),
            ended.two_factor_trust
        ),
        (Some(at(20)), Some("u-nadia"), None)
    );
    // Another user's session keeps its trust; the addresses are forgotten.
    assert_eq!(stored(&store, "SESSIONFFFFFFFFF3").await, sessions[2]);
    assert!(
        !store
            .is_known_address("u-nadia", "192.0.2.5", at(0))
            .await
            .unwrap()
    );

    let mut expected = before;
    expected.extend(force_logouts(
        "u-nadia",
        20,
        "u-nadia",
        &["SESSIONFFFFFFFFF2"],
    ));
    assert_eq!(all_events(&store).await, expected);
}

async fn trust_activity_and_closing(backend: Backend) {
    let (store, _database) = fresh(backend).await;
    let priya = session("SESSIONGGGGGGGGG1", "u-priya", 10);
    seed(
        &store,
        &[user("u-priya", "priya", "Priya")],
        std::slice::from_ref(&priya),
    )
    .await;

    let trust = TwoFactorTrust {
        until: at(10) + Duration::minutes(5),
        ip: "198.51.100.1".to_owned(),
        user_agent: "RC Mobile".to_owned(),
    };
    store
        .set_two_factor_trust("SESSIONGGGGGGGGG1", &trust, at(15))
        .await
        .unwrap();
    let trusted = stored(&store, "SESSIONGGGGGGGGG1").await;
    assert_eq!(
        (trusted.two_factor_trust, trusted.updated_at),
        (Some(trust), at(15))
    );

    // Activity is written when none is recorded or the last is stale enough.
    assert!(
        store
            .touch_activity("SESSIONGGGGGGGGG1", at(20), at(0))
            .await
            .unwrap()
    );
    assert!(
        !store
            .touch_activity("SESSIONGGGGGGGGG1", at(25), at(19))
            .await
            .unwrap()
    );
    assert!(
        store
            .touch_activity("SESSIONGGGGGGGGG1", at(30), at(20))
            .await
            .unwrap()
    );
    assert!(
        !store
            .touch_activity("SESSIONGGGGGGGGG9", at(30), at(20))
            .await
            .unwrap()
    );
    let touched = stored(&store, "SESSIONGGGGGGGGG1").await;
    assert_eq!(
        (touched.last_activity_at, touched.updated_at),
        (Some(at(30)), at(30))
    );

    let closed = event(EventKind::ActivityClosed, &priya, 40, None);
    assert!(
        store
            .close_session("SESSIONGGGGGGGGG1", at(40), &closed)
            .await
            .unwrap()
    );
    assert!(
        !store
            .close_session("SESSIONGGGGGGGGG9", at(40), &closed)
            .await
            .unwrap()
    );
    let after = stored(&store, "SESSIONGGGGGGGGG1").await;
    assert_eq!(
        (after.closed_at, after.updated_at, after.logout_at),
        (Some(at(40)), at(40), None)
    );
    assert_eq!(
        all_events(&store).await,
        vec![event(EventKind::Created, &priya, 0, None), closed]
    );
}

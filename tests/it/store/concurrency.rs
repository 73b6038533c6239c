//! What the store promises to do atomically, raced: each session ends once
//! however many mass logouts overlap, a backup-code replacement is all or
//! nothing, a TOTP step and a backup code are used once, and a login racing a
//! password change keeps no session the change did not see.

use futures::future::join_all;
use sessions_domain::{EventKind, SessionRepository, UserRepository};
use sessions_store::Store;
use sessions_testkit::Backend;

use super::{at, event, force_logout, fresh, seed, session, stored, user};

on_both_databases!(
    a_step_and_a_code_are_used_once_under_races,
    a_login_racing_a_password_change_keeps_no_session,
);

/// Runs `racers` copies of `race` at once, each with its index.
async fn race<T, F>(store: &Store, racers: usize, race: impl Fn(Store, usize) -> F) -> Vec<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let tasks = (0..racers).map(|i| tokio::spawn(race(store.clone(), i)));
    join_all(tasks)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect()
}

async fn a_step_and_a_code_are_used_once_under_races(backend: Backend) {
    let (store, _database) = fresh(backend).await;
    seed(&store, &[user("u-once", "once", "Once")], &[]).await;
    store
        .set_totp("u-once", Some("SECRET"), &["the-code".to_owned()])
        .await
        .unwrap();
    for step in 1..=3 {
        let claims = race(&store, 6, |store, _| async move {
            store.claim_totp_step("u-once", step).await.unwrap()
        })
        .await;
        assert_eq!(claims.iter().filter(|won| **won).count(), 1, "step {step}");
    }
    let uses = race(&store, 6, |store, _| async move {
        store
            .consume_backup_code("u-once", "the-code")
            .await
            .unwrap()
    })
    .await;
    assert_eq!(uses.iter().filter(|won| **won).count(), 1);
}

async fn a_login_racing_a_password_change_keeps_no_session(backend: Backend) {
    let (store, _database) = fresh(backend).await;
    for round in 0..10 {
        let user_id = format!("u-change{round}");
        seed(&store, &[user(&user_id, &user_id, "Change")], &[]).await;
        let login = session(&format!("CHANGE{round:02}AAAAAAAAA"), &user_id, 10);
        let created = event(EventKind::Created, &login, 10, None);
        let verified = format!("hash-of-{user_id}");
        let ended = force_logout(&user_id, 20, &user_id);
        let (stored_login, changed) = tokio::join!(
            store.insert_login_session(&login, &created, &verified),
            store.change_password(&user_id, "new hash", None, at(20), &ended),
        );
        let changed = changed.unwrap().unwrap();
        if stored_login.unwrap() {
            // Stored first: the change saw it and ended it.
            assert_eq!(changed, vec![login.session_id.clone()], "round {round}");
            assert_eq!(
                stored(&store, &login.session_id).await.logout_at,
                Some(at(20))
            );
        } else {
            assert!(changed.is_empty(), "round {round}");
            assert_eq!(store.find_session(&login.session_id).await.unwrap(), None);
        }
        assert_eq!(
            store
                .find_user(&user_id)
                .await
                .unwrap()
                .unwrap()
                .password_hash
                .as_deref(),
            Some("new hash")
        );
    }
}

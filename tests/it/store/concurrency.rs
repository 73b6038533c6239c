//! What the store promises to do atomically, raced: each session ends once
//! however many mass logouts overlap, a backup-code replacement is all or
//! nothing, a TOTP step and a backup code are used once, and a login racing a
//! password change keeps no session the change did not see.

use std::collections::BTreeMap;

use futures::future::join_all;
use sessions_domain::{EventKind, SessionRepository, UserRepository};
use sessions_store::Store;
use sessions_testkit::Backend;

use super::{all_events, at, event, force_logout, fresh, seed, session, stored, user};

on_both_databases!(
    overlapping_mass_logouts_end_each_session_once,
    racing_backup_code_replacements_leave_one_whole_set,
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

async fn overlapping_mass_logouts_end_each_session_once(backend: Backend) {
    let (store, _database) = fresh(backend).await;
    const SESSIONS: usize = 30;
    for round in 0..3 {
        let user_id = format!("u-racer{round}");
        let sessions: Vec<_> = (0..SESSIONS)
            .map(|n| session(&format!("RACE{round}AAAAAAAA{n:04}"), &user_id, n as i64))
            .collect();
        seed(&store, &[user(&user_id, &user_id, "Racer")], &sessions).await;
        let ended = race(&store, 4, |store, i| {
            let user_id = user_id.clone();
            async move {
                let by = format!("u-admin{i}");
                let template = force_logout(&user_id, 50, &by);
                store
                    .logout_user_sessions(&user_id, None, at(50), &by, &template)
                    .await
                    .unwrap()
            }
        })
        .await;
        let mut all: Vec<String> = ended.into_iter().flatten().collect();
        all.sort();
        let mut expected: Vec<String> = sessions.iter().map(|s| s.session_id.clone()).collect();
        expected.sort();
        assert_eq!(
            all, expected,
            "round {round}: every session ended by exactly one logout"
        );

        // One force-logout event per session, naming the logout that ended it.
        let mut ends: BTreeMap<String, Vec<Option<String>>> = BTreeMap::new();
        for e in all_events(&store).await {
            if e.kind == EventKind::ForceLogout && e.user_id == user_id {
                ends.entry(e.session_id).or_default().push(e.by);
            }
        }
        assert_eq!(ends.len(), SESSIONS, "round {round}");
        for (session_id, by) in &ends {
            assert_eq!(by.len(), 1, "round {round}: {session_id} ended {by:?}");
            assert_eq!(stored(&store, session_id).await.logout_by, by[0]);
        }
    }
}

async fn racing_backup_code_replacements_leave_one_whole_set(backend: Backend) {
    let (store, _database) = fresh(backend).await;
    const RACERS: usize = 4;
    const CODES: usize = 10;
    let set = |round: usize, racer: usize| -> Vec<String> {
        (0..CODES)
            .map(|n| format!("code-{round}-{racer}-{n}"))
            .collect()
    };
    for round in 0..5 {
        let user_id = format!("u-codes{round}");
        seed(&store, &[user(&user_id, &user_id, "Codes")], &[]).await;
        store
            .set_totp(&user_id, Some("SECRET"), &set(round, RACERS))
            .await
            .unwrap();
        let replaced = race(&store, RACERS, |store, racer| {
            let (user_id, codes) = (user_id.clone(), set(round, racer));
            async move { store.replace_backup_codes(&user_id, &codes).await.unwrap() }
        })
        .await;
        assert!(replaced.iter().all(|written| *written));
        // How many codes of each set (the enrolment's last) are left.
        let mut left = Vec::new();
        for racer in 0..=RACERS {
            let mut count = 0;
            for code in set(round, racer) {
                if store.consume_backup_code(&user_id, &code).await.unwrap() {
                    count += 1;
                }
            }
            left.push(count);
        }
        let whole = left.iter().filter(|count| **count == CODES).count();
        let empty = left.iter().filter(|count| **count == 0).count();
        assert_eq!(
            (whole, empty),
            (1, RACERS),
            "round {round}: codes left per set {left:?}"
        );
        assert_eq!(
            left[RACERS], 0,
            "round {round}: the enrolment's codes are gone"
        );
    }
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
        let no_extras = Default::default();
        let (stored_login, changed) = tokio::join!(
            store.insert_login_session(&login, &created, &verified, &no_extras),
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

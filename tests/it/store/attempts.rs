//! The attempt counters and known addresses on the store's own API, on both
//! databases: what a reservation counts, when a count starts again, and that
//! nothing is reserved when one counter of an attempt is full.

use std::time::Duration;

use sessions_domain::{
    AttemptCounter, AttemptKey, AttemptKind, AttemptRepository, User, UserRepository,
};
use sessions_testkit::Backend;

use super::{at, fresh as store};

on_both_databases!(
    reservations_count_block_and_start_again,
    known_addresses_keep_the_most_recent
);

fn counter(key: &AttemptKey, forget_after: Option<u64>) -> AttemptCounter {
    AttemptCounter {
        key: key.clone(),
        limit: 2,
        window: Duration::from_secs(60),
        forget_after: forget_after.map(Duration::from_secs),
    }
}

async fn reservations_count_block_and_start_again(backend: Backend) {
    let (store, _database) = store(backend).await;
    let user = AttemptKey::new(AttemptKind::LoginOfUser, "u1");
    let address = AttemptKey::new(AttemptKind::LoginFromAddress, "192.0.2.1");
    let both = [counter(&address, None), counter(&user, None)];
    assert_eq!(store.reserve_attempts(&both, at(0)).await.unwrap(), None);
    assert_eq!(store.reserve_attempts(&both, at(1)).await.unwrap(), None);
    // Full: the address is reported first, and nothing is reserved.
    assert_eq!(store.reserve_attempts(&both, at(2)).await.unwrap(), Some(0));
    // The block ends a window after the last reserved attempt (at 1 s).
    assert_eq!(
        store.reserve_attempts(&both, at(60)).await.unwrap(),
        Some(0)
    );
    assert_eq!(store.reserve_attempts(&both, at(61)).await.unwrap(), None);
    // Counting again from one: a second attempt fits, a third does not.
    assert_eq!(store.reserve_attempts(&both, at(62)).await.unwrap(), None);
    assert_eq!(
        store.reserve_attempts(&both, at(63)).await.unwrap(),
        Some(0)
    );

    // One full counter of two reserves neither.
    let other_address = AttemptKey::new(AttemptKind::LoginFromAddress, "192.0.2.2");
    let with_user = [counter(&other_address, None), counter(&user, None)];
    assert_eq!(
        store.reserve_attempts(&with_user, at(64)).await.unwrap(),
        Some(1)
    );
    store
        .clear_attempts(std::slice::from_ref(&user), true)
        .await
        .unwrap();
    let alone = [counter(&other_address, None)];
    assert_eq!(store.reserve_attempts(&alone, at(65)).await.unwrap(), None);
    assert_eq!(store.reserve_attempts(&alone, at(66)).await.unwrap(), None);
    assert_eq!(
        store.reserve_attempts(&alone, at(67)).await.unwrap(),
        Some(0)
    );

    // A released attempt is given back.
    let code = AttemptKey::new(AttemptKind::LoginCode, "u1");
    let codes = [counter(&code, Some(60))];
    assert_eq!(store.reserve_attempts(&codes, at(0)).await.unwrap(), None);
    store
        .release_attempts(std::slice::from_ref(&code))
        .await
        .unwrap();
    assert_eq!(store.reserve_attempts(&codes, at(1)).await.unwrap(), None);
    // A forgetting count below its limit starts again after its window...
    assert_eq!(store.reserve_attempts(&codes, at(70)).await.unwrap(), None);
    assert_eq!(store.reserve_attempts(&codes, at(71)).await.unwrap(), None);
    assert_eq!(
        store.reserve_attempts(&codes, at(72)).await.unwrap(),
        Some(0)
    );
    // ...where a login count below its limit waits for a clear.
    let patient = AttemptKey::new(AttemptKind::LoginOfUser, "u2");
    let patient_counter = [counter(&patient, None)];
    assert_eq!(
        store
            .reserve_attempts(&patient_counter, at(0))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .reserve_attempts(&patient_counter, at(9000))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .reserve_attempts(&patient_counter, at(9001))
            .await
            .unwrap(),
        Some(0)
    );

    // Clearing one user's counts forgets its per-address ones too.
    let at_home = AttemptKey::new(AttemptKind::LoginOfUser, "u2").at_address("198.51.100.7");
    let home = [counter(&at_home, None)];
    assert_eq!(store.reserve_attempts(&home, at(9002)).await.unwrap(), None);
    assert_eq!(store.reserve_attempts(&home, at(9003)).await.unwrap(), None);
    store
        .clear_attempts(std::slice::from_ref(&patient), true)
        .await
        .unwrap();
    assert_eq!(store.reserve_attempts(&home, at(9004)).await.unwrap(), None);
    assert_eq!(
        store
            .reserve_attempts(&patient_counter, at(9004))
            .await
            .unwrap(),
        None
    );

    // Pruning deletes idle counters only.
    let pruned = store.prune_attempts(at(9000)).await.unwrap();
    assert!(pruned >= 2, "{pruned}");
    assert_eq!(store.reserve_attempts(&home, at(9005)).await.unwrap(), None);
    assert_eq!(
        store.reserve_attempts(&home, at(9006)).await.unwrap(),
        Some(0)
    );
}

async fn known_addresses_keep_the_most_recent(backend: Backend) {
    let (store, _database) = store(backend).await;
    let user = User {
        id: "u1".into(),
        username: "u1".into(),
        name: "U".into(),
        roles: vec![],
        active: true,
        password_hash: None,
        totp_secret: None,
        totp_last_step: None,
        created_at: at(0),
    };
    store.upsert_user(&user).await.unwrap();
    for n in 0..5 {
        let address = format!("192.0.2.{n}");
        store
            .remember_address("u1", &address, at(n), 3)
            .await
            .unwrap();
    }
    let known = |n: i64| format!("192.0.2.{n}");
    for (n, expected) in [(0, false), (1, false), (2, true), (3, true), (4, true)] {
        assert_eq!(
            store
                .is_known_address("u1", &known(n), at(-1))
                .await
                .unwrap(),
            expected,
            "address {n}"
        );
    }
    // Known only since a login after `since`; a new login refreshes it.
    assert!(
        !store
            .is_known_address("u1", &known(2), at(2))
            .await
            .unwrap()
    );
    store
        .remember_address("u1", &known(2), at(10), 3)
        .await
        .unwrap();
    assert!(
        store
            .is_known_address("u1", &known(2), at(5))
            .await
            .unwrap()
    );
    assert!(
        !store
            .is_known_address("u2", &known(2), at(-1))
            .await
            .unwrap()
    );
}

//! `UserRepository`: profiles, secrets left alone by profile updates, e-mail
//! addresses, TOTP enrolment, replayed steps and single-use backup codes.

use sessions_domain::{DomainError, UserEmail, UserRepository};
use sessions_testkit::Backend;

use super::{fresh, user};

on_both_databases!(
    users_are_found_listed_and_updated,
    a_taken_username_is_a_conflict,
    e_mail_addresses_belong_to_one_user,
    totp_and_backup_codes,
    a_totp_step_is_claimed_once,
);

async fn users_are_found_listed_and_updated(backend: Backend) {
    let (store, _database) = fresh(backend).await;
    let mut bob = user("u-bob", "bob", "Bob");
    bob.totp_secret = Some("JBSWY3DPEHPK3PXP".to_owned());
    bob.totp_last_step = Some(7);
    let alice = user("u-alice", "alice", "Alice");
    store.upsert_user(&bob).await.unwrap();
    store.upsert_user(&alice).await.unwrap();

    assert_eq!(store.find_user("u-bob").await.unwrap(), Some(bob.clone()));
    assert_eq!(store.find_user("nobody").await.unwrap(), None);
    assert_eq!(
        store.find_user_by_username("alice").await.unwrap(),
        Some(alice.clone())
    );
    // Without case when no username matches exactly, as Meteor does.
    assert_eq!(
        store.find_user_by_username("ALICE").await.unwrap(),
        Some(alice.clone())
    );
    // Listed by username.
    assert_eq!(
        store.list_users().await.unwrap(),
        vec![alice.clone(), bob.clone()]
    );

    // An update replaces the profile and keeps the secrets and creation time.
    let mut renamed = bob.clone();
    renamed.username = "robert".to_owned();
    renamed.name = "Robert".to_owned();
    renamed.roles = vec!["admin".to_owned(), "user".to_owned()];
    renamed.active = false;
    renamed.password_hash = Some("another hash".to_owned());
    renamed.totp_secret = None;
    renamed.totp_last_step = None;
    renamed.created_at = super::at(5);
    store.upsert_user(&renamed).await.unwrap();
    let expected = sessions_domain::User {
        username: "robert".to_owned(),
        name: "Robert".to_owned(),
        roles: vec!["admin".to_owned(), "user".to_owned()],
        active: false,
        ..bob
    };
    assert_eq!(store.find_user("u-bob").await.unwrap(), Some(expected));
    assert_eq!(store.find_user_by_username("bob").await.unwrap(), None);

    // An exact match wins over others differing in case; without one, two
    // that differ only in case name nobody.
    let upper = user("u-alice2", "Alice", "Another Alice");
    store.upsert_user(&upper).await.unwrap();
    assert_eq!(
        store.find_user_by_username("Alice").await.unwrap(),
        Some(upper)
    );
    assert_eq!(
        store.find_user_by_username("alice").await.unwrap(),
        Some(alice)
    );
    assert_eq!(store.find_user_by_username("ALICE").await.unwrap(), None);
}

fn email(address: &str, verified: bool) -> UserEmail {
    UserEmail {
        address: address.to_owned(),
        verified,
    }
}

async fn e_mail_addresses_belong_to_one_user(backend: Backend) {
    let (store, _database) = fresh(backend).await;
    let hugo = user("u-hugo", "hugo", "Hugo");
    let emails = [
        email("hugo@example.com", true),
        email("Hugo@Work.example", false),
    ];
    store.upsert_user_with_emails(&hugo, &emails).await.unwrap();
    assert_eq!(store.find_user("u-hugo").await.unwrap(), Some(hugo.clone()));
    assert_eq!(store.user_emails("u-hugo").await.unwrap(), emails.to_vec());
    // Found without case, and only by a whole address.
    assert_eq!(
        store.find_user_by_email("hugo@WORK.example").await.unwrap(),
        Some(hugo.clone())
    );
    assert_eq!(store.find_user_by_email("hugo@work").await.unwrap(), None);

    // Another user's address, in any case, is refused with nothing written.
    let iris = user("u-iris", "iris", "Iris");
    let err = store
        .upsert_user_with_emails(&iris, &[email("HUGO@example.com", true)])
        .await
        .unwrap_err();
    assert!(matches!(err, DomainError::Conflict(_)), "{err:?}");
    assert_eq!(store.find_user("u-iris").await.unwrap(), None);
    // So is one address given twice.
    let err = store
        .upsert_user_with_emails(
            &iris,
            &[
                email("iris@example.com", true),
                email("IRIS@example.com", false),
            ],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, DomainError::Conflict(_)), "{err:?}");
    assert!(store.user_emails("u-iris").await.unwrap().is_empty());

    // Replacing the addresses frees the old ones for others.
    store
        .upsert_user_with_emails(&hugo, &[email("hugo@home.example", true)])
        .await
        .unwrap();
    store
        .upsert_user_with_emails(&iris, &[email("hugo@example.com", false)])
        .await
        .unwrap();
    assert_eq!(
        store.find_user_by_email("hugo@example.com").await.unwrap(),
        Some(iris)
    );
    assert_eq!(
        store.user_emails("u-hugo").await.unwrap(),
        vec![email("hugo@home.example", true)]
    );
}

async fn a_taken_username_is_a_conflict(backend: Backend) {
    let (store, _database) = fresh(backend).await;
    store
        .upsert_user(&user("u1", "carol", "Carol"))
        .await
        .unwrap();
    let err = store
        .upsert_user(&user("u2", "carol", "Another Carol"))
        .await
        .unwrap_err();
    assert!(matches!(err, DomainError::Conflict(_)), "{err:?}");
    assert_eq!(store.find_user("u2").await.unwrap(), None);
    // Renaming onto a taken username is refused too.
    store
        .upsert_user(&user("u3", "dave", "Dave"))
        .await
        .unwrap();
    let err = store
        .upsert_user(&user("u3", "carol", "Dave"))
        .await
        .unwrap_err();
    assert!(matches!(err, DomainError::Conflict(_)), "{err:?}");
    assert_eq!(
        store.find_user("u3").await.unwrap().unwrap().username,
        "dave"
    );
}

fn codes(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

async fn totp_and_backup_codes(backend: Backend) {
    let (store, _database) = fresh(backend).await;
    let mut erin = user("u-erin", "erin", "Erin");
    erin.totp_last_step = Some(3);
    store.upsert_user(&erin).await.unwrap();

    assert!(
        !store
            .set_totp("nobody", Some("SECRET"), &codes(&["x"]))
            .await
            .unwrap()
    );
    assert!(
        store
            .set_totp("u-erin", Some("SECRET"), &codes(&["a", "b", "c"]))
            .await
            .unwrap()
    );
    let enrolled = store.find_user("u-erin").await.unwrap().unwrap();
    assert_eq!(enrolled.totp_secret.as_deref(), Some("SECRET"));
    // A new secret forgets the steps used with the old one.
    assert_eq!(enrolled.totp_last_step, None);

    // Each code works once, and only for its owner.
    store
        .upsert_user(&user("u-frank", "frank", "Frank"))
        .await
        .unwrap();
    assert!(!store.consume_backup_code("u-frank", "a").await.unwrap());
    assert!(store.consume_backup_code("u-erin", "a").await.unwrap());
    assert!(!store.consume_backup_code("u-erin", "a").await.unwrap());
    assert!(!store.consume_backup_code("u-erin", "z").await.unwrap());

    // Replacing the codes forgets every old one.
    assert!(
        store
            .replace_backup_codes("u-erin", &codes(&["d", "e"]))
            .await
            .unwrap()
    );
    assert!(
        !store
            .replace_backup_codes("nobody", &codes(&["d"]))
            .await
            .unwrap()
    );
    assert!(!store.consume_backup_code("u-erin", "b").await.unwrap());
    assert!(store.consume_backup_code("u-erin", "d").await.unwrap());
    assert!(store.consume_backup_code("u-erin", "e").await.unwrap());

    // Disabling TOTP clears the secret and, given none, every code.
    assert!(
        store
            .replace_backup_codes("u-erin", &codes(&["f"]))
            .await
            .unwrap()
    );
    assert!(store.set_totp("u-erin", None, &[]).await.unwrap());
    let disabled = store.find_user("u-erin").await.unwrap().unwrap();
    assert_eq!(disabled.totp_secret, None);
    assert!(!store.consume_backup_code("u-erin", "f").await.unwrap());
    // The profile is untouched by all of it.
    assert_eq!(
        disabled,
        sessions_domain::User {
            totp_last_step: None,
            ..erin
        }
    );
}

async fn a_totp_step_is_claimed_once(backend: Backend) {
    let (store, _database) = fresh(backend).await;
    store
        .upsert_user(&user("u-gina", "gina", "Gina"))
        .await
        .unwrap();
    assert!(!store.claim_totp_step("nobody", 1).await.unwrap());
    assert!(store.claim_totp_step("u-gina", 10).await.unwrap());
    // The same step again, or an older one, is a replay.
    assert!(!store.claim_totp_step("u-gina", 10).await.unwrap());
    assert!(!store.claim_totp_step("u-gina", 9).await.unwrap());
    assert!(store.claim_totp_step("u-gina", 11).await.unwrap());
    assert_eq!(
        store
            .find_user("u-gina")
            .await
            .unwrap()
            .unwrap()
            .totp_last_step,
        Some(11)
    );
}

//! The outbox and its companions on both databases: claims are leases that
//! racing workers never share, outcomes count only under the current claim,
//! code mails keep no body, devices and preferences as stored.

use std::time::Duration as StdDuration;

use sessions_domain::{
    EventKind, LoginDevice, LoginExtras, MailKind, MailRepository, OutboundMail, SessionRepository,
    UserRepository,
};
use sessions_testkit::Backend;

use super::{at, event, fresh, session, user};

on_both_databases!(
    claims_are_leases_and_outcomes_need_the_current_claim,
    racing_workers_never_claim_one_message_twice,
    code_mails_keep_no_body_once_done,
    devices_and_preferences_are_remembered,
);

fn mail(id: &str, kind: MailKind, queued: i64) -> OutboundMail {
    OutboundMail {
        id: id.to_owned(),
        message_id: format!("<{id}@example.org>"),
        kind,
        to_address: "rod@example.org".to_owned(),
        to_name: "Rod".to_owned(),
        subject: "Login".to_owned(),
        text_body: "code 123456".to_owned(),
        html_body: "<p>code 123456</p>".to_owned(),
        created_at: at(queued),
    }
}

const LEASE: StdDuration = StdDuration::from_secs(60);

async fn claims_are_leases_and_outcomes_need_the_current_claim(backend: Backend) {
    let (store, _db) = fresh(backend).await;
    store
        .enqueue_mail(&mail("m1", MailKind::LoginAlert, 0))
        .await
        .unwrap();
    // Not due before it was queued.
    assert!(store.claim_mail(at(-1), LEASE, 5).await.unwrap().is_empty());
    let first = store.claim_mail(at(1), LEASE, 5).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!((first[0].mail.id.as_str(), first[0].attempts), ("m1", 1));
    // Leased: nobody else takes it until the lease ends.
    assert!(store.claim_mail(at(30), LEASE, 5).await.unwrap().is_empty());
    let second = store.claim_mail(at(62), LEASE, 5).await.unwrap();
    assert_eq!(second[0].attempts, 2);
    // The first worker's lease is over: its outcome changes nothing.
    store.mail_sent(&first[0], at(63)).await.unwrap();
    store
        .mail_not_sent(&first[0], at(63), Some(at(64)), "late")
        .await
        .unwrap();
    assert!(
        store
            .claim_mail(at(100), LEASE, 5)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.outbox_depth().await.unwrap().queued, 1);
    // The current claim's retry is due at its time, then sent once.
    store
        .mail_not_sent(&second[0], at(70), Some(at(200)), "451")
        .await
        .unwrap();
    assert!(
        store
            .claim_mail(at(199), LEASE, 5)
            .await
            .unwrap()
            .is_empty()
    );
    let third = store.claim_mail(at(200), LEASE, 5).await.unwrap();
    store.mail_sent(&third[0], at(201)).await.unwrap();
    assert!(
        store
            .claim_mail(at(1000), LEASE, 5)
            .await
            .unwrap()
            .is_empty()
    );
    let depth = store.outbox_depth().await.unwrap();
    assert_eq!((depth.queued, depth.failed), (0, 0));
    // Given up: counted as failed, never claimed again.
    store
        .enqueue_mail(&mail("m2", MailKind::LoginAlert, 0))
        .await
        .unwrap();
    let claim = store.claim_mail(at(1), LEASE, 5).await.unwrap();
    store
        .mail_not_sent(&claim[0], at(2), None, "554")
        .await
        .unwrap();
    assert!(
        store
            .claim_mail(at(5000), LEASE, 5)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.outbox_depth().await.unwrap().failed, 1);
}

async fn racing_workers_never_claim_one_message_twice(backend: Backend) {
    let (store, _db) = fresh(backend).await;
    for n in 0..30 {
        store
            .enqueue_mail(&mail(&format!("m{n:02}"), MailKind::LoginAlert, 0))
            .await
            .unwrap();
    }
    let workers = (0..6).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            let mut mine = Vec::new();
            while let Some(claim) = store.claim_mail(at(1), LEASE, 1).await.unwrap().pop() {
                mine.push(claim.mail.id);
            }
            mine
        })
    });
    let mut claimed: Vec<String> = Vec::new();
    for worker in workers {
        claimed.extend(worker.await.unwrap());
    }
    claimed.sort();
    let before = claimed.len();
    claimed.dedup();
    assert_eq!((before, claimed.len()), (30, 30));
}

fn device_again() -> LoginDevice {
    LoginDevice {
        device_key: "chrome|windows".to_owned(),
        address: "203.0.113.7".to_owned(),
    }
}

/// The bodies of a message as stored, read past the store's API.
async fn stored_bodies(url: &str, id: &str) -> (String, String) {
    use sea_orm::{ConnectionTrait, Database, Statement};
    let db = Database::connect(url).await.unwrap();
    let backend = db.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Postgres => "SELECT text_body, html_body FROM outbox WHERE id = $1",
        _ => "SELECT text_body, html_body FROM outbox WHERE id = ?",
    };
    let row = db
        .query_one_raw(Statement::from_sql_and_values(backend, sql, [id.into()]))
        .await
        .unwrap()
        .unwrap();
    (
        row.try_get("", "text_body").unwrap(),
        row.try_get("", "html_body").unwrap(),
    )
}

async fn code_mails_keep_no_body_once_done(backend: Backend) {
    let (store, db) = fresh(backend).await;
    for (id, kind) in [
        ("code", MailKind::TwoFactorCode),
        ("alert", MailKind::LoginAlert),
        ("code2", MailKind::TwoFactorCode),
    ] {
        store.enqueue_mail(&mail(id, kind, 0)).await.unwrap();
    }
    let empty = (String::new(), String::new());
    let kept = ("code 123456".to_owned(), "<p>code 123456</p>".to_owned());
    for claim in store.claim_mail(at(1), LEASE, 2).await.unwrap() {
        store.mail_sent(&claim, at(2)).await.unwrap();
    }
    assert_eq!(stored_bodies(db.url(), "code").await, empty);
    // Only codes are erased: an alert is no key to anything.
    assert_eq!(stored_bodies(db.url(), "alert").await, kept);
    // A retry keeps the code, which must still be sent; giving up erases it.
    let claim = store.claim_mail(at(3), LEASE, 5).await.unwrap();
    assert_eq!(claim[0].mail.id, "code2");
    store
        .mail_not_sent(&claim[0], at(4), Some(at(5)), "451")
        .await
        .unwrap();
    assert_eq!(stored_bodies(db.url(), "code2").await, kept);
    let retry = store.claim_mail(at(5), LEASE, 5).await.unwrap();
    store
        .mail_not_sent(&retry[0], at(6), None, "554")
        .await
        .unwrap();
    assert_eq!(stored_bodies(db.url(), "code2").await, empty);
}

async fn devices_and_preferences_are_remembered(backend: Backend) {
    let (store, _db) = fresh(backend).await;
    store
        .upsert_user(&user("u-rod", "rod", "Rod"))
        .await
        .unwrap();
    let device = LoginDevice {
        device_key: "chrome|windows".to_owned(),
        address: "203.0.113.7".to_owned(),
    };
    assert!(
        !store
            .is_known_device("u-rod", &device, at(0))
            .await
            .unwrap()
    );
    // A login remembers its device in the session's transaction, with its alert.
    let login = session("SESSIONDDDDDDDDD1", "u-rod", 100);
    let extras = LoginExtras {
        mail: Some(mail("alert", MailKind::LoginAlert, 100)),
        device: Some(device.clone()),
    };
    assert!(
        store
            .insert_login_session(
                &login,
                &event(EventKind::Created, &login, 100, None),
                "hash-of-u-rod",
                &extras,
            )
            .await
            .unwrap()
    );
    assert!(
        store
            .is_known_device("u-rod", &device, at(100))
            .await
            .unwrap()
    );
    assert!(
        !store
            .is_known_device("u-rod", &device, at(101))
            .await
            .unwrap()
    );
    let elsewhere = LoginDevice {
        address: "198.51.100.1".to_owned(),
        ..device.clone()
    };
    assert!(
        !store
            .is_known_device("u-rod", &elsewhere, at(0))
            .await
            .unwrap()
    );
    assert_eq!(store.outbox_depth().await.unwrap().queued, 1);
    // Devices unseen since the cut are forgotten; queued mail stays.
    assert_eq!(store.prune_mail(at(0), at(100)).await.unwrap(), 0);
    assert_eq!(store.prune_mail(at(0), at(101)).await.unwrap(), 1);
    assert!(
        !store
            .is_known_device("u-rod", &device_again(), at(0))
            .await
            .unwrap()
    );
    assert_eq!(store.outbox_depth().await.unwrap().queued, 1);

    assert_eq!(store.login_email_preference("u-rod").await.unwrap(), None);
    assert!(
        store
            .set_login_email_preference("u-rod", false)
            .await
            .unwrap()
    );
    assert_eq!(
        store.login_email_preference("u-rod").await.unwrap(),
        Some(false)
    );
    assert!(
        store
            .set_login_email_preference("u-rod", true)
            .await
            .unwrap()
    );
    assert_eq!(
        store.login_email_preference("u-rod").await.unwrap(),
        Some(true)
    );
    assert!(
        !store
            .set_login_email_preference("u-nobody", true)
            .await
            .unwrap()
    );
}

//! Login alerts over real SMTP (spec section 10): composed as Rocket.Chat's
//! device-management mail, queued with the session, sent by the outbox worker
//! to a real SMTP server on loopback; SMTP down, the `new-device` policy, the
//! user's preference, header injection and two replicas sharing one queue.

use std::{
    collections::BTreeSet,
    sync::Arc,
    time::{Duration, Instant},
};

use serde_json::json;
use sessions_proto::v1 as pb;
use sessions_server::config::PolicySetting;
use sessions_testkit::{Backend, ManualClock, SinkOptions, SmtpSink, TestApp, TestDatabase};

on_both_databases!(
    a_login_is_mailed_as_rocket_chat_mails_it,
    smtp_down_never_slows_a_login_and_mail_follows_once,
    new_device_policy_mails_only_unseen_devices,
    a_user_who_opted_out_gets_no_alert,
    crafted_names_and_agents_add_no_header_and_no_markup,
);

const WAIT: Duration = Duration::from_secs(20);

async fn app_mailing_to(
    backend: Backend,
    sink: &SmtpSink,
    adjust: impl FnOnce(&mut sessions_server::Config),
) -> TestApp {
    let url = sink.url();
    TestApp::spawn_with(backend, move |c| {
        c.mail.smtp_url = Some(url);
        c.mail.from = "Chat <no-reply@chat.example.org>".into();
        c.mail.site_name = "Example Chat".into();
        c.mail.poll_interval_ms = 50;
        c.mail.retry_base_secs = 1;
        c.sessions.site_url = "https://chat.example.org".into();
        adjust(c);
    })
    .await
}

async fn user_with_email(app: &TestApp, username: &str, name: &str) -> String {
    let id = app.create_user(username, Some("pw"), &["user"]).await;
    app.set_emails(&id, &[(&format!("{username}@example.org"), true)])
        .await;
    if name != format!("{username} name") {
        let mut internal = app.internal().await;
        internal
            .upsert_user(pb::UpsertUserRequest {
                id: id.clone(),
                username: username.into(),
                name: name.into(),
                roles: vec!["user".into()],
                active: true,
                emails: None,
                receive_login_emails: None,
                email_two_factor: None,
            })
            .await
            .unwrap();
    }
    id
}

async fn login_from(app: &TestApp, username: &str, user_agent: &str) -> u16 {
    app.http
        .post(app.url("/api/v1/login"))
        .header("user-agent", user_agent)
        .json(&json!({"user": username, "password": "pw"}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn a_login_is_mailed_as_rocket_chat_mails_it(backend: Backend) {
    let sink = SmtpSink::start(SinkOptions::default()).await;
    let app = app_mailing_to(backend, &sink, |_| {}).await;
    user_with_email(&app, "rod", "Rod Smith").await;
    app.login("rod", "pw").await;
    let mails = sink.wait_for(1, WAIT).await;
    let mail = &mails[0];
    assert_eq!(mail.recipients(), vec!["rod@example.org"]);
    assert_eq!(
        mail.subject.as_deref(),
        Some("Example Chat - Login Detected")
    );
    let to = mail.header("to").unwrap();
    assert!(
        to.contains("Rod Smith") && to.contains("<rod@example.org>"),
        "{to}"
    );
    assert!(
        mail.header("from")
            .unwrap()
            .contains("no-reply@chat.example.org")
    );
    let message_id = mail.message_id.clone().unwrap();
    assert!(message_id.ends_with("@chat.example.org>"), "{message_id}");
    let html = mail.html.clone().unwrap();
    for expected in [
        "Rod Smith (rod) logged in via",
        "<strong>Client:</strong> Chrome 113.0.0.0",
        "<strong>OS:</strong> Windows",
        "<strong>IP:</strong>127.0.0.1",
        "March 1, 2026 12:00 PM UTC",
        "Windows NT 10.0; Win64; x64",
        "href=\"https://chat.example.org\"",
    ] {
        assert!(html.contains(expected), "{expected} in {html}");
    }
    let text = mail.text.clone().unwrap();
    assert!(text.contains("Rod Smith (rod) logged in via"), "{text}");
    // A resume is no login: no second mail.
    let rod = app.login("rod", "pw").await;
    let resumed = app
        .post_tokenless("/api/v1/login", &json!({"resume": rod.token}))
        .await;
    assert_eq!(resumed.0, 200);
    assert_eq!(
        app.outbox_drained(WAIT).await.len(),
        2,
        "no row for the resume"
    );
    assert_eq!(sink.received().len(), 2);
}

async fn smtp_down_never_slows_a_login_and_mail_follows_once(backend: Backend) {
    let mut sink = SmtpSink::start(SinkOptions::default()).await;
    let app = app_mailing_to(backend, &sink, |_| {}).await;
    user_with_email(&app, "rod", "Rod").await;
    sink.stop();
    for _ in 0..5 {
        let started = Instant::now();
        app.login("rod", "pw").await;
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "a login waited {:?} for SMTP",
            started.elapsed()
        );
    }
    // The worker has tried and failed meanwhile; the mail waits in the outbox.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    sink.restart().await;
    let mails = sink.wait_for(5, WAIT).await;
    // Nothing twice once sent, even with retries on the way: every row is
    // marked sent, so no worker will pick one up again.
    let rows = app.outbox_drained(WAIT).await;
    assert!(rows.iter().all(|r| r.sent), "{rows:?}");
    let ids: Vec<String> = sink
        .received()
        .iter()
        .map(|m| m.message_id.clone().unwrap())
        .collect();
    let distinct: BTreeSet<&String> = ids.iter().collect();
    assert_eq!((ids.len(), distinct.len()), (5, 5), "{ids:?}");
    assert!(
        mails
            .iter()
            .all(|m| m.recipients() == vec!["rod@example.org"])
    );
}

async fn new_device_policy_mails_only_unseen_devices(backend: Backend) {
    let sink = SmtpSink::start(SinkOptions::default()).await;
    let app = app_mailing_to(backend, &sink, |c| {
        c.mail.login_email_policy = PolicySetting::NewDevice;
    })
    .await;
    user_with_email(&app, "rod", "Rod").await;
    let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0";
    assert_eq!(
        login_from(&app, "rod", sessions_testkit::CHROME_UA).await,
        200
    );
    sink.wait_for(1, WAIT).await;
    // The same browser from the same address: known, no mail; a newer
    // version of it is the same device.
    assert_eq!(
        login_from(&app, "rod", sessions_testkit::CHROME_UA).await,
        200
    );
    let newer = sessions_testkit::CHROME_UA.replace("Chrome/113", "Chrome/114");
    assert_eq!(login_from(&app, "rod", &newer).await, 200);
    assert_eq!(app.outbox().await.len(), 1, "known devices queue nothing");
    // Another browser is a new device.
    assert_eq!(login_from(&app, "rod", firefox).await, 200);
    let mails = sink.wait_for(2, WAIT).await;
    assert!(mails[1].html.as_deref().unwrap().contains("Firefox"));
    // Past the period, the first device is new again.
    app.clock.advance(chrono::Duration::days(31));
    assert_eq!(
        login_from(&app, "rod", sessions_testkit::CHROME_UA).await,
        200
    );
    sink.wait_for(3, WAIT).await;
}

async fn a_user_who_opted_out_gets_no_alert(backend: Backend) {
    let sink = SmtpSink::start(SinkOptions::default()).await;
    let app = app_mailing_to(backend, &sink, |_| {}).await;
    let id = user_with_email(&app, "rod", "Rod").await;
    user_with_email(&app, "kim", "Kim").await;
    let user = app
        .internal()
        .await
        .get_user(pb::GetUserRequest {
            user_id: id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    app.internal()
        .await
        .upsert_user(pb::UpsertUserRequest {
            id,
            username: user.username,
            name: user.name,
            roles: user.roles,
            active: true,
            emails: None,
            receive_login_emails: Some(false),
            email_two_factor: None,
        })
        .await
        .unwrap();
    app.login("rod", "pw").await;
    app.login("kim", "pw").await;
    let mails = sink.wait_for(1, WAIT).await;
    let queued = app.outbox().await;
    assert_eq!(queued.len(), 1, "nothing queued for rod: {queued:?}");
    assert_eq!(mails[0].recipients(), vec!["kim@example.org"]);
}

async fn crafted_names_and_agents_add_no_header_and_no_markup(backend: Backend) {
    let sink = SmtpSink::start(SinkOptions::default()).await;
    let app = app_mailing_to(backend, &sink, |c| {
        // A subject template that repeats what the client controls.
        c.mail.login_email_subject = "[Site_Name] - [name] via [browserInfo]".into();
    })
    .await;
    user_with_email(&app, "eve", "Eve\r\nBcc: victim@example.org").await;
    let agent = "<script>alert(1)</script> Evil/1.0";
    assert_eq!(login_from(&app, "eve", agent).await, 200);
    let mails = sink.wait_for(1, WAIT).await;
    let mail = &mails[0];
    assert_eq!(mail.recipients(), vec!["eve@example.org"]);
    assert!(mail.header("bcc").is_none(), "{}", mail.raw);
    // The header block, up to the first empty line, has no Bcc line.
    let head = mail.raw.split("\r\n\r\n").next().unwrap().to_lowercase();
    assert!(!head.contains("\nbcc:"), "{head}");
    let html = mail.html.clone().unwrap();
    assert!(!html.contains("<script>"), "{html}");
    assert!(html.contains("&lt;script&gt;"), "{html}");
}

/// Two replicas on one PostgreSQL database share the outbox: every alert is
/// delivered once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_deliver_each_message_once() {
    let sink = SmtpSink::start(SinkOptions::default()).await;
    let database = Arc::new(TestDatabase::create(Backend::Postgres).await.unwrap());
    let clock = ManualClock::starting_at_default();
    let url = sink.url();
    let replica = |url: String| {
        move |c: &mut sessions_server::Config| {
            c.mail.smtp_url = Some(url);
            c.mail.poll_interval_ms = 20;
        }
    };
    let first = TestApp::spawn_on(database.clone(), clock.clone(), replica(url.clone())).await;
    let second = TestApp::spawn_on(database, clock, replica(url)).await;
    user_with_email(&first, "rod", "Rod").await;
    for n in 0..20 {
        let app = if n % 2 == 0 { &first } else { &second };
        app.login("rod", "pw").await;
    }
    sink.wait_for(20, WAIT).await;
    let rows = first.outbox_drained(WAIT).await;
    assert!(rows.iter().all(|r| r.sent), "{rows:?}");
    let ids: Vec<String> = sink
        .received()
        .iter()
        .map(|m| m.message_id.clone().unwrap())
        .collect();
    let distinct: BTreeSet<&String> = ids.iter().collect();
    assert_eq!((ids.len(), distinct.len()), (20, 20));
}

/// A worker killed in the middle of a send (SIGKILL of a real `sessionsd`
/// while the SMTP server holds its reply): the lease runs out, another replica
/// sends the message again with the same `Message-ID`, and only once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_send_causes_at_most_one_duplicate() {
    let sink = SmtpSink::start(SinkOptions {
        delay: Duration::from_secs(3),
        ..SinkOptions::default()
    })
    .await;
    let database = Arc::new(TestDatabase::create(Backend::Postgres).await.unwrap());
    let clock = ManualClock::starting_at_default();
    // Without SMTP: it sets up the user and sends nothing.
    let setup = TestApp::spawn_on(database.clone(), clock.clone(), |_| {}).await;
    user_with_email(&setup, "rod", "Rod").await;
    let mail_env = |url: String| {
        vec![
            ("SESSIONS_DATABASE_URL", database.url().to_owned()),
            ("SESSIONS_SMTP_URL", url),
            ("SESSIONS_MAIL_POLL_INTERVAL_MS", "20".to_owned()),
            // A send outlasts the sink's delay; the lease outlasts a send.
            ("SESSIONS_MAIL_SEND_TIMEOUT_SECS", "5".to_owned()),
            ("SESSIONS_MAIL_LEASE_SECS", "6".to_owned()),
        ]
    };
    let doomed = crate::binary::Sessionsd::serve(&mail_env(sink.url()));
    let login = setup
        .http
        .post(doomed.url("/api/v1/login"))
        .json(&json!({"user": "rod", "password": "pw"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status().as_u16(), 200);
    // Its worker has claimed the alert and waits for the delayed reply.
    tokio::time::sleep(Duration::from_millis(700)).await;
    doomed.kill();
    let url = sink.url();
    let survivor = TestApp::spawn_on(database.clone(), clock, move |c| {
        c.mail.smtp_url = Some(url);
        c.mail.poll_interval_ms = 20;
        c.mail.send_timeout_secs = 5;
        c.mail.lease_secs = 6;
    })
    .await;
    let started = Instant::now();
    while sink.attempts().len() < 2 && started.elapsed() < WAIT {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let attempts = sink.attempts();
    let ids: BTreeSet<String> = attempts
        .iter()
        .map(|m| m.message_id.clone().unwrap())
        .collect();
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert_eq!(ids.len(), 1, "one message, sent at most twice: {ids:?}");
    // The killed worker hung up before the reply; the other one was answered.
    assert!(attempts[0].disconnected_before_reply);
    assert!(attempts[1].accepted && !attempts[1].disconnected_before_reply);
    drop(survivor);
}

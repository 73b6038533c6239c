//! The operator commands of `sessionsd`, run against a test database.

use sessions_server::{
    Config,
    cli::{self, AddUser, Command, EmailArgs, UserCommand},
};
use sessions_testkit::{Backend, TestApp};

async fn run(config: &Config, command: Command) -> String {
    let mut out = Vec::new();
    cli::run(command, config, async {}, &mut out)
        .await
        .expect("command succeeds");
    String::from_utf8(out).unwrap()
}

on_both_databases!(operators_manage_users_from_the_binary);

async fn operators_manage_users_from_the_binary(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let config = app.config.clone();
    let added = run(
        &config,
        Command::User(UserCommand::Add(AddUser {
            username: "ops".into(),
            name: "Ops Person".into(),
            password: Some("pw".into()),
            roles: vec!["admin".into(), "user".into()],
            totp_secret: Some("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ".into()),
            emails: EmailArgs {
                unverified: vec![],
                verified: vec![],
            },
        })),
    )
    .await;
    let user_id = added.lines().last().unwrap().to_owned();
    assert_eq!(user_id.len(), 17, "{added}");
    assert!(
        added.contains("otpauth://totp/Sessions:ops?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"),
        "{added}"
    );

    let listed = run(&config, Command::User(UserCommand::List)).await;
    assert!(
        listed.starts_with(&format!("{user_id}\tops\tOps Person\tadmin,user\tactive\t")),
        "{listed}"
    );

    // The new user can log in with password and TOTP.
    let code = app.totp_code(b"12345678901234567890", 0);
    let response = app
        .http
        .post(app.url("/api/v1/login"))
        .json(&serde_json::json!({"user": "ops", "password": "pw", "code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);

    run(
        &config,
        Command::User(UserCommand::SetPassword {
            user: "ops".into(),
            password: Some("new".into()),
        }),
    )
    .await;
    run(
        &config,
        Command::User(UserCommand::DisableTotp {
            user: user_id.clone(),
        }),
    )
    .await;
    app.login("ops", "new").await;
    let deactivated = run(
        &config,
        Command::User(UserCommand::Deactivate { user: "ops".into() }),
    )
    .await;
    assert_eq!(deactivated.trim(), format!("{user_id} deactivated"));
    let listed = run(&config, Command::User(UserCommand::List)).await;
    assert!(listed.contains("\tinactive\t"), "{listed}");
}

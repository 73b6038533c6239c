//! `sessions/info` shows the device Rocket.Chat stores, for a few of the checked-in
//! vectors of `tests/devices/` (the parser's parity test covers all of them).

use serde_json::Value;
use sessions_testkit::{Backend, TestApp};

on_both_databases!(info_shows_rocket_chats_device_for_real_user_agents);

/// One of each shape: a Mac (type `""`), a named OS without a version (key left out),
/// a smart TV, a console, a crawler named after its browser, another Electron app,
/// and the mobile app without its OS version.
const AGENTS: &[&str] = &[
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/26.5.2 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Rocket.Chat/3.9.15 Chrome/114.0.5735.289 Electron/25.9.8 Safari/537.36",
    "Mozilla/5.0 (SMART-TV; Linux; Tizen 2.3) AppleWebkit/538.1 (KHTML, like Gecko) SamsungBrowser/1.0 TV Safari/538.1",
    "Mozilla/5.0 (PlayStation 4 3.00) AppleWebKit/537.73 (KHTML, like Gecko)",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36 CybaaBot",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Slack/4.36.140 Chrome/120.0.6099.56 Electron/28.0.0 Safari/537.36 Sonic Slack_SSB/4.36.140",
    "RC Mobile; ios; v4.49.2 (60183)",
    "curl/8.5.0",
];

fn vector(ua: &str) -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/devices/vectors.json");
    let vectors: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    vectors["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["ua"] == ua)
        .unwrap_or_else(|| panic!("{ua:?} is not a vector"))["device"]
        .clone()
}

async fn info_shows_rocket_chats_device_for_real_user_agents(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_user("rod", Some("pw"), &["user"]).await;
    for ua in AGENTS {
        let rod = app.login_as("rod", "pw", ua).await;
        let path = format!("/api/v1/sessions/info?sessionId={}", rod.session_id);
        let (status, body) = app.get(&path, &rod, &[]).await;
        assert_eq!(status, 200, "{ua}");
        assert_eq!(body["device"], vector(ua), "{ua}");
    }
}

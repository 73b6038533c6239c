//! User-Agent parsing: any header (or internal-API string) gives a device of a
//! known type whose `version` is Rocket.Chat's short form of `long_version`.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use regex::Regex;
use sessions_service::device::parse_device;

const KINDS: &[&str] = &[
    "browser",
    "mobile",
    "tablet",
    "smarttv",
    "console",
    "wearable",
    "embedded",
    // A device model of no known form factor (a Mac), as Rocket.Chat records it.
    "",
    "other",
    "mobile-app",
    "desktop-app",
];

/// Rocket.Chat's `(\d+\.){0,2}\d+`, ASCII digits as in JavaScript.
fn short_version() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"([0-9]+\.){0,2}[0-9]+").expect("regex"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(user_agent) = std::str::from_utf8(data) else {
        return;
    };
    let device = parse_device(user_agent);
    assert!(KINDS.contains(&device.kind.as_str()), "{device:?}");
    let expected = short_version()
        .find(&device.long_version)
        .map(|m| m.as_str())
        .unwrap_or_default();
    assert_eq!(device.version, expected, "{device:?}");
});

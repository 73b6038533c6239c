//! Device of a session from its User-Agent, recorded as Rocket.Chat records it (spec
//! section 6): uap-core's maintained regexes, their answers mapped onto ua-parser-js's
//! names and form factors, and Rocket.Chat's own rules for its mobile and desktop apps.

mod form;
mod names;
#[cfg(test)]
mod parity;

use std::sync::OnceLock;

use regex::Regex;
use sessions_domain::Device;
use ua_parser::{Extractor, Regexes};

static EXTRACTOR: OnceLock<Option<Extractor<'static>>> = OnceLock::new();
static VERSION: OnceLock<Regex> = OnceLock::new();
static DESKTOP_APP: OnceLock<Regex> = OnceLock::new();

/// ua-parser-js reads only this many UTF-16 units of a User-Agent.
const PARSED_LENGTH: usize = 500;

/// Compiles the uap-core regexes; takes a moment, so the server calls it once at
/// start-up rather than on the first login.
pub fn warm_up() {
    let _ = extractor();
}

fn extractor() -> Option<&'static Extractor<'static>> {
    EXTRACTOR
        .get_or_init(|| {
            let regexes: Regexes<'static> =
                match serde_yaml::from_str(include_str!("../data/regexes.yaml")) {
                    Ok(regexes) => regexes,
                    Err(err) => {
                        tracing::error!(error = %err, "user-agent regexes do not parse");
                        return None;
                    }
                };
            match Extractor::try_from(regexes) {
                Ok(extractor) => Some(extractor),
                Err(err) => {
                    tracing::error!(error = %err, "user-agent regexes do not compile");
                    None
                }
            }
        })
        .as_ref()
}

/// First `(\d+\.){0,2}\d+` of a long version, as Rocket.Chat derives `version`.
fn short_version(long_version: &str) -> String {
    // `[0-9]`, not `\d`: JavaScript's `\d` is ASCII, Rust's matches every
    // Unicode digit (`v1` and U+0663 gave both digits; Rocket.Chat keeps `1`).
    let regex = VERSION.get_or_init(|| Regex::new(r"([0-9]+\.){0,2}[0-9]+").expect("static regex"));
    regex
        .find(long_version)
        .map(|m| m.as_str().to_owned())
        .unwrap_or_default()
}

pub fn parse_device(user_agent: &str) -> Device {
    let mut device = if let Some(device) = rocket_chat_mobile(user_agent) {
        device
    } else if user_agent.contains(" Electron/") {
        desktop_app(user_agent)
    } else {
        web_client(user_agent)
    };
    device.version = short_version(&device.long_version);
    device
}

/// The default of Rocket.Chat's record: what an unknown User-Agent gets.
fn other() -> Device {
    Device {
        kind: "other".to_owned(),
        ..Device::default()
    }
}

/// Browsers and everything else that is not one of Rocket.Chat's apps.
fn web_client(user_agent: &str) -> Device {
    let mut device = other();
    let Some(extractor) = extractor() else {
        return device;
    };
    let user_agent = js_prefix(user_agent, PARSED_LENGTH);
    let (browser, os, hardware) = extractor.extract(user_agent);
    if let Some((name, version)) = names::browser(browser.as_ref(), user_agent) {
        device.kind = "browser".to_owned();
        device.name = name;
        device.long_version = version;
    }
    (device.os_name, device.os_version) = names::os(os.as_ref(), user_agent);
    let hardware = hardware.map(|h| h.device.into_owned()).unwrap_or_default();
    if let Some(kind) = form::factor(user_agent, &hardware) {
        device.kind = kind.to_owned();
    }
    device
}

/// Any Electron shell (` Electron/`, with its space, as Rocket.Chat tests it) is the
/// desktop app: its OS, no browser, and a name only when `Rocket.Chat/x.y` is there.
fn desktop_app(user_agent: &str) -> Device {
    let mut device = Device {
        kind: "desktop-app".to_owned(),
        ..Device::default()
    };
    let user_agent_read = js_prefix(user_agent, PARSED_LENGTH);
    let os = extractor().and_then(|e| e.os.extract(user_agent_read));
    (device.os_name, device.os_version) = names::os(os.as_ref(), user_agent_read);
    let regex = DESKTOP_APP
        .get_or_init(|| Regex::new(r"Rocket\.Chat/([0-9]+(?:\.[0-9]+)+)").expect("static regex"));
    if let Some(version) = regex.captures(user_agent).and_then(|c| c.get(1)) {
        device.name = "Rocket.Chat".to_owned();
        device.long_version = version.as_str().to_owned();
    }
    device
}

/// `RC Mobile; ios 17.5.1; v4.49.2 (60183)`: the Rocket.Chat mobile app. Rocket.Chat
/// reads the parts by position (the OS, then the app), each trimmed and split on
/// single spaces, and keeps the name part untrimmed.
fn rocket_chat_mobile(user_agent: &str) -> Option<Device> {
    let mut parts = user_agent.split(';');
    let name = parts.next()?;
    if name.trim() != "RC Mobile" {
        return None;
    }
    let mut device = Device {
        kind: "mobile-app".to_owned(),
        name: name.to_owned(),
        ..Device::default()
    };
    if let Some(os) = parts.next() {
        let mut words = os.trim().split(' ');
        device.os_name = words.next().unwrap_or_default().to_owned();
        device.os_version = words.next().unwrap_or_default().to_owned();
    }
    if let Some(app) = parts.next() {
        let mut words = app.trim().split(' ');
        let version = words.next().unwrap_or_default();
        let version = version.strip_prefix('v').unwrap_or(version);
        let bundle: String = words
            .next()
            .unwrap_or_default()
            .chars()
            .filter(|c| !matches!(c, '(' | ')'))
            .collect();
        device.long_version = if bundle.is_empty() {
            version.to_owned()
        } else {
            format!("{version} {bundle}")
        };
    }
    Some(device)
}

/// The longest prefix of at most `units` UTF-16 code units: JavaScript's `substring`.
fn js_prefix(text: &str, units: usize) -> &str {
    let mut used = 0;
    for (at, c) in text.char_indices() {
        used += c.len_utf16();
        if used > units {
            return &text[..at];
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(kind: &str, name: &str, long: &str, os: (&str, &str), version: &str) -> Device {
        Device {
            kind: kind.into(),
            name: name.into(),
            long_version: long.into(),
            os_name: os.0.into(),
            os_version: os.1.into(),
            version: version.into(),
        }
    }

    #[test]
    fn chrome_113_on_windows_10() {
        let ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/113.0.0.0 Safari/537.36";
        assert_eq!(
            parse_device(ua),
            device(
                "browser",
                "Chrome",
                "113.0.0.0",
                ("Windows", "10"),
                "113.0.0"
            )
        );
    }

    #[test]
    fn rocket_chat_mobile_app() {
        assert_eq!(
            parse_device("RC Mobile; iOS 12.2; v3.4.0 (250)"),
            device(
                "mobile-app",
                "RC Mobile",
                "3.4.0 250",
                ("iOS", "12.2"),
                "3.4.0"
            )
        );
        // Positional, as Rocket.Chat reads it: a missing OS part shifts the app.
        assert_eq!(
            parse_device("RC Mobile; v4.49.2 (60183)"),
            device("mobile-app", "RC Mobile", "", ("v4.49.2", "(60183)"), "")
        );
    }

    #[test]
    fn rocket_chat_desktop_app() {
        let ua = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Rocket.Chat/3.9.4 Chrome/108.0.5359.215 Electron/22.3.1 Safari/537.36";
        assert_eq!(
            parse_device(ua),
            device(
                "desktop-app",
                "Rocket.Chat",
                "3.9.4",
                ("Linux", ""),
                "3.9.4"
            )
        );
        let slack = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Slack/4.36.140 Chrome/120.0.6099.56 Electron/28.0.0 Safari/537.36";
        assert_eq!(
            parse_device(slack),
            device("desktop-app", "", "", ("Mac OS", "10.15.7"), "")
        );
    }

    #[test]
    fn phones_tablets_and_macs_take_their_type() {
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 16_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.5 Mobile/15E148 Safari/604.1";
        let parsed = parse_device(iphone);
        assert_eq!(
            (parsed.kind.as_str(), parsed.os_name.as_str()),
            ("mobile", "iOS")
        );
        let ipad = "Mozilla/5.0 (iPad; CPU OS 16_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.5 Mobile/15E148 Safari/604.1";
        assert_eq!(parse_device(ipad).kind, "tablet");
        let mac = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15";
        assert_eq!(
            parse_device(mac),
            device("", "Safari", "17.5", ("Mac OS", "10.15.7"), "17.5")
        );
    }

    /// Caught by the `properties` below: versions are ASCII digits only.
    #[test]
    fn versions_take_ascii_digits_only() {
        let parsed = parse_device("RC Mobile; ios; v1\u{663}");
        assert_eq!(parsed.long_version, "1\u{663}");
        assert_eq!(parsed.version, "1");
        assert_eq!(short_version("\u{663}.\u{664}"), "");
    }

    #[test]
    fn unknown_agents_are_other_with_empty_strings() {
        assert_eq!(parse_device(""), device("other", "", "", ("", ""), ""));
        assert_eq!(parse_device("???"), device("other", "", "", ("", ""), ""));
    }

    #[test]
    fn only_the_first_500_utf16_units_are_parsed() {
        assert_eq!(js_prefix("abc", 2), "ab");
        assert_eq!(js_prefix("a\u{1F600}b", 2), "a");
        assert_eq!(js_prefix("a\u{1F600}b", 3), "a\u{1F600}");
    }
}

/// Any User-Agent, browser-like or hostile: a device of a known type whose
/// `version` is Rocket.Chat's short form of `long_version`.
#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    const KINDS: &[&str] = &[
        "browser",
        "mobile",
        "tablet",
        "smarttv",
        "console",
        "wearable",
        "embedded",
        "",
        "other",
        "mobile-app",
        "desktop-app",
    ];

    /// Pieces of real User-Agents and of Rocket.Chat's app formats.
    const FRAGMENTS: &[&str] = &[
        "Mozilla/5.0 (",
        "Windows NT 10.0; Win64; x64",
        "iPhone; CPU iPhone OS 16_5 like Mac OS X",
        "Linux; Android 13; Pixel 7",
        "Macintosh; Intel Mac OS X 10_15_7",
        ") AppleWebKit/537.36 (KHTML, like Gecko) ",
        "Chrome/113.0.0.0 ",
        "Firefox/114.0",
        "Mobile",
        "Tablet",
        "SMART-TV",
        "Xbox",
        " Electron/22.3.1 ",
        "Rocket.Chat/",
        "RC Mobile",
        "; ",
        "v3.4.0 (250)",
        "v",
        "1",
        "\u{663}",
        ".",
        " ",
    ];

    fn user_agent() -> impl Strategy<Value = String> {
        prop_oneof![
            "\\PC{0,64}",
            proptest::collection::vec(proptest::sample::select(FRAGMENTS), 0..10)
                .prop_map(|parts| parts.concat()),
            // The mobile app's format, whose version is free text after `v`.
            "RC Mobile; [A-Za-z]{0,6} [0-9.]{0,4}; v[0-9][0-9.\\x{660}-\\x{669} ()]{0,8}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        #[test]
        fn any_user_agent_gives_a_device_with_a_short_version(ua in user_agent()) {
            let device = parse_device(&ua);
            prop_assert!(KINDS.contains(&device.kind.as_str()), "{device:?}");
            if device.version.is_empty() {
                prop_assert!(!device.long_version.contains(|c: char| c.is_ascii_digit()));
            } else {
                let shape = Regex::new(r"^([0-9]+\.){0,2}[0-9]+$").unwrap();
                prop_assert!(shape.is_match(&device.version), "{device:?}");
                prop_assert!(device.long_version.contains(&device.version), "{device:?}");
                // The first such run: `1.2.3.4` gives `1.2.3`, never `2.3.4`.
                let start = device.long_version.find(|c: char| c.is_ascii_digit());
                prop_assert_eq!(start, device.long_version.find(&device.version));
            }
        }
    }
}

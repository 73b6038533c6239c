//! Device of a session from its User-Agent (spec section 6), with uap-core's
//! maintained regexes and Rocket.Chat's own mobile and desktop app formats.

use std::sync::OnceLock;

use regex::Regex;
use sessions_domain::Device;
use ua_parser::{Extractor, Regexes};

static EXTRACTOR: OnceLock<Option<Extractor<'static>>> = OnceLock::new();
static VERSION: OnceLock<Regex> = OnceLock::new();
static DESKTOP_APP: OnceLock<Regex> = OnceLock::new();

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

fn join_version<'a>(parts: impl IntoIterator<Item = Option<&'a str>>) -> String {
    parts
        .into_iter()
        .map_while(|part| part.filter(|p| !p.is_empty()))
        .collect::<Vec<_>>()
        .join(".")
}

pub fn parse_device(user_agent: &str) -> Device {
    if let Some(device) = rocket_chat_mobile(user_agent) {
        return device;
    }
    let mut device = Device {
        kind: "other".to_owned(),
        ..Device::default()
    };
    if let Some(extractor) = extractor() {
        let (browser, os, hardware) = extractor.extract(user_agent);
        if let Some(browser) = browser.filter(|b| b.family != "Other") {
            device.kind = "browser".to_owned();
            device.name = browser.family.to_string();
            device.long_version = join_version([
                browser.major,
                browser.minor,
                browser.patch,
                browser.patch_minor,
            ]);
        }
        if let Some(os) = os.filter(|os| os.os != "Other") {
            device.os_name = os.os.to_string();
            device.os_version = join_version([
                os.major.as_deref(),
                os.minor.as_deref(),
                os.patch.as_deref(),
                os.patch_minor.as_deref(),
            ]);
        }
        let hardware = hardware.map(|h| h.device.to_string()).unwrap_or_default();
        if let Some(kind) = form_factor(user_agent, &hardware) {
            device.kind = kind.to_owned();
        }
    }
    if let Some(version) = rocket_chat_desktop_version(user_agent) {
        device.kind = "desktop-app".to_owned();
        device.name = "Rocket.Chat".to_owned();
        device.long_version = version;
    }
    device.version = short_version(&device.long_version);
    device
}

/// `mobile` or `tablet` when the hardware is one; uap-core names devices, not
/// form factors, so the usual User-Agent conventions decide.
fn form_factor(user_agent: &str, hardware: &str) -> Option<&'static str> {
    let tablet = hardware == "iPad"
        || hardware.contains("Tablet")
        || user_agent.contains("Tablet")
        || (user_agent.contains("Android") && !user_agent.contains("Mobile"));
    let mobile = [
        "iPhone",
        "iPod",
        "Generic Smartphone",
        "Generic Feature Phone",
    ]
    .contains(&hardware)
        || user_agent.contains("Mobi");
    if tablet {
        Some("tablet")
    } else if mobile {
        Some("mobile")
    } else {
        None
    }
}

/// `RC Mobile; iOS 12.2; v3.4.0 (250)`: the Rocket.Chat mobile app.
fn rocket_chat_mobile(user_agent: &str) -> Option<Device> {
    let mut parts = user_agent.split(';').map(str::trim);
    if parts.next()? != "RC Mobile" {
        return None;
    }
    let mut device = Device {
        kind: "mobile-app".to_owned(),
        name: "RC Mobile".to_owned(),
        ..Device::default()
    };
    for part in parts {
        if let Some(app) = part
            .strip_prefix('v')
            .filter(|v| v.starts_with(|c: char| c.is_ascii_digit()))
        {
            let mut words = app.split_whitespace();
            let version = words.next().unwrap_or_default();
            let bundle = words
                .next()
                .map(|b| b.trim_matches(|c| c == '(' || c == ')'))
                .filter(|b| !b.is_empty());
            device.long_version = match bundle {
                Some(bundle) => format!("{version} {bundle}"),
                None => version.to_owned(),
            };
        } else if let Some((name, version)) = part.rsplit_once(' ') {
            device.os_name = name.to_owned();
            device.os_version = version.to_owned();
        } else if !part.is_empty() {
            device.os_name = part.to_owned();
        }
    }
    device.version = short_version(&device.long_version);
    Some(device)
}

/// The Rocket.Chat desktop app is Electron with `Rocket.Chat/x.y.z` in its UA.
fn rocket_chat_desktop_version(user_agent: &str) -> Option<String> {
    if !user_agent.contains("Electron/") {
        return None;
    }
    let regex = DESKTOP_APP
        .get_or_init(|| Regex::new(r"Rocket\.Chat/([0-9][0-9A-Za-z.\-]*)").expect("static regex"));
    regex
        .captures(user_agent)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_owned())
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
    }

    #[test]
    fn rocket_chat_desktop_app() {
        let ua = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Rocket.Chat/3.9.4 Chrome/108.0.5359.215 Electron/22.3.1 Safari/537.36";
        let parsed = parse_device(ua);
        assert_eq!(parsed.kind, "desktop-app");
        assert_eq!(parsed.name, "Rocket.Chat");
        assert_eq!(parsed.long_version, "3.9.4");
        assert_eq!(parsed.version, "3.9.4");
        assert_eq!(parsed.os_name, "Linux");
    }

    #[test]
    fn phones_and_tablets_take_their_type() {
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 16_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.5 Mobile/15E148 Safari/604.1";
        let parsed = parse_device(iphone);
        assert_eq!(
            (parsed.kind.as_str(), parsed.os_name.as_str()),
            ("mobile", "iOS")
        );
        let ipad = "Mozilla/5.0 (iPad; CPU OS 16_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.5 Mobile/15E148 Safari/604.1";
        assert_eq!(parse_device(ipad).kind, "tablet");
    }

    /// Caught by the `properties` below: versions are ASCII digits only.
    #[test]
    fn versions_take_ascii_digits_only() {
        let parsed = parse_device("RC Mobile; v1\u{663}");
        assert_eq!(parsed.long_version, "1\u{663}");
        assert_eq!(parsed.version, "1");
        assert_eq!(short_version("\u{663}.\u{664}"), "");
    }

    #[test]
    fn unknown_agents_are_other_with_empty_strings() {
        assert_eq!(parse_device(""), device("other", "", "", ("", ""), ""));
        assert_eq!(parse_device("???"), device("other", "", "", ("", ""), ""));
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
        ") AppleWebKit/537.36 (KHTML, like Gecko) ",
        "Chrome/113.0.0.0 ",
        "Firefox/114.0",
        "Mobile",
        "Tablet",
        "Electron/22.3.1 ",
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

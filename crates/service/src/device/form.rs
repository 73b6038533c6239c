//! The form factor Rocket.Chat records as `type`: uap-core names hardware, not form
//! factors, so the User-Agent's own tokens decide, in ua-parser-js's vocabulary.

/// Tokens of each form factor, checked in this order: a console or a TV often also
/// says `Mobile` or `Android`, so those come last.
const FACTORS: &[(&str, &[&str])] = &[
    (
        "smarttv",
        &[
            "SMART-TV",
            "SmartTV",
            "Smart-TV",
            "SMARTTV",
            "HbbTV/1.1.1 (",
            "HbbTV/1.2.1 (",
            "Android TV",
            "GoogleTV",
            "AppleTV",
            "CrKey",
            "Roku",
            "BRAVIA",
            "NetCast",
            "Web0S",
            "AQUOS-TV",
            "MiTV",
            "TV Safari",
            "NETTV",
            "Opera TV",
            "; AFT",
            "_TV",
        ],
    ),
    (
        "console",
        &[
            "PlayStation",
            "Playstation",
            "Xbox",
            "Nintendo",
            "SHIELD",
            "OUYA",
        ],
    ),
    (
        "wearable",
        &["Watch", "Glass", "Quest", "PICO", "SM-R8", "SM-R9", "SM-L3"],
    ),
    ("embedded", &["HomePod", "Tesla", "Windows IoT", "AEOBC"]),
];

/// `Some(type)` when the User-Agent names a device; `Some("")` for a device model of
/// no known form factor (a Mac), as Rocket.Chat records it; `None` for no device.
pub(super) fn factor(ua: &str, hardware: &str) -> Option<&'static str> {
    let has = |token: &str| ua.contains(token);
    if let Some((kind, _)) = FACTORS
        .iter()
        .find(|(_, tokens)| tokens.iter().any(|t| has(t)))
    {
        return Some(kind);
    }
    if has("Macintosh") {
        return Some("");
    }
    // Tablet lines whose User-Agents say `Mobile` all the same.
    let tablet_model = ["Lenovo TB", "Lenovo YT", "Kobo ", "Archos"]
        .iter()
        .any(|t| has(t));
    if hardware == "iPad" || has("Tablet") || has("(iPad") || tablet_model {
        return Some("tablet");
    }
    if hardware == "iPhone" || hardware == "iPod" || has("(iPhone") || has("(iPod") {
        return Some("mobile");
    }
    // Firefox Reality names no device.
    if has("Mobile VR;") {
        return None;
    }
    if has("Android") {
        // A browser on Android without `Mobile` is a tablet; an app's HTTP stack
        // (Dalvik, okhttp) names the phone model only.
        let browser = has("Safari") || has("Gecko");
        return Some(if browser && !has("Mobile") {
            "tablet"
        } else {
            "mobile"
        });
    }
    if has("Mobile Safari")
        || mobile_word(ua)
        || has("Windows Phone")
        || has("Symbian")
        || has("Series40")
        || has("BlackBerry")
    {
        return Some("mobile");
    }
    None
}

/// `mobile` as a word of its own, in any case (`(Mobile; rv:14.0)`, `rc mobile;`),
/// not inside another (`Mobileish`).
fn mobile_word(ua: &str) -> bool {
    let lower = ua.to_ascii_lowercase();
    lower.match_indices("mobile").any(|(at, word)| {
        let before = lower[..at].chars().next_back();
        let after = lower[at + word.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_alphanumeric())
            && !after.is_some_and(|c| c.is_ascii_alphanumeric())
    })
}

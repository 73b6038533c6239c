//! uap-core's browser and OS families renamed to what ua-parser-js (so Rocket.Chat)
//! calls them, with versions as written; a family it does not know is named after a
//! browser token it carries, or left unnamed.

use ua_parser::{os, user_agent};

/// uap-core family -> ua-parser-js name, for the browsers ua-parser-js names. Anything
/// else (crawlers, HTTP libraries, apps) gets a name only from a browser token it
/// carries (`underlying`): Rocket.Chat records a crawler with `Chrome/` as Chrome.
const BROWSERS: &[(&str, &str)] = &[
    ("360 Browser", "360"),
    ("Android", "Android Browser"),
    ("Baidu Browser", "Baidu"),
    ("Brave", "Brave"),
    ("Chrome", "Chrome"),
    ("Chrome Mobile", "Chrome"),
    ("Chrome Mobile iOS", "Chrome"),
    ("Chrome Mobile WebView", "Chrome WebView"),
    ("Chromium", "Chromium"),
    ("Coc Coc", "Coc Coc"),
    ("DuckDuckGo Mobile", "DuckDuckGo"),
    ("Edge", "Edge"),
    ("Edge Mobile", "Edge"),
    ("Epiphany", "Epiphany"),
    ("Facebook", "Facebook"),
    ("Fennec", "Fennec"),
    ("Firefox", "Firefox"),
    ("Firefox Mobile", "Firefox"),
    ("Firefox iOS", "Firefox"),
    ("Firefox Focus", "Firefox Focus"),
    ("Firefox Reality", "Firefox Reality"),
    ("Google", "GSA"),
    ("HeadlessChrome", "Chrome Headless"),
    ("Huawei Browser", "Huawei Browser"),
    ("IE", "IE"),
    ("IE Mobile", "IEMobile"),
    ("Instagram", "Instagram"),
    ("KakaoTalk", "KAKAOTALK"),
    ("Klarna", "Klarna"),
    ("Konqueror", "Konqueror"),
    ("LINE", "Line"),
    ("LibreWolf", "LibreWolf"),
    ("Links", "Links"),
    ("Lynx", "Lynx"),
    ("Midori", "Midori"),
    ("Mobile Safari", "Mobile Safari"),
    ("Mobile Safari UI/WKWebView", "WebKit"),
    ("NAVER", "NAVER"),
    ("NetFront", "NetFront"),
    ("Nokia Browser", "NokiaBrowser"),
    ("Oculus Browser", "Oculus Browser"),
    ("Opera", "Opera"),
    ("Opera Coast", "Opera Coast"),
    ("Opera GX", "Opera GX"),
    ("Opera Mini", "Opera Mini"),
    ("Opera Mobile", "Opera"),
    ("Opera Touch", "Opera Touch"),
    ("Ovi Browser", "OviBrowser"),
    ("Pale Moon", "PaleMoon"),
    ("Puffin", "Puffin"),
    ("QQ Browser", "QQBrowser"),
    ("QQ Browser Mobile", "QQBrowser"),
    ("Quark", "Quark"),
    ("Safari", "Safari"),
    ("Samsung Internet", "Samsung Internet"),
    ("SeaMonkey", "SeaMonkey"),
    ("Silk", "Silk"),
    ("Snapchat", "Snapchat"),
    ("Sogou Explorer", "Sogou Explorer"),
    ("TikTok", "TikTok"),
    ("Twitter", "Twitter"),
    ("UC Browser", "UCBrowser"),
    ("Vivaldi", "Vivaldi"),
    ("Vivo Browser", "Vivo Browser"),
    ("WeChat", "WeChat"),
    ("Whale", "Whale"),
    ("Yandex Browser", "Yandex"),
    ("w3m", "w3m"),
];

/// uap-core OS family -> ua-parser-js name, where they differ.
const SYSTEMS: &[(&str, &str)] = &[
    ("Mac OS X", "Mac OS"),
    ("Chrome OS", "Chromium OS"),
    ("Windows Phone", "Windows Phone"),
    ("Linux Mint", "Mint"),
    ("Red Hat", "Red Hat"),
    ("Chromecast Linux", "Chromecast"),
    ("Web0S", "webOS"),
    ("Nokia Series 40", "Series40"),
    ("Symbian OS", "Symbian"),
    ("KaiOS", "KAIOS"),
    ("Arch Linux", "Arch"),
];

/// Consoles ua-parser-js reports as the OS: the brand and the model word after it.
const CONSOLES: &[&str] = &[
    "PlayStation ",
    "Playstation ",
    "Nintendo ",
    "Windows NT 10.0; Win64; x64; Xbox; Xbox ",
];

fn join_version<'a>(parts: impl IntoIterator<Item = Option<&'a str>>) -> String {
    parts
        .into_iter()
        .map_while(|part| part.filter(|p| !p.is_empty()))
        .collect::<Vec<_>>()
        .join(".")
}

fn is_version_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

/// The version text after `token` (`Version/`, `AppleWebKit/`), as written: a
/// build suffix after `-` stays (`Silk/1.1.0-84`), a trailing `-` does not.
fn after(ua: &str, token: &str) -> Option<String> {
    let at = ua.find(token)? + token.len();
    let rest = &ua[at..];
    let end = rest
        .find(|c| !(is_version_char(c) || c == '-'))
        .unwrap_or(rest.len());
    let version = rest[..end].trim_end_matches('-');
    Some(version.to_owned()).filter(|v| !v.is_empty())
}

/// ua-parser-js reports a version as the UA writes it (`133.0.0.0`, `15.0a2`) where
/// uap-core splits it into at most four numeric parts: find the written form that
/// starts with uap-core's first two parts, else keep uap-core's.
fn as_written(ua: &str, parts: [Option<&str>; 4]) -> String {
    let joined = join_version(parts);
    let Some(major) = parts[0].filter(|m| !m.is_empty()) else {
        return joined;
    };
    let head = join_version([parts[0], parts[1]]);
    // The longest: `Mozilla/5.0` must not pass for Konqueror's `5.0.97`.
    ua.match_indices(major)
        .filter(|(at, _)| !ua[..*at].ends_with(|c: char| c.is_ascii_digit() || c == '.'))
        .map(|(at, _)| {
            let rest = &ua[at..];
            &rest[..rest.find(|c| !is_version_char(c)).unwrap_or(rest.len())]
        })
        .filter(|written| written.starts_with(&head))
        .max_by_key(|written| written.len())
        .map_or(joined, str::to_owned)
}

/// Apps and browsers (in the order they must be tried) that uap-core files under the engine they embed (Chrome,
/// WebView, Safari) while ua-parser-js names them; the version follows the token.
const APP_TOKENS: &[(&str, &str)] = &[
    ("baiduboxapp/", "Baidu"),
    ("BIDUBrowser/", "Baidu"),
    ("BDSpark/", "Baidu"),
    ("Cobalt/", "Cobalt"),
    ("Ddg/", "DuckDuckGo"),
    ("Focus/", "Firefox Focus"),
    ("Klarna/", "Klarna"),
    ("KAKAOTALK ", "KAKAOTALK"),
    ("LibreWolf/", "LibreWolf"),
    ("MicroMessenger/", "WeChat"),
    ("NetFront/", "NetFront"),
    ("app_version/", "TikTok"),
    // Pico's browser also writes Oculus's token, after its own.
    ("PicoBrowser/", "Pico Browser"),
    ("OculusBrowser/", "Oculus Browser"),
    ("QihooBrowser/", "360"),
    ("QQ/", "QQBrowser"),
    ("Quark/", "Quark"),
    ("SLBrowser/", "Smart Lenovo Browser"),
    ("Tesla/", "Tesla"),
    ("Silk/", "Silk"),
    ("VivoBrowser/", "Vivo Browser"),
];

/// A name and version decided by the User-Agent's own tokens where uap-core's family
/// and ua-parser-js's disagree; `None` leaves the family table to decide.
fn by_token(family: &str, ua: &str) -> Option<(&'static str, Option<String>)> {
    let has = |token: &str| ua.contains(token);
    if let Some((token, name)) = APP_TOKENS.iter().find(|(token, _)| has(token)) {
        // TikTok writes its version only as `app_version/`, beside `musical_ly`.
        if *name != "TikTok" || has("musical_ly") {
            let version = after(ua, token);
            // Cobalt's build tag (`11.0-qa`) is not part of its version.
            let version = match *name {
                "Cobalt" => version.map(|v| v.split('-').next().unwrap_or_default().to_owned()),
                _ => version,
            };
            return Some((name, version));
        }
    }
    if has("Mobile VR;") && has("Firefox/") {
        return Some(("Firefox Reality", after(ua, "Firefox/")));
    }
    if has("QIHU 360") {
        return Some(("360", None));
    }
    // The car's own browser writes no version.
    if has("QtCarBrowser") {
        return Some(("Tesla", Some(String::new())));
    }
    if has("OPR/") && !family.starts_with("Opera") {
        return Some(("Opera", after(ua, "OPR/")));
    }
    // Edge on Android and iOS says `EdgA/`, `EdgiOS/` or `Edg/`; uap-core reads Chrome.
    for token in ["EdgA/", "EdgiOS/", "Edg/", "Edge/"] {
        if has(token) && family.starts_with("Chrome") {
            return Some(("Edge", after(ua, token)));
        }
    }
    // Android's stock WebView writes `Version/4.0 ... Chrome/`; ua-parser-js calls it
    // the Android Browser unless the WebView marker `wv)` is there.
    let webview = matches!(family, "Chrome Mobile WebView" | "Google");
    if webview && has("Android") && !has("wv)") && has("Version/") {
        return Some(("Android Browser", after(ua, "Version/")));
    }
    None
}

/// A family ua-parser-js does not know (a crawler, a monitor, a reader app) that
/// still carries a browser's token: ua-parser-js names that browser.
fn underlying(ua: &str) -> Option<(String, String)> {
    if ua.starts_with("Opera/") {
        let version = after(ua, "Version/").or_else(|| after(ua, "Opera/"));
        return Some(("Opera".to_owned(), version.unwrap_or_default()));
    }
    const TOKENS: &[(&str, &str)] = &[
        ("HeadlessChrome/", "Chrome Headless"),
        ("Chrome/", "Chrome"),
        ("Firefox/", "Firefox"),
        ("w3m/", "w3m"),
        ("Links (", "Links"),
    ];
    if let Some(found) = TOKENS
        .iter()
        .find_map(|(token, name)| after(ua, token).map(|version| ((*name).to_owned(), version)))
    {
        return Some(found);
    }
    // WebKit with a `Safari` word is Safari, of the `Version/` if any (Symbian, TVs).
    if ua.contains("AppleWebKit/") && ua.contains("Safari") {
        return Some((
            "Safari".to_owned(),
            after(ua, "Version/").unwrap_or_default(),
        ));
    }
    after(ua, "AppleWebKit/").map(|version| ("WebKit".to_owned(), version))
}

/// The browser's name and version as ua-parser-js reports them, if it names one.
pub(super) fn browser(
    browser: Option<&user_agent::ValueRef<'_>>,
    ua: &str,
) -> Option<(String, String)> {
    let family = browser.map_or("", |b| b.family.as_ref());
    let parts = browser.map_or([None; 4], |b| [b.major, b.minor, b.patch, b.patch_minor]);
    if let Some((name, version)) = by_token(family, ua) {
        let version = version.unwrap_or_else(|| as_written(ua, parts));
        return Some((name.to_owned(), version));
    }
    let Some(browser) = browser else {
        return underlying(ua);
    };
    let Some(name) = BROWSERS
        .iter()
        .find(|(family, _)| *family == browser.family)
        .map(|(_, name)| *name)
    else {
        return underlying(ua);
    };
    // These name the engine or the shell; their version is the one after the token
    // ua-parser-js reads (`Version/` beside Safari, `AppleWebKit/` for WebKit).
    let version = match name {
        "Android Browser" if !ua.contains("Safari") => return None,
        // A `Safari/` token outside WebKit is some library's, not a browser.
        "Safari" | "Mobile Safari" if !ua.contains("AppleWebKit") => return None,
        // Without `Version/`, a `Safari/` token is another browser's (Chrome/126).
        "Safari" if !ua.contains("Version/") && ua.contains("Chrome/") => return underlying(ua),
        "Android Browser" | "Safari" | "Mobile Safari" => after(ua, "Version/"),
        "WebKit" => Some(after(ua, "AppleWebKit/")?),
        _ => None,
    };
    let version = version.unwrap_or_else(|| as_written(ua, parts));
    Some((name.to_owned(), version))
}

/// `PlayStation 4 3.00` -> `("PlayStation", "4")`, `Nintendo WiiU` -> `("Nintendo", "WiiU")`.
fn console(ua: &str) -> Option<(String, String)> {
    CONSOLES.iter().find_map(|brand| {
        let at = ua.find(brand)? + brand.len();
        let model: String = ua[at..]
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect();
        let name = brand
            .trim_end()
            .rsplit([' ', ';'])
            .next()
            .unwrap_or_default();
        Some((name.to_owned(), model)).filter(|(_, model)| !model.is_empty())
    })
}

/// ua-parser-js reads the word after `Linux ` as its version when it is a CPU it
/// does not skip (`Linux i686`, `Linux mips`), never for `x86_64` or `armv7l`.
fn linux_version(ua: &str) -> String {
    let Some(at) = ua.find("Linux ") else {
        return String::new();
    };
    let word: String = ua[at + "Linux ".len()..]
        .chars()
        .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '.')
        .collect();
    let follows = ua[at + "Linux ".len() + word.len()..].chars().next();
    let skipped = word.starts_with("x86") || word.starts_with("arm") || word.is_empty();
    if skipped || !matches!(follows, Some(';' | ')' | ' ')) {
        String::new()
    } else {
        word
    }
}

/// The TV platforms ua-parser-js names from their own tokens.
fn tv_system(ua: &str) -> Option<(String, String)> {
    if ua.contains("NETRANGE") {
        return Some(("NETRANGE".to_owned(), String::new()));
    }
    if let Some(version) = after(ua, "NETTV/") {
        return Some(("NETTV".to_owned(), version));
    }
    if ua.contains("VIERA") {
        return Some(("VIERA".to_owned(), String::new()));
    }
    None
}

/// The OS's name and version, `("", "")` when uap-core knows none.
pub(super) fn os(os: Option<&os::ValueRef<'_>>, ua: &str) -> (String, String) {
    if let Some(console) = console(ua) {
        return console;
    }
    if let Some(tv) = tv_system(ua) {
        return tv;
    }
    if ua.contains("(Windows Phone;") {
        return ("Windows Phone".to_owned(), String::new());
    }
    if let Some(version) = ua
        .find("Windows IoT ")
        .and_then(|at| after(&ua[at..], "IoT "))
    {
        return ("Windows IoT".to_owned(), version);
    }
    let Some(os) = os else {
        return (String::new(), String::new());
    };
    // uap-core reads an HbbTV vendor (`Philips`, `Samsung`) or Apple TV's shell as the
    // OS; ua-parser-js sees only the Linux underneath, if written.
    let tv_vendor = ua.contains("HbbTV") && !matches!(os.os.as_ref(), "Linux" | "Android");
    if tv_vendor || os.os == "ATV OS X" {
        return if ua.contains("Linux") {
            ("Linux".to_owned(), linux_version(ua))
        } else {
            (String::new(), String::new())
        };
    }
    if os.os == "Other" {
        return (String::new(), String::new());
    }
    // ua-parser-js finds iOS only in a browser-style `(iPhone; ...)` comment, not in
    // the `iOS/18.1` or `iPhone OS 5.1.1,` of system frameworks.
    if os.os == "iOS" && !(ua.contains("(iP") || ua.contains("like Mac OS X")) {
        return (String::new(), String::new());
    }
    // A headset's `X11; Linux` browser is Linux to ua-parser-js, not Android.
    if os.os == "Android" && ua.contains("X11; Linux") {
        return ("Linux".to_owned(), linux_version(ua));
    }
    if os.os == "Android" && ua.contains("HarmonyOS") {
        let version = join_version([os.major.as_deref(), os.minor.as_deref()]);
        return ("HarmonyOS".to_owned(), version);
    }
    let name = SYSTEMS
        .iter()
        .find(|(family, _)| *family == os.os)
        .map_or(os.os.as_ref(), |(_, name)| *name);
    // ua-parser-js gives Linux no kernel version, at most a CPU word.
    if name == "Linux" {
        // Written in lowercase (`linux-gnu`), it stays so.
        let name = if ua.contains("(linux") { "linux" } else { name };
        return (name.to_owned(), linux_version(ua));
    }
    if name == "Windows Phone" && ua.contains("Windows Phone OS") {
        return (
            "Windows Phone OS".to_owned(),
            join_version([os.major.as_deref(), os.minor.as_deref()]),
        );
    }
    if name == "webOS" && ua.contains("Linux/SmartTV") {
        return (name.to_owned(), "TV".to_owned());
    }
    let version = join_version([
        os.major.as_deref(),
        os.minor.as_deref(),
        os.patch.as_deref(),
        os.patch_minor.as_deref(),
    ]);
    (name.to_owned(), version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_as_written() {
        assert_eq!(
            after("Silk/1.1.0-84)", "Silk/").as_deref(),
            Some("1.1.0-84")
        );
        assert_eq!(
            after("OPR/133.0.0.0 x", "OPR/").as_deref(),
            Some("133.0.0.0")
        );
        assert_eq!(after("Version/", "Version/"), None);
        let konqueror = "Mozilla/5.0 (X11) konqueror/5.0.97 Safari/534.34";
        assert_eq!(
            as_written(konqueror, [Some("5"), Some("0"), None, None]),
            "5.0.97"
        );
    }

    #[test]
    fn linux_keeps_only_a_cpu_word() {
        assert_eq!(linux_version("(X11; Linux i686; en)"), "i686");
        assert_eq!(linux_version("(X11; Linux x86_64)"), "");
        assert_eq!(linux_version("(Linux armv7l)"), "");
    }

    #[test]
    fn consoles_name_the_system() {
        let ps4 = "Mozilla/5.0 (PlayStation 4 3.00) AppleWebKit/537.73";
        assert_eq!(console(ps4), Some(("PlayStation".into(), "4".into())));
        let xbox = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; Xbox; Xbox X) AppleWebKit";
        assert_eq!(console(xbox), Some(("Xbox".into(), "X".into())));
    }
}

//! Parity with Rocket.Chat over the checked-in vectors of `tests/devices/` (what
//! Rocket.Chat stores for several hundred real User-Agents; see its README section).

use serde_json::{Value, json};

use super::parse_device;

/// ua-parser-js knows these models' form factors from its per-vendor model tables (an
/// Oppo watch, a Huawei or Xiaomi tablet that says `Mobile`, Sony and LG TVs it calls
/// phones, a ZTE model of no type, an HbbTV plug-in it calls no device); uap-core
/// names no form factor, and copying those tables would be transcribing ua-parser-js.
const MODEL_TABLES: &str = "form factor from ua-parser-js's vendor model tables";

/// Rocket.Chat stores `longVersion: null` when the mobile app's version part is
/// missing: an `undefined` written through `ignoreUndefined: false`. Its own type says
/// string; we keep `""` rather than a null no client expects.
const UNDEFINED_AS_NULL: &str = "Rocket.Chat's null longVersion, kept as \"\"";

/// ua-parser-js's reading of rare or garbled text (`OPX/2` as Opera GX, J2ME as iOS,
/// an iPod's `CPU iPhone` as Mac OS, `Windows NT; Windows NT 10.0` as version `NT`,
/// `15.6,2`, a lowercase `brave/`, the `GNU C` of a compiler as the OS, in-app
/// tokens); uap-core reads them as written and one rule each would fit one string.
const MISREAD: &str = "ua-parser-js's reading of rare or garbled text";

/// Vectors we knowingly answer otherwise, each with why; everything else must match.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    (
        "Dalvik/2.1.0 (Linux; U; Android 13; OPWWE231 Build/TWR7.231113.001.OPWWE231_11_A.117.240703)",
        MODEL_TABLES,
    ),
    (
        "Mozilla/5.0 (Linux; Android 8.1.0; OW20W1 Build/OPM1.171019.026.11_A.37.210713172937; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/61.0.3163.98 Mobile Safari/537.36",
        MODEL_TABLES,
    ),
    (
        "Mozilla/5.0 (Linux; U; Android 6.0; en-US; BTV-DL09 Build/HUAWEIBEETHOVEN-DL09) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/40.0.2214.89 UCBrowser/11.5.0.1015 Mobile Safari/537.36",
        MODEL_TABLES,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; 24076RP19G Build/UP1A.231005.007; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/130.0.6723.107 Mobile Safari/537.36 Line/14.18.1/IAB",
        MODEL_TABLES,
    ),
    (
        "Dalvik/1.4.0 (Linux; U; Android 2.3.5; Blade2 Build/GRJ22)",
        MODEL_TABLES,
    ),
    (
        "Dalvik/1.6.0 (Linux; U; Android 4.1.2; HUAWEI G525-Uncom Build/JZO54K)",
        MODEL_TABLES,
    ),
    (
        "HbbTV/1.1.1 (;;;;;) firetv-firefox-plugin 1.1.20",
        MODEL_TABLES,
    ),
    (
        "Mozilla/5.0 (DirectFB; Linux armv7l) AppleWebKit/534.26+ (KHTML, like Gecko) Version/5.0 Safari/534.26+; CNS_UA; LG Browser/4.05; AD_LOGON=4C47452E4E4554; HbbTV/1.1.1 (;LG Electronics;;;)",
        MODEL_TABLES,
    ),
    (
        "Opera/9.80 (Linux armv7l;  HbbTV/1.1.1 (; Sony; KDL50W685A; PKG3.712EUA; 2013;); ) Presto/2.12.362 Version/12.11",
        MODEL_TABLES,
    ),
    (
        "Opera/9.80 (Linux mips; U;  HbbTV/1.1.1 (; Sony; KDL40HX755; PKG1.920EUA; 2012;);; en) Presto/2.10.250 Version/11.60",
        MODEL_TABLES,
    ),
    (
        "Mozilla/5.0 (Linux; Android 4.4.2; LG-V510 Build/KOT49H.L004) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/34.0.1847.114 Safari/537.36",
        MODEL_TABLES,
    ),
    (
        "Mozilla/5.0 (iPad4,1; iPad; U; CPU OS 7_0_6 like Mac OS X; de_DE) com.google.GooglePlus/29676 (KHTML, like Gecko) Mobile/J71AP (gzip)",
        MODEL_TABLES,
    ),
    ("RC Mobile", UNDEFINED_AS_NULL),
    ("RC Mobile;", UNDEFINED_AS_NULL),
    ("RC Mobile; ios 17.5.1", UNDEFINED_AS_NULL),
    ("RC Mobile; v4.49.2 (60183)", UNDEFINED_AS_NULL),
    (
        "Mozilla/4.0 (compatible; MSIE 6.0; Windows CE; IEMobile 7.11) 320x240; VZW; Motorola-Q9c; Windows Mobile 6.1 Standard",
        MISREAD,
    ),
    (
        "Opera/9.80 (J2ME/MIDP; Opera Mini/5.1.21214/19.916; U; en) Presto/2.5.25",
        MISREAD,
    ),
    (
        "Mozilla/5.0 (Linux; Android 10; Redmi Note 8 Pro Build/QP1A.190711.020) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/115.0.5790.168 Mobile Safari/537.36 OPX/2",
        MISREAD,
    ),
    (
        "Mozilla/5.0 (S60V3; U; en-in; NokiaN73)/UC Browser8.4.0.159/28/351/UCWEB Mobile",
        MISREAD,
    ),
    (
        "JUC (Linux; U; 2.3.5; zh-cn; GT-I9100; 480*800) UCWEB7.9.0.94/139/800",
        MISREAD,
    ),
    (
        "Mozilla/5.0 (iPod touch; CPU iPhone 16_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.4 YaBrowser/23.3.3.330 Mobile/15E148 Safari/605.1",
        MISREAD,
    ),
    (
        "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/39.0.2171.95 Safari/537.36 MicroMessenger/6.5.2.501 NetType/WIFI WindowsWechat QBCore/3.43.901.400 QQBrowser/9.0.2524.400",
        MISREAD,
    ),
    ("Links (2.29; NetBSD 10.0 i386; GNU C 10.5; x)", MISREAD),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/15.6,2 Safari/605.1.15",
        MISREAD,
    ),
    (
        "Mozilla/5.0 (X11; Linux x86_64) Cobalt/23.master.0.0-devel (unlike Gecko) v8/8.8.278.8-jit gles Starboard/15",
        MISREAD,
    ),
    (
        "Mozilla/5.0 (Linux; Android 12; SM-G988N Build/SP1A.210812.016; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/90.0.4430.232 Whale/1.0.0.0 Crosswalk/26.90.3.21 Mobile Safari/537.36 NAVER(inapp; search; 1010; 11.11.2)",
        MISREAD,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) brave/0.7.12 Chrome/47.0.2526.110 Brave/0.36.7 Safari/537.36",
        MISREAD,
    ),
    (
        "Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1.19041.3803",
        MISREAD,
    ),
];

/// The minimum share of agreement spec section 6 asks for.
const REQUIRED_AGREEMENT: f64 = 0.95;

/// The device as Rocket.Chat's `sessions/info` shows it (the REST edge writes the
/// same shape from the proto message).
fn stored(ua: &str) -> Value {
    let device = parse_device(ua);
    let mut os = json!({ "name": device.os_name });
    if let Some(version) = device.stored_os_version() {
        os["version"] = json!(version);
    }
    json!({
        "type": device.kind,
        "name": device.name,
        "longVersion": device.long_version,
        "os": os,
        "version": device.version,
    })
}

#[test]
fn agrees_with_rocket_chat_on_real_user_agents() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/devices/vectors.json"
    );
    let text = std::fs::read_to_string(path).expect("tests/devices/vectors.json");
    let vectors: Value = serde_json::from_str(&text).expect("vectors are JSON");
    let vectors = vectors["vectors"].as_array().expect("a vectors array");

    let mut agreed = 0;
    let mut unexpected = Vec::new();
    let mut known_seen = Vec::new();
    for vector in vectors {
        let ua = vector["ua"].as_str().expect("ua is a string");
        let ours = stored(ua);
        if ours == vector["device"] {
            agreed += 1;
        } else if KNOWN_DIFFERENCES.iter().any(|(known, _)| *known == ua) {
            known_seen.push(ua);
        } else {
            unexpected.push(json!({ "ua": ua, "rocket_chat": vector["device"], "ours": ours }));
        }
    }
    println!(
        "device parity: {agreed} of {} User-Agents agree with Rocket.Chat",
        vectors.len()
    );
    if let Ok(report) = std::env::var("DEVICE_PARITY_REPORT") {
        let body = serde_json::to_string_pretty(&unexpected).expect("report serializes");
        std::fs::write(report, body).expect("report written");
    }
    assert!(
        unexpected.is_empty(),
        "{} vectors differ outside the known list, first: {:#}",
        unexpected.len(),
        unexpected[0]
    );
    for (ua, _) in KNOWN_DIFFERENCES {
        assert!(
            known_seen.contains(ua),
            "known difference no longer differs (or left the vectors): {ua:?}"
        );
    }
    let share = agreed as f64 / vectors.len() as f64;
    assert!(
        share >= REQUIRED_AGREEMENT,
        "agreement {agreed}/{} is under {REQUIRED_AGREEMENT}",
        vectors.len()
    );
}

//! The device console: static pages embedded in the binary, served under
//! `/console/` with headers that let them run nothing but their own files.

use std::sync::OnceLock;

use axum::{
    body::Bytes,
    response::{IntoResponse, Response},
};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use sha2::{Digest, Sha256};

/// Where the console lives; `/console` alone redirects here.
pub const CONSOLE_PATH: &str = "/console/";

/// Only the page's own files: no inline script or style, no other origin,
/// no framing, no form posts (the page calls the API with `fetch`).
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

/// Embeds `crates/edge/console/<name>`; a missing file fails the build.
macro_rules! asset {
    ($name:literal, $content_type:literal) => {
        Asset {
            name: $name,
            content_type: $content_type,
            body: include_bytes!(concat!("../console/", $name)),
        }
    };
}

/// The whole console; a file not listed here is not served.
const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("console.css", "text/css; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("api.js", "text/javascript; charset=utf-8"),
    asset!("dom.js", "text/javascript; charset=utf-8"),
    asset!("signin.js", "text/javascript; charset=utf-8"),
    asset!("devices.js", "text/javascript; charset=utf-8"),
    asset!("admin.js", "text/javascript; charset=utf-8"),
    asset!("paged.js", "text/javascript; charset=utf-8"),
];

/// Whether `path` belongs to the console (with or without its slash).
pub(crate) fn owns(path: &str) -> bool {
    path == "/console" || path.starts_with(CONSOLE_PATH)
}

/// The console's answer to a GET of a path it owns: the file, a redirect to
/// the slash form or 304 for a cached copy; `None` when no such file exists.
/// The caller adds [`with_security_headers`] to whatever it answers.
pub(crate) fn respond(path: &str, headers: &HeaderMap) -> Option<Response> {
    if path == "/console" {
        // Relative asset URLs resolve against the slash form only.
        return Some(
            (
                StatusCode::PERMANENT_REDIRECT,
                [(header::LOCATION, CONSOLE_PATH)],
            )
                .into_response(),
        );
    }
    let name = match &path[CONSOLE_PATH.len()..] {
        "" => "index.html",
        name => name,
    };
    let (asset, etag) = ASSETS
        .iter()
        .zip(etags())
        .find(|(asset, _)| asset.name == name)?;
    let cached = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|sent| sent.to_str().ok())
        .is_some_and(|sent| none_match_names(sent, etag));
    let mut response = if cached {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(header::CONTENT_TYPE, asset.content_type)],
            Bytes::from_static(asset.body),
        )
            .into_response()
    };
    let response_headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(etag) {
        response_headers.insert(header::ETAG, value);
    }
    // Revalidated on every load, so a new binary's files are seen at once.
    response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Some(response)
}

/// RFC 9110's weak comparison for `If-None-Match`: any listed tag, with or
/// without `W/`, or `*`.
fn none_match_names(sent: &str, etag: &str) -> bool {
    sent.split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

/// Strong validators, one per asset in [`ASSETS`] order, hashed on first use.
fn etags() -> &'static [String] {
    static ETAGS: OnceLock<Vec<String>> = OnceLock::new();
    ETAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|asset| {
                let digest = Sha256::digest(asset.body);
                let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
                format!("\"{hex}\"")
            })
            .collect()
    })
}

/// On every answer under the console's path, errors included.
pub(crate) fn with_security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        ("content-security-policy", CONTENT_SECURITY_POLICY),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("cross-origin-opener-policy", "same-origin"),
        ("cross-origin-resource-policy", "same-origin"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str) -> Option<Response> {
        respond(path, &HeaderMap::new()).map(with_security_headers)
    }

    #[test]
    fn every_asset_is_served_with_its_type_and_the_policy() {
        for asset in ASSETS {
            let response = get(&format!("{CONSOLE_PATH}{}", asset.name)).unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{}", asset.name);
            let headers = response.headers();
            assert_eq!(headers[header::CONTENT_TYPE], asset.content_type);
            assert_eq!(headers["content-security-policy"], CONTENT_SECURITY_POLICY);
            assert_eq!(headers["x-frame-options"], "DENY");
            assert_eq!(headers["x-content-type-options"], "nosniff");
        }
        assert!(CONTENT_SECURITY_POLICY.contains("frame-ancestors 'none'"));
    }

    #[test]
    fn the_root_is_the_page_and_the_bare_prefix_redirects() {
        let root = get(CONSOLE_PATH).unwrap();
        assert_eq!(root.status(), StatusCode::OK);
        assert_eq!(
            root.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        let bare = get("/console").unwrap();
        assert_eq!(bare.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(bare.headers()[header::LOCATION], CONSOLE_PATH);
    }

    #[test]
    fn unlisted_paths_are_not_found() {
        for path in [
            "/console/../Cargo.toml",
            "/console/missing.js",
            "/console/app.js/",
            "/console//app.js",
        ] {
            assert!(get(path).is_none(), "{path}");
        }
    }

    #[test]
    fn a_matching_validator_answers_not_modified() {
        let first = get("/console/app.js").unwrap();
        let etag = first.headers()[header::ETAG].clone();
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_NONE_MATCH, etag.clone());
        let again = respond("/console/app.js", &headers).unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(again.headers()[header::ETAG], etag);
        let listed = format!("\"x\", W/{}", etag.to_str().unwrap());
        headers.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_str(&listed).unwrap(),
        );
        let weak = respond("/console/app.js", &headers).unwrap();
        assert_eq!(weak.status(), StatusCode::NOT_MODIFIED);
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"x\""));
        let changed = respond("/console/app.js", &headers).unwrap();
        assert_eq!(changed.status(), StatusCode::OK);
    }
}

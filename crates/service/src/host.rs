//! The Host a session records: a valid `host[:port]` of at most 255 bytes, or "".

use std::net::{Ipv4Addr, Ipv6Addr};

/// The longest Host a session keeps (the spec's bound; a DNS name is at most 253).
const MAX_HOST_BYTES: usize = 255;

/// `host` as sent when it is a valid `host[:port]` (an RFC 1123 host name, a
/// dotted-quad IPv4 address or a bracketed IPv6 address, then an optional port
/// 1-65535), else "". The Host header is the client's to write: anything else
/// (markup, kilobytes of padding) must not reach the session record, and a bad
/// one is dropped rather than refused so it never blocks a login.
pub(crate) fn session_host(host: &str) -> String {
    if is_valid_host(host) {
        host.to_owned()
    } else {
        String::new()
    }
}

fn is_valid_host(host: &str) -> bool {
    if host.is_empty() || host.len() > MAX_HOST_BYTES {
        return false;
    }
    if let Some(rest) = host.strip_prefix('[') {
        let Some((address, after)) = rest.split_once(']') else {
            return false;
        };
        // No zone id (`%eth0`): it names an interface of the client's machine.
        return address.parse::<Ipv6Addr>().is_ok()
            && (after.is_empty() || after.strip_prefix(':').is_some_and(is_valid_port));
    }
    let (name, port) = match host.split_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    };
    port.is_none_or(is_valid_port) && is_valid_name(name)
}

/// Decimal digits only (no sign, no spaces) naming a port 1-65535.
fn is_valid_port(port: &str) -> bool {
    !port.is_empty()
        && port.len() <= 5
        && port.bytes().all(|b| b.is_ascii_digit())
        && port.parse::<u16>().is_ok_and(|p| p != 0)
}

/// An RFC 1123 host name (labels of 1-63 letters, digits and inner hyphens;
/// one trailing dot allowed) or an IPv4 address. A name whose last label is
/// all digits is read as an address, as RFC 1123 section 2.1 says, so
/// `999.1.1.1` is neither.
fn is_valid_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() {
        return false;
    }
    let last = name.rsplit('.').next().unwrap_or_default();
    if last.bytes().all(|b| b.is_ascii_digit()) {
        return name.parse::<Ipv4Addr>().is_ok();
    }
    name.split('.').all(is_valid_label)
}

fn is_valid_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    (1..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        && bytes.first() != Some(&b'-')
        && bytes.last() != Some(&b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_hosts_are_kept_as_sent() {
        for host in [
            "example.com",
            "example.com:8443",
            "Chat.Example.COM",
            "localhost",
            "localhost:3000",
            "my-host.example.com.",
            "xn--bcher-kva.example",
            "127.0.0.1",
            "127.0.0.1:65535",
            "203.0.113.7:1",
            "[::1]",
            "[2001:db8::1]:8443",
            "[::ffff:192.0.2.1]",
            "1a.example",
        ] {
            assert_eq!(session_host(host), host, "{host}");
        }
        let longest = format!(
            "{}.{}.{}.{}",
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(59)
        );
        assert_eq!(longest.len(), 251);
        let at_the_bound = format!("{longest}:443");
        assert_eq!(at_the_bound.len(), MAX_HOST_BYTES);
        assert_eq!(session_host(&at_the_bound), at_the_bound);
        assert_eq!(session_host(&format!("{longest}:8443")), "");
    }

    #[test]
    fn invalid_hosts_become_empty() {
        let long_labels = vec!["a".repeat(63); 5].join(".");
        for host in [
            "",
            "<script>alert(1)</script>",
            "<script>",
            "example.com:",
            "example.com:0",
            "example.com:65536",
            "example.com:+80",
            "example.com:80:80",
            "example.com: 80",
            "example.com:http",
            "exa mple.com",
            "exa_mple.com",
            "-example.com",
            "example-.com",
            "example..com",
            ".example.com",
            "example.com..",
            "999.1.1.1",
            "1.2.3",
            "01.2.3.4.5",
            "[::1",
            "[::1]x",
            "[::1]:",
            "[::1]:99999",
            "[fe80::1%eth0]",
            "[example.com]",
            "::1",
            "user@example.com",
            "example.com/path",
            "ex\u{e4}mple.com",
            long_labels.as_str(),
        ] {
            assert_eq!(session_host(host), "", "{host:?}");
        }
        let label = "a".repeat(64);
        assert_eq!(session_host(&format!("{label}.example")), "");
        // 300 bytes of otherwise valid labels: too long as a whole.
        let padded = format!("{}.example.com", vec!["a".repeat(50); 6].join("."));
        assert!(padded.len() > MAX_HOST_BYTES);
        assert_eq!(session_host(&padded), "");
    }
}

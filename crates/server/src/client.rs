//! Who is on the other end of a connection: the client address (believing
//! X-Forwarded-For only from trusted proxies), the Host and the User-Agent.

use std::net::{IpAddr, SocketAddr};

use axum::{
    body::Body,
    extract::{ConnectInfo, State},
    middleware::Next,
    response::Response,
};
use http::{Request, header};
use sessions_service::ClientInfo;

/// An address or a CIDR block.
#[derive(Debug, Clone)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

impl TrustedProxies {
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        let mut blocks = Vec::with_capacity(entries.len());
        for entry in entries {
            let (addr, prefix) = match entry.split_once('/') {
                Some((addr, prefix)) => (addr, Some(prefix)),
                None => (entry.as_str(), None),
            };
            let addr: IpAddr = addr
                .trim()
                .parse()
                .map_err(|_| format!("bad trusted proxy {entry}"))?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let prefix = match prefix {
                Some(p) => p
                    .trim()
                    .parse::<u8>()
                    .ok()
                    .filter(|p| *p <= max)
                    .ok_or(format!("bad prefix in {entry}"))?,
                None => max,
            };
            blocks.push((addr, prefix));
        }
        Ok(Self(blocks))
    }

    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        self.0
            .iter()
            .any(|(block, prefix)| in_block(ip, *block, *prefix))
    }

    /// The client: walking the X-Forwarded-For hops (every header line, in
    /// order) from the right, the first hop that is not a trusted proxy; the
    /// peer itself when it is not trusted. Every hop left of an untrusted one
    /// was written by that hop (or the client), so nothing there is believed.
    /// An unparseable hop ends the walk on the last address walked: what lies
    /// beyond it cannot be attributed to a trusted proxy. When every hop is
    /// trusted, the leftmost one is answered (and flagged by the caller).
    pub fn client_ip<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl IntoIterator<Item = &'a str>,
    ) -> IpAddr {
        if !self.contains(peer) {
            return peer;
        }
        let hops: Vec<&str> = forwarded_for
            .into_iter()
            .flat_map(|line| line.split(','))
            .collect();
        let mut walked = peer;
        for hop in hops.into_iter().rev() {
            match parse_hop(hop) {
                Some(ip) if self.contains(ip) => walked = ip,
                Some(ip) => return ip,
                None => return walked,
            }
        }
        walked
    }
}

/// One X-Forwarded-For entry: an address, optionally with the port some
/// proxies add (`192.0.2.1:4711`, `[2001:db8::1]:4711`, `[2001:db8::1]`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    let ip = hop
        .parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|addr| addr.ip()))
        .or_else(|| {
            hop.strip_prefix('[')
                .and_then(|rest| rest.strip_suffix(']'))
                .and_then(|inner| inner.parse::<std::net::Ipv6Addr>().ok())
                .map(IpAddr::V6)
        })?;
    Some(unmapped(ip))
}

fn in_block(ip: IpAddr, block: IpAddr, prefix: u8) -> bool {
    match (ip, block) {
        (IpAddr::V4(ip), IpAddr::V4(block)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(block) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(block)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(block) & mask
        }
        _ => false,
    }
}

fn unmapped(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// Middleware: computes the [`ClientInfo`] once per request for both edges.
pub(crate) async fn attach_client_info(
    State(trusted): State<TrustedProxies>,
    mut request: Request<Body>,
    next: Next,
) -> Response {
    let headers = request.headers();
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| unmapped(info.0.ip()));
    let client_ip = peer.map(|peer| {
        // Bytes that are not text spoil only the hop they stand in: a line
        // `garbage\xff, <client>` as a proxy appends it still names the client.
        let lines: Vec<_> = headers
            .get_all("x-forwarded-for")
            .iter()
            .map(|line| String::from_utf8_lossy(line.as_bytes()))
            .collect();
        trusted.client_ip(peer, lines.iter().map(|line| line.as_ref()))
    });
    let ip_is_trusted_proxy = client_ip.is_some_and(|ip| trusted.contains(ip));
    let ip = client_ip.map(|ip| ip.to_string()).unwrap_or_default();
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|a| a.to_string()))
        .unwrap_or_default();
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    request.extensions_mut().insert(ClientInfo {
        ip,
        host,
        user_agent,
        ip_is_trusted_proxy,
    });
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn trusted() -> TrustedProxies {
        TrustedProxies::parse(&["10.0.0.0/8".into(), "127.0.0.1".into()]).unwrap()
    }

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let trusted = trusted();
        assert_eq!(
            trusted.client_ip(ip("203.0.113.9"), ["1.2.3.4"]),
            ip("203.0.113.9")
        );
        assert_eq!(
            trusted.client_ip(ip("10.1.2.3"), ["1.2.3.4, 10.0.0.7"]),
            ip("1.2.3.4")
        );
        // A client cannot spoof past the first untrusted hop.
        assert_eq!(
            trusted.client_ip(ip("127.0.0.1"), ["6.6.6.6, 1.2.3.4"]),
            ip("1.2.3.4")
        );
        assert_eq!(trusted.client_ip(ip("127.0.0.1"), []), ip("127.0.0.1"));
        assert!(TrustedProxies::parse(&["nope".into()]).is_err());
    }

    #[test]
    fn every_header_line_is_walked_in_order() {
        let trusted = trusted();
        // HAProxy's `option forwardfor` appends its own line after the client's.
        assert_eq!(
            trusted.client_ip(ip("127.0.0.1"), ["6.6.6.6", "203.0.113.7"]),
            ip("203.0.113.7")
        );
        assert_eq!(
            trusted.client_ip(
                ip("127.0.0.1"),
                ["6.6.6.6, 7.7.7.7", "203.0.113.7, 10.0.0.2"]
            ),
            ip("203.0.113.7")
        );
        // Trusted hops on any line are skipped, wherever the line breaks fall.
        assert_eq!(
            trusted.client_ip(
                ip("127.0.0.1"),
                ["6.6.6.6, 203.0.113.7", "10.0.0.2", "10.0.0.3"]
            ),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn an_unparseable_hop_stops_the_walk() {
        let trusted = trusted();
        // Right of the peer: the walk stops at once and the peer answers.
        assert_eq!(
            trusted.client_ip(ip("127.0.0.1"), ["6.6.6.6, unknown"]),
            ip("127.0.0.1")
        );
        // Past a trusted hop: that hop answers, never a hop left of the garbage.
        assert_eq!(
            trusted.client_ip(ip("127.0.0.1"), ["6.6.6.6", "unknown, 10.0.0.2"]),
            ip("10.0.0.2")
        );
        for garbage in ["not-an-ip", "", "1.2.3", "<script>", "\u{fffd}"] {
            assert_eq!(
                trusted.client_ip(ip("10.9.9.9"), ["6.6.6.6", garbage]),
                ip("10.9.9.9"),
                "{garbage:?}"
            );
        }
        // A line with bytes that are not text, read lossily as the middleware
        // reads it, spoils only its own hop.
        let line = String::from_utf8_lossy(b"evil\xff, 203.0.113.7");
        assert_eq!(
            trusted.client_ip(ip("127.0.0.1"), [line.as_ref()]),
            ip("203.0.113.7")
        );
        // An untrusted hop right of the garbage is the client, as always.
        assert_eq!(
            trusted.client_ip(ip("127.0.0.1"), ["unknown, 203.0.113.7"]),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn all_trusted_answers_the_leftmost_hop() {
        let trusted = trusted();
        assert_eq!(
            trusted.client_ip(ip("127.0.0.1"), ["10.0.0.5, 10.0.0.6", "10.0.0.7"]),
            ip("10.0.0.5")
        );
    }

    #[test]
    fn hops_may_carry_ports_and_mapped_addresses() {
        let trusted = trusted();
        assert_eq!(
            trusted.client_ip(ip("127.0.0.1"), ["203.0.113.7:4711"]),
            ip("203.0.113.7")
        );
        assert_eq!(
            trusted.client_ip(ip("127.0.0.1"), ["[2001:db8::1]:443"]),
            ip("2001:db8::1")
        );
        assert_eq!(
            trusted.client_ip(ip("127.0.0.1"), ["[2001:db8::2]"]),
            ip("2001:db8::2")
        );
        // A v4-mapped trusted hop is still trusted.
        assert_eq!(
            trusted.client_ip(ip("127.0.0.1"), ["203.0.113.7, ::ffff:10.0.0.2"]),
            ip("203.0.113.7")
        );
    }
}

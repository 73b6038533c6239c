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

    /// The client: walking X-Forwarded-For from the right, the first hop that
    /// is not a trusted proxy; the peer itself when it is not trusted.
    pub fn client_ip(&self, peer: IpAddr, forwarded_for: Option<&str>) -> IpAddr {
        if !self.contains(peer) {
            return peer;
        }
        let hops: Vec<IpAddr> = forwarded_for
            .unwrap_or_default()
            .split(',')
            .filter_map(|hop| hop.trim().parse().ok())
            .collect();
        hops.iter()
            .rev()
            .find(|hop| !self.contains(**hop))
            .or_else(|| hops.first())
            .copied()
            .unwrap_or(peer)
    }
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
        let forwarded = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
        trusted.client_ip(peer, forwarded)
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

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let trusted = TrustedProxies::parse(&["10.0.0.0/8".into(), "127.0.0.1".into()]).unwrap();
        assert_eq!(
            trusted.client_ip(ip("203.0.113.9"), Some("1.2.3.4")),
            ip("203.0.113.9")
        );
        assert_eq!(
            trusted.client_ip(ip("10.1.2.3"), Some("1.2.3.4, 10.0.0.7")),
            ip("1.2.3.4")
        );
        // A client cannot spoof past the first untrusted hop.
        assert_eq!(
            trusted.client_ip(ip("127.0.0.1"), Some("6.6.6.6, 1.2.3.4")),
            ip("1.2.3.4")
        );
        assert_eq!(trusted.client_ip(ip("127.0.0.1"), None), ip("127.0.0.1"));
        assert!(TrustedProxies::parse(&["nope".into()]).is_err());
    }
}

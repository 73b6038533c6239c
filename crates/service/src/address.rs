//! Client addresses as the limits count them: an IPv6 client usually holds a
//! whole /64, so its addresses count as one.

use std::net::{IpAddr, Ipv6Addr};

/// The client an address stands for: IPv4 as is (mapped ones unmapped), IPv6
/// as the first address of its /64 network.
pub fn client_network(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & (u128::MAX << 64))),
        v4 => v4,
    }
}

/// The address a counter is kept under: IPv4 as is, IPv6 as its /64 network
/// (`2001:db8:1:2::/64`). Anything that is no address is kept as given; the
/// listener only ever resolves real addresses.
pub(crate) fn address_key(ip: &str) -> String {
    match ip.parse::<IpAddr>().map(client_network) {
        Ok(IpAddr::V6(network)) => format!("{network}/64"),
        Ok(v4) => v4.to_string(),
        Err(_) => ip.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_counts_by_its_64_network() {
        assert_eq!(address_key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(address_key("2001:db8:1:2:ffff::9"), "2001:db8:1:2::/64");
        assert_eq!(address_key("2001:db8:1:3::1"), "2001:db8:1:3::/64");
        assert_eq!(address_key("::ffff:10.1.2.3"), "10.1.2.3");
        assert_eq!(address_key("203.0.113.9"), "203.0.113.9");
        assert_eq!(address_key(""), "");
    }
}

//! Client addresses as the limits count them: an IPv6 client usually holds a
//! whole /64, so its addresses count as one.

use std::net::{IpAddr, Ipv6Addr};

/// The address a counter is kept under: IPv4 as is, IPv6 as its /64 network
/// (`2001:db8:1:2::/64`). Anything that is no address is kept as given; the
/// listener only ever resolves real addresses.
pub(crate) fn address_key(ip: &str) -> String {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let network = u128::from(v6) & (u128::MAX << 64);
                format!("{}/64", Ipv6Addr::from(network))
            }
        },
        Ok(IpAddr::V4(v4)) => v4.to_string(),
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

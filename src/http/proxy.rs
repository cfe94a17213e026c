//! The client's address behind trusted reverse proxies: `X-Forwarded-For`
//! is believed only when the request comes from a proxy named with
//! `--trusted-proxy`, and then the client is the right-most hop that is not
//! itself a trusted proxy (hops further left could be made up by anyone).

use std::net::IpAddr;

/// A block of addresses, `203.0.113.0/24` or `2001:db8::/32`; a bare
/// address is a block of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    bits: u8,
}

impl std::str::FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!("'{s}' is not an address block: write e.g. 10.0.0.0/8, 192.0.2.7 or fd00::/8")
        };
        let (addr, bits) = match s.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (s, None),
        };
        let addr: IpAddr = addr.trim().parse().map_err(|_| bad())?;
        let addr = addr.to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            Some(b) => b
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|b| *b <= max)
                .ok_or_else(bad)?,
            None => max,
        };
        Ok(Cidr { addr, bits })
    }
}

impl Cidr {
    /// Whether `ip` lies in the block.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.bits)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.bits))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// One hop of `X-Forwarded-For`: an address, perhaps with a port.
fn hop(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    // `192.0.2.7:4711` or `[2001:db8::1]:4711`.
    s.parse::<std::net::SocketAddr>()
        .ok()
        .map(|a| a.ip().to_canonical())
}

/// The client's address: the peer's, unless the peer is a trusted proxy;
/// then the right-most hop of `forwarded_for` (the header's values in
/// order) that is not a trusted proxy. A hop that is not an address stops
/// the walk at the trusted hop after it.
pub fn client(peer: IpAddr, forwarded_for: &[&str], trusted: &[Cidr]) -> IpAddr {
    let peer = peer.to_canonical();
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let mut client = peer;
    for h in forwarded_for.iter().rev().flat_map(|v| v.rsplit(',')) {
        let Some(ip) = hop(h) else {
            return client;
        };
        client = ip;
        if !is_trusted(ip) {
            return ip;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn blocks_parse_and_contain() {
        let c: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(c.contains(ip("10.200.1.2")));
        assert!(!c.contains(ip("11.0.0.1")));
        assert!(c.contains(ip("::ffff:10.1.2.3")));
        let one: Cidr = "192.0.2.7".parse().unwrap();
        assert!(one.contains(ip("192.0.2.7")) && !one.contains(ip("192.0.2.8")));
        let v6: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:1::1")) && !v6.contains(ip("2001:db9::1")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("203.0.113.1")));
        for bad in ["10.0.0.0/33", "x", "10.0.0/8", "::/129", ""] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_client_is_the_right_most_untrusted_hop() {
        let proxies: Vec<Cidr> = vec!["127.0.0.1".parse().unwrap(), "10.0.0.0/8".parse().unwrap()];
        let lo = ip("127.0.0.1");
        // Not from a trusted proxy: the header is not believed.
        assert_eq!(
            client(ip("198.51.100.9"), &["203.0.113.7"], &proxies),
            ip("198.51.100.9")
        );
        assert_eq!(client(lo, &[], &proxies), lo);
        assert_eq!(client(lo, &["203.0.113.7"], &proxies), ip("203.0.113.7"));
        // A client's made-up hops stand left of the one the proxy saw.
        assert_eq!(
            client(lo, &["1.2.3.4, 203.0.113.7, 10.1.1.1"], &proxies),
            ip("203.0.113.7")
        );
        assert_eq!(
            client(lo, &["1.2.3.4", "203.0.113.7:5555"], &proxies),
            ip("203.0.113.7")
        );
        assert_eq!(client(lo, &["garbage, 10.1.1.1"], &proxies), ip("10.1.1.1"));
        assert_eq!(client(lo, &["10.1.1.1"], &proxies), ip("10.1.1.1"));
        // Without trusted proxies nothing is believed.
        assert_eq!(client(lo, &["203.0.113.7"], &[]), lo);
    }
}

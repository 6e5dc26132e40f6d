//! Who a request comes from when a reverse proxy stands in front: the
//! address the proxy saw, from `X-Forwarded-For`, but only when the
//! connection comes from a proxy the operator named (`--behind-proxy`
//! and `--trusted-proxy`). Anyone else can write that header, so without
//! them it is ignored. Bans, budgets, the sign-in limits and the logs all
//! use this one address; behind nginx they used to see the proxy's, one
//! address for everyone, so that one ban shut everyone out.

use std::net::{IpAddr, SocketAddr};

use hyper::header::HeaderMap;
use ipnet::IpNet;

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default)]
pub(crate) struct TrustedProxies {
    ranges: Vec<IpNet>,
}

impl TrustedProxies {
    /// `ranges` when behind a proxy (the loopback addresses when none is
    /// named: a proxy on the same machine); nobody otherwise.
    pub(crate) fn new(behind_proxy: bool, ranges: &[IpNet]) -> Self {
        let ranges = match (behind_proxy, ranges) {
            (false, _) => Vec::new(),
            (true, []) => ["127.0.0.0/8", "::1/128"]
                .iter()
                .filter_map(|range| range.parse().ok())
                .collect(),
            (true, ranges) => ranges.to_vec(),
        };
        Self { ranges }
    }

    /// Whether connections from `address` are a trusted proxy's.
    pub(crate) fn trusts(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        self.ranges.iter().any(|range| range.contains(&address))
    }

    /// The client's address: `peer`, unless `peer` is a trusted proxy; then
    /// the last address in `X-Forwarded-For` that is not one (each proxy
    /// appends the address it saw, so the ones before it may be made up).
    /// A header missing or unreadable leaves the proxy's own address.
    pub(crate) fn client(&self, peer: SocketAddr, headers: &HeaderMap) -> SocketAddr {
        if !self.trusts(peer.ip()) {
            return peer;
        }
        let mut hops = headers
            .get_all("x-forwarded-for")
            .iter()
            .flat_map(|value| value.to_str().unwrap_or("").split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        hops.reverse();
        for hop in hops {
            match hop.parse::<IpAddr>() {
                Ok(address) if self.trusts(address) => continue,
                Ok(address) => return SocketAddr::new(canonical(address), 0),
                Err(_) => break,
            }
        }
        peer
    }
}

/// An IPv4 address written as IPv6 (`::ffff:a.b.c.d`) as the IPv4 one.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        IpAddr::V4(_) => address,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(forwarded: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in forwarded {
            headers.append("x-forwarded-for", value.parse().expect("a header value"));
        }
        headers
    }

    fn at(address: &str) -> SocketAddr {
        SocketAddr::new(address.parse().expect("an address"), 40_000)
    }

    #[test]
    fn only_a_trusted_proxy_s_header_is_believed() {
        let ranges = ["10.0.0.0/8".parse().expect("a range")];
        let proxies = TrustedProxies::new(true, &ranges);
        let forwarded = headers(&["203.0.113.9"]);
        assert_eq!(
            proxies.client(at("10.1.2.3"), &forwarded).ip().to_string(),
            "203.0.113.9"
        );
        // Anyone else may write the header: it is ignored.
        assert_eq!(
            proxies.client(at("198.51.100.7"), &forwarded),
            at("198.51.100.7")
        );
        // Without --behind-proxy, nobody is trusted.
        let nobody = TrustedProxies::new(false, &ranges);
        assert_eq!(nobody.client(at("10.1.2.3"), &forwarded), at("10.1.2.3"));
    }

    #[test]
    fn the_last_untrusted_hop_is_the_client() {
        let proxies = TrustedProxies::new(true, &[]);
        // What the client wrote comes first; the proxies append after it.
        let forwarded = headers(&["6.6.6.6, 203.0.113.9", "127.0.0.1"]);
        assert_eq!(
            proxies.client(at("127.0.0.1"), &forwarded).ip().to_string(),
            "203.0.113.9"
        );
        let mapped = headers(&["::ffff:203.0.113.9"]);
        assert_eq!(
            proxies.client(at("::1"), &mapped).ip().to_string(),
            "203.0.113.9"
        );
        // Nothing usable: the proxy's own address.
        for garbled in [
            headers(&[]),
            headers(&["not an address"]),
            headers(&["127.0.0.5"]),
        ] {
            assert_eq!(proxies.client(at("127.0.0.1"), &garbled), at("127.0.0.1"));
        }
    }
}

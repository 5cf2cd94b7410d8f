//! `login_trusted_networks`: CIDR blocks, and Dovecot's rule for when a
//! connection counts as secured.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// One network in CIDR form (`192.0.2.0/24`, `2001:db8::/32`; a bare
/// address is a /32 or /128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    /// The network's address (host bits as written).
    pub addr: IpAddr,
    /// Prefix length in bits.
    pub prefix: u8,
}

impl Cidr {
    /// Whether `ip` lies in this network. An IPv4 address also matches
    /// its IPv4-mapped IPv6 form and the other way round.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, normalize(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

/// `::ffff:a.b.c.d` as `a.b.c.d`.
fn normalize(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn prefix_eq(a: &[u8], b: &[u8], prefix: u8) -> bool {
    let full = usize::from(prefix / 8);
    let rest = prefix % 8;
    if a[..full] != b[..full] {
        return false;
    }
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    a[full] & mask == b[full] & mask
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Cidr, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("{s:?} is not an IP address or CIDR network"))?;
        let addr = normalize(addr);
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => match p.parse::<u8>() {
                Ok(n) if n <= max => n,
                _ => return Err(format!("{s:?}: prefix length must be 0..={max}")),
            },
        };
        Ok(Cidr { addr, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Parses Dovecot's space- or comma-separated network list, each entry of
/// the TOML array possibly holding several.
pub fn parse_networks(entries: &[String]) -> Result<Vec<Cidr>, String> {
    entries
        .iter()
        .flat_map(|e| e.split([' ', ',', '\t']))
        .filter(|w| !w.is_empty())
        .map(str::parse)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn networks_contain_their_addresses() {
        let n: Cidr = "192.0.2.0/24".parse().unwrap();
        assert!(n.contains(ip("192.0.2.77")));
        assert!(n.contains(ip("::ffff:192.0.2.1")));
        assert!(!n.contains(ip("192.0.3.1")));
        let n: Cidr = "10.0.0.0/9".parse().unwrap();
        assert!(n.contains(ip("10.127.255.255")));
        assert!(!n.contains(ip("10.128.0.0")));
        let n: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(n.contains(ip("2001:db8:1::5")));
        assert!(!n.contains(ip("2001:db9::1")));
        let n: Cidr = "203.0.113.5".parse().unwrap();
        assert_eq!(n.prefix, 32);
        assert!(n.contains(ip("203.0.113.5")));
        assert!(!n.contains(ip("203.0.113.6")));
        assert!("0.0.0.0/0".parse::<Cidr>().unwrap().contains(ip("8.8.8.8")));
    }

    #[test]
    fn bad_networks_say_what_is_wrong() {
        assert!("10.0.0.0/33"
            .parse::<Cidr>()
            .unwrap_err()
            .contains("0..=32"));
        assert!("example.org".parse::<Cidr>().is_err());
        assert!("10.0.0.0/x".parse::<Cidr>().is_err());
        let list = parse_networks(&["10.0.0.0/8 192.0.2.0/24,::1".to_string()]).unwrap();
        assert_eq!(list.len(), 3);
    }
}

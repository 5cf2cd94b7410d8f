//! Whether a client counts as secured and may send a plaintext password.
//! A client is *secured* under TLS, from `login_trusted_networks`, or when
//! it connects from the very address it connects to (Dovecot's rule: the
//! same IP, so 127.0.0.2 talking to 127.0.0.1 is not secured);
//! `disable_plaintext_auth = yes` refuses plaintext mechanisms (LOGIN,
//! PLAIN, USER/PASS) unless secured. `ssl = required` refuses them without
//! TLS, secured or not: Dovecot 2.3 exempts secured clients there too
//! (`client_check_plaintext_auth`), Columba keeps the stricter reading its
//! configuration documents (`--demo --require-tls` relies on it).

use std::net::IpAddr;

use crate::serve::config::{Config, SslMode};
use crate::serve::error::ServeError;

/// A network in CIDR form (`10.0.0.0/8`, `::1/128`, or a bare address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    /// Parses `text`.
    pub fn parse(text: &str) -> Result<Network, ServeError> {
        let bad =
            || ServeError::Config(format!("login_trusted_networks: {text:?} is not a network"));
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = addr.trim().parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.trim().parse::<u8>().map_err(|_| bad())?,
            None => max,
        };
        if prefix > max {
            return Err(bad());
        }
        Ok(Network { addr, prefix })
    }

    /// Whether `ip` is inside the network (IPv4-mapped IPv6 addresses
    /// count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// The login decisions for one client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginPolicy {
    /// The client is from `login_trusted_networks`.
    pub trusted: bool,
    /// Secured without TLS: trusted, or the remote address is the local one.
    pub secured_without_tls: bool,
    /// `disable_plaintext_auth`.
    pub disable_plaintext_auth: bool,
    /// `ssl = required`.
    pub ssl_required: bool,
}

impl LoginPolicy {
    /// The policy for a client at `remote` connected to `local`.
    pub fn new(config: &Config, remote: IpAddr, local: IpAddr) -> Result<LoginPolicy, ServeError> {
        let mut trusted = false;
        for text in &config.login_trusted_networks {
            if Network::parse(text)?.contains(remote) {
                trusted = true;
            }
        }
        Ok(LoginPolicy {
            trusted,
            secured_without_tls: trusted || remote == local,
            disable_plaintext_auth: config.disable_plaintext_auth,
            ssl_required: config.ssl == SslMode::Required,
        })
    }

    /// Whether the client counts as secured (the auth request's `secured`).
    pub fn secured(&self, tls: bool) -> bool {
        tls || self.secured_without_tls
    }

    /// Whether plaintext authentication is allowed now.
    pub fn plaintext_allowed(&self, tls: bool) -> bool {
        if tls {
            return true;
        }
        if self.ssl_required {
            return false;
        }
        !self.disable_plaintext_auth || self.secured_without_tls
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(disable: bool, ssl: SslMode, trusted: &[&str]) -> Config {
        Config {
            disable_plaintext_auth: disable,
            ssl,
            login_trusted_networks: trusted.iter().map(|s| s.to_string()).collect(),
            ..Config::default()
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn networks_match_by_prefix() {
        let n = Network::parse("10.1.0.0/16").unwrap();
        assert!(n.contains(ip("10.1.200.3")));
        assert!(!n.contains(ip("10.2.0.1")));
        assert!(n.contains(ip("::ffff:10.1.0.9")));
        assert!(Network::parse("::1").unwrap().contains(ip("::1")));
        assert!(Network::parse("0.0.0.0/0")
            .unwrap()
            .contains(ip("192.0.2.1")));
        assert!(Network::parse("10.0.0.0/33").is_err());
        assert!(Network::parse("ten").is_err());
    }

    #[test]
    fn plaintext_decision_follows_dovecot() {
        let remote = ip("192.0.2.7");
        let local = ip("192.0.2.1");
        // disable_plaintext_auth = yes: refused from elsewhere without TLS...
        let p = LoginPolicy::new(&config(true, SslMode::Yes, &[]), remote, local).unwrap();
        assert!(!p.plaintext_allowed(false));
        assert!(p.plaintext_allowed(true));
        assert!(!p.secured(false));
        // ...allowed from the local address (loopback)...
        let p = LoginPolicy::new(&config(true, SslMode::Yes, &[]), local, local).unwrap();
        assert!(p.plaintext_allowed(false));
        assert!(p.secured(false));
        // ...and from login_trusted_networks.
        let p = LoginPolicy::new(
            &config(true, SslMode::Yes, &["192.0.2.0/24"]),
            remote,
            local,
        )
        .unwrap();
        assert!(p.trusted);
        assert!(p.plaintext_allowed(false));
        // disable_plaintext_auth = no allows it everywhere.
        let p = LoginPolicy::new(&config(false, SslMode::Yes, &[]), remote, local).unwrap();
        assert!(p.plaintext_allowed(false));
        // ssl = required refuses it without TLS, loopback included.
        let p = LoginPolicy::new(&config(false, SslMode::Required, &[]), remote, local).unwrap();
        assert!(!p.plaintext_allowed(false));
        assert!(p.plaintext_allowed(true));
        let p = LoginPolicy::new(&config(false, SslMode::Required, &[]), local, local).unwrap();
        assert!(!p.plaintext_allowed(false));
        assert!(p.secured(false));
    }
}

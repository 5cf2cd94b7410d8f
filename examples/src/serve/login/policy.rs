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
        let trusted = config.is_trusted(remote);
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

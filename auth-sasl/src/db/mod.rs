//! passdb and userdb: traits, the request a lookup is for, field lists and
//! `%` variables, and the backends (passwd-file, static, a TTL cache).

mod cache;
mod fields;
mod passwd_file;
mod static_userdb;
mod vars;

pub use cache::CachedPassDb;
pub use fields::Fields;
pub use passwd_file::{parse_passwd_file, PasswdEntry, PasswdFile};
pub use static_userdb::StaticUserDb;
pub use vars::expand;

use std::net::IpAddr;

use crate::password::StoredPassword;
use crate::Result;

/// What a lookup is about: the user and the connection's details (the
/// `AUTH`/`USER` parameters), used for `%` variables and `allow_nets`.
#[derive(Debug, Clone, Default)]
pub struct LookupRequest {
    /// The user name being looked up.
    pub user: String,
    /// `service=` (imap, pop3, smtp, …).
    pub service: String,
    /// `rip=`: the client's address.
    pub remote_ip: Option<IpAddr>,
    /// `lip=`: the local address.
    pub local_ip: Option<IpAddr>,
    /// `session=`.
    pub session: Option<String>,
}

impl LookupRequest {
    /// A request for `user` from `service`.
    pub fn new(user: &str, service: &str) -> LookupRequest {
        LookupRequest {
            user: user.into(),
            service: service.into(),
            ..Default::default()
        }
    }
}

/// What a passdb knows about a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassdbEntry {
    /// The (possibly rewritten) user name.
    pub user: String,
    /// The stored password, if the passdb has one.
    pub password: Option<StoredPassword>,
    /// Extra fields (`nologin`, `proxy`, `host=`, `allow_nets=`, `userdb_*`…),
    /// with `%` variables already expanded.
    pub extra: Fields,
}

/// A password database.
pub trait PassDb: Send + Sync {
    /// Looks the user up: `Ok(None)` for an unknown user, `Err` for a
    /// temporary failure (the file cannot be read…).
    fn lookup(&self, request: &LookupRequest) -> Result<Option<PassdbEntry>>;
}

/// A user database.
pub trait UserDb: Send + Sync {
    /// Looks the user up: the userdb fields (`uid`, `gid`, `home`, …), or
    /// `Ok(None)` for an unknown user.
    fn lookup(&self, request: &LookupRequest) -> Result<Option<Fields>>;
    /// Every user, for `LIST`; `Ok(None)` if this userdb cannot iterate.
    fn iterate(&self) -> Result<Option<Vec<String>>> {
        Ok(None)
    }
}

/// Validates OAUTHBEARER / XOAUTH2 bearer tokens.
pub trait TokenValidator: Send + Sync {
    /// Whether `token` is valid for `user`.
    fn validate(&self, user: &str, token: &[u8]) -> bool;
}

impl<T: PassDb + ?Sized> PassDb for std::sync::Arc<T> {
    fn lookup(&self, request: &LookupRequest) -> Result<Option<PassdbEntry>> {
        (**self).lookup(request)
    }
}

impl<T: UserDb + ?Sized> UserDb for std::sync::Arc<T> {
    fn lookup(&self, request: &LookupRequest) -> Result<Option<Fields>> {
        (**self).lookup(request)
    }
    fn iterate(&self) -> Result<Option<Vec<String>>> {
        (**self).iterate()
    }
}

/// Whether `ip` is in one of `nets` (`allow_nets=` syntax: CIDRs or
/// addresses separated by commas or spaces; `local` matches no address).
pub fn ip_allowed(nets: &str, ip: Option<IpAddr>) -> bool {
    nets.split([',', ' ']).filter(|n| !n.is_empty()).any(|net| {
        if net == "local" {
            return ip.is_none();
        }
        let Some(ip) = ip else { return false };
        let (addr, bits) = match net.split_once('/') {
            Some((a, b)) => (a, b.parse::<u32>().ok()),
            None => (net, None),
        };
        let Ok(addr) = addr.parse::<IpAddr>() else {
            return false;
        };
        match (addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(i)) => {
                let bits = bits.unwrap_or(32).min(32);
                let mask = if bits == 0 {
                    0
                } else {
                    u32::MAX << (32 - bits)
                };
                u32::from(n) & mask == u32::from(i) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(i)) => {
                let bits = bits.unwrap_or(128).min(128);
                let mask = if bits == 0 {
                    0
                } else {
                    u128::MAX << (128 - bits)
                };
                u128::from(n) & mask == u128::from(i) & mask
            }
            (IpAddr::V4(n), IpAddr::V6(i)) => i.to_ipv4_mapped().is_some_and(|i| {
                let bits = bits.unwrap_or(32).min(32);
                let mask = if bits == 0 {
                    0
                } else {
                    u32::MAX << (32 - bits)
                };
                u32::from(n) & mask == u32::from(i) & mask
            }),
            _ => false,
        }
    })
}

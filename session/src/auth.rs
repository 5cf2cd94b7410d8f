//! Authentication as the sessions need it: the [`Credentials`] a session
//! asks to have checked, and the [`Authenticator`] trait that checks them,
//! implemented over `columba-auth-sasl`'s passdb by [`PassdbAuthenticator`].

use std::net::IpAddr;

use columba_auth_sasl::db::{LookupRequest, PassDb};

use crate::error::Result;

/// A user name and password from LOGIN, AUTHENTICATE PLAIN, USER/PASS or
/// AUTH PLAIN. The password never appears in `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name as sent.
    pub user: String,
    /// The password as sent.
    pub password: Vec<u8>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<hidden>")
            .finish()
    }
}

/// Decodes a SASL PLAIN message (`authzid NUL authcid NUL password`).
/// Returns `None` when it is malformed or asks to act as another user.
pub fn decode_sasl_plain(raw: &[u8]) -> Option<Credentials> {
    let mut parts = raw.splitn(3, |&b| b == 0);
    let authz = parts.next()?;
    let user = std::str::from_utf8(parts.next()?).ok()?;
    let password = parts.next()?;
    if user.is_empty() || (!authz.is_empty() && authz != user.as_bytes()) {
        return None;
    }
    Some(Credentials {
        user: user.to_string(),
        password: password.to_vec(),
    })
}

/// Checks credentials: `Ok(Some(user))` (the canonical user name) when they
/// are right, `Ok(None)` when they are wrong, `Err` for a temporary failure.
pub trait Authenticator: Send + Sync {
    /// Verifies `credentials` for `service` (`imap`, `pop3`) from `remote_ip`.
    fn verify(
        &self,
        credentials: &Credentials,
        service: &str,
        remote_ip: Option<IpAddr>,
    ) -> Result<Option<String>>;
}

/// [`Authenticator`] over any `columba-auth-sasl` passdb (a passwd-file,
/// with a cache, ...).
pub struct PassdbAuthenticator<P> {
    passdb: P,
}

impl<P: PassDb> PassdbAuthenticator<P> {
    /// Checks passwords against `passdb`.
    pub fn new(passdb: P) -> PassdbAuthenticator<P> {
        PassdbAuthenticator { passdb }
    }
}

impl<P: PassDb> Authenticator for PassdbAuthenticator<P> {
    fn verify(
        &self,
        credentials: &Credentials,
        service: &str,
        remote_ip: Option<IpAddr>,
    ) -> Result<Option<String>> {
        let mut request = LookupRequest::new(&credentials.user, service);
        request.remote_ip = remote_ip;
        let Some(entry) = self.passdb.lookup(&request)? else {
            return Ok(None);
        };
        if entry.extra.contains("nologin") {
            return Ok(None);
        }
        if let Some(nets) = entry.extra.get("allow_nets") {
            if !columba_auth_sasl::db::ip_allowed(nets, remote_ip) {
                return Ok(None);
            }
        }
        let Some(stored) = entry.password else {
            return Ok(None);
        };
        if stored.verify(&credentials.password, &entry.user)? {
            Ok(Some(entry.user))
        } else {
            Ok(None)
        }
    }
}

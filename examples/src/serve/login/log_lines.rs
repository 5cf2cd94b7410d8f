//! A login process's log lines, in Dovecot 2.3's words and its default
//! `login_log_format_elements` (`user=<%u> method=%m rip=%r lip=%l
//! mpid=%e %c session=<%{session}>`, empty elements left out):
//!
//! ```text
//! imap-login: Info: Login: user=<demo>, method=PLAIN, rip=127.0.0.1, lip=127.0.0.1, mpid=1234, TLS, session=<...>
//! imap-login: Info: Disconnected: Connection closed (auth failed, 1 attempts in 2 secs): user=<demo>, method=PLAIN, rip=..., lip=..., TLS, session=<...>
//! ```
//!
//! Neither passwords nor SASL data ever reach these lines.

use std::net::IpAddr;
use std::time::Instant;

/// What a login process knows about its client, for log lines.
#[derive(Debug, Clone)]
pub struct LoginLog {
    /// `imap-login` or `pop3-login`.
    pub prefix: &'static str,
    /// The client's address.
    pub rip: IpAddr,
    /// Our address.
    pub lip: IpAddr,
    /// The session id.
    pub session: String,
    /// The client connected from our own address or a trusted network.
    pub secured: bool,
    /// TLS is on.
    pub tls: bool,
    /// The TLS handshake failed with this error (shown where Dovecot
    /// shows `TLS handshaking: ...`).
    pub tls_error: Option<String>,
    /// The last user name tried (from the auth process's answer, or the
    /// client's LOGIN/USER).
    pub user: Option<String>,
    /// The last mechanism tried.
    pub method: Option<String>,
    /// Authentication attempts so far.
    pub attempts: u32,
    /// A plaintext mechanism was refused without TLS.
    pub plaintext_refused: bool,
    /// When the client connected.
    pub started: Instant,
}

impl LoginLog {
    /// A new client.
    pub fn new(
        prefix: &'static str,
        rip: IpAddr,
        lip: IpAddr,
        session: String,
        secured: bool,
    ) -> LoginLog {
        LoginLog {
            prefix,
            rip,
            lip,
            session,
            secured,
            tls: false,
            tls_error: None,
            user: None,
            method: None,
            attempts: 0,
            plaintext_refused: false,
            started: Instant::now(),
        }
    }

    /// The `user=<..>, method=.., rip=.., ...` elements.
    pub fn elements(&self, mpid: Option<u32>) -> String {
        let mut parts = vec![format!("user=<{}>", self.user.as_deref().unwrap_or(""))];
        if let Some(m) = &self.method {
            parts.push(format!("method={m}"));
        }
        parts.push(format!("rip={}", self.rip));
        parts.push(format!("lip={}", self.lip));
        if let Some(pid) = mpid {
            parts.push(format!("mpid={pid}"));
        }
        if let Some(e) = &self.tls_error {
            parts.push(format!("TLS handshaking: {e}"));
        } else if self.tls {
            parts.push("TLS".into());
        } else if self.secured {
            parts.push("secured".into());
        }
        parts.push(format!("session=<{}>", self.session));
        parts.join(", ")
    }

    /// `Login: ...`.
    pub fn login(&self, mpid: u32) {
        info(
            self.prefix,
            &format!("Login: {}", self.elements(Some(mpid))),
        );
    }

    /// `Disconnected: <reason> (<why>): ...`, when the client leaves (or
    /// is sent away) before logging in, worded as Dovecot 2.3.19 words it
    /// (`Disconnected: Connection closed (auth failed, 1 attempts in 2
    /// secs)`, `Disconnected: Aborted login by logging out (no auth
    /// attempts in 0 secs)`).
    pub fn disconnected(&self, reason: &str) {
        let secs = self.started.elapsed().as_secs();
        let why = if self.attempts == 0 && self.plaintext_refused {
            "tried to use disallowed plaintext auth".to_string()
        } else if self.attempts == 0 {
            format!("no auth attempts in {secs} secs")
        } else {
            format!("auth failed, {} attempts in {secs} secs", self.attempts)
        };
        info(
            self.prefix,
            &format!("Disconnected: {reason} ({why}): {}", self.elements(None)),
        );
    }
}

/// Writes `<prefix>: Info: <text>` as one line with one write.
pub fn info(prefix: &str, text: &str) {
    crate::serve::log::info(prefix, text);
}

/// Writes `<prefix>: Error: <text>`.
pub fn error(prefix: &str, text: &str) {
    crate::serve::log::error(prefix, text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_follow_dovecots_default_format() {
        let mut l = LoginLog::new(
            "imap-login",
            "127.0.0.1".parse().unwrap(),
            "127.0.0.1".parse().unwrap(),
            "AbCdEfGhIjKlMnOp".into(),
            true,
        );
        assert_eq!(
            l.elements(None),
            "user=<>, rip=127.0.0.1, lip=127.0.0.1, secured, session=<AbCdEfGhIjKlMnOp>"
        );
        l.user = Some("demo".into());
        l.method = Some("PLAIN".into());
        l.tls = true;
        assert_eq!(
            l.elements(Some(42)),
            "user=<demo>, method=PLAIN, rip=127.0.0.1, lip=127.0.0.1, mpid=42, TLS, session=<AbCdEfGhIjKlMnOp>"
        );
        l.tls_error = Some("peer is incompatible".into());
        assert!(l.elements(None).ends_with(
            "lip=127.0.0.1, TLS handshaking: peer is incompatible, session=<AbCdEfGhIjKlMnOp>"
        ));
    }
}

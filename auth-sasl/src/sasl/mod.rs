//! SASL mechanisms as sans-IO state machines.
//!
//! The server side ([`ServerMechanism`]) takes the client's decoded bytes and
//! says what it needs next: to send a challenge, to have a plaintext password
//! verified by a passdb, to be given the user's stored credentials, or that the
//! exchange succeeded. The client side ([`ClientMechanism`]) produces the
//! responses.
//!
//! ```
//! use columba_auth_sasl::sasl::{client_mechanism, server_mechanism, ClientCredentials, ServerStep, ServerOptions};
//! use columba_auth_sasl::Secret;
//!
//! let mut client = client_mechanism("PLAIN", ClientCredentials::new("alice", "secret")).unwrap();
//! let mut server = server_mechanism("PLAIN", &ServerOptions::default()).unwrap();
//! let initial = client.step(None).unwrap();
//! match server.step(Some(&initial)).unwrap() {
//!     ServerStep::VerifyPlain { authcid, password, .. } => {
//!         assert_eq!(authcid, "alice");
//!         assert_eq!(password.expose(), b"secret");
//!     }
//!     other => panic!("{other:?}"),
//! }
//! ```

mod client;
mod cram_md5;
mod oauth;
mod plain;
mod scram;
mod simple;

pub use client::{client_mechanism, ClientCredentials, ClientMechanism};
pub use scram::{ChannelBinding, ScramServer};

use crate::password::StoredPassword;
use crate::Secret;

/// Mechanisms this crate implements on both sides, with Dovecot's MECH flags.
pub const MECHANISMS: &[(&str, &[&str])] = &[
    ("PLAIN", &["plaintext"]),
    ("LOGIN", &["plaintext"]),
    ("CRAM-MD5", &["dictionary", "active"]),
    ("SCRAM-SHA-1", &["mutual-auth"]),
    ("SCRAM-SHA-1-PLUS", &["mutual-auth"]),
    ("SCRAM-SHA-256", &["mutual-auth"]),
    ("SCRAM-SHA-256-PLUS", &["mutual-auth"]),
    ("EXTERNAL", &[]),
    ("ANONYMOUS", &["anonymous"]),
    ("OAUTHBEARER", &["plaintext"]),
    ("XOAUTH2", &["plaintext"]),
];

/// What a server mechanism needs next.
#[derive(Debug)]
pub enum ServerStep {
    /// Send this challenge (possibly empty) and wait for the client's response.
    Challenge(Vec<u8>),
    /// Verify this plaintext password with the passdb; then the exchange ends.
    VerifyPlain {
        /// Authentication identity (who logs in).
        authcid: String,
        /// Authorization identity (as whom), if given and different.
        authzid: Option<String>,
        /// The password.
        password: Secret,
    },
    /// Look the user's stored password up and pass it to
    /// [`ServerMechanism::credentials`].
    NeedCredentials {
        /// Authentication identity.
        authcid: String,
        /// Authorization identity, if given.
        authzid: Option<String>,
    },
    /// Validate this bearer token (OAUTHBEARER, XOAUTH2).
    VerifyToken {
        /// The user the token is for.
        user: String,
        /// The token.
        token: Secret,
    },
    /// EXTERNAL: the identity comes from outside (a TLS client certificate).
    External {
        /// Requested authorization identity, if any.
        authzid: Option<String>,
    },
    /// ANONYMOUS: log in as the configured anonymous user.
    Anonymous {
        /// The client's trace information (not a secret).
        trace: String,
    },
    /// The exchange succeeded.
    Success {
        /// Authentication identity.
        authcid: String,
        /// Authorization identity, if given and different.
        authzid: Option<String>,
        /// Final server data to send with the success (SCRAM's `v=`).
        final_data: Option<Vec<u8>>,
    },
}

/// Why a mechanism failed. The text is safe to send in `reason=`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MechError {
    /// The client's data does not follow the mechanism's syntax.
    #[error("{0}")]
    Malformed(&'static str),
    /// The credentials are wrong (or the user is unknown).
    #[error("authentication failed")]
    Failed,
    /// The client sent data when none was expected, or after the end.
    #[error("unexpected data")]
    Unexpected,
}

/// Settings a server mechanism may need.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Host name for CRAM-MD5 challenges.
    pub hostname: String,
    /// Channel binding data of the connection, for the `-PLUS` mechanisms.
    pub channel_binding: Option<ChannelBinding>,
    /// The user ANONYMOUS logs in as.
    pub anonymous_username: String,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            hostname: "localhost".into(),
            channel_binding: None,
            anonymous_username: "anonymous".into(),
        }
    }
}

/// The server side of a SASL mechanism.
pub trait ServerMechanism: Send {
    /// The mechanism's name, e.g. `PLAIN`.
    fn name(&self) -> &'static str;
    /// Feeds the client's data: `None` when `AUTH` carried no initial response.
    fn step(&mut self, input: Option<&[u8]>) -> Result<ServerStep, MechError>;
    /// Answers [`ServerStep::NeedCredentials`]: the user's stored password, or
    /// `None` for an unknown user.
    fn credentials(&mut self, stored: Option<&StoredPassword>) -> Result<ServerStep, MechError> {
        let _ = stored;
        Err(MechError::Unexpected)
    }
    /// After a rejected [`ServerStep::VerifyToken`]: the error challenge to send
    /// before failing (OAUTHBEARER), if the mechanism has one.
    fn token_rejected(&mut self) -> Option<Vec<u8>> {
        None
    }
}

/// Creates a server mechanism by (case-insensitive) name.
pub fn server_mechanism(name: &str, options: &ServerOptions) -> Option<Box<dyn ServerMechanism>> {
    use crate::password::scram::ScramHash;
    Some(match name.to_ascii_uppercase().as_str() {
        "PLAIN" => Box::new(plain::PlainServer::default()),
        "LOGIN" => Box::new(plain::LoginServer::default()),
        "CRAM-MD5" => Box::new(cram_md5::CramMd5Server::new(&options.hostname)),
        "SCRAM-SHA-1" => Box::new(ScramServer::new(ScramHash::Sha1, None)),
        "SCRAM-SHA-256" => Box::new(ScramServer::new(ScramHash::Sha256, None)),
        "SCRAM-SHA-1-PLUS" => Box::new(ScramServer::new(
            ScramHash::Sha1,
            Some(options.channel_binding.clone()?),
        )),
        "SCRAM-SHA-256-PLUS" => Box::new(ScramServer::new(
            ScramHash::Sha256,
            Some(options.channel_binding.clone()?),
        )),
        "EXTERNAL" => Box::new(simple::ExternalServer::default()),
        "ANONYMOUS" => Box::new(simple::AnonymousServer::default()),
        "OAUTHBEARER" => Box::new(oauth::OAuthBearerServer::default()),
        "XOAUTH2" => Box::new(oauth::XOAuth2Server::default()),
        _ => return None,
    })
}

/// Splits a `user*master` login name at `separator`: `(user, master)`.
pub fn split_master_user(login: &str, separator: char) -> Option<(&str, &str)> {
    let (user, master) = login.rsplit_once(separator)?;
    (!user.is_empty() && !master.is_empty()).then_some((user, master))
}

pub(crate) fn utf8(bytes: &[u8], what: &'static str) -> Result<String, MechError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| MechError::Malformed(what))
}

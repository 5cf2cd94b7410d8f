//! SASL mechanisms, Dovecot password schemes, passdb/userdb backends and
//! Dovecot's auth protocols: everything the auth process of Dovecot's
//! architecture does, as a library.
//!
//! * [`password`]: Dovecot's `{SCHEME}` password schemes, verify and generate,
//!   interoperable with `doveadm pw` both ways; constant-time comparisons.
//! * [`sasl`]: PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-1/-256 (and `-PLUS`), EXTERNAL,
//!   ANONYMOUS, OAUTHBEARER, XOAUTH2 as sans-IO state machines, server and client.
//! * [`db`]: passdb/userdb traits, passwd-file (re-read on change), static
//!   userdb with templates, a TTL lookup cache.
//! * [`protocol`]: the auth-client protocol (what imap-login and Postfix speak)
//!   and the auth-master/userdb protocol, both sides, as sans-IO cores plus
//!   blocking Unix-socket clients.
//! * [`server`]: the auth server's decisions (master users, `allow_nets`,
//!   `nologin`, per-IP penalty) and [`server::unix`], which serves it on
//!   Unix sockets with password hashing on a worker pool.
//!
//! Authenticating a user against a passwd-file through Columba's own auth
//! server and client:
//!
//! ```
//! use std::sync::Arc;
//! use columba_auth_sasl::db::{PassDb, PasswdFile, UserDb};
//! use columba_auth_sasl::protocol::client::UnixAuthClient;
//! use columba_auth_sasl::sasl::ClientCredentials;
//! use columba_auth_sasl::server::unix::{dovecot_sockets, AuthService};
//! use columba_auth_sasl::server::{AuthConfig, AuthServer};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let users = dir.path().join("users");
//! std::fs::write(&users, "alice:{SSHA256}dkXviH74iKNpeVJMy0aKB94YQNnlhtZR+0Z/BjzruoBElvRu:1000:1000::/home/alice\n").unwrap();
//! let file = Arc::new(PasswdFile::new(users.to_str().unwrap()));
//! let server = Arc::new(AuthServer::new(AuthConfig {
//!     mechanisms: vec!["PLAIN".into(), "SCRAM-SHA-256".into()],
//!     passdbs: vec![file.clone() as Arc<dyn PassDb>],
//!     userdbs: vec![file as Arc<dyn UserDb>],
//!     ..AuthConfig::default()
//! }));
//! let _service = AuthService::start(server, &dovecot_sockets(dir.path())).unwrap();
//!
//! let mut client = UnixAuthClient::connect(&dir.path().join("auth-client")).unwrap();
//! let outcome = client
//!     .authenticate("PLAIN", ClientCredentials::new("alice", "secret"), &["service=imap".into()])
//!     .unwrap();
//! assert!(outcome.success);
//! assert_eq!(outcome.user.as_deref(), Some("alice"));
//! ```
#![forbid(unsafe_code)]

mod error;
pub mod escape;
pub mod password;
mod secret;

pub use error::{Error, Result};
pub use secret::Secret;
pub mod db;
#[doc(hidden)]
pub mod fuzz_harness;
pub mod protocol;
pub mod sasl;
pub mod server;

//! IMAP, POP3 and LMTP session logic for Columba, as sans-IO state machines:
//! each session takes the client's bytes and gives back the bytes to send
//! and events for its adapter (start TLS, check these credentials, a
//! mailbox changed, deliver this message, close). Sockets, TLS, threads and
//! clocks live in the adapter (`columba serve` is one); mail is reached
//! through the [`MailStorage`] trait, implemented over `columba-mail-store`
//! by [`MaildirStorage`], and credentials are checked by an
//! [`Authenticator`], implemented over `columba-auth-sasl`'s passdbs by
//! [`PassdbAuthenticator`].
//!
//! Pre-authentication and post-authentication are separate steps: an
//! [`ImapSession`] only gets a storage in [`ImapSession::login_succeeded`],
//! so a login process can run the first part and a process running as the
//! user the second: [`ImapSession::login_handoff`] ends the login half with
//! an [`ImapHandoff`] (encoded for the other process, decoded there as
//! untrusted bytes) and [`ImapSession::resume`] starts the post-login half;
//! [`Pop3Session`] does the same. With `sasl_passthrough` every SASL
//! exchange is relayed to the adapter (an auth server client) as
//! [`ImapEvent::SaslStart`] / [`ImapEvent::SaslResponse`] events, and
//! failures are worded as Dovecot words them ([`LoginFailure`]).
//!
//! ```
//! use columba_session::{ImapConfig, ImapEvent, ImapSession, MaildirStorage};
//!
//! let home = tempfile::tempdir()?;
//! let mut imap = ImapSession::new(ImapConfig {
//!     plaintext_without_tls: true,
//!     ..ImapConfig::default()
//! });
//! assert!(imap.take_output().starts_with(b"* OK [CAPABILITY IMAP4rev1"));
//!
//! imap.feed(b"a1 LOGIN demo secret\r\n");
//! let Some(ImapEvent::Authenticate { credentials, .. }) = imap.poll_event() else { panic!() };
//! assert_eq!(credentials.user, "demo"); // the adapter checks the password here
//! let storage = MaildirStorage::open(&home.path().join("Maildir"))?;
//! imap.login_succeeded("demo", Box::new(storage));
//! assert!(imap.take_output().starts_with(b"a1 OK [CAPABILITY"));
//!
//! imap.feed(b"a2 SELECT INBOX\r\n");
//! let out = String::from_utf8(imap.take_output())?;
//! assert!(out.contains("* 0 EXISTS\r\n"));
//! assert!(out.ends_with("a2 OK [READ-WRITE] Select completed.\r\n"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

mod append_spool;
pub mod auth;
mod error;
#[doc(hidden)]
pub mod fuzz_harness;
pub mod handoff;
pub mod imap;
pub mod lmtp;
mod maildir_storage;
pub mod pop3;
pub mod storage;
mod view_messages;

pub use auth::{Authenticator, Credentials, PassdbAuthenticator};
pub use error::{Error, Result};
pub use handoff::{ImapHandoff, Pop3Handoff};
pub use imap::{ImapConfig, ImapEvent, ImapSession, LoginFailure};
pub use lmtp::{DeliveryError, LmtpConfig, LmtpEvent, LmtpSession};
pub use maildir_storage::{MaildirStorage, SyncCounts, FULL_SYNC_INTERVAL};
pub use pop3::{Pop3Config, Pop3Event, Pop3Session};
pub use storage::{
    AppendMeta, AppendSink, MailStorage, StagedAppend, StagingSink, SyncKind, ViewSync,
};

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

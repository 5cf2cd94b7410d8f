//! Dovecot's mailbox semantics for Columba: the storage layer an IMAP or
//! POP3 session talks to, the role of Dovecot's lib-storage.
//!
//! Byte-compatible with Dovecot 2.3: the MIME parser ([`message`]), FETCH
//! items ([`fetch`]: ENVELOPE, BODYSTRUCTURE, `BODY[section]`, BINARY,
//! RFC822.SIZE), SEARCH ([`search`]), LIST ([`list`]) and the start of the
//! store over `columba-maildir` and `columba-mail-index` ([`store`]: view,
//! sync, APPEND, STORE, EXPUNGE, COPY/MOVE, change notifications, cache
//! sharing with Dovecot ([`store::MessageCache`] answers FETCH and header
//! SEARCH from `dovecot.index.cache` first, [`store::precache`] fills it
//! for new mail), per-message modseqs, QRESYNC resync, SAVEDATE, streaming
//! APPEND, MULTIAPPEND and APPENDLIMIT).
//!
//! ```
//! use columba_mail_store::message::Message;
//! use columba_mail_store::fetch::Section;
//!
//! let raw = b"From: Ann <ann@example.com>\nSubject: hi\n\nhello\n";
//! let msg = Message::parse(raw);
//! assert_eq!(msg.rfc822_size(), 51); // 47 bytes, 4 LFs counted as CRLF
//! assert_eq!(
//!     String::from_utf8(msg.envelope_imap()).unwrap(),
//!     "NIL \"hi\" ((\"Ann\" NIL \"ann\" \"example.com\")) ((\"Ann\" NIL \"ann\" \"example.com\")) \
//!      ((\"Ann\" NIL \"ann\" \"example.com\")) NIL NIL NIL NIL NIL"
//! );
//! assert_eq!(
//!     msg.bodystructure_imap(true),
//!     b"\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 7 1 NIL NIL NIL NIL".to_vec()
//! );
//! assert_eq!(msg.section(&Section::parse("TEXT")?), b"hello\r\n".to_vec());
//! # Ok::<(), columba_mail_store::Error>(())
//! ```
#![forbid(unsafe_code)]

mod error;
pub mod fetch;
#[doc(hidden)]
pub mod fuzz_harness;
pub mod list;
pub mod message;
pub mod search;
pub mod store;

pub use error::{Error, Result};
pub use message::Message;

//! Dovecot 2.3's `dovecot.index`, `dovecot.index.log` and
//! `dovecot.index.cache`: read, sync, write, lock, detect corruption, rebuild.
//!
//! ```
//! use columba_mail_index::{IndexDir, Transaction, FLAG_SEEN};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let index = IndexDir::new(dir.path());
//! // A new mailbox: UIDVALIDITY 1234, then two messages, then a flag change.
//! index.create(1234, 1234).unwrap();
//! let mut t = Transaction::new();
//! t.append(1, 0).append(2, FLAG_SEEN);
//! index.commit(&t).unwrap();
//! let mut t = Transaction::new();
//! t.add_flags(1, 1, FLAG_SEEN).add_keyword("$Important", &[(2, 2)]);
//! index.commit(&t).unwrap();
//!
//! let view = index.open_view().unwrap();
//! let msgs: Vec<_> = view.messages().collect();
//! assert_eq!(msgs.len(), 2);
//! assert_eq!(msgs[0].uid, 1);
//! assert_eq!(msgs[0].flags & FLAG_SEEN, FLAG_SEEN);
//! assert_eq!(msgs[1].keywords, vec!["$Important"]);
//! assert_eq!(view.header().next_uid, 3);
//! ```
#![forbid(unsafe_code)]

mod bytes;
mod cache_decisions;
pub mod cache_file;
mod cache_reader;
mod cache_write;
pub mod dump;
mod error;
pub mod fuzz;
pub mod index_file;
pub mod local_day;
mod lock;
pub mod log_file;
mod log_prefix;
mod mailbox;
mod replay_cache;
#[cfg(feature = "maildir")]
mod surviving_maildir;
pub mod sync;
pub mod transaction;
mod view_open;

pub use bytes::{decode_offset, encode_offset};
pub use cache_decisions::CacheDecisions;
pub use cache_file::{CacheField, CacheFile};
pub use cache_reader::CacheReader;
pub use cache_write::{cache_matches_index, CacheValues};
pub use error::{Error, FileKind, Result};
pub use index_file::{
    IndexHeader, IndexMap, FLAG_ANSWERED, FLAG_DELETED, FLAG_DRAFT, FLAG_FLAGGED, FLAG_SEEN,
};
pub use lock::LogLock;
pub use log_file::LogFile;
pub use mailbox::{
    Appender, IndexDir, MessageView, RebuildReport, Settings, SurvivingMailbox, SurvivingMessage,
    View,
};
pub use replay_cache::{replay_counts, ReplayCounts};
pub use transaction::{ExtDef, Transaction};

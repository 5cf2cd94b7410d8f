//! Maildir++ storage laid out as Dovecot 2.3 does it, with `dovecot-uidlist`,
//! `dovecot-keywords` and durable delivery.
//!
//! A Maildir written by Dovecot reads back here exactly, and what this crate
//! writes Dovecot opens as its own, also while both run at once: the
//! uidlist is changed only under `dovecot-uidlist.lock` (Dovecot's dotlock),
//! keyword letters follow `dovecot-keywords`, and flag changes are renames
//! that cope with concurrent renames.
//!
//! As in Dovecot, a sync reads the uidlist without its lock and takes the
//! lock only when there are files to number or the uidlist must be
//! rewritten; what did not change since the last call in this process (the
//! parsed uidlist and keyword files, `new/` and `cur/` once settled: see
//! [`DIR_SETTLE`]) is not read again.
//!
//! ```
//! use columba_maildir::{DeliveryOptions, Flags, FlagUpdate, FlagOutcome, Maildir};
//!
//! let dir = tempfile::tempdir()?;
//! let maildir = Maildir::create(&dir.path().join("Maildir"))?;
//! let inbox = maildir.inbox();
//!
//! // Deliver: tmp/ -> fsync -> new/ -> fsync dir, UID assigned under the lock.
//! let msg = b"Subject: hi\r\n\r\nhello\r\n";
//! let delivered = inbox.deliver(&msg[..], &DeliveryOptions::default())?;
//! assert_eq!(delivered.uid, Some(1));
//! assert_eq!((delivered.size, delivered.vsize), (19, 22)); // stored with LF
//!
//! // Set \Seen and a keyword: the file is renamed to ...:2,Sa
//! let outcome = inbox.update_flags(
//!     &delivered.file_name,
//!     &FlagUpdate::Add(Flags::SEEN, vec!["$Important".into()]),
//! )?;
//! assert!(matches!(outcome, FlagOutcome::Renamed(ref n) if n.as_str().ends_with(":2,Sa")));
//!
//! let listing = inbox.list()?;
//! let m = &listing.messages[0];
//! assert_eq!((m.uid, m.flags, m.keywords.clone()), (Some(1), Flags::SEEN, vec!["$Important".to_string()]));
//!
//! // Folders are `.Name` directories, names in modified UTF-7 on disk.
//! maildir.create_folder("Entwürfe")?;
//! assert!(dir.path().join("Maildir/.Entw&APw-rfe/cur").is_dir());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

mod control_cache;
mod dir_scan;
pub mod dotlock;
mod error;
mod file_problem;
pub mod filename;
mod fsutil;
pub mod keywords;
mod listing_memo;
mod mailbox;
mod maildir;
pub mod message_size;
pub mod mutf7;
pub mod subscriptions;
pub mod uidlist;
pub mod uidvalidity;

pub use dir_scan::DIR_SETTLE;
pub use error::{Error, Result};
pub use file_problem::{FileProblem, SkipKind, SkippedFile, UnreadableFile};
pub use filename::{Flags, Info, MaildirFilename};
pub use fsutil::MAX_CONTROL_FILE;
pub use keywords::{Keywords, KeywordsFile};
pub use mailbox::{
    Delivered, DeliveryOptions, FlagOutcome, FlagUpdate, Listing, Mailbox, MessageEntry,
    TMP_DELETE_AGE, TMP_SCAN_INTERVAL,
};
pub use maildir::{FolderEntry, Maildir, SEPARATOR, STORAGE_SEPARATOR, TRASHED_NAME};
pub use subscriptions::{Subscriptions, SubscriptionsFile};
pub use uidlist::{Uidlist, UidlistFile, UidlistLock, UidlistRecord};

//! The start of the store: a read-only view of one Maildir++ mailbox as
//! Dovecot shows it, from `dovecot-uidlist`, the file names and the index
//! (`dovecot.index` + `.log`): sequence-to-UID map, flags, keywords,
//! modseqs, `\Recent`, STATUS counts, and SEARCH that answers from the index
//! before opening message files.
//!
//! Writing: [`sync`] (new files into the uidlist and the index), [`append`]
//! (file first, then the index through its log) and [`store_flags`] (log
//! first, then file renames). Expunging vanished files, flag renames made
//! outside, UNCHANGEDSINCE, copy, move and expunge are not implemented yet.

mod append;
mod flags;
mod snapshot;
mod sync;

pub use append::{append, Appended};
pub use flags::{store_flags, StoreMode};
pub use snapshot::{MailboxSnapshot, SnapshotMessage, Status};
pub use sync::{sync, SyncReport};

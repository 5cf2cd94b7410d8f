//! The start of the store: a read-only view of one Maildir++ mailbox as
//! Dovecot shows it, from `dovecot-uidlist`, the file names and the index
//! (`dovecot.index` + `.log`): sequence-to-UID map, flags, keywords,
//! modseqs, `\Recent`, STATUS counts, and SEARCH that answers from the index
//! before opening message files.
//!
//! Writing: [`append`] (file first, then the index through its log) and
//! [`store_flags`] (log first, then file renames). Syncing new or vanished
//! files into the index, UNCHANGEDSINCE, copy, move and expunge are not
//! implemented yet.

mod append;
mod flags;
mod snapshot;

pub use append::{append, Appended};
pub use flags::{store_flags, StoreMode};
pub use snapshot::{MailboxSnapshot, SnapshotMessage, Status};

//! The start of the store: a read-only view of one Maildir++ mailbox as
//! Dovecot shows it, from `dovecot-uidlist`, the file names and the index
//! (`dovecot.index` + `.log`): sequence-to-UID map, flags, keywords,
//! modseqs, `\Recent`, STATUS counts, and SEARCH that answers from the index
//! before opening message files.
//!
//! Writing: [`append`] (file first, then the index through its log).
//! Syncing new or vanished files into the index, flag changes, copy, move
//! and expunge are not implemented yet.

mod append;
mod snapshot;

pub use append::{append, Appended};
pub use snapshot::{MailboxSnapshot, SnapshotMessage, Status};

//! The start of the store: a read-only view of one Maildir++ mailbox as
//! Dovecot shows it, from `dovecot-uidlist`, the file names and the index
//! (`dovecot.index` + `.log`): sequence-to-UID map, flags, keywords,
//! modseqs, `\Recent`, STATUS counts, and SEARCH that answers from the index
//! before opening message files.
//!
//! It does not write anything: syncing new files into the index, appends,
//! flag changes and expunges are not implemented yet.

mod snapshot;

pub use snapshot::{MailboxSnapshot, SnapshotMessage, Status};

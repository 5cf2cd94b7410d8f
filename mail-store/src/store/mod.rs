//! The start of the store: a read-only view of one Maildir++ mailbox as
//! Dovecot shows it, from `dovecot-uidlist`, the file names and the index
//! (`dovecot.index` + `.log`): sequence-to-UID map, flags, keywords,
//! modseqs, `\Recent`, STATUS counts, and SEARCH that answers from the index
//! before opening message files.
//!
//! Writing: [`sync`] (new files into the uidlist and the index), [`append`]
//! (file first, then the index through its log), [`store_flags`] (log
//! first, then file renames), [`expunge`] (unlink, then the index), and
//! [`copy`] / [`move_messages`] with UIDPLUS results.

mod append;
mod append_limit;
mod cache;
mod cached_fetch;
mod cached_search;
mod changes;
mod copy;
mod dir_stamps;
mod expunge;
mod file_hint;
mod flags;
mod flags_snapshot;
mod folders;
mod index_io;
mod index_state;
mod keywords;
mod maildir_header_memo;
mod message_cache;
mod modseq;
mod new_dir;
mod new_dir_memo;
mod new_dir_sync;
mod precache;
mod resync;
mod savedate;
mod snapshot;
mod staged_append;
mod summary;
mod sync;
mod watch;

pub use append::{append, check_append_limit, Appended};
pub use append_limit::AppendLimit;
pub use cache::{cache_parsed, cache_string, cached, FIELD_BODYSTRUCTURE, FIELD_MIME_PARTS};
pub use cached_fetch::CachedItem;
pub use cached_search::header_fields_needed;
pub use changes::{changes, Change};
/// The index map an [`IndexState`] was read from ([`IndexState::index_map`]).
pub use columba_mail_index::IndexMap;
pub use copy::{copy, copy_limited, move_messages, move_messages_limited, Copied};
pub use expunge::{expunge, expunge_deleted};
pub use flags::{store_flags, store_flags_unchanged_since, StoreMode, StoreResult};
pub use flags_snapshot::{FlagsSnapshot, MessageMeta};
pub use folders::{
    create_mailbox, delete_mailbox, mailbox_guid, mailbox_guid_hex, mailbox_tree, rename_mailbox,
    subscribe, unsubscribe,
};
pub use index_state::{IndexState, StateChanges};
pub use keywords::Keywords;
pub use message_cache::{
    fields as cache_fields, header_field_name, MessageCache, ENVELOPE_HEADERS,
};
pub use modseq::enable_modseqs;
pub use precache::{precache, record_flags, PrecacheFields, PrecacheReport, CLIENT_HEADERS};
pub use resync::{qresync_sample, resync, QresyncRequest, Resync};
pub use savedate::FIELD_DATE_SAVE;
pub use snapshot::{LogPosition, MailboxSnapshot, SnapshotMessage, Status};
pub use staged_append::{
    append_from_reader, commit_appends, AppendMeta, MessageWriter, StagedMessage,
};
pub use summary::{mailbox_status, StatusCache};
pub use sync::{sync, SyncReport};
pub use watch::MailboxWatcher;

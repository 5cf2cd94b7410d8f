//! [`FlagsSnapshot`]: the part of a mailbox's state that SELECT and
//! `FETCH (FLAGS)` need, read from the index alone.

use columba_mail_index::View;
use columba_maildir::Mailbox;

use super::index_state::IndexState;
use super::keywords::Keywords;
use super::snapshot::{self, FromIndexView, LogPosition, MailboxSnapshot};
use crate::error::Result;
use crate::search::MessageFlags;

/// One message's UID, flags, keywords and MODSEQ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageMeta {
    /// UID.
    pub uid: u32,
    /// System flags, `\Recent` included.
    pub flags: MessageFlags,
    /// Keywords, in the index's keyword order.
    pub keywords: Keywords,
    /// MODSEQ.
    pub modseq: u64,
}

/// A mailbox's messages as its index shows them: UIDs, flags, keywords and
/// modseqs in sequence order, and the counters, without anything about
/// the message files. It is what a session's view of a selected mailbox
/// holds; [`MailboxSnapshot`] is the same state with the files.
///
/// Reading it costs one view of the index and one small entry per message,
/// so SELECT of a big mailbox does no more than that.
///
/// ```
/// use columba_mail_store::search::MessageFlags;
/// use columba_mail_store::store::{append, sync, FlagsSnapshot};
/// use columba_maildir::Mailbox;
///
/// let dir = tempfile::tempdir()?;
/// for sub in ["cur", "new", "tmp"] {
///     std::fs::create_dir(dir.path().join(sub))?;
/// }
/// let inbox = Mailbox::at(dir.path(), dir.path(), "INBOX");
/// sync(&inbox)?;
/// append(&inbox, b"Subject: hi\n\nhello\n", MessageFlags::default(), &[], None)?;
///
/// // SELECT: the new message is \Recent here, and claimed
/// let selected = FlagsSnapshot::open_select(&inbox)?;
/// assert_eq!(selected.messages.len(), 1);
/// assert!(selected.messages[0].flags.recent);
/// // no later view sees it as recent again
/// assert!(!FlagsSnapshot::open(&inbox)?.messages[0].flags.recent);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagsSnapshot {
    /// Messages in sequence order (sequence number = index + 1).
    pub messages: Vec<MessageMeta>,
    /// UIDNEXT.
    pub uid_next: u32,
    /// UIDVALIDITY.
    pub uid_validity: u32,
    /// HIGHESTMODSEQ.
    pub highest_modseq: u64,
    /// Where in the transaction log this state is synced to (`None`
    /// without an index).
    pub log_position: Option<LogPosition>,
    /// Whether the index keeps a modseq per message (see
    /// [`MailboxSnapshot::modseq_tracking`]).
    pub modseq_tracking: bool,
}

impl FlagsSnapshot {
    /// Reads the state as [`MailboxSnapshot::open`] does: `\Recent` is
    /// every UID from the index's `first_recent_uid` on, and nothing is
    /// claimed.
    pub fn open(mailbox: &Mailbox) -> Result<FlagsSnapshot> {
        snapshot::open_view_of(mailbox)
    }

    /// Reads the state as [`MailboxSnapshot::open_select`] does: the
    /// messages no session claimed yet are `\Recent` here and are claimed,
    /// `new/` is moved into `cur/`, and per-message modseqs are turned on.
    pub fn open_select(mailbox: &Mailbox) -> Result<FlagsSnapshot> {
        snapshot::open_select_view_of(mailbox)
    }

    /// True if the last message is `\Recent` (recent messages are the
    /// ones with the highest UIDs).
    pub fn shows_recent(&self) -> bool {
        self.messages.last().is_some_and(|m| m.flags.recent)
    }
}

/// The messages of `view`, `\Recent` from the index's `first_recent_uid`.
pub(super) fn messages_of(view: &View) -> Vec<MessageMeta> {
    let first_recent = view.header().first_recent_uid;
    let mut messages = Vec::with_capacity(view.map().messages_count());
    messages.extend(view.messages().map(|m| {
        let mut flags = snapshot::flags_from_index(m.flags);
        flags.recent = first_recent != 0 && m.uid >= first_recent;
        MessageMeta {
            uid: m.uid,
            flags,
            keywords: if m.keywords.is_empty() {
                Keywords::default()
            } else {
                m.keywords.iter().map(|k| k.to_string()).collect()
            },
            modseq: m.modseq,
        }
    }));
    messages
}

/// The message at 0-based position `i` of `view`, as [`messages_of`]
/// gives it.
pub(super) fn message_at(view: &View, i: usize) -> MessageMeta {
    let map = view.map();
    let first_recent = view.header().first_recent_uid;
    let uid = map.uid_at(i);
    let mut flags = snapshot::flags_from_index(map.flags_at(i));
    flags.recent = first_recent != 0 && uid >= first_recent;
    let keywords = map.keywords_at(i);
    MessageMeta {
        uid,
        flags,
        keywords: if keywords.is_empty() {
            Keywords::default()
        } else {
            keywords.iter().map(|k| k.to_string()).collect()
        },
        modseq: match map.modseq_at(i) {
            Some(m) if m != 0 => m,
            _ => view.highest_modseq.max(1),
        },
    }
}

impl FromIndexView for FlagsSnapshot {
    fn from_view(mailbox: &Mailbox, view: View) -> Result<Self> {
        Ok(IndexState::from_view(mailbox, view)?.into_flags())
    }

    fn without_index(mailbox: &Mailbox) -> Result<Self> {
        // the index was just found missing: the listing, not another try
        Ok(FlagsSnapshot::from(MailboxSnapshot::open_without_index(
            mailbox,
        )?))
    }
}

impl From<MailboxSnapshot> for FlagsSnapshot {
    fn from(s: MailboxSnapshot) -> FlagsSnapshot {
        FlagsSnapshot {
            messages: s
                .messages
                .into_iter()
                .map(|m| MessageMeta {
                    uid: m.uid,
                    flags: m.flags,
                    keywords: m.keywords.into(),
                    modseq: m.modseq,
                })
                .collect(),
            uid_next: s.uid_next,
            uid_validity: s.uid_validity,
            highest_modseq: s.highest_modseq,
            log_position: s.log_position,
            modseq_tracking: s.modseq_tracking,
        }
    }
}

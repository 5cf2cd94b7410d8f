//! [`IndexState`]: a mailbox's state held as the view of its index, with
//! the per-message list made only when something asks for it.

use columba_mail_index::{IndexMap, View, FLAG_SEEN};
use columba_maildir::Mailbox;

use super::flags_snapshot::{message_at, messages_of, FlagsSnapshot, MessageMeta};
use super::snapshot::{self, FromIndexView, LogPosition};
use crate::error::Result;

/// A mailbox's state as one view of its index shows it, as Dovecot's
/// SELECT sees a mailbox: the counts SELECT answers with (EXISTS, RECENT,
/// the first unseen message, the keywords) are read from the index's
/// records where they lie, and the per-message list
/// ([`IndexState::into_flags`]) is made only when it is needed. The view
/// shares the index's records with what the process remembers of it, so
/// holding it costs no copy.
///
/// ```
/// use columba_mail_store::search::MessageFlags;
/// use columba_mail_store::store::{append, sync, IndexState};
/// use columba_maildir::Mailbox;
///
/// let dir = tempfile::tempdir()?;
/// for sub in ["cur", "new", "tmp"] {
///     std::fs::create_dir(dir.path().join(sub))?;
/// }
/// let inbox = Mailbox::at(dir.path(), dir.path(), "INBOX");
/// sync(&inbox)?;
/// let seen = MessageFlags { seen: true, ..MessageFlags::default() };
/// append(&inbox, b"Subject: one\n\nread\n", seen, &[], None)?;
/// append(&inbox, b"Subject: two\n\nnew\n", MessageFlags::default(), &[], None)?;
///
/// let state = IndexState::open_select(&inbox)?;
/// assert_eq!(state.len(), 2);
/// assert_eq!(state.recent_uids(), [1, 2]);
/// assert_eq!(state.recent_count(), 2);
/// assert_eq!(state.first_unseen(), Some(2));
/// // the list, when a command needs it
/// let flags = state.into_flags();
/// assert!(flags.messages[0].flags.seen);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct IndexState {
    held: Held,
    /// UIDNEXT.
    pub uid_next: u32,
    /// UIDVALIDITY.
    pub uid_validity: u32,
    /// HIGHESTMODSEQ.
    pub highest_modseq: u64,
    /// Where in the transaction log this state is synced to (`None`
    /// without an index).
    pub log_position: Option<LogPosition>,
    /// Whether the index keeps a modseq per message.
    pub modseq_tracking: bool,
}

/// What [`IndexState::changes_since`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateChanges {
    /// Messages that were there before and may have changed.
    pub changed: Vec<MessageMeta>,
    /// Messages appended since (UIDs above every earlier one).
    pub appended: Vec<MessageMeta>,
}

/// What the state is held as.
#[derive(Debug)]
enum Held {
    /// A view of the index.
    Index(Box<View>),
    /// A mailbox without index files: its list, read from the Maildir.
    Listed(Vec<MessageMeta>),
}

impl IndexState {
    /// Reads the state as [`FlagsSnapshot::open`] does (nothing claimed).
    pub fn open(mailbox: &Mailbox) -> Result<IndexState> {
        snapshot::open_view_of(mailbox)
    }

    /// Reads the state as [`FlagsSnapshot::open_select`] does: new
    /// messages are `\Recent` here and claimed.
    pub fn open_select(mailbox: &Mailbox) -> Result<IndexState> {
        snapshot::open_select_view_of(mailbox)
    }

    /// EXISTS: the number of messages.
    pub fn len(&self) -> usize {
        match &self.held {
            Held::Index(view) => view.map().messages_count(),
            Held::Listed(messages) => messages.len(),
        }
    }

    /// True if the mailbox has no messages.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The UIDs of the messages that are `\Recent` in this state (the
    /// highest ones, from the index's `first_recent_uid` on), ascending.
    pub fn recent_uids(&self) -> Vec<u32> {
        match &self.held {
            Held::Index(view) => {
                let first_recent = view.header().first_recent_uid;
                if first_recent == 0 {
                    return Vec::new();
                }
                let map = view.map();
                let from = match map.position_of_uid(first_recent) {
                    Ok(i) | Err(i) => i,
                };
                (from..map.messages_count())
                    .map(|i| map.uid_at(i))
                    .collect()
            }
            Held::Listed(messages) => messages
                .iter()
                .filter(|m| m.flags.recent)
                .map(|m| m.uid)
                .collect(),
        }
    }

    /// How many messages are `\Recent` in this state (SELECT's RECENT),
    /// found by a binary search of the records.
    pub fn recent_count(&self) -> usize {
        match &self.held {
            Held::Index(view) => {
                let first_recent = view.header().first_recent_uid;
                if first_recent == 0 {
                    return 0;
                }
                let map = view.map();
                let from = match map.position_of_uid(first_recent) {
                    Ok(i) | Err(i) => i,
                };
                map.messages_count() - from
            }
            Held::Listed(messages) => messages.iter().filter(|m| m.flags.recent).count(),
        }
    }

    /// True if any message is `\Recent` in this state.
    pub fn shows_recent(&self) -> bool {
        match &self.held {
            Held::Index(view) => {
                let first_recent = view.header().first_recent_uid;
                let map = view.map();
                let count = map.messages_count();
                first_recent != 0 && count > 0 && map.uid_at(count - 1) >= first_recent
            }
            Held::Listed(messages) => messages.last().is_some_and(|m| m.flags.recent),
        }
    }

    /// The sequence number of the first message without `\Seen`
    /// (SELECT's `[UNSEEN n]`), read from the records.
    pub fn first_unseen(&self) -> Option<u32> {
        match &self.held {
            Held::Index(view) => {
                let map = view.map();
                let h = view.header();
                let count = map.messages_count();
                if h.seen_messages_count as usize >= count {
                    // every message is seen: nothing to walk
                    return None;
                }
                // as Dovecot: every UID below `first_unseen_uid_lowwater`
                // is seen, so the walk starts there
                let from = match map.position_of_uid(h.first_unseen_uid_lowwater) {
                    Ok(i) | Err(i) => i,
                };
                (from..count)
                    .chain(0..from)
                    .find(|&i| map.flags_at(i) & FLAG_SEEN == 0)
                    .map(|i| i as u32 + 1)
            }
            Held::Listed(messages) => messages
                .iter()
                .position(|m| !m.flags.seen)
                .map(|i| i as u32 + 1),
        }
    }

    /// The mailbox's keywords, for SELECT's FLAGS: every keyword the index
    /// knows, in its order, as Dovecot lists them (set on a message or
    /// not); without an index, those set on a message, in order of first
    /// use.
    pub fn keywords(&self) -> Vec<String> {
        match &self.held {
            Held::Index(view) => view.keyword_names().to_vec(),
            Held::Listed(messages) => {
                let mut out: Vec<String> = Vec::new();
                for k in messages.iter().flat_map(|m| m.keywords.iter()) {
                    if !out.contains(k) {
                        out.push(k.clone());
                    }
                }
                out
            }
        }
    }

    /// The index map this state was read from (its records shared, not
    /// copied), to keep for [`IndexState::changes_since`]; `None` for a
    /// mailbox without index files.
    pub fn index_map(&self) -> Option<&IndexMap> {
        match &self.held {
            Held::Index(view) => Some(view.map()),
            Held::Listed(_) => None,
        }
    }

    /// What changed since `earlier` (the [`IndexState::index_map`] of an
    /// earlier state of the same mailbox), when `earlier`'s messages are
    /// all still here in the same order: the messages whose flags,
    /// keywords or MODSEQ may differ, and the messages appended since,
    /// each ascending by UID. A flag change of one message of 100,000, or
    /// one new message, gives one entry. `None` when messages were
    /// expunged, when the two cannot be compared record by record, or when
    /// the index keeps no per-message modseqs (every MODSEQ is then
    /// HIGHESTMODSEQ, which any change moves): then only
    /// [`IndexState::into_flags`] says what changed. A message's `\Recent`
    /// is as the whole list would show it.
    pub fn changes_since(&self, earlier: &IndexMap) -> Option<StateChanges> {
        let Held::Index(view) = &self.held else {
            return None;
        };
        if !self.modseq_tracking {
            return None;
        }
        let map = view.map();
        let old_count = earlier.messages_count();
        let positions = map.changed_positions(earlier)?;
        let mut changes = StateChanges::default();
        for i in positions {
            if i < old_count {
                if map.uid_at(i) != earlier.uid_at(i) {
                    return None;
                }
                changes.changed.push(message_at(view, i));
            } else {
                changes.appended.push(message_at(view, i));
            }
        }
        Some(changes)
    }

    /// The per-message list: the state as a [`FlagsSnapshot`].
    pub fn into_flags(self) -> FlagsSnapshot {
        FlagsSnapshot {
            messages: match self.held {
                Held::Index(view) => messages_of(&view),
                Held::Listed(messages) => messages,
            },
            uid_next: self.uid_next,
            uid_validity: self.uid_validity,
            highest_modseq: self.highest_modseq,
            log_position: self.log_position,
            modseq_tracking: self.modseq_tracking,
        }
    }
}

impl FromIndexView for IndexState {
    fn from_view(mailbox: &Mailbox, view: View) -> Result<Self> {
        let c = snapshot::ViewCounters::of(mailbox, &view)?;
        Ok(IndexState {
            uid_next: c.uid_next,
            uid_validity: c.uid_validity,
            highest_modseq: c.highest_modseq,
            log_position: Some(c.log_position),
            modseq_tracking: c.modseq_tracking,
            held: Held::Index(Box::new(view)),
        })
    }

    fn without_index(mailbox: &Mailbox) -> Result<Self> {
        let flags = FlagsSnapshot::without_index(mailbox)?;
        Ok(IndexState {
            uid_next: flags.uid_next,
            uid_validity: flags.uid_validity,
            highest_modseq: flags.highest_modseq,
            log_position: flags.log_position,
            modseq_tracking: flags.modseq_tracking,
            held: Held::Listed(flags.messages),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::MessageFlags;
    use crate::store::{append, store_flags, sync, StoreMode};

    fn inbox(dir: &std::path::Path) -> Mailbox {
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let inbox = Mailbox::at(dir, dir, "INBOX");
        sync(&inbox).unwrap();
        inbox
    }

    #[test]
    fn the_first_unseen_message_follows_flag_changes() {
        let dir = tempfile::tempdir().unwrap();
        let inbox = inbox(dir.path());
        let seen = MessageFlags {
            seen: true,
            ..MessageFlags::default()
        };
        for _ in 0..4 {
            append(&inbox, b"Subject: s\n\nx\n", seen, &[], None).unwrap();
        }
        assert_eq!(IndexState::open(&inbox).unwrap().first_unseen(), None);
        store_flags(&inbox, &[3], StoreMode::Remove, seen, &[]).unwrap();
        assert_eq!(IndexState::open(&inbox).unwrap().first_unseen(), Some(3));
        store_flags(&inbox, &[2], StoreMode::Remove, seen, &[]).unwrap();
        assert_eq!(IndexState::open(&inbox).unwrap().first_unseen(), Some(2));
        store_flags(&inbox, &[2, 3], StoreMode::Add, seen, &[]).unwrap();
        assert_eq!(IndexState::open(&inbox).unwrap().first_unseen(), None);
        // the list made from the same state agrees
        store_flags(&inbox, &[4], StoreMode::Remove, seen, &[]).unwrap();
        let state = IndexState::open(&inbox).unwrap();
        let first = state.first_unseen();
        let flags = state.into_flags();
        let from_list = flags.messages.iter().position(|m| !m.flags.seen);
        assert_eq!(first, from_list.map(|i| i as u32 + 1));
        assert_eq!(first, Some(4));
    }
}

//! [`Messages`]: a view's per-message list, made when first looked at.

use std::ops::{Deref, DerefMut};
use std::sync::{Mutex, OnceLock};

use crate::storage::MessageMeta;

/// What makes the list of a lazy [`Messages`].
type Source = Box<dyn FnOnce() -> Vec<MessageMeta> + Send>;

/// What SELECT tells of a view without walking its messages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ViewSummary {
    /// UIDs of the messages that are `\Recent` in the view, ascending.
    pub recent: Vec<u32>,
    /// Sequence number of the first message without `\Seen`.
    pub first_unseen: Option<u32>,
    /// The keywords for SELECT's FLAGS answer.
    pub keywords: Vec<String>,
}

/// A view's messages in sequence order (sequence number = index + 1).
///
/// It reads as a `Vec<MessageMeta>`. A storage may hand out the list
/// lazily ([`Messages::lazy`]): with the count and a [`ViewSummary`]
/// known, SELECT answers without the list, which is made the first time
/// anything looks at the messages, as Dovecot reads a big mailbox's
/// records only when a command needs them.
///
/// ```
/// use columba_session::storage::{MessageFlags, MessageMeta, Messages, ViewSummary};
///
/// let one = MessageMeta {
///     uid: 7,
///     flags: MessageFlags::default(),
///     keywords: Default::default(),
///     modseq: 1,
/// };
/// let summary = ViewSummary { first_unseen: Some(1), ..ViewSummary::default() };
/// let lazy = Messages::lazy(1, summary, move || vec![one]);
/// assert_eq!(lazy.len(), 1); // the count, without the list
/// assert_eq!(lazy.first_unseen(), Some(1));
/// assert_eq!(lazy[0].uid, 7); // the list, made now
/// ```
pub struct Messages {
    list: OnceLock<Vec<MessageMeta>>,
    source: Mutex<Option<Source>>,
    len: usize,
    summary: ViewSummary,
}

impl Messages {
    /// A list of `len` messages made by `source` when first needed, with
    /// `summary` telling what SELECT needs until then.
    pub fn lazy(
        len: usize,
        summary: ViewSummary,
        source: impl FnOnce() -> Vec<MessageMeta> + Send + 'static,
    ) -> Messages {
        Messages {
            list: OnceLock::new(),
            source: Mutex::new(Some(Box::new(source))),
            len,
            summary,
        }
    }

    /// The number of messages (the list is not made for it).
    pub fn len(&self) -> usize {
        self.list.get().map_or(self.len, Vec::len)
    }

    /// True if there are no messages.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the list has been made.
    pub fn is_made(&self) -> bool {
        self.list.get().is_some()
    }

    /// UIDs of the `\Recent` messages, ascending.
    pub fn recent_uids(&self) -> Vec<u32> {
        match self.list.get() {
            Some(list) => list
                .iter()
                .filter(|m| m.flags.recent)
                .map(|m| m.uid)
                .collect(),
            None => self.summary.recent.clone(),
        }
    }

    /// Sequence number of the first message without `\Seen`.
    pub fn first_unseen(&self) -> Option<u32> {
        match self.list.get() {
            Some(list) => list
                .iter()
                .position(|m| !m.flags.seen)
                .map(|i| i as u32 + 1),
            None => self.summary.first_unseen,
        }
    }

    /// The keywords for SELECT's FLAGS answer: the summary's, or once the
    /// list is made those set on a message, in order of first use.
    pub fn keywords(&self) -> Vec<String> {
        match self.list.get() {
            Some(list) => {
                let mut out: Vec<String> = Vec::new();
                for k in list.iter().flat_map(|m| m.keywords.iter()) {
                    if !out.contains(k) {
                        out.push(k.clone());
                    }
                }
                out
            }
            None => self.summary.keywords.clone(),
        }
    }

    /// The list, made now if it was not yet.
    pub fn into_vec(mut self) -> Vec<MessageMeta> {
        self.make();
        self.list.take().unwrap_or_default()
    }

    fn make(&self) -> &Vec<MessageMeta> {
        self.list.get_or_init(|| {
            let source = self
                .source
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .take();
            source.map_or_else(Vec::new, |make| make())
        })
    }
}

impl Deref for Messages {
    type Target = Vec<MessageMeta>;

    fn deref(&self) -> &Vec<MessageMeta> {
        self.make()
    }
}

impl DerefMut for Messages {
    fn deref_mut(&mut self) -> &mut Vec<MessageMeta> {
        self.make();
        self.list.get_mut().expect("the list was just made")
    }
}

impl From<Vec<MessageMeta>> for Messages {
    fn from(list: Vec<MessageMeta>) -> Messages {
        Messages {
            len: list.len(),
            list: OnceLock::from(list),
            source: Mutex::new(None),
            summary: ViewSummary::default(),
        }
    }
}

impl Default for Messages {
    fn default() -> Messages {
        Messages::from(Vec::new())
    }
}

impl Clone for Messages {
    fn clone(&self) -> Messages {
        Messages::from(self.make().clone())
    }
}

impl PartialEq for Messages {
    fn eq(&self, other: &Messages) -> bool {
        self.make() == other.make()
    }
}

impl Eq for Messages {}

impl std::fmt::Debug for Messages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.list.get() {
            Some(list) => list.fmt(f),
            None => write!(f, "Messages({} not read yet)", self.len),
        }
    }
}

impl IntoIterator for Messages {
    type Item = MessageMeta;
    type IntoIter = std::vec::IntoIter<MessageMeta>;

    fn into_iter(self) -> Self::IntoIter {
        self.into_vec().into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    fn meta(uid: u32, seen: bool) -> MessageMeta {
        MessageMeta {
            uid,
            flags: crate::storage::MessageFlags {
                seen,
                ..Default::default()
            },
            keywords: Default::default(),
            modseq: 1,
        }
    }

    #[test]
    fn the_list_is_made_once_and_only_when_looked_at() {
        let made = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&made);
        let mut m = Messages::lazy(2, ViewSummary::default(), move || {
            counter.fetch_add(1, Ordering::SeqCst);
            vec![meta(1, true), meta(2, false)]
        });
        assert_eq!(m.len(), 2);
        assert!(!m.is_made());
        assert_eq!(made.load(Ordering::SeqCst), 0);
        assert_eq!(m.first_unseen(), None, "the summary's, until made");
        assert_eq!(m.last().map(|x| x.uid), Some(2));
        assert_eq!(m.first_unseen(), Some(2), "from the list once made");
        m.retain(|x| x.uid != 1);
        assert_eq!(m.len(), 1, "the count follows the list");
        assert_eq!(made.load(Ordering::SeqCst), 1);
        assert_eq!(m.into_vec().len(), 1);
    }
}

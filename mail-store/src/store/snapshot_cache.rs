//! [`SnapshotCache`]: views of mailboxes kept while their files are
//! unchanged, as Dovecot keeps recently closed indexes open in a process.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use columba_maildir::Mailbox;

use super::snapshot::MailboxSnapshot;
use super::summary::{stamp, Stamp};
use crate::error::Result;

/// How many mailboxes a [`SnapshotCache`] remembers before it forgets the
/// least recently opened one.
const DEFAULT_CAPACITY: usize = 8;

/// A file changed less than this long before it was looked at may change
/// again within the same timestamp tick, unseen by size and mtime: such a
/// state is read but not remembered (the rule Git and the Maildir listing
/// use).
const RACY_WINDOW: Duration = Duration::from_secs(2);

/// [`MailboxSnapshot::open`] remembered per mailbox while `dovecot.index`,
/// `dovecot.index.log` and `dovecot-uidlist` are unchanged (device, inode,
/// size, mtime): opening a mailbox again in the same process costs three
/// `stat` calls and a copy of the view instead of reading and replaying
/// the index.
///
/// ```
/// use columba_mail_store::store::{append, sync, MailboxSnapshot, SnapshotCache};
/// use columba_mail_store::search::MessageFlags;
/// use columba_maildir::Mailbox;
///
/// let dir = tempfile::tempdir()?;
/// for sub in ["cur", "new", "tmp"] {
///     std::fs::create_dir(dir.path().join(sub))?;
/// }
/// let inbox = Mailbox::at(dir.path(), dir.path(), "INBOX");
/// sync(&inbox)?;
/// append(&inbox, b"Subject: a\n\nx\n", MessageFlags::default(), &[], None)?;
/// let mut views = SnapshotCache::default();
/// assert_eq!(views.open(&inbox)?.messages, MailboxSnapshot::open(&inbox)?.messages);
/// append(&inbox, b"Subject: b\n\ny\n", MessageFlags::default(), &[], None)?;
/// assert_eq!(views.open(&inbox)?.messages.len(), 2); // the log grew: read again
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct SnapshotCache {
    entries: HashMap<PathBuf, Entry>,
    capacity: usize,
    clock: u64,
    hits: u64,
}

#[derive(Debug)]
struct Entry {
    stamps: [Stamp; 3],
    snapshot: MailboxSnapshot,
    last_used: u64,
}

impl Default for SnapshotCache {
    fn default() -> Self {
        SnapshotCache::with_capacity(DEFAULT_CAPACITY)
    }
}

impl SnapshotCache {
    /// A cache remembering at most `capacity` mailboxes (at least one).
    pub fn with_capacity(capacity: usize) -> SnapshotCache {
        SnapshotCache {
            entries: HashMap::new(),
            capacity: capacity.max(1),
            clock: 0,
            hits: 0,
        }
    }

    /// The mailbox's view, as [`MailboxSnapshot::open`] gives it; read
    /// again only if one of its index files or its uidlist changed since
    /// last time. A mailbox without an index is always read again.
    pub fn open(&mut self, mailbox: &Mailbox) -> Result<MailboxSnapshot> {
        let dir = mailbox.path();
        let stamps = [
            stamp(&dir.join("dovecot.index.log")),
            stamp(&dir.join("dovecot.index")),
            stamp(&dir.join("dovecot-uidlist")),
        ];
        self.clock += 1;
        if stamps[0].is_some() {
            if let Some(e) = self.entries.get_mut(dir) {
                if e.stamps == stamps {
                    e.last_used = self.clock;
                    self.hits += 1;
                    let mut snapshot = e.snapshot.clone();
                    snapshot.set_mailbox(mailbox);
                    return Ok(snapshot);
                }
            }
        }
        // stamps taken before reading: a change during the read is seen next time
        let snapshot = MailboxSnapshot::open(mailbox)?;
        if stamps[0].is_some() && stamps.iter().all(settled) {
            if self.entries.len() >= self.capacity && !self.entries.contains_key(dir) {
                let oldest = self
                    .entries
                    .iter()
                    .min_by_key(|(_, e)| e.last_used)
                    .map(|(p, _)| p.clone());
                if let Some(p) = oldest {
                    self.entries.remove(&p);
                }
            }
            self.entries.insert(
                dir.to_path_buf(),
                Entry {
                    stamps,
                    snapshot: snapshot.clone(),
                    last_used: self.clock,
                },
            );
        } else {
            self.entries.remove(dir);
        }
        Ok(snapshot)
    }

    /// How many opens were answered from memory.
    pub fn hits(&self) -> u64 {
        self.hits
    }

    /// Forgets every mailbox.
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

/// True if the file (or its absence) can be trusted by its stamp: its
/// mtime is older than the racy window.
fn settled(s: &Stamp) -> bool {
    let Some((_, _, _, secs, nsecs)) = *s else {
        return true;
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mtime = Duration::new(secs.max(0) as u64, nsecs.clamp(0, 999_999_999) as u32);
    now.saturating_sub(mtime) >= RACY_WINDOW
}

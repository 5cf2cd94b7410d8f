//! What SELECT, EXAMINE and STATUS report, read from `dovecot.index` and
//! the log tail the way Dovecot opens a mailbox: without building a view
//! of every message and without reading the cache file, so opening an
//! unchanged mailbox of 100,000 messages costs one pass over the index
//! records.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use columba_mail_index::sync::replay;
use columba_mail_index::{IndexDir, IndexMap, FLAG_SEEN};
use columba_maildir::Mailbox;

use super::snapshot::{MailboxSnapshot, Status};
use crate::error::Result;

/// The counts of [`Status`] from the index alone (`\Recent` as the index
/// holds it: UIDs from `first_recent_uid` on, not claimed by this call).
/// A mailbox without an index is read as [`MailboxSnapshot::open`] reads
/// it.
///
/// ```
/// use columba_mail_store::store::{append, mailbox_status, sync, MailboxSnapshot};
/// use columba_mail_store::search::MessageFlags;
/// use columba_maildir::Mailbox;
///
/// let dir = tempfile::tempdir()?;
/// for sub in ["cur", "new", "tmp"] {
///     std::fs::create_dir(dir.path().join(sub))?;
/// }
/// let inbox = Mailbox::at(dir.path(), dir.path(), "INBOX");
/// sync(&inbox)?;
/// let seen = MessageFlags { seen: true, ..MessageFlags::default() };
/// append(&inbox, b"Subject: a\n\nx\n", seen, &[], None)?;
/// append(&inbox, b"Subject: b\n\ny\n", MessageFlags::default(), &[], None)?;
/// let status = mailbox_status(&inbox)?;
/// assert_eq!((status.messages, status.unseen, status.first_unseen), (2, 1, Some(2)));
/// assert_eq!(status, MailboxSnapshot::open(&inbox)?.status());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn mailbox_status(mailbox: &Mailbox) -> Result<Status> {
    let index = IndexDir::new(mailbox.path());
    if !mailbox.path().join("dovecot.index.log").exists() {
        return Ok(MailboxSnapshot::open(mailbox)?.status());
    }
    let turn = super::index_io::guard(mailbox.path());
    let logs = index.read_logs()?;
    let head_indexid = logs.last().map_or(0, |l| l.header.indexid);
    let index_map = index.read_index()?;
    drop(turn);
    let mut map = match index_map {
        Some(m) if m.header.indexid == head_indexid => m,
        // a missing or foreign dovecot.index: the log alone, as the full view does
        _ => return Ok(MailboxSnapshot::open(mailbox)?.status()),
    };
    let refs: Vec<&columba_mail_index::LogFile> = logs.iter().collect();
    let replayed = replay(&mut map, &refs)?;
    status_of(&map, replayed.highest_modseq, mailbox)
}

fn status_of(map: &IndexMap, highest_modseq: u64, mailbox: &Mailbox) -> Result<Status> {
    let h = &map.header;
    let first_recent = h.first_recent_uid;
    let (mut recent, mut unseen, mut first_unseen) = (0u32, 0u32, None);
    for (i, (uid, flags)) in map.uids_and_flags().enumerate() {
        if first_recent != 0 && uid >= first_recent {
            recent += 1;
        }
        if flags & FLAG_SEEN == 0 {
            unseen += 1;
            if first_unseen.is_none() {
                first_unseen = Some(i as u32 + 1);
            }
        }
    }
    let (uid_next, uid_validity) = super::snapshot::uid_counters(mailbox, h)?;
    Ok(Status {
        messages: map.messages_count() as u32,
        recent,
        unseen,
        first_unseen,
        uid_next,
        uid_validity,
        highest_modseq: highest_modseq.max(1),
    })
}

/// What identifies the state of one index file: device, inode, size and
/// modification time (the log only grows, rotation makes a new inode).
pub(crate) type Stamp = Option<(u64, u64, u64, i64, i64)>;

pub(crate) fn stamp(path: &std::path::Path) -> Stamp {
    let m = std::fs::metadata(path).ok()?;
    Some((m.dev(), m.ino(), m.len(), m.mtime(), m.mtime_nsec()))
}

/// [`mailbox_status`] remembered per mailbox while its index files are
/// unchanged, as Dovecot keeps recently closed indexes open in a process:
/// opening a mailbox again costs three `stat` calls.
///
/// ```
/// use columba_mail_store::store::{mailbox_status, sync, StatusCache};
/// use columba_maildir::Mailbox;
///
/// let dir = tempfile::tempdir()?;
/// for sub in ["cur", "new", "tmp"] {
///     std::fs::create_dir(dir.path().join(sub))?;
/// }
/// let inbox = Mailbox::at(dir.path(), dir.path(), "INBOX");
/// sync(&inbox)?;
/// let mut statuses = StatusCache::default();
/// assert_eq!(statuses.status(&inbox)?, mailbox_status(&inbox)?);
/// std::fs::write(dir.path().join("new/1700000000.M1P1.x"), "Subject: a\n\nb\n")?;
/// sync(&inbox)?; // the log changed: read again
/// assert_eq!(statuses.status(&inbox)?.messages, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
pub struct StatusCache {
    entries: HashMap<PathBuf, ([Stamp; 3], Status)>,
}

impl StatusCache {
    /// The mailbox's status, read again only if `dovecot.index`,
    /// `dovecot.index.log` or `dovecot-uidlist` changed since last time.
    pub fn status(&mut self, mailbox: &Mailbox) -> Result<Status> {
        let dir = mailbox.path();
        let stamps = [
            stamp(&dir.join("dovecot.index.log")),
            stamp(&dir.join("dovecot.index")),
            stamp(&dir.join("dovecot-uidlist")),
        ];
        if stamps[0].is_some() {
            if let Some((seen, status)) = self.entries.get(dir) {
                if *seen == stamps {
                    return Ok(*status);
                }
            }
        }
        let status = mailbox_status(mailbox)?;
        // stamps taken before reading: a change during the read is seen next time
        self.entries.insert(dir.to_path_buf(), (stamps, status));
        Ok(status)
    }
}

//! SELECT's move of `new/` into `cur/`, skipped while `new/` is unchanged
//! since this process last found nothing to move there: Dovecot's Maildir
//! sync reads a directory only when its mtime changed, and so does this.
//!
//! A directory whose mtime is within the last two seconds is always read:
//! a file added in the same timestamp tick as the last look leaves the
//! mtime as it was (the rule `columba-maildir` and Dovecot apply too).

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use columba_maildir::Mailbox;

use crate::error::Result;

/// Device, inode, mtime (seconds, nanoseconds) and ctime of a directory.
type DirStamp = (u64, u64, i64, i64, i64, i64);

/// How many mailboxes' `new/` are remembered; past that the memory starts
/// over (a look costs one directory read, never a wrong answer).
const REMEMBERED: usize = 4096;

/// Seconds within which a directory's mtime is not trusted.
const UNTRUSTED_SECS: i64 = 2;

/// `new/` stamps known to hold nothing SELECT moves, by mailbox directory.
static SETTLED: Mutex<Option<HashMap<PathBuf, DirStamp>>> = Mutex::new(None);

fn dir_stamp(path: &Path) -> Option<DirStamp> {
    let m = std::fs::metadata(path).ok()?;
    Some((
        m.dev(),
        m.ino(),
        m.mtime(),
        m.mtime_nsec(),
        m.ctime(),
        m.ctime_nsec(),
    ))
}

fn trusted(stamp: &DirStamp) -> bool {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    stamp.2 < now - UNTRUSTED_SECS && stamp.4 < now - UNTRUSTED_SECS
}

/// [`Mailbox::move_new_to_cur`], unless `new/` is as it was when this
/// process last found nothing there to move. Returns how many files moved.
pub(super) fn move_new_to_cur(mailbox: &Mailbox) -> Result<usize> {
    let new_dir = mailbox.path().join("new");
    let before = dir_stamp(&new_dir);
    if let Some(stamp) = before.filter(trusted) {
        let settled = SETTLED.lock().unwrap_or_else(|e| e.into_inner());
        if settled
            .as_ref()
            .and_then(|m| m.get(mailbox.path()))
            .is_some_and(|s| *s == stamp)
        {
            return Ok(0);
        }
    }
    let moved = mailbox.move_new_to_cur()?;
    let after = dir_stamp(&new_dir);
    let mut settled = SETTLED.lock().unwrap_or_else(|e| e.into_inner());
    let map = settled.get_or_insert_with(HashMap::new);
    match (before, after) {
        // nothing moved and nothing changed while it looked: what is left
        // in new/ (if anything) cannot be moved until new/ changes
        (Some(b), Some(a)) if moved == 0 && a == b => {
            if map.len() >= REMEMBERED {
                map.clear();
            }
            map.insert(mailbox.path().to_path_buf(), a);
        }
        _ => {
            map.remove(mailbox.path());
        }
    }
    Ok(moved)
}

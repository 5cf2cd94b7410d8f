//! What `new/` of a mailbox held when the index's `maildir` header
//! recorded its stamp, remembered per process: the partial sync
//! ([`super::new_dir_sync`]) lists `new/` alone only when it knows this,
//! so a file that vanished from `new/` since (expunged by another process)
//! is never missed; without it a full scan is made.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A directory's mtime (seconds, nanoseconds).
pub(super) type Mtime = (u32, u32);

/// How many mailboxes are remembered; past that the memory starts over
/// (a miss costs one full scan, never a wrong answer).
const REMEMBERED: usize = 4096;

/// Per mailbox directory: the stamp and the base names `new/` held then.
type Memo = HashMap<PathBuf, (Mtime, HashSet<String>)>;

static MEMO: Mutex<Option<Memo>> = Mutex::new(None);

/// Remembers that `new/` of the mailbox at `dir` held the files with
/// these base names when its mtime was `stamp`.
pub(super) fn remember(dir: &Path, stamp: Mtime, bases: HashSet<String>) {
    let mut memo = MEMO.lock().unwrap_or_else(|e| e.into_inner());
    let map = memo.get_or_insert_with(HashMap::new);
    if map.len() >= REMEMBERED {
        map.clear();
    }
    map.insert(dir.to_path_buf(), (stamp, bases));
}

/// The base names `new/` held at `stamp`, if this process knows them.
pub(super) fn held_at(dir: &Path, stamp: Mtime) -> Option<HashSet<String>> {
    let memo = MEMO.lock().unwrap_or_else(|e| e.into_inner());
    let (at, bases) = memo.as_ref()?.get(dir)?;
    (*at == stamp).then(|| bases.clone())
}

/// The base name of a file name (up to the first `:`).
pub(super) fn base_of(name: &str) -> &str {
    name.split(':').next().unwrap_or(name)
}

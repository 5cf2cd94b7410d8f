//! The process's memory of log replays, as Dovecot keeps an index's map in
//! memory between syncs: per index directory, the state the last replay
//! reached and the identity of the files it came from, so that the next
//! open reads and applies only the records appended to the head log since.
//!
//! Nothing here is trusted blindly: the owner ([`crate::IndexDir`]) checks
//! before every reuse that `dovecot.index` and `dovecot.index.log.2` are
//! the same files, and that the head log is the same inode with the same
//! header and the same bytes just before the remembered end; anything else
//! means a replay from scratch.

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::Error;
use crate::index_file::{IndexHeader, IndexMap};
use crate::log_file::LogFile;
use crate::sync::Reached;

/// How many index directories a process remembers (least recently used go).
const MAX_DIRS: usize = 16;

/// A file's identity and version as `fstat` shows them: a file replaced by
/// rename gets another inode, one written in place another size or times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileId {
    dev: u64,
    ino: u64,
    pub(crate) size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl FileId {
    pub(crate) fn of(meta: &Metadata) -> FileId {
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// Same inode (the head log grows in place, so only this counts for it).
    pub(crate) fn same_inode(&self, other: &FileId) -> bool {
        (self.dev, self.ino) == (other.dev, other.ino)
    }
}

/// A replay that can go on: the unfinished map, where it stands, and the
/// files it was made from.
#[derive(Debug)]
pub(crate) struct Replayed {
    /// The map as the walk left it ([`Reached::finish`] a copy for a view).
    pub(crate) map: IndexMap,
    /// Where the walk stands in the head log.
    pub(crate) reached: Reached,
    /// Records that could not be applied (each a corruption error).
    pub(crate) skipped: Vec<Error>,
    /// Whether `dovecot.index` existed and was used.
    pub(crate) had_index_file: bool,
    /// The head log's bytes up to [`Reached::end`].
    pub(crate) head: LogFile,
    /// The head log's identity when it was read.
    pub(crate) head_id: FileId,
    /// `dovecot.index` as it was read (`None`: there was none).
    pub(crate) index_id: Option<FileId>,
    /// Its header, as the file on disk has it.
    pub(crate) index_header: Option<IndexHeader>,
    /// `dovecot.index.log.2` as it was read (`None`: there was none).
    pub(crate) log2_id: Option<FileId>,
}

/// How this process's view opens went so far (for diagnostics and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReplayCounts {
    /// Opens that read and replayed the files from scratch.
    pub from_scratch: u64,
    /// Opens that went on from an earlier replay (reading only what the
    /// head log gained since, if anything).
    pub resumed: u64,
}

static FROM_SCRATCH: AtomicU64 = AtomicU64::new(0);
static RESUMED: AtomicU64 = AtomicU64::new(0);

/// How many view opens of this process replayed from scratch and how many
/// went on from an earlier replay, over all index directories.
pub fn replay_counts() -> ReplayCounts {
    ReplayCounts {
        from_scratch: FROM_SCRATCH.load(Ordering::Relaxed),
        resumed: RESUMED.load(Ordering::Relaxed),
    }
}

/// Counts one open.
pub(crate) fn count(resumed: bool) {
    let c = if resumed { &RESUMED } else { &FROM_SCRATCH };
    c.fetch_add(1, Ordering::Relaxed);
}

/// One directory's remembered replay; `None` until a replay succeeded.
pub(crate) type Slot = Arc<Mutex<Option<Replayed>>>;

static DIRS: Mutex<Vec<(PathBuf, Slot)>> = Mutex::new(Vec::new());

/// The slot of directory `dir`, created if needed (most recently used last).
pub(crate) fn slot(dir: &Path) -> Slot {
    let mut dirs = DIRS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(i) = dirs.iter().position(|(d, _)| d == dir) {
        let entry = dirs.remove(i);
        let slot = Arc::clone(&entry.1);
        dirs.push(entry);
        return slot;
    }
    if dirs.len() >= MAX_DIRS {
        dirs.remove(0);
    }
    let slot = Slot::default();
    dirs.push((dir.to_path_buf(), Arc::clone(&slot)));
    slot
}

/// Locks a slot. A slot whose holder panicked may hold a half-applied
/// replay: it is emptied.
pub(crate) fn lock(slot: &Slot) -> MutexGuard<'_, Option<Replayed>> {
    match slot.lock() {
        Ok(g) => g,
        Err(poisoned) => {
            let mut g = poisoned.into_inner();
            *g = None;
            slot.clear_poison();
            g
        }
    }
}

/// A copy of a skipped-record error (those are all corruption reports).
pub(crate) fn duplicate(e: &Error) -> Error {
    match e {
        Error::Corrupt {
            file,
            offset,
            reason,
        } => Error::Corrupt {
            file: *file,
            offset: *offset,
            reason: reason.clone(),
        },
        Error::LogLost(s) => Error::LogLost(s.clone()),
        Error::Invalid(s) => Error::Invalid(s.clone()),
        Error::LockTimeout { path } => Error::LockTimeout { path: path.clone() },
        Error::Io { path, source } => Error::Io {
            path: path.clone(),
            source: std::io::Error::new(source.kind(), source.to_string()),
        },
        #[cfg(feature = "maildir")]
        other => Error::Invalid(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_shared_per_directory_and_bounded() {
        let a = slot(Path::new("/nonexistent/replay-cache-test/a"));
        let again = slot(Path::new("/nonexistent/replay-cache-test/a"));
        assert!(Arc::ptr_eq(&a, &again));
        for i in 0..MAX_DIRS {
            slot(&PathBuf::from(format!(
                "/nonexistent/replay-cache-test/{i}"
            )));
        }
        let after = slot(Path::new("/nonexistent/replay-cache-test/a"));
        assert!(
            !Arc::ptr_eq(&a, &after),
            "the oldest directory was forgotten"
        );
        assert!(DIRS.lock().unwrap().len() <= MAX_DIRS);
    }
}

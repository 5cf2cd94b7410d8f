//! How this crate writes a mailbox's index: as Dovecot 2.3 does with its
//! default `fsync_mode = optimized`.
//!
//! Transaction log appends are not `fdatasync`ed (Dovecot's Maildir
//! storage sets no fsync mask for the log; `strace` of its imap process
//! shows no sync of `dovecot.index.log` on SELECT, STORE, APPEND or
//! EXPUNGE). What makes a change durable is what it does to the Maildir,
//! which is synced where Dovecot syncs it: an APPEND's file is
//! `fdatasync`ed in `tmp/`, linked, its directory synced and its UID
//! appended to the synced `dovecot-uidlist` before the log is written. The
//! order stays log first for flag changes and files first for appends and
//! expunges, so a process killed at any point leaves what it always left;
//! after a power loss that drops the log's tail, the next sync rebuilds it
//! from the files (new UIDs from the uidlist, vanished files expunged,
//! flags from the file names).
//!
//! Rewriting `dovecot.index` and rotating the log replace whole files and
//! keep their syncs ([`maintain_if_due`]).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};

use columba_mail_index::{IndexDir, LogLock, Transaction};

use crate::error::Result;

/// Every this many bytes of log growth, [`IndexDir::maintain`] looks at
/// whether `dovecot.index` is due to be rewritten or the log rotated
/// (Dovecot's `mail_index_rewrite_min_log_bytes`).
pub(super) const MAINTAIN_EVERY: u64 = 8 * 1024;

/// The index of the mailbox in `dir`, for writing through the log.
pub(super) fn index_for_writing(dir: &Path) -> IndexDir {
    let mut index = IndexDir::new(dir);
    index.settings.fsync = false;
    index
}

/// Runs [`IndexDir::maintain`] (with its file syncs) when a commit that
/// grew the log from `before` to `after` bytes crossed a multiple of
/// [`MAINTAIN_EVERY`]: Dovecot looks after each sync whether the index is
/// due for a rewrite; looking once per 8 KiB of log costs a lock and a
/// read of the log per hundred-odd commits instead of one per commit, and
/// needs no memory of earlier commits, whichever process made them. Call
/// it with the log lock released.
///
/// The operation that committed is done whatever happens here, so a
/// failure is not its failure: the index stays as valid as it was (a
/// rewrite goes through a temporary file), the next due point tries again,
/// and what made it fail (a broken log, say) shows at the next open.
pub(super) fn maintain_if_due(dir: &Path, before: u64, after: u64) {
    if before / MAINTAIN_EVERY != after / MAINTAIN_EVERY {
        let _turn = guard(dir);
        let _ = IndexDir::new(dir).maintain();
    }
}

/// [`IndexDir::commit_locked`], returning the log's length before and
/// after the commit (for [`maintain_if_due`]).
pub(super) fn commit_measured(
    index: &IndexDir,
    lock: &LogLock,
    t: &Transaction,
) -> Result<(u64, u64)> {
    let before = lock.file().metadata().map_or(0, |m| m.len());
    let end = index.commit_locked(lock, t)?;
    Ok((before, u64::from(end)))
}

/// Mailbox directories whose index one thread of this process is using
/// under [`ProcessGuard`], and how many threads wait for one.
static IN_USE: Mutex<Turns> = Mutex::new(Turns {
    dirs: None,
    waiting: 0,
});
/// Signalled when a directory leaves [`IN_USE`] while threads wait.
static RELEASED: Condvar = Condvar::new();

/// The state behind [`IN_USE`].
#[derive(Debug)]
struct Turns {
    dirs: Option<HashSet<PathBuf>>,
    waiting: usize,
}

/// One thread's turn at a mailbox's index within this process.
///
/// The log lock is an fcntl lock, which belongs to the process: two
/// threads both "hold" it at once, and a thread that closes any other
/// descriptor of the log (every read of the index without the lock does)
/// silently drops it for the thread that holds it. So the threads of a
/// process take turns: each writer holds the guard for as long as it holds
/// the log lock ([`lock`]), and each read of the index outside the lock
/// that could overlap a writer's holds it while it reads.
#[derive(Debug)]
pub(super) struct ProcessGuard {
    dir: PathBuf,
}

/// Waits for this process's other threads to be done with the index in
/// `dir`, then takes the turn.
pub(super) fn guard(dir: &Path) -> ProcessGuard {
    let mut turns = IN_USE.lock().unwrap_or_else(|e| e.into_inner());
    while turns.dirs.as_ref().is_some_and(|s| s.contains(dir)) {
        turns.waiting += 1;
        turns = RELEASED.wait(turns).unwrap_or_else(|e| e.into_inner());
        turns.waiting -= 1;
    }
    turns
        .dirs
        .get_or_insert_with(HashSet::new)
        .insert(dir.to_path_buf());
    ProcessGuard {
        dir: dir.to_path_buf(),
    }
}

impl Drop for ProcessGuard {
    fn drop(&mut self) {
        let mut turns = IN_USE.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = turns.dirs.as_mut() {
            s.remove(&self.dir);
        }
        if turns.waiting > 0 {
            RELEASED.notify_all();
        }
    }
}

/// The log lock together with this process's turn at the index.
#[derive(Debug)]
pub(super) struct StoreLock {
    // dropped first: the fcntl lock goes before the turn does
    lock: LogLock,
    _turn: ProcessGuard,
}

impl std::ops::Deref for StoreLock {
    type Target = LogLock;

    fn deref(&self) -> &LogLock {
        &self.lock
    }
}

/// Takes this process's turn at the index, then the log lock.
pub(super) fn lock(index: &IndexDir, dir: &Path) -> Result<StoreLock> {
    let turn = guard(dir);
    Ok(StoreLock {
        lock: index.lock()?,
        _turn: turn,
    })
}

//! A mailbox's index directory: opening the view (index + logs + cache),
//! committing transactions under the log lock, rotating the log, rewriting
//! `dovecot.index`, and recovering from corruption.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::cache_file::CacheFile;
use crate::error::{Error, FileKind, Result};
use crate::index_file::{IndexHeader, IndexMap, EXT_CACHE, EXT_KEYWORDS, EXT_MODSEQ};
use crate::lock::{LogLock, DEFAULT_LOCK_TIMEOUT};
use crate::log_file::{LogFile, LogHeader, HEADER_SIZE as LOG_HEADER_SIZE};
use crate::sync::{replay, SyncReport};
use crate::transaction::Transaction;

/// How old a `<file>.newlock` must be to count as a crashed creator's.
const STALE_NEWLOCK: std::time::Duration = std::time::Duration::from_secs(30);

/// Tunables with Dovecot's defaults.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `mail_index_log_rotate_min_size` (32 KiB).
    pub log_rotate_min_size: u64,
    /// `mail_index_log_rotate_max_size` (1 MiB).
    pub log_rotate_max_size: u64,
    /// `mail_index_log_rotate_min_age` (5 minutes).
    pub log_rotate_min_age: Duration,
    /// `mail_index_rewrite_max_log_bytes` (128 KiB).
    pub rewrite_max_log_bytes: u32,
    /// `mail_index_rewrite_min_log_bytes` (8 KiB).
    pub rewrite_min_log_bytes: u32,
    /// fdatasync after writes.
    pub fsync: bool,
    /// How long to wait for the log lock.
    pub lock_timeout: Duration,
    /// `mail_index_log2_max_age` (2 days).
    pub log2_max_age: Duration,
    /// `mail_cache_record_max_size` (64 KiB): a cache record larger than
    /// this (its 8-byte header included) is not written, as Dovecot drops
    /// it; the message then simply has no cached data from that write.
    pub cache_record_max_size: u32,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            log_rotate_min_size: 32 * 1024,
            log_rotate_max_size: 1024 * 1024,
            log_rotate_min_age: Duration::from_secs(300),
            rewrite_max_log_bytes: 128 * 1024,
            rewrite_min_log_bytes: 8 * 1024,
            fsync: true,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            log2_max_age: Duration::from_secs(2 * 86400),
            cache_record_max_size: 64 * 1024,
        }
    }
}

/// The index files of one mailbox directory.
#[derive(Debug, Clone)]
pub struct IndexDir {
    dir: PathBuf,
    /// Tunables.
    pub settings: Settings,
}

/// One message as the synced view shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageView<'a> {
    /// 1-based sequence.
    pub seq: u32,
    /// UID.
    pub uid: u32,
    /// Flags byte (system flags plus backend/dirty bits).
    pub flags: u8,
    /// Keyword names.
    pub keywords: Vec<&'a str>,
    /// Modseq, as `doveadm fetch modseq` reports it: the stored value, or
    /// the mailbox's highest modseq when none is stored yet.
    pub modseq: u64,
    /// Offset of the newest cache record (0 = none or stale).
    pub cache_offset: u32,
}

/// The current state of a mailbox: the snapshot with the log replayed.
#[derive(Debug)]
pub struct View {
    pub(crate) map: IndexMap,
    /// HIGHESTMODSEQ.
    pub highest_modseq: u64,
    /// The cache, if present and belonging to this index.
    pub cache: Option<CacheFile>,
    /// Why the cache is not used, if it exists but is unusable.
    pub cache_problem: Option<Error>,
    /// Records skipped during replay (Dovecot logs these as corruption).
    pub skipped: Vec<Error>,
    /// Whether `dovecot.index` existed and was used.
    pub had_index_file: bool,
    /// Lenient views only: the corruption that ended the replay early.
    pub stopped: Option<Error>,
    /// The mailbox was marked deleted through the log (read-only until undeleted).
    pub mailbox_deleted: bool,
}

impl View {
    /// The synced header.
    pub fn header(&self) -> &IndexHeader {
        &self.map.header
    }

    /// The synced map.
    pub fn map(&self) -> &IndexMap {
        &self.map
    }

    /// Keyword names in index order.
    pub fn keyword_names(&self) -> &[String] {
        &self.map.keywords
    }

    /// Iterates the messages in sequence order.
    pub fn messages(&self) -> impl Iterator<Item = MessageView<'_>> + '_ {
        let cache_ok = self.cache_reset_matches();
        // extensions looked up once, not for every message
        let keywords = self.map.ext_index(EXT_KEYWORDS);
        let modseq = self.map.ext_index(EXT_MODSEQ);
        let cache = self.map.ext_index(EXT_CACHE).filter(|_| cache_ok);
        (0..self.map.messages_count()).map(move |i| MessageView {
            seq: i as u32 + 1,
            uid: self.map.uid_at(i),
            flags: self.map.flags_at(i),
            keywords: self.map.keywords_with(keywords, i),
            modseq: match self.map.modseq_with(modseq, i) {
                Some(m) if m != 0 => m,
                _ => self.highest_modseq.max(1),
            },
            cache_offset: self.map.cache_offset_with(cache, i).unwrap_or(0),
        })
    }

    fn cache_reset_matches(&self) -> bool {
        match (&self.cache, self.map.ext(EXT_CACHE)) {
            (Some(c), Some(e)) => c.header.file_seq == e.reset_id,
            _ => false,
        }
    }
}

/// A writer that keeps the mailbox state in memory between commits, so a
/// commit costs one lock, one `write()` and the replay of what other
/// writers appended meanwhile (Dovecot's transaction commit does the same).
#[derive(Debug)]
pub struct Appender {
    dir: IndexDir,
    log: LogFile,
    file: File,
    ino: (u64, u64),
    map: IndexMap,
    end: u32,
    modseq: u64,
}

impl Appender {
    /// Opens the mailbox's current state for repeated commits.
    pub fn open(dir: &IndexDir) -> Result<Appender> {
        use std::os::unix::fs::MetadataExt;
        let path = dir.path(FileKind::Log);
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        let meta = file.metadata().map_err(|e| Error::io(&path, e))?;
        // The view and the log bytes come from one read of the files.
        let opened = dir.open_current(None, false, true)?;
        let log = opened.head.ok_or_else(|| Error::LogLost("no log".into()))?;
        Ok(Appender {
            dir: dir.clone(),
            log,
            file,
            ino: (meta.dev(), meta.ino()),
            end: opened.head_end,
            modseq: opened.view.highest_modseq,
            map: opened.view.map,
        })
    }

    /// The current state.
    pub fn map(&self) -> &IndexMap {
        &self.map
    }

    /// Highest modseq.
    pub fn highest_modseq(&self) -> u64 {
        self.modseq
    }

    /// Appends `t` under the log lock; returns the offset where it ends.
    pub fn commit(&mut self, t: &Transaction) -> Result<u32> {
        use rustix::fs::{fcntl_lock, FlockOperation};
        use std::io::{Read, Seek, SeekFrom};
        use std::os::unix::fs::MetadataExt;
        let path = self.dir.path(FileKind::Log);
        fcntl_lock(&self.file, FlockOperation::LockExclusive)
            .map_err(|e| Error::io(&path, e.into()))?;
        let result = (|| {
            let now_meta = fs::metadata(&path).map_err(|e| Error::io(&path, e))?;
            if (now_meta.dev(), now_meta.ino()) != self.ino {
                // Rotated or recreated by someone else: start over from the files.
                let _ = fcntl_lock(&self.file, FlockOperation::Unlock);
                *self = Appender::open(&self.dir)?;
                fcntl_lock(&self.file, FlockOperation::LockExclusive)
                    .map_err(|e| Error::io(&path, e.into()))?;
            }
            let size = self.file.metadata().map_err(|e| Error::io(&path, e))?.len();
            if size > u64::from(self.end) {
                let mut buf = Vec::with_capacity((size - u64::from(self.end)) as usize);
                let mut f = &self.file;
                f.seek(SeekFrom::Start(u64::from(self.end)))
                    .map_err(|e| Error::io(&path, e))?;
                f.take(size - u64::from(self.end))
                    .read_to_end(&mut buf)
                    .map_err(|e| Error::io(&path, e))?;
                self.catch_up(&buf)?;
                if size > u64::from(self.end) {
                    // Garbage from a failed write: cut it off like Dovecot does.
                    self.file
                        .set_len(u64::from(self.end))
                        .map_err(|e| Error::io(&path, e))?;
                }
            }
            let bytes = t.encode(&self.map, now())?;
            (&self.file)
                .write_all(&bytes)
                .map_err(|e| Error::io(&path, e))?;
            if self.dir.settings.fsync {
                self.file.sync_data().map_err(|e| Error::io(&path, e))?;
            }
            self.catch_up(&bytes)?;
            Ok(self.end)
        })();
        let _ = fcntl_lock(&self.file, FlockOperation::Unlock);
        result
    }

    /// Rotates the log, rewrites `dovecot.index` and purges the cache when
    /// Dovecot would (see [`IndexDir::maintain`]); call it now and then,
    /// e.g. where Dovecot would end a mailbox sync, not after every commit.
    pub fn maintain(&mut self) -> Result<()> {
        self.dir.maintain()?;
        *self = Appender::open(&self.dir)?;
        Ok(())
    }

    /// Applies log bytes that start at `self.end`.
    fn catch_up(&mut self, bytes: &[u8]) -> Result<()> {
        self.log.extend_from(self.end as usize, bytes);
        let mut a = crate::sync::Applier::new(&mut self.map);
        let seq = self.log.header.file_seq;
        let done = crate::sync::walk_committed(&self.log, self.end, self.modseq, false, |rec| {
            a.pos = (seq, rec.offset);
            let _ = a.apply(rec);
        })?;
        self.end = done.end;
        self.modseq = done.modseq;
        self.map.header.log_file_head_offset = self.end;
        Ok(())
    }
}

/// Per-message state that survives in the storage (e.g. the Maildir's
/// `dovecot-uidlist` and file names), used to rebuild a lost index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurvivingMessage {
    /// UID.
    pub uid: u32,
    /// System flags.
    pub flags: u8,
    /// Keyword names.
    pub keywords: Vec<String>,
}

/// The storage's own record of a mailbox (for Maildir: `dovecot-uidlist`'s
/// header and entries plus the flags in the file names), used to rebuild
/// the index when the log is lost.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SurvivingMailbox {
    /// UIDVALIDITY the storage records (0 = unknown).
    pub uid_validity: u32,
    /// Next UID the storage records (0 = unknown).
    pub next_uid: u32,
    /// Messages still present.
    pub messages: Vec<SurvivingMessage>,
}

/// What [`IndexDir::open_or_recover`] had to do.
#[derive(Debug, Default)]
pub struct RebuildReport {
    /// Problems found (each names the file, offset and reason).
    pub problems: Vec<Error>,
    /// A new `dovecot.index` was written.
    pub index_rewritten: bool,
    /// A new transaction log was started.
    pub log_recreated: bool,
    /// The cache was discarded.
    pub cache_discarded: bool,
}

/// Current UNIX time.
pub(crate) fn now() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(0)
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

impl IndexDir {
    /// The index files in directory `dir` (for Maildir INBOX: the Maildir root).
    pub fn new(dir: impl Into<PathBuf>) -> IndexDir {
        IndexDir {
            dir: dir.into(),
            settings: Settings::default(),
        }
    }

    /// The directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of one of the files.
    pub fn path(&self, kind: FileKind) -> PathBuf {
        self.dir.join(kind.file_name())
    }

    /// Reads the logs that exist, oldest first.
    pub fn read_logs(&self) -> Result<Vec<LogFile>> {
        self.read_logs_with(None)
    }

    /// Reads the logs; while `lock` is held the head log is read through
    /// the locked descriptor. (Closing any other descriptor of the locked
    /// file would drop the process's fcntl lock on it.)
    fn read_logs_with(&self, lock: Option<&LogLock>) -> Result<Vec<LogFile>> {
        let mut logs = Vec::new();
        if let Some(b) = read_optional(&self.path(FileKind::Log2))? {
            // A broken .log.2 is only needed for old snapshots; keep going without it.
            if let Ok(l) = LogFile::parse(FileKind::Log2, b) {
                logs.push(l);
            }
        }
        let head_path = self.path(FileKind::Log);
        let head = match lock {
            Some(l) if l.path() == head_path => Some(l.read_all()?),
            _ => read_optional(&head_path)?,
        };
        let head = head.ok_or_else(|| {
            Error::LogLost(format!(
                "{} does not exist",
                self.path(FileKind::Log).display()
            ))
        })?;
        let head = LogFile::parse(FileKind::Log, head)?;
        if let Some(old) = logs.first() {
            if old.header.file_seq >= head.header.file_seq
                || head.header.prev_file_seq != old.header.file_seq
            {
                logs.clear();
            }
        }
        logs.push(head);
        Ok(logs)
    }

    /// Reads `dovecot.index` if it exists.
    pub fn read_index(&self) -> Result<Option<IndexMap>> {
        match read_optional(&self.path(FileKind::Index))? {
            None => Ok(None),
            Some(b) => IndexMap::parse(&b).map(Some),
        }
    }

    /// Opens the current view: `dovecot.index` (if any) with the log
    /// replayed, plus the cache. Any corruption is returned as an error.
    pub fn open_view(&self) -> Result<View> {
        self.open_view_with(None)
    }

    /// [`IndexDir::open_view`] while holding the log lock.
    pub fn open_view_locked(&self, lock: &LogLock) -> Result<View> {
        self.open_view_with(Some(lock))
    }

    fn open_view_with(&self, lock: Option<&LogLock>) -> Result<View> {
        Ok(self.open_current(lock, true, false)?.view)
    }

    fn view_from(&self, index: Option<IndexMap>, logs: &[LogFile]) -> Result<View> {
        self.view_from_mode(index, logs, false, true)
    }

    /// The header of extension `name` as the index stands now (what
    /// `open_view_without_cache()?.map().ext(name)` holds), without copying
    /// the messages of the view: for checks that need one extension
    /// header only, such as Maildir's quick check of its directories.
    /// `Ok(None)`: the index has no such extension.
    pub fn current_ext_header(&self, name: &str) -> Result<Option<Vec<u8>>> {
        self.with_current(None, |r| r.map.ext(name).map(|e| e.hdr.clone()))
    }

    /// [`IndexDir::open_view`] without reading `dovecot.index.cache`: for a
    /// reader that needs only UIDs, flags, keywords and modseqs (the cache
    /// file can be tens of megabytes). The view has no cache, so
    /// [`MessageView::cache_offset`] is 0 for every message.
    pub fn open_view_without_cache(&self) -> Result<View> {
        Ok(self.open_current(None, false, false)?.view)
    }

    /// [`IndexDir::open_view_without_cache`] while holding the log lock.
    pub(crate) fn open_view_locked_without_cache(&self, lock: &LogLock) -> Result<View> {
        Ok(self.open_current(Some(lock), false, false)?.view)
    }

    /// Opens as much of the view as is valid, for inspecting a broken
    /// mailbox: a corrupt log record ends the replay there and is returned
    /// in [`View::stopped`] instead of failing. Never write from such a view.
    pub fn open_view_lenient(&self) -> Result<View> {
        let logs = self.read_logs()?;
        let index = self.read_index()?;
        self.view_from_mode(index, &logs, true, true)
    }

    fn view_from_mode(
        &self,
        index: Option<IndexMap>,
        logs: &[LogFile],
        lenient: bool,
        with_cache: bool,
    ) -> Result<View> {
        let had_index_file = index.is_some();
        let head = &logs[logs.len() - 1];
        let mut map = index.unwrap_or_else(|| IndexMap::new(head.header.indexid));
        if map.header.indexid != head.header.indexid {
            return Err(Error::corrupt(
                FileKind::Log,
                4,
                format!(
                    "indexid {} differs from dovecot.index's {}",
                    head.header.indexid, map.header.indexid
                ),
            ));
        }
        let refs: Vec<&LogFile> = logs.iter().collect();
        let SyncReport {
            skipped,
            highest_modseq,
            stopped,
            mailbox_deleted,
            ..
        } = if lenient {
            crate::sync::replay_lenient(&mut map, &refs)?
        } else {
            replay(&mut map, &refs)?
        };
        let (cache, cache_problem) = if with_cache {
            self.read_cache_for(&map)?
        } else {
            (None, None)
        };
        Ok(View {
            map,
            highest_modseq,
            cache,
            cache_problem,
            skipped,
            had_index_file,
            stopped,
            mailbox_deleted,
        })
    }

    /// Reads `dovecot.index.cache` for a view of `map`: the cache, or why
    /// it cannot be used.
    pub(crate) fn read_cache_for(
        &self,
        map: &IndexMap,
    ) -> Result<(Option<CacheFile>, Option<Error>)> {
        Ok(match read_optional(&self.path(FileKind::Cache))? {
            None => (None, None),
            Some(b) => match CacheFile::parse(b) {
                Ok(c) if c.header.indexid == map.header.indexid => (Some(c), None),
                Ok(c) => (
                    None,
                    Some(Error::corrupt(
                        FileKind::Cache,
                        4,
                        format!(
                            "indexid {} is not the index's {}",
                            c.header.indexid, map.header.indexid
                        ),
                    )),
                ),
                Err(e) => (None, Some(e)),
            },
        })
    }

    /// Creates a new, empty mailbox index: a reset log (seq 2) that sets
    /// UIDVALIDITY, like Dovecot's first sync. Fails if a log exists.
    pub fn create(&self, indexid: u32, uid_validity: u32) -> Result<()> {
        let path = self.path(FileKind::Log);
        let header = LogHeader {
            major_version: 1,
            minor_version: 3,
            hdr_size: LOG_HEADER_SIZE as u16,
            indexid,
            file_seq: 2,
            prev_file_seq: 0,
            prev_file_offset: 0,
            create_stamp: now(),
            initial_modseq: 1,
            compat_flags: 1,
        };
        let mut bytes = header.encode().to_vec();
        let mut t = Transaction::external();
        t.update_header(24, &uid_validity.to_le_bytes())
            .update_header(76, &u32::MAX.to_le_bytes());
        bytes.extend(t.encode(&IndexMap::new(indexid), now())?);
        self.write_new_file(&path, &bytes, true)?;
        Ok(())
    }

    /// Writes a new file through `<name>.newlock` and moves it into place.
    ///
    /// `<name>.newlock` is created with O_EXCL and so doubles as the lock
    /// between creators (Dovecot creates a new log the same way): when it
    /// exists, another process is writing the file, and this one waits for
    /// it (a `.newlock` older than [`STALE_NEWLOCK`] is a crashed creator's
    /// and is removed). With `exclusive_target` the file is linked into
    /// place, which fails atomically if it exists already, so two
    /// processes creating the same index at once never replace each
    /// other's log: the loser gets an `AlreadyExists` I/O error and opens
    /// the winner's file.
    fn write_new_file(&self, path: &Path, bytes: &[u8], exclusive_target: bool) -> Result<()> {
        let exists = |path: &Path| {
            Error::io(
                path,
                std::io::Error::new(std::io::ErrorKind::AlreadyExists, "already exists"),
            )
        };
        if exclusive_target && path.exists() {
            return Err(exists(path));
        }
        let tmp = path.with_extension(format!(
            "{}.newlock",
            path.extension().and_then(|e| e.to_str()).unwrap_or("tmp")
        ));
        let open = || {
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
        };
        let waited_since = std::time::Instant::now();
        let mut f = loop {
            match open() {
                Ok(f) => break f,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let age = fs::metadata(&tmp)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|m| m.elapsed().ok());
                    if age.is_some_and(|a| a > STALE_NEWLOCK) {
                        let _ = fs::remove_file(&tmp);
                        continue;
                    }
                    if exclusive_target && path.exists() {
                        return Err(exists(path));
                    }
                    if waited_since.elapsed() > STALE_NEWLOCK {
                        return Err(Error::io(&tmp, e));
                    }
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(e) => return Err(Error::io(&tmp, e)),
            }
        };
        let written = (|| {
            f.write_all(bytes)?;
            if self.settings.fsync {
                f.sync_data()?;
            }
            Ok::<(), std::io::Error>(())
        })();
        drop(f);
        let placed = written.and_then(|()| {
            if exclusive_target {
                fs::hard_link(&tmp, path)
            } else {
                fs::rename(&tmp, path)
            }
        });
        let _ = fs::remove_file(&tmp);
        match placed {
            Ok(()) => self.sync_dir(),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(exists(path)),
            Err(e) => Err(Error::io(path, e)),
        }
    }

    fn sync_dir(&self) -> Result<()> {
        if self.settings.fsync {
            File::open(&self.dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| Error::io(&self.dir, e))?;
        }
        Ok(())
    }

    /// Takes the log lock.
    pub fn lock(&self) -> Result<LogLock> {
        LogLock::acquire(&self.path(FileKind::Log), self.settings.lock_timeout)
    }

    /// Appends `t` to the log under the lock (one `write()`), after
    /// truncating any garbage a failed writer left. Returns the log offset
    /// where the transaction ends.
    pub fn commit(&self, t: &Transaction) -> Result<u32> {
        let lock = self.lock()?;
        let end = self.commit_locked(&lock, t)?;
        self.maintain_locked(&lock)?;
        Ok(end)
    }

    /// Like [`IndexDir::commit`] with the lock already held.
    pub fn commit_locked(&self, lock: &LogLock, t: &Transaction) -> Result<u32> {
        if t.is_empty() {
            return Err(Error::Invalid("empty transaction".into()));
        }
        let view = self.view_locked(lock)?;
        let bytes = t.encode(view.map(), now())?;
        let end = view.header().log_file_head_offset;
        let mut f = lock.file();
        let len = f.metadata().map_err(|e| Error::io(lock.path(), e))?.len();
        if len > u64::from(end) {
            f.set_len(u64::from(end))
                .map_err(|e| Error::io(lock.path(), e))?;
        }
        f.write_all(&bytes).map_err(|e| Error::io(lock.path(), e))?;
        if self.settings.fsync {
            f.sync_data().map_err(|e| Error::io(lock.path(), e))?;
        }
        if t.is_external() {
            // Applying external expunges is where Dovecot's cache expunge
            // handler counts the dropped records (mail-cache-sync-update.c).
            let cached = t
                .expunged_uids()
                .filter(|&uid| {
                    view.map()
                        .position_of_uid(uid)
                        .ok()
                        .and_then(|pos| view.map().cache_offset_at(pos))
                        .is_some_and(|off| off != 0)
                })
                .count();
            if cached > 0 {
                self.cache_expunge_count(u32::try_from(cached).unwrap_or(u32::MAX))?;
            }
        }
        Ok(end + bytes.len() as u32)
    }

    fn view_locked(&self, lock: &LogLock) -> Result<View> {
        self.open_view_locked_without_cache(lock)
    }

    /// Rotates the log and/or rewrites `dovecot.index` when Dovecot would.
    pub fn maintain(&self) -> Result<()> {
        let lock = self.lock()?;
        self.maintain_locked(&lock)
    }

    fn maintain_locked(&self, lock: &LogLock) -> Result<()> {
        let opened = self.open_current(Some(lock), false, false)?;
        let head = &opened.head_header;
        let size = u64::from(opened.head_end);
        let age = now().saturating_sub(head.create_stamp);
        let want_rotate = head.version() < 0x0103
            || size > self.settings.log_rotate_max_size
            || (size >= self.settings.log_rotate_min_size
                && u64::from(age) >= self.settings.log_rotate_min_age.as_secs());
        if want_rotate {
            match self.rotate_locked(lock) {
                // Not in sync with the storage yet: the storage's next sync rotates.
                Err(Error::Invalid(_)) => {}
                other => return other.map(|_| ()),
            }
        }
        let view = opened.view;
        let on_disk = opened.index_header;
        let head_off = view.header().log_file_head_offset;
        let rewrite = match &on_disk {
            None => {
                head_off.saturating_sub(LOG_HEADER_SIZE as u32)
                    > self.settings.rewrite_min_log_bytes
            }
            Some(h) => {
                h.log_file_seq != view.header().log_file_seq
                    || head_off.saturating_sub(h.log_file_tail_offset)
                        > self.settings.rewrite_max_log_bytes
            }
        };
        if rewrite {
            self.write_index_locked(lock, view.map().clone())?;
        }
        if self.cache_wants_purge_now(lock, &view)? {
            self.cache_purge_locked(lock)?;
        }
        // An old .log.2 goes once no snapshot needs it (mail_index_log2_max_age).
        let rotated = view.header().log2_rotate_time;
        if rotated != 0
            && rotated != u32::MAX
            && u64::from(now().saturating_sub(rotated)) > self.settings.log2_max_age.as_secs()
            && self
                .read_index()
                .ok()
                .flatten()
                .is_some_and(|m| m.header.log_file_seq == view.header().log_file_seq)
            && self.path(FileKind::Log2).exists()
        {
            fs::remove_file(self.path(FileKind::Log2))
                .map_err(|e| Error::io(self.path(FileKind::Log2), e))?;
            let mut t = Transaction::external();
            t.update_header(76, &u32::MAX.to_le_bytes());
            self.commit_locked(lock, &t)?;
        }
        Ok(())
    }

    /// Writes `map` as the new `dovecot.index` (tmp file, fsync, rename).
    ///
    /// The tail offset stays where the storage is known to be in sync:
    /// Dovecot's next storage sync starts there and must still see client
    /// changes (flag changes, expunge requests) it has not carried out.
    fn write_index_locked(&self, lock: &LogLock, mut map: IndexMap) -> Result<()> {
        if map.header.log_file_tail_offset < map.header.log_file_head_offset {
            let view = View {
                map,
                highest_modseq: 0,
                cache: None,
                cache_problem: None,
                skipped: Vec::new(),
                had_index_file: false,
                stopped: None,
                mailbox_deleted: false,
            };
            let tail = self
                .synced_tail(&view, lock)
                .unwrap_or(view.map.header.log_file_tail_offset);
            map = view.map;
            map.header.log_file_tail_offset = tail;
        }
        let path = self.path(FileKind::Index);
        let tmp = self.dir.join("dovecot.index.tmp");
        let _ = fs::remove_file(&tmp);
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| Error::io(&tmp, e))?;
        f.write_all(&map.encode()).map_err(|e| Error::io(&tmp, e))?;
        if self.settings.fsync {
            f.sync_data().map_err(|e| Error::io(&tmp, e))?;
        }
        drop(f);
        if let Err(e) = fs::rename(&tmp, &path) {
            let _ = fs::remove_file(&tmp);
            return Err(Error::io(&path, e));
        }
        self.sync_dir()
    }

    /// The tail offset to record: the view's, or the head when every record
    /// after it is external or needs nothing from the storage (the
    /// storage's next sync would have nothing to carry out).
    fn synced_tail(&self, view: &View, lock: &LogLock) -> Result<u32> {
        let h = view.header();
        if h.log_file_tail_offset >= h.log_file_head_offset {
            return Ok(h.log_file_tail_offset);
        }
        // The replay noted the head log's last client change as it went.
        let (head_seq, last_change) = self.with_current(Some(lock), |r| {
            (r.head.header.file_seq, r.reached.last_storage_change)
        })?;
        if head_seq != h.log_file_seq {
            return Ok(h.log_file_tail_offset);
        }
        Ok(match last_change {
            Some(offset) if offset >= h.log_file_tail_offset => h.log_file_tail_offset,
            _ => h.log_file_head_offset,
        })
    }

    /// Rewrites `dovecot.index` from the current view (under the lock).
    pub fn rewrite_index(&self) -> Result<()> {
        let lock = self.lock()?;
        let view = self.open_view_locked_without_cache(&lock)?;
        self.write_index_locked(&lock, view.map().clone())
    }

    /// Rotates `.log` to `.log.2` and starts a new log; returns the new seq.
    pub fn rotate(&self) -> Result<u32> {
        let lock = self.lock()?;
        self.rotate_locked(&lock)
    }

    fn rotate_locked(&self, lock: &LogLock) -> Result<u32> {
        let view = self.open_view_locked_without_cache(lock)?;
        if self.synced_tail(&view, lock)? < view.header().log_file_head_offset {
            // Client changes the storage has not carried out yet would be
            // skipped by its next sync; Dovecot too rotates only after a full sync.
            return Err(Error::Invalid(format!(
                "the storage is not in sync with the log (tail {} < head {}); sync before rotating",
                view.header().log_file_tail_offset,
                view.header().log_file_head_offset
            )));
        }
        let (head, end) =
            self.with_current(Some(lock), |r| (r.head.header.clone(), r.reached.end.1))?;
        let new_seq = head.file_seq + 1;
        let ts = now();
        let header = LogHeader {
            major_version: 1,
            minor_version: 3,
            hdr_size: LOG_HEADER_SIZE as u16,
            indexid: head.indexid,
            file_seq: new_seq,
            prev_file_seq: head.file_seq,
            prev_file_offset: end,
            create_stamp: ts,
            initial_modseq: view.highest_modseq.max(1),
            compat_flags: 1,
        };
        let log = self.path(FileKind::Log);
        let log2 = self.path(FileKind::Log2);
        let newlock = self.dir.join("dovecot.index.log.newlock");
        let _ = fs::remove_file(&newlock);
        let mut f = OpenOptions::new()
            .read(true)
            .append(true)
            .create_new(true)
            .mode(0o600)
            .open(&newlock)
            .map_err(|e| Error::io(&newlock, e))?;
        f.write_all(&header.encode())
            .map_err(|e| Error::io(&newlock, e))?;
        if self.settings.fsync {
            f.sync_data().map_err(|e| Error::io(&newlock, e))?;
        }
        let new_lock = LogLock::adopt(f, &log)?;
        match fs::remove_file(&log2) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(&log2, e)),
        }
        fs::hard_link(&log, &log2).map_err(|e| Error::io(&log2, e))?;
        fs::rename(&newlock, &log).map_err(|e| Error::io(&log, e))?;
        self.sync_dir()?;
        let mut map = view.map().clone();
        map.header.log_file_seq = new_seq;
        map.header.log_file_head_offset = LOG_HEADER_SIZE as u32;
        map.header.log_file_tail_offset = LOG_HEADER_SIZE as u32;
        map.header.log2_rotate_time = ts;
        if let Some(mi) = map.ext_index(crate::index_file::EXT_MODSEQ) {
            let hdr = &mut map.extensions[mi].hdr;
            if hdr.len() == 16 {
                hdr[0..8].copy_from_slice(&view.highest_modseq.to_le_bytes());
                hdr[8..12].copy_from_slice(&new_seq.to_le_bytes());
                hdr[12..16].copy_from_slice(&(LOG_HEADER_SIZE as u32).to_le_bytes());
            }
        }
        self.write_index_locked(&new_lock, map)?;
        Ok(new_seq)
    }

    /// Opens the view, repairing what is broken:
    /// a corrupt `dovecot.index` is rebuilt from the log; a corrupt or lost
    /// log is replaced by a new one with a fresh index built from what was
    /// still valid plus `surviving` (the storage's own record of UIDs, flags
    /// and keywords); a corrupt cache is discarded.
    pub fn open_or_recover(
        &self,
        surviving: Option<&SurvivingMailbox>,
    ) -> Result<(View, RebuildReport)> {
        let mut report = RebuildReport::default();
        let lock = self.lock();
        let lock = match lock {
            Ok(l) => Some(l),
            Err(Error::Io { source, .. }) if source.kind() == ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        let logs = self.read_logs_with(lock.as_ref());
        let index = self.read_index();
        let index = match index {
            Ok(i) => i,
            Err(e) => {
                report.problems.push(e);
                None
            }
        };
        let broken_index_file = !report.problems.is_empty();
        if let (Ok(logs), Some(lock)) = (&logs, &lock) {
            let attempt = self.view_from(index.clone(), logs).or_else(|e| {
                if index.is_some() {
                    report.problems.push(e);
                    self.view_from(None, logs)
                } else {
                    Err(e)
                }
            });
            if let Ok(mut view) = attempt {
                if let Some(p) = view.cache_problem.take() {
                    report.problems.push(p);
                    self.discard_cache()?;
                    report.cache_discarded = true;
                }
                if broken_index_file
                    || (index.is_some() && !view.had_index_file)
                    || report.problems.iter().any(|p| {
                        matches!(
                            p,
                            Error::Corrupt {
                                file: FileKind::Index,
                                ..
                            }
                        )
                    })
                {
                    self.write_index_locked(lock, view.map().clone())?;
                    report.index_rewritten = true;
                }
                return Ok((view, report));
            }
        }
        // The log chain is unusable: salvage.
        if let Err(e) = &logs {
            report.problems.push(Error::LogLost(e.to_string()));
        }
        let surviving = surviving.ok_or_else(|| {
            Error::LogLost(
                "index and log cannot be replayed and no storage state was given to rebuild from"
                    .into(),
            )
        })?;
        drop(lock);
        let salvaged = self.salvage_map(index);
        let map = rebuild_map(salvaged, surviving);
        self.install_rebuilt(map)?;
        report.log_recreated = true;
        report.index_rewritten = true;
        self.discard_cache()?;
        report.cache_discarded = true;
        Ok((self.open_view()?, report))
    }

    /// Best-effort state from the valid prefix of the logs.
    fn salvage_map(&self, index: Option<IndexMap>) -> Option<IndexMap> {
        let mut logs = Vec::new();
        for kind in [FileKind::Log2, FileKind::Log] {
            if let Ok(Some(b)) = read_optional(&self.path(kind)) {
                if let Ok(l) = LogFile::parse(kind, b) {
                    logs.push(l);
                }
            }
        }
        let mut best = index;
        for l in logs.iter().rev() {
            let mut map = best
                .clone()
                .unwrap_or_else(|| IndexMap::new(l.header.indexid));
            let mut a = crate::sync::Applier::new(&mut map);
            let mut ok = false;
            for rec in l.records() {
                let Ok(rec) = rec else { break };
                if best.as_ref().is_some_and(|b| {
                    (l.header.file_seq, rec.offset)
                        < (b.header.log_file_seq, b.header.log_file_head_offset)
                }) {
                    continue;
                }
                let _ = a.apply(&rec);
                ok = true;
            }
            if ok || best.is_none() {
                best = Some(map);
            }
        }
        best
    }

    /// Writes a fresh reset log and `dovecot.index` holding `map`.
    fn install_rebuilt(&self, mut map: IndexMap) -> Result<()> {
        let old_seq = self
            .read_logs()
            .ok()
            .map(|l| l[l.len() - 1].header.file_seq)
            .unwrap_or(map.header.log_file_seq);
        let seq = old_seq.max(map.header.log_file_seq) + 1;
        let header = LogHeader {
            major_version: 1,
            minor_version: 3,
            hdr_size: LOG_HEADER_SIZE as u16,
            indexid: map.header.indexid,
            file_seq: seq,
            prev_file_seq: 0,
            prev_file_offset: 0,
            create_stamp: now(),
            initial_modseq: map.modseq_header().map_or(1, |h| h.0.max(1)),
            compat_flags: 1,
        };
        self.write_new_file(&self.path(FileKind::Log), &header.encode(), false)?;
        let _ = fs::remove_file(self.path(FileKind::Log2));
        map.header.log_file_seq = seq;
        map.header.log_file_head_offset = LOG_HEADER_SIZE as u32;
        map.header.log2_rotate_time = u32::MAX;
        let lock = self.lock()?;
        self.write_index_locked(&lock, map)
    }

    fn discard_cache(&self) -> Result<()> {
        match fs::remove_file(self.path(FileKind::Cache)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(self.path(FileKind::Cache), e)),
        }
    }
}

/// Merges salvaged index state with the storage's surviving messages: every
/// surviving UID is kept with the storage's flags and keywords (the storage
/// is the intact source); messages the storage no longer has are dropped.
fn rebuild_map(salvaged: Option<IndexMap>, storage: &SurvivingMailbox) -> IndexMap {
    let surviving = &storage.messages;
    let base = salvaged.unwrap_or_else(|| IndexMap::new(now()));
    let mut map = IndexMap::new(base.header.indexid);
    // The storage's UIDVALIDITY wins: it is what clients and the storage agree on.
    map.header.uid_validity = [storage.uid_validity, base.header.uid_validity, now()]
        .into_iter()
        .find(|v| *v != 0)
        .unwrap_or(1);
    let max_uid = surviving.iter().map(|m| m.uid).max().unwrap_or(0);
    let next_uid = base
        .header
        .next_uid
        .max(storage.next_uid)
        .max(max_uid.saturating_add(1))
        .max(1);
    map.header.day_stamp = base.header.day_stamp;
    map.header.day_first_uid = base.header.day_first_uid;
    let mut msgs: Vec<&SurvivingMessage> = surviving.iter().filter(|m| m.uid != 0).collect();
    msgs.sort_by_key(|m| m.uid);
    msgs.dedup_by_key(|m| m.uid);
    let mut t = Transaction::external();
    for m in &msgs {
        t.append(m.uid, m.flags & 0x1f);
    }
    let mut kws: Vec<&str> = Vec::new();
    for m in &msgs {
        for k in &m.keywords {
            if !kws.iter().any(|x| x.eq_ignore_ascii_case(k)) {
                kws.push(k);
            }
        }
    }
    for k in kws {
        let ranges: Vec<(u32, u32)> = msgs
            .iter()
            .filter(|m| m.keywords.iter().any(|x| x.eq_ignore_ascii_case(k)))
            .map(|m| (m.uid, m.uid))
            .collect();
        t.add_keyword(k, &ranges);
    }
    // Apply through the same replay code as a log.
    let mut header = LogHeader {
        major_version: 1,
        minor_version: 3,
        hdr_size: LOG_HEADER_SIZE as u16,
        indexid: map.header.indexid,
        file_seq: 1,
        prev_file_seq: 0,
        prev_file_offset: 0,
        create_stamp: 0,
        initial_modseq: 1,
        compat_flags: 1,
    };
    header.file_seq = map.header.log_file_seq;
    let mut bytes = header.encode().to_vec();
    if let Ok(b) = t.encode(&map, 0) {
        bytes.extend(b);
    }
    if let Ok(log) = LogFile::parse(FileKind::Log, bytes) {
        let mut a = crate::sync::Applier::new(&mut map);
        for rec in log.records().flatten() {
            let _ = a.apply(&rec);
        }
    }
    // UIDs are never reused: keep the highest next_uid either source knew.
    map.header.next_uid = next_uid.max(map.header.next_uid);
    map.header.first_recent_uid = base.header.first_recent_uid.clamp(1, map.header.next_uid);
    map
}

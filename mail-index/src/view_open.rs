//! Opening a view: a replay of the files from scratch the first time, then
//! only of what was appended to the head log since (see
//! [`crate::replay_cache`]), with every reuse checked against the files.

use std::fs::File;
use std::io::ErrorKind;
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::error::{Error, FileKind, Result};
use crate::index_file::{IndexHead, IndexHeader, IndexMap};
use crate::lock::LogLock;
use crate::log_file::{LogFile, LogHeader};
use crate::log_prefix::read_after_prefix;
use crate::mailbox::{IndexDir, View};
use crate::replay_cache::{self, duplicate, FileId, Replayed};
use crate::sync::{replay_unfinished_after, WalkedPrefix};

/// How many bytes before the remembered end of the head log are read again
/// and compared, besides its header, before the rest is trusted (a head
/// log held from where a walk stopped keeps that many before it).
const OVERLAP: u64 = crate::log_prefix::HELD_BEFORE;

/// A view plus what the files looked like when it was made.
pub(crate) struct Opened {
    pub(crate) view: View,
    /// The head log's header.
    pub(crate) head_header: LogHeader,
    /// Where the committed records of the head log end.
    pub(crate) head_end: u32,
    /// The header of `dovecot.index` on disk, if there is one.
    pub(crate) index_header: Option<IndexHeader>,
    /// The head log's bytes up to `head_end`, when asked for.
    pub(crate) head: Option<LogFile>,
}

/// A file read whole, with its identity; `stable` is false when it changed
/// while it was read (then what was read must not be remembered).
struct ReadFile {
    bytes: Vec<u8>,
    id: FileId,
    stable: bool,
}

fn read_identified(file: &File, path: &Path) -> Result<ReadFile> {
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    let before = FileId::of(&meta);
    // pread: the descriptor may be shared (the lock's), its position is not ours.
    let bytes = read_range(file, path, 0, meta.len())?;
    let id = FileId::of(&file.metadata().map_err(|e| Error::io(path, e))?);
    Ok(ReadFile {
        bytes,
        id,
        stable: id == before,
    })
}

fn read_optional_identified(path: &Path) -> Result<Option<ReadFile>> {
    match File::open(path) {
        Ok(f) => read_identified(&f, path).map(Some),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// `dovecot.index` read and parsed, with its identity (`stable` as for
/// [`ReadFile`]).
struct ReadIndex {
    map: Result<IndexMap>,
    id: FileId,
    stable: bool,
}

/// How much of `dovecot.index` is read first for its header area (which
/// is rarely larger; a larger one is read with a second read).
const INDEX_HEAD_READ: u64 = 4096;

/// Reads `dovecot.index`, if there is one: its header area first, then its
/// records straight into the buffer the map keeps, so the records are
/// neither copied nor held twice. A file that does not parse gives its
/// error in [`ReadIndex::map`], as if it had been read whole.
fn read_index_optional(path: &Path) -> Result<Option<ReadIndex>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(path, e)),
    };
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    let before = FileId::of(&meta);
    let len = meta.len();
    let mut head = read_range(&file, path, 0, len.min(INDEX_HEAD_READ))?;
    let needed = IndexHead::len_needed(&head) as u64;
    if needed > head.len() as u64 && head.len() as u64 == INDEX_HEAD_READ {
        head.extend(read_range(&file, path, INDEX_HEAD_READ, needed.min(len))?);
    }
    // What was read may be shorter than the size fstat gave if the file
    // shrank meanwhile: then it is what the file holds.
    let file_len = if (head.len() as u64) < len.min(INDEX_HEAD_READ) {
        head.len()
    } else {
        usize::try_from(len).unwrap_or(usize::MAX)
    };
    let map = match IndexHead::parse(&head, file_len) {
        Ok(h) => {
            let start = h.records_offset() as u64;
            let end = start + h.records_len() as u64;
            read_range(&file, path, start, end).and_then(|records| h.with_records(records))
        }
        Err(e) => Err(e),
    };
    let id = FileId::of(&file.metadata().map_err(|e| Error::io(path, e))?);
    Ok(Some(ReadIndex {
        map,
        id,
        stable: id == before,
    }))
}

/// Reads the head log `file`: whole, or, when `index` points into it
/// and the walk of its records before the index's head offset succeeds
/// without holding them ([`crate::log_prefix`]), its header and the bytes
/// from where that walk stopped. Returns the log, its identity after the
/// reads and the walk, if any.
fn read_head(
    file: &File,
    path: &Path,
    index: Option<&IndexMap>,
) -> Result<(LogFile, FileId, Option<WalkedPrefix>)> {
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    if let Some(map) = index {
        if let Some((log, prefix)) = read_after_prefix(file, path, map, len)? {
            let id = FileId::of(&file.metadata().map_err(|e| Error::io(path, e))?);
            return Ok((log, id, Some(prefix)));
        }
    }
    let bytes = read_range(file, path, 0, len)?;
    let id = FileId::of(&file.metadata().map_err(|e| Error::io(path, e))?);
    Ok((LogFile::parse(FileKind::Log, bytes)?, id, None))
}

fn stat_optional(path: &Path) -> Result<Option<FileId>> {
    match std::fs::metadata(path) {
        Ok(m) => Ok(Some(FileId::of(&m))),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Reads `file` from `offset` up to `len` (its size), or less if it is shorter.
fn read_range(file: &File, path: &Path, offset: u64, len: u64) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; usize::try_from(len.saturating_sub(offset)).unwrap_or(0)];
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io(path, e)),
        }
    }
    buf.truncate(done);
    Ok(buf)
}

impl IndexDir {
    /// The view of the files as they are now, replaying only what the head
    /// log gained since this process last replayed this directory when the
    /// files allow it. `with_cache` also reads `dovecot.index.cache`;
    /// `want_head` returns the head log's committed bytes too.
    pub(crate) fn open_current(
        &self,
        lock: Option<&LogLock>,
        with_cache: bool,
        want_head: bool,
    ) -> Result<Opened> {
        let mut opened = self.with_current(lock, |r| opened_from(r, want_head))?;
        if with_cache {
            let (cache, problem) = self.read_cache_for(&opened.view.map)?;
            opened.view.cache = cache;
            opened.view.cache_problem = problem;
        }
        Ok(opened)
    }

    /// Runs `f` on the replay of the files as they are now: the remembered
    /// one brought up to date if the files allow it, else a new one (then
    /// remembered, unless the files changed while they were read).
    pub(crate) fn with_current<T>(
        &self,
        lock: Option<&LogLock>,
        f: impl FnOnce(&Replayed) -> T,
    ) -> Result<T> {
        let slot = replay_cache::slot(self.dir());
        let mut remembered = replay_cache::lock(&slot);
        let current = match remembered.as_mut() {
            Some(r) => matches!(self.catch_up(r, lock), Ok(true)),
            None => false,
        };
        replay_cache::count(current);
        if current {
            if let Some(r) = remembered.as_ref() {
                return Ok(f(r));
            }
        }
        *remembered = None;
        let (replayed, stable) = self.replay_files(lock)?;
        let out = f(&replayed);
        if stable {
            *remembered = Some(replayed);
        }
        Ok(out)
    }

    /// Opens the view by reading and replaying every file, without using or
    /// updating what this process remembers of earlier replays. The result
    /// equals [`IndexDir::open_view`]'s; this is for checking that, and for
    /// callers that suspect the files were changed behind the checks (e.g.
    /// restored from a backup with the same inodes and times).
    pub fn open_view_uncached(&self) -> Result<View> {
        let (replayed, _) = self.replay_files(None)?;
        let mut opened = opened_from(&replayed, false);
        let (cache, problem) = self.read_cache_for(&opened.view.map)?;
        opened.view.cache = cache;
        opened.view.cache_problem = problem;
        Ok(opened.view)
    }

    /// Forgets what this process remembers of this directory's replays;
    /// the next open replays from scratch.
    pub fn forget_replay(&self) {
        *replay_cache::lock(&replay_cache::slot(self.dir())) = None;
    }

    /// Reads the files and replays the logs from the index's position.
    /// Returns whether the files stayed unchanged while they were read.
    fn replay_files(&self, lock: Option<&LogLock>) -> Result<(Replayed, bool)> {
        let mut walked = false;
        match self.replay_files_with(lock, Some(&mut walked)) {
            Ok(done) => Ok(done),
            // Walking the head log's start without holding it gave way to
            // a replay that failed: replay again from the whole files, so
            // the outcome (or error) is what it always was.
            Err(_) if walked => self.replay_files_with(lock, None),
            Err(e) => Err(e),
        }
    }

    /// [`IndexDir::replay_files`]; with `walked`, the head log's records
    /// before the index's head offset are walked through a small buffer
    /// when they can be ([`crate::log_prefix`]), not held, and `walked`
    /// says whether they were.
    fn replay_files_with(
        &self,
        lock: Option<&LogLock>,
        walked: Option<&mut bool>,
    ) -> Result<(Replayed, bool)> {
        // The index first: a snapshot older than the logs read after it is
        // always usable, a newer one might point past them.
        let index_path = self.path(FileKind::Index);
        let index = read_index_optional(&index_path)?;
        let log2_path = self.path(FileKind::Log2);
        let log2 = read_optional_identified(&log2_path)?;
        let head_path = self.path(FileKind::Log);
        let opened;
        let head_file = match lock {
            Some(l) if l.path() == head_path => l.file(),
            _ => match File::open(&head_path) {
                Ok(f) => {
                    opened = f;
                    &opened
                }
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    return Err(Error::LogLost(format!(
                        "{} does not exist",
                        head_path.display()
                    )))
                }
                Err(e) => return Err(Error::io(&head_path, e)),
            },
        };
        let index_map = index.as_ref().and_then(|f| f.map.as_ref().ok());
        let try_prefix = walked.is_some();
        let (head_log, head_id, prefix) =
            read_head(head_file, &head_path, index_map.filter(|_| try_prefix))?;
        if let Some(w) = walked {
            *w = prefix.is_some();
        }
        // The head log only grows and its committed part never changes,
        // so only the other files can have changed under the reads.
        let stable =
            index.as_ref().is_none_or(|f| f.stable) && log2.as_ref().is_none_or(|f| f.stable);
        let index_id = index.as_ref().map(|f| f.id);
        let log2_id = log2.as_ref().map(|f| f.id);
        let mut logs = Vec::with_capacity(2);
        if let Some(f) = log2 {
            // A broken .log.2 is only needed for old snapshots; go on without it.
            if let Ok(l) = LogFile::parse(FileKind::Log2, f.bytes) {
                if l.header.file_seq < head_log.header.file_seq
                    && head_log.header.prev_file_seq == l.header.file_seq
                {
                    logs.push(l);
                }
            }
        }
        logs.push(head_log);
        let map = match index {
            Some(f) => Some(f.map?),
            None => None,
        };
        let index_header = map.as_ref().map(|m| m.header.clone());
        let had_index_file = map.is_some();
        let head_log = &logs[logs.len() - 1];
        let mut map = map.unwrap_or_else(|| IndexMap::new(head_log.header.indexid));
        if map.header.indexid != head_log.header.indexid {
            return Err(Error::corrupt(
                FileKind::Log,
                4,
                format!(
                    "indexid {} differs from dovecot.index's {}",
                    head_log.header.indexid, map.header.indexid
                ),
            ));
        }
        let refs: Vec<&LogFile> = logs.iter().collect();
        let (report, reached) = replay_unfinished_after(&mut map, &refs, false, prefix)?;
        let mut head = logs.pop().ok_or_else(|| Error::LogLost("no log".into()))?;
        head.extend_from(reached.end.1 as usize, &[]);
        let replayed = Replayed {
            map,
            reached,
            skipped: report.skipped,
            had_index_file,
            head,
            head_id,
            index_id,
            index_header,
            log2_id,
        };
        Ok((replayed, stable))
    }

    /// Brings a remembered replay up to date with the files: `Ok(true)`
    /// when it now equals a replay from scratch, `Ok(false)` (or an error)
    /// when it cannot be used and must be dropped.
    fn catch_up(&self, r: &mut Replayed, lock: Option<&LogLock>) -> Result<bool> {
        if stat_optional(&self.path(FileKind::Index))? != r.index_id
            || stat_optional(&self.path(FileKind::Log2))? != r.log2_id
        {
            return Ok(false);
        }
        let head_path = self.path(FileKind::Log);
        let opened;
        let file = match lock {
            // Closing another descriptor of the locked file would drop the
            // process's fcntl lock: read through the lock's own.
            Some(l) if l.path() == head_path => l.file(),
            _ => {
                opened = match File::open(&head_path) {
                    Ok(f) => f,
                    Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
                    Err(e) => return Err(Error::io(&head_path, e)),
                };
                &opened
            }
        };
        let now = FileId::of(&file.metadata().map_err(|e| Error::io(&head_path, e))?);
        if !now.same_inode(&r.head_id) {
            return Ok(false);
        }
        let end = u64::from(r.reached.end.1);
        let known = r.head.bytes();
        let base = r.head.base() as u64;
        let hdr = usize::from(r.head.header.hdr_size);
        let known_header = r.head.header_bytes();
        if r.head.held_end() as u64 != end || known_header.len() != hdr {
            return Ok(false);
        }
        // The header (Dovecot marks a broken log by zeroing its indexid in
        // place) and the last bytes held before the end must be unchanged.
        let mut header = vec![0u8; hdr];
        if file.read_exact_at(&mut header, 0).is_err() || header != known_header {
            return Ok(false);
        }
        let back = OVERLAP.min(end - base.max(hdr as u64));
        let from = end - back;
        let tail = read_range(file, &head_path, from, now.size)?;
        let back = back as usize;
        if tail.len() < back || tail[..back] != known[(from - base) as usize..] {
            return Ok(false);
        }
        if tail.len() == back {
            return Ok(true);
        }
        r.head.extend_from(end as usize, &tail[back..]);
        if r.reached
            .resume(&mut r.map, &r.head, &mut r.skipped)
            .is_err()
        {
            return Ok(false);
        }
        r.head.extend_from(r.reached.end.1 as usize, &[]);
        Ok(true)
    }
}

/// A view (without the cache file) of a replay.
fn opened_from(r: &Replayed, want_head: bool) -> Opened {
    let mut map = r.map.clone();
    r.reached.finish(&mut map);
    Opened {
        view: View {
            map,
            highest_modseq: r.reached.modseq,
            cache: None,
            cache_problem: None,
            skipped: r.skipped.iter().map(duplicate).collect(),
            had_index_file: r.had_index_file,
            stopped: None,
            mailbox_deleted: r.reached.mailbox_deleted,
        },
        head_header: r.head.header.clone(),
        head_end: r.reached.end.1,
        index_header: r.index_header.clone(),
        head: want_head.then(|| r.head.clone()),
    }
}

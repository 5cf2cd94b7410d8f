//! A process-wide memory of parsed control files (`dovecot-uidlist`,
//! `dovecot-keywords`), so that a file that did not change is not read and
//! parsed again on every sync.
//!
//! An entry is trusted only while `stat()` of the path gives the same
//! device, inode, size, mtime and ctime (both with nanoseconds) as the file
//! that was read. The entry keeps that file open, so its inode cannot be
//! freed and handed to a new file: the same device and inode really is the
//! same file. Dovecot and this crate change these files only by writing a
//! new file and renaming it over the old one (a new inode) or, for the
//! uidlist, by appending (a larger size); anything else that edits them in
//! place changes the mtime and ctime, unless it rewrites the same number of
//! bytes within one tick of the kernel's file clock, which Dovecot's own
//! change test (`maildir_uidlist_has_changed`: inode, size, mtime) does not
//! catch either.
//!
//! The cache is bounded ([`CACHE_CAPACITY`] files per kind, the least
//! recently used one is dropped), so a long-running process holds at most
//! that many descriptors open for it. Files on a network file system are
//! never remembered: a client's `stat()` may answer from its attribute
//! cache, and an open file there can keep a deleted folder from going away.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::error::{Error, IoContext, Result};
use crate::fsutil::{is_local_fs, MAX_CONTROL_FILE};

/// How many files of one kind the cache remembers.
pub(crate) const CACHE_CAPACITY: usize = 32;

/// What identifies one version of a file: device, inode, size, mtime and
/// ctime with nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileStamp {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime: (i64, i64),
    pub ctime: (i64, i64),
}

impl FileStamp {
    pub fn of(meta: &std::fs::Metadata) -> FileStamp {
        FileStamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }
}

struct Entry<T> {
    stamp: FileStamp,
    /// Keeps the inode alive (see the module docs).
    _pin: File,
    value: Arc<T>,
    last_used: u64,
}

struct Inner<T> {
    entries: HashMap<PathBuf, Entry<T>>,
    clock: u64,
}

/// Parsed control files by path.
pub(crate) struct ControlCache<T> {
    inner: Mutex<Option<Inner<T>>>,
}

/// A file as just read: its bytes, and what is needed to remember it.
pub(crate) struct ReadFile {
    pub data: Vec<u8>,
    file: File,
    /// `None` when the file changed while it was read (not remembered).
    stamp: Option<FileStamp>,
}

/// What [`ControlCache::lookup`] found.
pub(crate) enum Lookup<T> {
    /// The file does not exist.
    Missing,
    /// The file is the one remembered: its parse.
    Known(Arc<T>),
    /// The file exists but is not remembered (or changed since).
    Unknown,
}

impl<T> ControlCache<T> {
    pub const fn new() -> ControlCache<T> {
        ControlCache {
            inner: Mutex::new(None),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Inner<T>) -> R) -> R {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let inner = guard.get_or_insert_with(|| Inner {
            entries: HashMap::new(),
            clock: 0,
        });
        f(inner)
    }

    /// The remembered value for `path` if the file there is still the one
    /// it was parsed from.
    pub fn lookup(&self, path: &Path) -> Result<Lookup<T>> {
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.forget(path);
                return Ok(Lookup::Missing);
            }
            Err(e) => return Err(e).ctx("stat", path),
        };
        let now = FileStamp::of(&meta);
        Ok(self.with(|inner| {
            inner.clock += 1;
            let clock = inner.clock;
            match inner.entries.get_mut(path) {
                Some(e) if e.stamp == now => {
                    e.last_used = clock;
                    Lookup::Known(e.value.clone())
                }
                _ => Lookup::Unknown,
            }
        }))
    }

    /// Remembers `value` as the parse of `read` (unless the file changed
    /// while it was read). Returns the shared value.
    pub fn remember(&self, path: &Path, read: ReadFile, value: T) -> Arc<T> {
        let value = Arc::new(value);
        match read.stamp {
            Some(stamp) => self.insert(path, read.file, stamp, value.clone()),
            None => self.forget(path),
        }
        value
    }

    /// Remembers `value` as the content of `file` (open, at `path`) whose
    /// stamp is `stamp` (only on a local file system).
    pub fn insert(&self, path: &Path, file: File, stamp: FileStamp, value: Arc<T>) {
        if !is_local_fs(&file) {
            self.forget(path);
            return;
        }
        self.with(|inner| {
            inner.clock += 1;
            let clock = inner.clock;
            if inner.entries.len() >= CACHE_CAPACITY && !inner.entries.contains_key(path) {
                let oldest = inner
                    .entries
                    .iter()
                    .min_by_key(|(_, e)| e.last_used)
                    .map(|(p, _)| p.clone());
                if let Some(p) = oldest {
                    inner.entries.remove(&p);
                }
            }
            inner.entries.insert(
                path.to_path_buf(),
                Entry {
                    stamp,
                    _pin: file,
                    value,
                    last_used: clock,
                },
            );
        });
    }

    /// The remembered value if it is the content of the file with `stamp`,
    /// taken out of the cache: a caller that
    /// holds the only other reference can then change it in place and
    /// [`ControlCache::insert`] it again, instead of copying it.
    pub fn take_exact(&self, path: &Path, stamp: &FileStamp) -> Option<Arc<T>> {
        self.with(|inner| match inner.entries.get(path) {
            Some(e) if e.stamp == *stamp => inner.entries.remove(path).map(|e| e.value),
            _ => None,
        })
    }

    /// Drops what is remembered for `path`.
    pub fn forget(&self, path: &Path) {
        self.with(|inner| {
            inner.entries.remove(path);
        });
    }
}

/// Opens and reads a whole control file (at most [`MAX_CONTROL_FILE`]
/// bytes), noting its stamp when it did not change while being read.
/// `Ok(None)` when it does not exist.
pub(crate) fn read_file(path: &Path) -> Result<Option<ReadFile>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).ctx("open", path),
    };
    let before = FileStamp::of(&file.metadata().ctx("fstat", path)?);
    if before.size > MAX_CONTROL_FILE {
        return Err(Error::TooLarge {
            path: path.to_path_buf(),
            size: before.size,
            limit: MAX_CONTROL_FILE,
        });
    }
    let mut data = Vec::with_capacity(before.size as usize);
    (&file)
        .take(MAX_CONTROL_FILE + 1)
        .read_to_end(&mut data)
        .ctx("read", path)?;
    if data.len() as u64 > MAX_CONTROL_FILE {
        return Err(Error::TooLarge {
            path: path.to_path_buf(),
            size: data.len() as u64,
            limit: MAX_CONTROL_FILE,
        });
    }
    let after = FileStamp::of(&file.metadata().ctx("fstat", path)?);
    let stamp = (before == after && data.len() as u64 == before.size && is_local_fs(&file))
        .then_some(before);
    Ok(Some(ReadFile { data, file, stamp }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The file's text and whether it came from memory.
    fn load(cache: &ControlCache<String>, path: &Path) -> Option<(Arc<String>, bool)> {
        match cache.lookup(path).unwrap() {
            Lookup::Missing => None,
            Lookup::Known(v) => Some((v, true)),
            Lookup::Unknown => {
                let read = read_file(path).unwrap()?;
                let text = String::from_utf8(read.data.clone()).unwrap();
                Some((cache.remember(path, read, text), false))
            }
        }
    }

    #[test]
    fn remembers_until_the_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let cache = ControlCache::<String>::new();
        assert!(load(&cache, &path).is_none());
        std::fs::write(&path, "one\n").unwrap();
        assert_eq!(
            load(&cache, &path).unwrap(),
            (Arc::new("one\n".into()), false)
        );
        assert_eq!(
            load(&cache, &path).unwrap(),
            (Arc::new("one\n".into()), true)
        );
        // appended: larger
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        std::io::Write::write_all(&mut f, b"two\n").unwrap();
        assert!(!load(&cache, &path).unwrap().1);
        // replaced by rename with the same size: another inode
        std::fs::write(dir.path().join("g"), "ONE\nTWO\n").unwrap();
        std::fs::rename(dir.path().join("g"), &path).unwrap();
        assert_eq!(
            load(&cache, &path).unwrap(),
            (Arc::new("ONE\nTWO\n".into()), false)
        );
        std::fs::remove_file(&path).unwrap();
        assert!(load(&cache, &path).is_none());
    }

    #[test]
    fn bounded() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ControlCache::<String>::new();
        for i in 0..CACHE_CAPACITY + 5 {
            let p = dir.path().join(format!("f{i}"));
            std::fs::write(&p, "x").unwrap();
            load(&cache, &p);
        }
        cache.with(|inner| assert_eq!(inner.entries.len(), CACHE_CAPACITY));
    }
}

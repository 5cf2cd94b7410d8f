//! Reading the entries of `new/` and `cur/`, and remembering them while a
//! directory provably did not change.
//!
//! When a remembered read is reused is explained at [`DIR_SETTLE`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::error::{IoContext, Result};
use crate::file_problem::{SkipKind, SkippedFile};
use crate::filename::MaildirFilename;
use crate::fsutil;

/// How long after its last change a directory must have been read for that
/// read to be reused while the directory stays unchanged (Dovecot's
/// `MAILDIR_SYNC_SECS`).
///
/// # When a remembered directory read is reused
///
/// Every entry change (create, link, rename, unlink) sets the directory's
/// mtime and ctime from the kernel's file clock, which lags the real-time
/// clock by at most one tick (a few milliseconds). Dovecot skips a
/// directory whose mtime is unchanged unless it was synced within
/// `MAILDIR_SYNC_SECS` (1 s) of that mtime, because a second change within
/// the same tick would leave the mtime as it was. The rule here is the same,
/// made precise:
///
/// * the clock is read (`started`) *before* the directory is opened,
///   `fstat`ed and read;
/// * the scan is remembered only if `started` is at least `DIR_SETTLE`
///   later than both the directory's mtime and ctime as `fstat` gave them;
/// * it is reused only while `fstat` gives the same device, inode, mtime and
///   ctime (nanoseconds included).
///
/// A change made after `started` gets a ctime of at least `started` minus
/// one clock tick, which is later than the remembered ctime as long as
/// `DIR_SETTLE` exceeds the tick; a change made before `started` shows in
/// the `fstat` that follows. Either way the stamps differ and the directory
/// is read again. The ctime is part of the test because nothing can set it
/// back (unlike the mtime, which `utime()` can). Only local file systems
/// are trusted this way, so every time stamp comes from this kernel's clock
/// (a network file system's client may also answer `stat()` from a cache;
/// there every call reads the directory). One tick would suffice; a whole
/// second, as in Dovecot, also keeps the real-time clock stepped back by
/// less than that (an NTP correction) from hiding a change, and costs
/// nothing where it matters: a directory that changes more often than once
/// a second has to be read again anyway.
pub const DIR_SETTLE: Duration = Duration::from_secs(1);

/// How many directories the process remembers.
const DIR_CAPACITY: usize = 64;

/// A message file found in `new/` or `cur/`.
#[derive(Debug, Clone)]
pub(crate) struct ScannedFile {
    pub name: MaildirFilename,
    pub in_new: bool,
}

/// The entries of one directory.
#[derive(Debug, Default)]
pub(crate) struct DirScan {
    pub files: Vec<ScannedFile>,
    pub skipped: Vec<SkippedFile>,
    /// Base names (up to the first `:`) of the files whose name is not
    /// UTF-8: not listed, but matched with the uidlist's records of them.
    pub undecodable_bases: Vec<Vec<u8>>,
}

/// Device, inode, mtime and ctime (with nanoseconds) of a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DirStamp {
    dev: u64,
    ino: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

struct Remembered {
    stamp: DirStamp,
    scan: Arc<DirScan>,
    last_used: u64,
}

#[derive(Default)]
struct Remembrance {
    dirs: HashMap<PathBuf, Remembered>,
    clock: u64,
}

static REMEMBERED: Mutex<Option<Remembrance>> = Mutex::new(None);

fn with<R>(f: impl FnOnce(&mut Remembrance) -> R) -> R {
    let mut guard = REMEMBERED.lock().unwrap_or_else(|e| e.into_inner());
    f(guard.get_or_insert_with(Remembrance::default))
}

/// Whether a directory read at `started` with these times may be reused.
fn settled(mtime: (i64, i64), ctime: (i64, i64), started: SystemTime) -> bool {
    let latest = mtime.max(ctime);
    let Ok(secs) = u64::try_from(latest.0) else {
        return false;
    };
    let Ok(nanos) = u32::try_from(latest.1) else {
        return false;
    };
    let changed = SystemTime::UNIX_EPOCH + Duration::new(secs, nanos.min(999_999_999));
    started
        .duration_since(changed)
        .is_ok_and(|d| d >= DIR_SETTLE)
}

/// Reads `dir/sub` (`Ok(None)`: it does not exist), or returns its
/// remembered entries when it provably did not change since (see the
/// module docs).
pub(crate) fn scan(dir: &Path, sub: &str, in_new: bool) -> Result<Option<Arc<DirScan>>> {
    use rustix::fs::{Mode, OFlags, RawDir};
    let path = dir.join(sub);
    let started = SystemTime::now();
    let fd = match rustix::fs::open(
        &path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) => {
            with(|r| r.dirs.remove(&path));
            return Ok(None);
        }
        Err(e) => return Err(std::io::Error::from(e)).ctx("opendir", &path),
    };
    let st = rustix::fs::fstat(&fd)
        .map_err(std::io::Error::from)
        .ctx("fstat", &path)?;
    #[allow(clippy::unnecessary_cast)] // the field types differ between targets
    let stamp = DirStamp {
        dev: st.st_dev as u64,
        ino: st.st_ino as u64,
        mtime: (st.st_mtime as i64, st.st_mtime_nsec as i64),
        ctime: (st.st_ctime as i64, st.st_ctime_nsec as i64),
    };
    let known = with(|r| {
        r.clock += 1;
        let clock = r.clock;
        let e = r.dirs.get_mut(&path).filter(|e| e.stamp == stamp)?;
        e.last_used = clock;
        Some(e.scan.clone())
    });
    if let Some(scan) = known {
        return Ok(Some(scan));
    }
    let mut out = DirScan::default();
    // getdents into one buffer: no allocation per entry but the name
    let mut buf = vec![std::mem::MaybeUninit::<u8>::uninit(); 64 * 1024];
    let mut rd = RawDir::new(&fd, &mut buf);
    while let Some(entry) = rd.next() {
        let entry = entry.map_err(std::io::Error::from).ctx("readdir", &path)?;
        let raw = entry.file_name().to_bytes();
        if raw.first() == Some(&b'.') {
            continue;
        }
        // The type comes with the entry on most file systems (else
        // `Unknown`: then a file that is none is found when read). A
        // directory is never a message, nor a FIFO (opening one would
        // wait for a writer), socket or device; they are left alone.
        if let Some(what) = not_a_file(entry.file_type()) {
            out.skipped.push(SkippedFile {
                name: format!("{sub}/{}", String::from_utf8_lossy(raw)),
                kind: SkipKind::NotAFile,
                reason: format!("{what}, not a message file"),
            });
            continue;
        }
        let Ok(name) = std::str::from_utf8(raw) else {
            let base_len = raw.iter().position(|&b| b == b':').unwrap_or(raw.len());
            out.undecodable_bases.push(raw[..base_len].to_vec());
            out.skipped.push(SkippedFile {
                name: format!("{sub}/{}", String::from_utf8_lossy(raw)),
                kind: SkipKind::NotUtf8,
                reason: "file name is not UTF-8".into(),
            });
            continue;
        };
        match MaildirFilename::parse(name) {
            Ok(f) => out.files.push(ScannedFile { name: f, in_new }),
            Err(e) => out.skipped.push(SkippedFile {
                name: format!("{sub}/{name}"),
                kind: SkipKind::InvalidName,
                reason: e.to_string(),
            }),
        }
    }
    let scan = Arc::new(out);
    if settled(stamp.mtime, stamp.ctime, started) && fsutil::is_local_fs(&fd) {
        with(|r| {
            r.clock += 1;
            let clock = r.clock;
            if r.dirs.len() >= DIR_CAPACITY && !r.dirs.contains_key(&path) {
                let oldest = r
                    .dirs
                    .iter()
                    .min_by_key(|(_, e)| e.last_used)
                    .map(|(p, _)| p.clone());
                if let Some(p) = oldest {
                    r.dirs.remove(&p);
                }
            }
            r.dirs.insert(
                path,
                Remembered {
                    stamp,
                    scan: scan.clone(),
                    last_used: clock,
                },
            );
        });
    } else {
        with(|r| r.dirs.remove(&path));
    }
    Ok(Some(scan))
}

/// What an entry of this type is, when it cannot be a message file
/// (symlinks can: they are followed when the file is read).
fn not_a_file(t: rustix::fs::FileType) -> Option<&'static str> {
    use rustix::fs::FileType as T;
    match t {
        T::Directory => Some("a directory"),
        T::Fifo => Some("a FIFO"),
        T::Socket => Some("a socket"),
        T::CharacterDevice | T::BlockDevice => Some("a device"),
        _ => None,
    }
}

/// Whether `scan` is what is remembered for `dir/sub` (so that a later
/// [`scan`] of an unchanged directory returns this very object).
pub(crate) fn is_remembered(dir: &Path, sub: &str, scan: &Option<Arc<DirScan>>) -> bool {
    let Some(scan) = scan else { return false };
    with(|r| {
        r.dirs
            .get(&dir.join(sub))
            .is_some_and(|e| Arc::ptr_eq(&e.scan, scan))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settle_rule() {
        let t = |s: u64, ns: u32| SystemTime::UNIX_EPOCH + Duration::new(s, ns);
        // read 0.9 s after the last change: not settled
        assert!(!settled((100, 0), (100, 0), t(100, 900_000_000)));
        // a ctime later than the mtime counts (utime() set the mtime back)
        assert!(!settled((50, 0), (100, 0), t(100, 999_999_999)));
        assert!(settled((100, 0), (100, 0), t(101, 0)));
        assert!(settled((100, 5), (99, 0), t(101, 5)));
        assert!(!settled((100, 6), (99, 0), t(101, 5)));
        // times before the epoch or in the future are never settled
        assert!(!settled((-1, 0), (-1, 0), t(100, 0)));
        assert!(!settled((200, 0), (200, 0), t(100, 0)));
    }
}

//! Dovecot's dotlocks (`src/lib/file-dotlock.c` semantics).
//!
//! A dotlock for `FILE` is the file `FILE.lock`. It is created by writing
//! `"<pid>:<hostname>"` into a uniquely named temporary file in the same
//! directory and `link()`ing that to `FILE.lock`: the link fails with
//! `EEXIST` while someone else holds the lock, so exactly one process wins.
//! (Dovecot's `dotlock_use_excl = yes` creates `FILE.lock` with `O_EXCL`
//! instead; the two methods exclude each other.)
//!
//! An existing lock is overridden when it names a process on this host that
//! no longer exists, or when neither the lock nor `FILE` changed (inode,
//! size, mtime, ctime) for `stale_timeout`. Unlocking removes the lock only
//! if it is still ours (same device and inode).

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::error::{Error, IoContext, Result};
use crate::fsutil::{self, Perms};

/// How to take a dotlock.
#[derive(Debug, Clone)]
pub struct DotlockSettings {
    /// Give up after this long.
    pub timeout: Duration,
    /// Treat an unchanged lock as stale after this long (0 = never).
    pub stale_timeout: Duration,
    /// Directory (relative to the lock's directory, or absolute) and prefix
    /// of the temporary file that is linked to the lock; `None` means
    /// `temp.<host>.<pid>.` next to the lock, the prefix Dovecot's Maildir++
    /// list uses (a leading dot would look like a folder in a Maildir root).
    pub temp_prefix: Option<String>,
}

impl DotlockSettings {
    /// `dovecot-uidlist.lock`: stale after 120 s, wait up to 122 s
    /// (`MAILDIR_UIDLIST_LOCK_STALE_TIMEOUT`).
    pub fn uidlist() -> DotlockSettings {
        DotlockSettings {
            timeout: Duration::from_secs(122),
            stale_timeout: Duration::from_secs(120),
            temp_prefix: None,
        }
    }

    /// `dovecot-keywords.lock`: stale after 120 s, wait up to 15 s.
    pub fn keywords() -> DotlockSettings {
        DotlockSettings {
            timeout: Duration::from_secs(15),
            stale_timeout: Duration::from_secs(120),
            temp_prefix: None,
        }
    }

    /// `subscriptions.lock`: wait up to 120 s, stale after 30 s.
    pub fn subscriptions() -> DotlockSettings {
        DotlockSettings {
            timeout: Duration::from_secs(120),
            stale_timeout: Duration::from_secs(30),
            temp_prefix: None,
        }
    }
}

/// A held dotlock. Dropping it unlocks (errors are ignored then; call
/// [`Dotlock::unlock`] to see them).
#[derive(Debug)]
pub struct Dotlock {
    path: PathBuf,
    lock_path: PathBuf,
    dev: u64,
    ino: u64,
    released: bool,
}

/// Seconds since the epoch.
fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[derive(Default, Clone, Copy, PartialEq)]
struct ChangeInfo {
    ino: u64,
    dev: u64,
    ctime: i64,
    mtime: i64,
    size: u64,
}

impl ChangeInfo {
    fn of(meta: &std::fs::Metadata) -> ChangeInfo {
        ChangeInfo {
            ino: meta.ino(),
            dev: meta.dev(),
            ctime: meta.ctime(),
            mtime: meta.mtime(),
            size: meta.size(),
        }
    }
}

/// Reads `pid:host` from a lock file; the pid only if the host is ours.
fn read_local_pid(lock_path: &Path, host: &str) -> Option<i32> {
    let mut buf = Vec::new();
    File::open(lock_path)
        .ok()?
        .take(256)
        .read_to_end(&mut buf)
        .ok()?;
    let text = std::str::from_utf8(&buf).ok()?;
    let (pid, lock_host) = text.split_once(':')?;
    if lock_host != host {
        return None;
    }
    pid.parse().ok().filter(|p: &i32| *p > 0)
}

/// Lock files this process holds right now (a thread of ours holding a
/// lock must not be mistaken for a stale lock left by a dead process that
/// had our pid).
static HELD: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

fn held_by_us(lock_path: &Path) -> bool {
    HELD.lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .any(|p| p == lock_path)
}

fn process_exists(pid: i32) -> bool {
    match rustix::process::Pid::from_raw(pid) {
        Some(p) => !matches!(
            rustix::process::test_kill_process(p),
            Err(rustix::io::Errno::SRCH)
        ),
        None => false,
    }
}

struct Waiter {
    last_change: i64,
    lock_info: Option<ChangeInfo>,
    file_info: Option<ChangeInfo>,
}

impl Waiter {
    /// Notes changes of the lock or the protected file; returns whether
    /// the lock changed.
    fn note(
        slot: &mut Option<ChangeInfo>,
        last_change: &mut i64,
        meta: &std::fs::Metadata,
    ) -> bool {
        let info = ChangeInfo::of(meta);
        if *slot == Some(info) {
            return false;
        }
        let now = now_secs();
        let t = if slot.is_none() {
            // First look: the file's own change time (mtime if newer and
            // not in the future).
            if info.mtime <= now && info.mtime > info.ctime {
                info.mtime
            } else {
                info.ctime
            }
        } else {
            now
        };
        if *last_change < t {
            *last_change = t;
        }
        *slot = Some(info);
        true
    }
}

impl Dotlock {
    /// Takes the dotlock `<path>.lock` for `path`, waiting up to the
    /// settings' timeout. `perms` decides the owner of the lock file.
    pub fn acquire(path: &Path, settings: &DotlockSettings) -> Result<Dotlock> {
        let dir = path.parent().unwrap_or(Path::new("."));
        let perms = Perms::of_dir(dir)?;
        let mut lock_name = path.file_name().unwrap_or_default().to_os_string();
        lock_name.push(".lock");
        let lock_path = dir.join(lock_name);
        let host = crate::filename::hostname();
        let pid = std::process::id();
        let deadline = Instant::now() + settings.timeout;
        let mut waiter = Waiter {
            last_change: 0,
            lock_info: None,
            file_info: None,
        };
        let mut wait = Duration::from_millis(1);
        let mut attempt = 0u32;
        loop {
            // Is there a lock, and is it stale?
            match std::fs::symlink_metadata(&lock_path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(Error::Io {
                        op: "lstat",
                        path: lock_path,
                        source: e,
                    })
                }
                Ok(meta) => {
                    let changed =
                        Waiter::note(&mut waiter.lock_info, &mut waiter.last_change, &meta);
                    if changed {
                        wait = Duration::from_millis(1);
                    }
                    let now = now_secs();
                    let mut stale = false;
                    if meta.mtime() < now - 2 {
                        if let Some(other) = read_local_pid(&lock_path, &host) {
                            stale = if other as u32 == pid {
                                // Our pid: stale unless one of our threads holds it.
                                !held_by_us(&lock_path)
                            } else {
                                !process_exists(other)
                            };
                        }
                    }
                    if !stale && !settings.stale_timeout.is_zero() {
                        let stale_secs = settings.stale_timeout.as_secs() as i64;
                        if now > waiter.last_change + stale_secs {
                            if let Ok(fmeta) = std::fs::metadata(path) {
                                Waiter::note(
                                    &mut waiter.file_info,
                                    &mut waiter.last_change,
                                    &fmeta,
                                );
                            }
                            stale = now > waiter.last_change + stale_secs;
                        }
                    }
                    if stale {
                        // Override only if it is still the same lock file.
                        if let Ok(again) = std::fs::symlink_metadata(&lock_path) {
                            if ChangeInfo::of(&again) == ChangeInfo::of(&meta) {
                                let _ = std::fs::remove_file(&lock_path);
                            }
                        }
                        std::thread::sleep(Duration::from_millis(10));
                    }
                }
            }
            if let Some(lock) = Self::try_link(dir, path, &lock_path, &host, pid, &perms, settings)?
            {
                return Ok(lock);
            }
            if Instant::now() >= deadline {
                return Err(Error::LockTimeout(lock_path));
            }
            attempt = attempt.wrapping_add(1);
            // Randomised back-off (up to 100 ms) so waiters do not march in step.
            let jitter = Duration::from_micros(u64::from(
                (pid.wrapping_mul(2_654_435_761) ^ attempt.wrapping_mul(40_503)) % 1000,
            ));
            std::thread::sleep(wait + jitter);
            wait = (wait * 3 / 2).min(Duration::from_millis(100));
        }
    }

    fn try_link(
        dir: &Path,
        path: &Path,
        lock_path: &Path,
        host: &str,
        pid: u32,
        perms: &Perms,
        settings: &DotlockSettings,
    ) -> Result<Option<Dotlock>> {
        let prefix = settings
            .temp_prefix
            .clone()
            .unwrap_or_else(|| format!("temp.{host}.{pid}."));
        let mut temp = None;
        for n in 0..100u32 {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let candidate = dir.join(format!("{prefix}{:x}{:x}", nanos, n));
            match fsutil::create_new(&candidate, perms) {
                Ok(f) => {
                    temp = Some((candidate, f));
                    break;
                }
                Err(e) if e.io_kind() == Some(std::io::ErrorKind::AlreadyExists) => continue,
                Err(e) => return Err(e),
            }
        }
        let Some((temp_path, mut file)) = temp else {
            return Err(Error::LockTimeout(lock_path.to_path_buf()));
        };
        let write = file.write_all(format!("{pid}:{host}").as_bytes());
        drop(file);
        if let Err(e) = write {
            let _ = std::fs::remove_file(&temp_path);
            return Err(Error::Io {
                op: "write",
                path: temp_path,
                source: e,
            });
        }
        let linked = std::fs::hard_link(&temp_path, lock_path);
        let _ = std::fs::remove_file(&temp_path);
        match linked {
            Ok(()) => {
                let meta = std::fs::symlink_metadata(lock_path).ctx("lstat", lock_path)?;
                HELD.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(lock_path.to_path_buf());
                Ok(Some(Dotlock {
                    path: path.to_path_buf(),
                    lock_path: lock_path.to_path_buf(),
                    dev: meta.dev(),
                    ino: meta.ino(),
                    released: false,
                }))
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(None),
            Err(e) => Err(Error::Io {
                op: "link",
                path: lock_path.to_path_buf(),
                source: e,
            }),
        }
    }

    /// The protected file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The lock file (`<path>.lock`).
    pub fn lock_path(&self) -> &Path {
        &self.lock_path
    }

    /// Checks that the lock file is still ours.
    pub fn verify(&self) -> Result<()> {
        match std::fs::symlink_metadata(&self.lock_path) {
            Ok(m) if m.dev() == self.dev && m.ino() == self.ino => Ok(()),
            _ => Err(Error::LockOverridden(self.lock_path.clone())),
        }
    }

    /// Updates the lock's mtime so others do not consider it stale during a
    /// long operation (Dovecot touches at least every 10 s).
    pub fn touch(&self) -> Result<()> {
        self.verify()?;
        let f = File::options()
            .write(true)
            .open(&self.lock_path)
            .ctx("open", &self.lock_path)?;
        f.set_modified(SystemTime::now())
            .ctx("utime", &self.lock_path)
    }

    fn forget(&self) {
        let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = held.iter().position(|p| *p == self.lock_path) {
            held.swap_remove(i);
        }
    }

    /// Replaces the protected file with `data` by writing it into the lock
    /// file and renaming the lock over the file (Dovecot's
    /// `file_dotlock_replace()`); the lock is released by the rename.
    pub fn replace_with(mut self, data: &[u8]) -> Result<()> {
        self.verify()?;
        let mut f = File::options()
            .write(true)
            .truncate(true)
            .open(&self.lock_path)
            .ctx("open", &self.lock_path)?;
        f.write_all(data)
            .and_then(|()| f.sync_data())
            .ctx("write", &self.lock_path)?;
        drop(f);
        self.verify()?;
        let renamed = std::fs::rename(&self.lock_path, &self.path).ctx("rename", &self.path);
        if renamed.is_ok() {
            self.released = true;
            self.forget();
        }
        renamed
    }

    /// Releases the lock: removes the lock file if it is still ours.
    pub fn unlock(mut self) -> Result<()> {
        self.release()
    }

    fn release(&mut self) -> Result<()> {
        if self.released {
            return Ok(());
        }
        self.released = true;
        let ours = self.verify();
        self.forget();
        ours?;
        std::fs::remove_file(&self.lock_path).ctx("unlink", &self.lock_path)
    }
}

impl Drop for Dotlock {
    fn drop(&mut self) {
        let _ = self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excludes_and_releases() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("dovecot-uidlist");
        let lock = Dotlock::acquire(&file, &DotlockSettings::uidlist()).unwrap();
        let content = std::fs::read_to_string(lock.lock_path()).unwrap();
        assert_eq!(
            content,
            format!("{}:{}", std::process::id(), crate::filename::hostname())
        );
        let quick = DotlockSettings {
            timeout: Duration::from_millis(200),
            ..DotlockSettings::uidlist()
        };
        // Our own pid in a fresh lock is not overridden (mtime too new).
        assert!(matches!(
            Dotlock::acquire(&file, &quick),
            Err(Error::LockTimeout(_))
        ));
        lock.unlock().unwrap();
        let again = Dotlock::acquire(&file, &quick).unwrap();
        drop(again);
        assert!(!dir.path().join("dovecot-uidlist.lock").exists());
    }

    #[test]
    fn overrides_lock_of_dead_process() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("dovecot-uidlist");
        let lock = dir.path().join("dovecot-uidlist.lock");
        // A pid that cannot exist (beyond pid_max).
        std::fs::write(&lock, format!("99999999:{}", crate::filename::hostname())).unwrap();
        let old = SystemTime::now() - Duration::from_secs(10);
        File::options()
            .write(true)
            .open(&lock)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let quick = DotlockSettings {
            timeout: Duration::from_secs(2),
            ..DotlockSettings::uidlist()
        };
        Dotlock::acquire(&file, &quick).unwrap().unlock().unwrap();
    }

    #[test]
    fn overrides_stale_lock_of_other_host() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x");
        let lock = dir.path().join("x.lock");
        std::fs::write(&lock, "1:elsewhere").unwrap();
        let old = SystemTime::now() - Duration::from_secs(300);
        File::options()
            .write(true)
            .open(&lock)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let s = DotlockSettings {
            timeout: Duration::from_secs(2),
            stale_timeout: Duration::from_secs(1),
            temp_prefix: None,
        };
        // ctime of the lock is now, so it needs stale_timeout to pass.
        std::thread::sleep(Duration::from_millis(2100));
        Dotlock::acquire(&file, &s).unwrap();
    }
}

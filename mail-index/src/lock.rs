//! The transaction-log lock: a whole-file fcntl write lock, exactly what
//! Dovecot takes with the default `lock_method = fcntl`.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::fs::{fcntl_lock, FlockOperation};

use crate::error::{Error, Result};

/// Dovecot's default lock wait (`mail_max_lock_timeout` caps it; 180 s by default).
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(180);

/// A held fcntl write lock on the current `dovecot.index.log`.
///
/// POSIX record locks are per process: two `LogLock`s in one process do not
/// exclude each other, so a process must serialise its own writers.
#[derive(Debug)]
pub struct LogLock {
    file: File,
    path: PathBuf,
}

impl LogLock {
    /// Locks the log at `path`, waiting up to `timeout`. After the lock is
    /// taken the path is checked again: if the log was rotated meanwhile, the
    /// new file is locked instead (as Dovecot does).
    pub fn acquire(path: &Path, timeout: Duration) -> Result<LogLock> {
        let deadline = Instant::now() + timeout;
        loop {
            let file = OpenOptions::new()
                .read(true)
                .append(true)
                .custom_flags(rustix::fs::OFlags::CLOEXEC.bits() as i32)
                .open(path)
                .map_err(|e| Error::io(path, e))?;
            loop {
                match fcntl_lock(&file, FlockOperation::NonBlockingLockExclusive) {
                    Ok(()) => break,
                    Err(e)
                        if e == rustix::io::Errno::AGAIN
                            || e == rustix::io::Errno::ACCESS
                            || e == rustix::io::Errno::INTR =>
                    {
                        if Instant::now() >= deadline {
                            return Err(Error::LockTimeout {
                                path: path.to_path_buf(),
                            });
                        }
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(e) => return Err(Error::io(path, e.into())),
                }
            }
            let held = file.metadata().map_err(|e| Error::io(path, e))?;
            match std::fs::metadata(path) {
                Ok(now) if now.ino() == held.ino() && now.dev() == held.dev() => {
                    return Ok(LogLock {
                        file,
                        path: path.to_path_buf(),
                    });
                }
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io(path, e)),
            }
        }
    }

    /// Takes the lock on an already open file (used for a freshly created log).
    pub(crate) fn adopt(file: File, path: &Path) -> Result<LogLock> {
        fcntl_lock(&file, FlockOperation::LockExclusive).map_err(|e| Error::io(path, e.into()))?;
        Ok(LogLock {
            file,
            path: path.to_path_buf(),
        })
    }

    /// Reads the whole locked file through the locked descriptor.
    pub fn read_all(&self) -> Result<Vec<u8>> {
        use std::os::unix::fs::FileExt;
        let len = self
            .file
            .metadata()
            .map_err(|e| Error::io(&self.path, e))?
            .len();
        let len = usize::try_from(len).map_err(|_| Error::Invalid("log file too large".into()))?;
        let mut buf = vec![0u8; len];
        let mut done = 0;
        while done < len {
            match self.file.read_at(&mut buf[done..], done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io(&self.path, e)),
            }
        }
        buf.truncate(done);
        Ok(buf)
    }

    /// The locked file (opened for reading and appending).
    pub fn file(&self) -> &File {
        &self.file
    }

    /// The path that was locked.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for LogLock {
    fn drop(&mut self) {
        let _ = fcntl_lock(&self.file, FlockOperation::Unlock);
    }
}

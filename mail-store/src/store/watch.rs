//! Waiting for another session's changes (IDLE): inotify on the mailbox
//! directory (the transaction log), `cur/` and `new/`, with polling of the
//! same files' sizes and mtimes as the fallback when inotify is not
//! available. The watcher only says *that* something changed; what changed
//! comes from a new view ([`super::changes`]).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use columba_maildir::Mailbox;
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::fd::OwnedFd;
use rustix::fs::inotify;

use crate::error::{Error, Result};

/// Size and mtime of the files that change when a mailbox changes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp(Vec<(u64, Option<SystemTime>)>);

fn stamp(dir: &Path) -> Stamp {
    let files = ["dovecot.index.log", "dovecot-uidlist", "cur", "new"];
    Stamp(
        files
            .iter()
            .map(|f| match std::fs::metadata(dir.join(f)) {
                Ok(m) => (m.len(), m.modified().ok()),
                Err(_) => (0, None),
            })
            .collect(),
    )
}

/// Watches one mailbox for changes made by anyone.
#[derive(Debug)]
pub struct MailboxWatcher {
    dir: PathBuf,
    inotify: Option<OwnedFd>,
    last: Stamp,
    poll_interval: Duration,
}

impl MailboxWatcher {
    /// Starts watching; `poll_interval` is used when inotify is unavailable.
    pub fn new(mailbox: &Mailbox, poll_interval: Duration) -> MailboxWatcher {
        let dir = mailbox.path().to_path_buf();
        let inotify = Self::setup_inotify(&dir).ok();
        MailboxWatcher {
            last: stamp(&dir),
            dir,
            inotify,
            poll_interval,
        }
    }

    fn setup_inotify(dir: &Path) -> rustix::io::Result<OwnedFd> {
        let fd = inotify::init(inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK)?;
        let changes = inotify::WatchFlags::CREATE
            | inotify::WatchFlags::DELETE
            | inotify::WatchFlags::MOVED_FROM
            | inotify::WatchFlags::MOVED_TO
            | inotify::WatchFlags::MODIFY
            | inotify::WatchFlags::CLOSE_WRITE;
        inotify::add_watch(&fd, dir, changes)?;
        for sub in ["cur", "new"] {
            inotify::add_watch(&fd, dir.join(sub), changes)?;
        }
        Ok(fd)
    }

    /// True if the watcher uses inotify (false: polling).
    pub fn uses_inotify(&self) -> bool {
        self.inotify.is_some()
    }

    /// Waits until the mailbox changes or `timeout` passes; true on a change.
    pub fn wait(&mut self, timeout: Duration) -> Result<bool> {
        let deadline = Instant::now() + timeout;
        loop {
            let now_stamp = stamp(&self.dir);
            if now_stamp != self.last {
                self.last = now_stamp;
                self.drain();
                return Ok(true);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            let step = left.min(self.poll_interval);
            match &self.inotify {
                Some(fd) => {
                    let mut fds = [PollFd::new(fd, PollFlags::IN)];
                    let ts = Timespec {
                        tv_sec: step.as_secs() as _,
                        tv_nsec: step.subsec_nanos() as _,
                    };
                    match poll(&mut fds, Some(&ts)) {
                        Ok(_) | Err(rustix::io::Errno::INTR) => {}
                        Err(e) => {
                            return Err(Error::MessageFile {
                                path: self.dir.clone(),
                                reason: e.to_string(),
                            })
                        }
                    }
                    // an event may touch a file whose size and mtime did not change
                    // within the timestamp resolution: report it as a change
                    if self.drain() {
                        self.last = stamp(&self.dir);
                        return Ok(true);
                    }
                }
                None => std::thread::sleep(step),
            }
        }
    }

    /// Reads pending inotify events; true if there were any.
    fn drain(&mut self) -> bool {
        let Some(fd) = &self.inotify else {
            return false;
        };
        let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 4096];
        let mut reader = inotify::Reader::new(fd, &mut buf);
        let mut any = false;
        while reader.next().is_ok() {
            any = true;
        }
        any
    }
}

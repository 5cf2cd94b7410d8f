//! Noticing changes made by other processes (other sessions, LMTP
//! deliveries) to the selected mailbox, so IDLE reports them at once. In
//! one process a hub did this; across processes the mailbox itself is the
//! meeting point: the store's [`MailboxWatcher`] uses inotify on the
//! mailbox directory (its transaction log, `cur/`, `new/`), with polling of
//! the same files as the fallback.

use std::path::Path;
use std::time::Duration;

use columba_mail_store::store::MailboxWatcher;
use columba_maildir::Maildir;

/// How often the fallback polls (inotify reports at once).
const POLL_FALLBACK: Duration = Duration::from_millis(200);

/// Watches whichever mailbox the session has selected.
pub struct SelectedWatch {
    maildir: Option<Maildir>,
    watching: Option<(String, MailboxWatcher)>,
}

impl SelectedWatch {
    /// A watch over the Maildir++ root at `root`.
    pub fn new(root: &Path) -> SelectedWatch {
        SelectedWatch {
            maildir: Maildir::open(root).ok(),
            watching: None,
        }
    }

    /// Follows the session's selection (or `None` while it needs no
    /// watching); true when the watched mailbox changed since the last
    /// call, or when watching it just began. Never blocks.
    pub fn changed(&mut self, selected: Option<&str>) -> bool {
        let Some(name) = selected else {
            self.watching = None;
            return false;
        };
        if self.watching.as_ref().map(|(n, _)| n.as_str()) != Some(name) {
            self.watching =
                self.maildir
                    .as_ref()
                    .and_then(|m| m.folder(name).ok())
                    .map(|mailbox| {
                        (
                            name.to_string(),
                            MailboxWatcher::new(&mailbox, POLL_FALLBACK),
                        )
                    });
            // a change between the session's last look and this watcher's
            // first stamp would go unseen: report one, and the session
            // re-reads the mailbox and finds whatever there is
            return self.watching.is_some();
        }
        match &mut self.watching {
            Some((_, w)) => w.wait(Duration::ZERO).unwrap_or(false),
            None => false,
        }
    }
}

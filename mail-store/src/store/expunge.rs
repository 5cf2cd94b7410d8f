//! EXPUNGE, as Dovecot's Maildir sync does it: with the index log lock
//! held, each message file is unlinked, then one external transaction
//! removes the messages from the index. A crash between the two leaves
//! index records whose files are gone; the next sync reports them (and
//! Dovecot expunges them at its next sync).

use columba_mail_index::{IndexDir, Transaction};
use columba_maildir::Mailbox;

use crate::error::Result;

/// Expunges the messages with `uids`; returns the UIDs removed from the
/// index (whose files were unlinked here or were already gone).
pub fn expunge(mailbox: &Mailbox, uids: &[u32]) -> Result<Vec<u32>> {
    let dir = mailbox.path();
    let index = IndexDir::new(dir);
    let has_index = dir.join("dovecot.index.log").exists();
    let lock = if has_index { Some(index.lock()?) } else { None };
    let listing = mailbox.list()?;
    let mut removed = Vec::new();
    for &uid in uids {
        if let Some(entry) = listing.messages.iter().find(|m| m.uid == Some(uid)) {
            mailbox.expunge(&entry.file_name)?;
        }
        removed.push(uid);
    }
    if let Some(lock) = lock {
        let view = index.open_view_locked(&lock)?;
        let present: std::collections::HashSet<u32> = view.messages().map(|m| m.uid).collect();
        removed.retain(|u| present.contains(u));
        if !removed.is_empty() {
            let mut t = Transaction::external();
            for &uid in &removed {
                t.expunge(uid, [0; 16]);
            }
            index.commit_locked(&lock, &t)?;
        }
    }
    Ok(removed)
}

/// EXPUNGE of every message flagged `\Deleted` in the index.
pub fn expunge_deleted(mailbox: &Mailbox) -> Result<Vec<u32>> {
    let snapshot = super::MailboxSnapshot::open(mailbox)?;
    let uids: Vec<u32> = snapshot
        .messages
        .iter()
        .filter(|m| m.flags.deleted)
        .map(|m| m.uid)
        .collect();
    expunge(mailbox, &uids)
}

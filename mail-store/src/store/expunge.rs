//! EXPUNGE, as Dovecot's Maildir sync does it: with the index log lock
//! held, each message file is unlinked, then one external transaction
//! removes the messages from the index. A crash between the two leaves
//! index records whose files are gone; the next sync reports them (and
//! Dovecot expunges them at its next sync).

use std::collections::{HashMap, HashSet};

use columba_mail_index::Transaction;
use columba_maildir::Mailbox;

use super::dir_stamps::DirChange;
use super::file_hint::FileHints;
use super::index_io::{commit_measured, index_for_writing, maintain_if_due};

use crate::error::Result;

/// Expunges the messages with `uids`; returns the UIDs removed from the
/// index (whose files were unlinked here or were already gone).
pub fn expunge(mailbox: &Mailbox, uids: &[u32]) -> Result<Vec<u32>> {
    let dir = mailbox.path();
    let index = index_for_writing(dir);
    if !dir.join("dovecot.index.log").exists() {
        // no index: the listing names the files
        let listing = mailbox.list()?;
        for &uid in uids {
            if let Some(entry) = listing.messages.iter().find(|m| m.uid == Some(uid)) {
                mailbox.expunge(&entry.file_name)?;
            }
        }
        return Ok(uids.to_vec());
    }
    let lock = super::index_io::lock(&index, dir)?;
    let view = index.open_view_locked(&lock)?;
    let wanted: HashSet<u32> = uids.iter().copied().collect();
    // the messages the index holds, with the flags that name their files
    let current: HashMap<u32, (u8, Vec<&str>)> = view
        .messages()
        .filter(|m| wanted.contains(&m.uid))
        .map(|m| (m.uid, (m.flags, m.keywords)))
        .collect();
    // Each file under the name its uidlist record and index flags give; a
    // stale name is looked up by base name (Mailbox::expunge does), and a
    // UID the uidlist lacks by a listing.
    let hints = FileHints::read(mailbox)?;
    let cur_change = DirChange::begin(dir);
    let mut listing = None;
    let mut removed = Vec::new();
    for &uid in uids {
        let expected = match current.get(&uid) {
            Some((bits, kw)) => hints.expected(uid, *bits, kw),
            None => hints.expected_unflagged(uid),
        };
        let name = match expected {
            Some(name) => Some(name),
            None => {
                if listing.is_none() {
                    listing = Some(mailbox.list()?);
                }
                listing
                    .as_ref()
                    .and_then(|l| l.messages.iter().find(|m| m.uid == Some(uid)))
                    .map(|e| e.file_name.clone())
            }
        };
        if let Some(name) = name {
            mailbox.expunge(&name)?;
        }
        if current.contains_key(&uid) {
            removed.push(uid);
        }
    }
    if !removed.is_empty() {
        let mut t = Transaction::external();
        for &uid in &removed {
            t.expunge(uid, [0; 16]);
        }
        let (before, mut after) = commit_measured(&index, &lock, &t)?;
        // as Dovecot after its own unlinks: cur/'s new stamp goes into the
        // index, so that the next sync need not list cur/ again
        let mut stamp = Transaction::new();
        cur_change.record(dir, view.map(), &mut stamp);
        drop(view);
        if !stamp.is_empty() {
            after = commit_measured(&index, &lock, &stamp)?.1;
        }
        drop(lock);
        maintain_if_due(dir, before, after);
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

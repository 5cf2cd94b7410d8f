//! STORE flags and keywords on a Maildir++ mailbox Dovecot also serves: new
//! keywords get their letters first (under the uidlist lock alone), then
//! the change is committed to the transaction log, then the message files
//! are renamed. A crash between the two leaves the change in the log, and
//! the next index sync (Dovecot's, which applies log records beyond the
//! synced tail offset to the files) renames the files.

use columba_mail_index::{IndexDir, Transaction};
use columba_maildir::{FlagOutcome, FlagUpdate, Mailbox};

use super::append::{index_flags, maildir_flags};
use crate::error::Result;
use crate::search::MessageFlags;

/// How STORE combines the given flags with the message's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMode {
    /// `+FLAGS`.
    Add,
    /// `-FLAGS`.
    Remove,
    /// `FLAGS`.
    Replace,
}

/// What a STORE did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreResult {
    /// UIDs changed (or already as asked).
    pub stored: Vec<u32>,
    /// UIDs left alone because their modseq was above UNCHANGEDSINCE
    /// (the `[MODIFIED ...]` response code).
    pub modified: Vec<u32>,
}

/// Changes the flags and keywords of the messages with `uids`. Returns the
/// UIDs whose files were found (changed or already as asked); a UID whose
/// file is gone (expunged meanwhile) is left out.
pub fn store_flags(
    mailbox: &Mailbox,
    uids: &[u32],
    mode: StoreMode,
    flags: MessageFlags,
    keywords: &[String],
) -> Result<Vec<u32>> {
    Ok(store_flags_unchanged_since(mailbox, uids, mode, flags, keywords, None)?.stored)
}

/// STORE with CONDSTORE's UNCHANGEDSINCE: under the log lock, messages
/// whose modseq is above `unchanged_since` are not changed and are
/// reported in [`StoreResult::modified`].
pub fn store_flags_unchanged_since(
    mailbox: &Mailbox,
    uids: &[u32],
    mode: StoreMode,
    flags: MessageFlags,
    keywords: &[String],
    unchanged_since: Option<u64>,
) -> Result<StoreResult> {
    let dir = mailbox.path();
    if mode != StoreMode::Remove {
        register_keywords(mailbox, keywords)?;
    }
    let mut uids = uids.to_vec();
    let mut modified = Vec::new();
    // held until the files are renamed, as Dovecot renames during its sync
    let mut _held = None;
    if dir.join("dovecot.index.log").exists() {
        let index = IndexDir::new(dir);
        let lock = index.lock()?;
        if let Some(limit) = unchanged_since {
            let view = index.open_view_locked(&lock)?;
            let modseqs: std::collections::HashMap<u32, u64> =
                view.messages().map(|m| (m.uid, m.modseq)).collect();
            uids.retain(|u| {
                let keep = modseqs.get(u).is_none_or(|&m| m <= limit);
                if !keep {
                    modified.push(*u);
                }
                keep
            });
        }
        let bits = index_flags(flags);
        let mut t = Transaction::new();
        for &uid in &uids {
            match mode {
                StoreMode::Add => {
                    t.add_flags(uid, uid, bits);
                    for k in keywords {
                        t.add_keyword(k, &[(uid, uid)]);
                    }
                }
                StoreMode::Remove => {
                    t.remove_flags(uid, uid, bits);
                    for k in keywords {
                        t.remove_keyword(k, &[(uid, uid)]);
                    }
                }
                StoreMode::Replace => {
                    t.replace_flags(uid, uid, bits);
                    t.reset_keywords(uid, uid);
                    for k in keywords {
                        t.add_keyword(k, &[(uid, uid)]);
                    }
                }
            }
        }
        if !t.is_empty() {
            index.commit_locked(&lock, &t)?;
        }
        _held = Some(lock);
    }
    let listing = mailbox.list()?;
    let update = match mode {
        StoreMode::Add => FlagUpdate::Add(maildir_flags(flags), keywords.to_vec()),
        StoreMode::Remove => FlagUpdate::Remove(maildir_flags(flags), keywords.to_vec()),
        StoreMode::Replace => FlagUpdate::Replace(maildir_flags(flags), keywords.to_vec()),
    };
    let mut done = Vec::new();
    for &uid in &uids {
        let Some(entry) = listing.messages.iter().find(|m| m.uid == Some(uid)) else {
            continue;
        };
        match mailbox.update_flags(&entry.file_name, &update)? {
            FlagOutcome::Renamed(_) | FlagOutcome::Unchanged(_) => done.push(uid),
            FlagOutcome::Expunged => {}
        }
    }
    Ok(StoreResult {
        stored: done,
        modified,
    })
}

/// Gives new keywords their `dovecot-keywords` letters before the index
/// lock is taken: the keywords file changes only under the uidlist lock,
/// and Dovecot takes the uidlist lock before the index lock, so taking it
/// while holding the index lock could make both wait on each other.
fn register_keywords(mailbox: &Mailbox, keywords: &[String]) -> Result<()> {
    if keywords.is_empty() {
        return Ok(());
    }
    let file = mailbox.keywords_file();
    if keywords
        .iter()
        .all(|k| file.read().is_ok_and(|kw| kw.index_of(k).is_some()))
    {
        return Ok(());
    }
    let lock = mailbox.uidlist_file().lock()?;
    let mut known = file.read()?;
    let mut changed = false;
    for k in keywords {
        changed |= known.index_or_add(k)?.1;
    }
    if changed {
        file.write(&known, &lock)?;
    }
    lock.unlock()?;
    Ok(())
}

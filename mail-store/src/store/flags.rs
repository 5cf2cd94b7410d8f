//! STORE flags and keywords on a Maildir++ mailbox Dovecot also serves: new
//! keywords get their letters first (under the uidlist lock alone), then
//! the change is committed to the transaction log, then the message files
//! are renamed. A crash between the two leaves the change in the log, and
//! the next index sync (Dovecot's, which applies log records beyond the
//! synced tail offset to the files) renames the files.

use std::collections::HashMap;

use columba_mail_index::Transaction;
use columba_maildir::{FlagOutcome, FlagUpdate, Mailbox};

use super::append::{index_flags, maildir_flags};
use super::dir_stamps::DirChange;
use super::file_hint::FileHints;
use super::index_io::{commit_measured, index_for_writing, maintain_if_due};
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
    // (uid, index flags byte, keywords) as the index holds them before
    // this change: with the uidlist's base names they give the file names
    let mut current: HashMap<u32, (u8, Vec<String>)> = HashMap::new();
    // held until the files are renamed, as Dovecot renames during its sync
    let mut _held = None;
    let mut grown = None;
    if dir.join("dovecot.index.log").exists() {
        let index = index_for_writing(dir);
        // each wanted UID looked up in the records (a STORE of a few
        // messages of a big mailbox does not walk all of them)
        let mut remember = |view: &columba_mail_index::View, wanted: &[u32]| {
            let map = view.map();
            for &uid in wanted {
                if let Ok(i) = map.position_of_uid(uid) {
                    let keywords = map.keywords_at(i).iter().map(|k| k.to_string()).collect();
                    current.insert(uid, (map.flags_at(i), keywords));
                }
            }
        };
        let lock = if let Some(limit) = unchanged_since {
            let lock = super::index_io::lock(&index, dir)?;
            let view = index.open_view_locked(&lock)?;
            // a message's modseq as the view gives it: its own, or
            // HIGHESTMODSEQ without per-message modseqs
            let map = view.map();
            let modseq_of = |uid: u32| {
                let i = map.position_of_uid(uid).ok()?;
                Some(match map.modseq_at(i) {
                    Some(m) if m != 0 => m,
                    _ => view.highest_modseq.max(1),
                })
            };
            uids.retain(|u| {
                let keep = modseq_of(*u).is_none_or(|m| m <= limit);
                if !keep {
                    modified.push(*u);
                }
                keep
            });
            remember(&view, &uids);
            lock
        } else {
            // read before the lock (the cache file is not needed): a
            // change made in between only makes a name guess miss
            let turn = super::index_io::guard(dir);
            let view = index.open_view_without_cache()?;
            drop(turn);
            remember(&view, &uids);
            super::index_io::lock(&index, dir)?
        };
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
            grown = Some(commit_measured(&index, &lock, &t)?);
        }
        _held = Some((lock, index, DirChange::begin(dir)));
    }
    let update = match mode {
        StoreMode::Add => FlagUpdate::Add(maildir_flags(flags), keywords.to_vec()),
        StoreMode::Remove => FlagUpdate::Remove(maildir_flags(flags), keywords.to_vec()),
        StoreMode::Replace => FlagUpdate::Replace(maildir_flags(flags), keywords.to_vec()),
    };
    // Each file under the name its uidlist record and index flags give;
    // a stale name is looked up by base name (update_flags does), and a
    // UID the uidlist lacks by a listing of the mailbox.
    let hints = FileHints::read(mailbox)?;
    let mut listing = None;
    let mut done = Vec::new();
    for &uid in &uids {
        let expected = match current.get(&uid) {
            Some((bits, kw)) => {
                let kw: Vec<&str> = kw.iter().map(String::as_str).collect();
                hints.expected(uid, *bits, &kw)
            }
            None => hints.expected_unflagged(uid),
        };
        let name = match expected {
            Some(name) => name,
            None => {
                if listing.is_none() {
                    listing = Some(mailbox.list()?);
                }
                let found = listing
                    .as_ref()
                    .and_then(|l| l.messages.iter().find(|m| m.uid == Some(uid)));
                match found {
                    Some(entry) => entry.file_name.clone(),
                    None => continue,
                }
            }
        };
        match mailbox.update_flags(&name, &update)? {
            FlagOutcome::Renamed(_) | FlagOutcome::Unchanged(_) => done.push(uid),
            FlagOutcome::Expunged => {}
        }
    }
    if let Some((lock, index, cur_change)) = &_held {
        // as Dovecot after its own renames: cur/'s new stamp goes into the
        // index, so that the next sync need not list cur/ again
        if !done.is_empty() {
            let view = index.open_view_locked(lock)?;
            let mut t = Transaction::new();
            cur_change.record(dir, view.map(), &mut t);
            if !t.is_empty() {
                let (_, after) = commit_measured(index, lock, &t)?;
                grown = grown.map(|(before, _)| (before, after));
            }
        }
    }
    drop(_held);
    if let Some((before, after)) = grown {
        maintain_if_due(dir, before, after);
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

//! Dovecot's partial sync: when the quick check finds `new/` changed and
//! `cur/` as the index last recorded it, only `new/` is listed, as
//! `maildir_sync_context()` does with a partial uidlist sync. Its files
//! the uidlist does not know get UIDs (under the uidlist lock, then the
//! log lock, Dovecot's order) and are indexed; nothing is expunged here (a
//! file gone from `new/` makes this a full scan instead: what `new/` held
//! at the recorded stamp is remembered by the process
//! ([`super::new_dir_memo`]), and without that memory the full scan is
//! made too). A mailbox of 100,000 messages then costs a listing of the
//! few files just delivered, not of all of them.

use std::collections::HashSet;

use columba_mail_index::{IndexDir, Transaction};
use columba_maildir::filename::SortKey;
use columba_maildir::{Mailbox, MaildirFilename, UidlistRecord};

use super::dir_stamps::DirStamps;
use super::sync::SyncReport;
use crate::error::Result;

/// One file of `new/`: its base name and flag bits.
struct NewFile {
    base: String,
    flags: u8,
}

/// Lists `new/` and indexes the files in it the uidlist does not know.
/// `recorded_new` is `new/`'s stamp in the index's header. Returns false,
/// having changed nothing, when this needs a full scan instead: the
/// process does not know what `new/` held at that stamp, or a file it held
/// is gone; an entry that is not a plain message file, or a name with
/// keywords; a uidlist or index that is not in step.
pub(super) fn sync_new_dir(
    mailbox: &Mailbox,
    index: &IndexDir,
    dirs: &DirStamps,
    recorded_new: super::new_dir_memo::Mtime,
    report: &mut SyncReport,
) -> Result<bool> {
    let dir = mailbox.path();
    let Some(held) = super::new_dir_memo::held_at(dir, recorded_new) else {
        return Ok(false);
    };
    let Some(files) = list_new(dir) else {
        return Ok(false);
    };
    let present: HashSet<&str> = files.iter().map(|f| f.base.as_str()).collect();
    if held.iter().any(|b| !present.contains(b.as_str())) {
        // a file left new/ (expunged, or moved while cur/ looks the same):
        // only a full scan tells
        return Ok(false);
    }
    let uidlist_lock = mailbox.uidlist_file().lock()?;
    let Some(list) = uidlist_lock.read_shared()? else {
        return Ok(false);
    };
    if list.version != 3 || !list.complete_last_line {
        return Ok(false);
    }
    let mut unknown: HashSet<&str> = files.iter().map(|f| f.base.as_str()).collect();
    for r in &list.records {
        unknown.remove(r.base.as_str());
    }
    let mut fresh: Vec<&NewFile> = files
        .iter()
        .filter(|f| unknown.contains(f.base.as_str()))
        .collect();
    fresh.sort_by_cached_key(|f| SortKey::new(&f.base));
    let next_uid = list.next_uid();
    // the parse is not held while records are appended to it
    drop(list);
    let lock = super::index_io::lock(index, dir)?;
    let view = index.open_view_locked(&lock)?;
    if view.header().next_uid != next_uid {
        // numbered but not indexed (a killed sync or append): the full
        // sync carries that out
        return Ok(false);
    }
    if u64::from(next_uid) + fresh.len() as u64 >= u64::from(u32::MAX - 1) {
        return Ok(false);
    }
    let mut records = Vec::with_capacity(fresh.len());
    let mut t = Transaction::new();
    for (uid, f) in (next_uid..).zip(&fresh) {
        records.push(UidlistRecord {
            uid,
            extensions: Vec::new(),
            base: f.base.clone(),
        });
        t.append(uid, f.flags);
        report.appended.push(uid);
    }
    if !records.is_empty() {
        uidlist_lock.append(&records)?;
    }
    // what this listing saw is indexed now: its stamps go into the header
    dirs.record(view.map(), &mut t);
    super::new_dir_memo::remember(
        dir,
        dirs.new_stamp(),
        files.iter().map(|f| f.base.clone()).collect(),
    );
    drop(view);
    report.scanned = true;
    if !t.is_empty() {
        let (before, after) = super::index_io::commit_measured(index, &lock, &t)?;
        drop(lock);
        let _ = uidlist_lock.unlock();
        super::index_io::maintain_if_due(dir, before, after);
    }
    Ok(true)
}

/// The message files of `new/`; `None` when an entry needs the full
/// scan's care (not a plain file, not UTF-8, unparsable, with keywords).
fn list_new(dir: &std::path::Path) -> Option<Vec<NewFile>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir.join("new")).ok()? {
        let entry = entry.ok()?;
        let name = entry.file_name();
        let name = name.to_str()?;
        if name.starts_with('.') {
            continue;
        }
        if !entry.file_type().ok()?.is_file() {
            return None;
        }
        let parsed = MaildirFilename::parse(name).ok()?;
        let info = parsed.info().unwrap_or_default();
        if info.keyword_bits != 0 {
            return None;
        }
        files.push(NewFile {
            base: parsed.base().to_string(),
            flags: info.flags.bits() & 0x1f,
        });
    }
    Some(files)
}

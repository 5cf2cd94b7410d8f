//! Opening a mailbox: new files found in `cur/` and `new/` get UIDs in
//! `dovecot-uidlist` (Dovecot's order, under its lock) and are appended to
//! the index through the transaction log under the log lock. The two locks
//! are never held the wrong way round: Dovecot takes the uidlist lock
//! first, then the log lock (`maildir-sync.c`: "to avoid deadlocking do
//! the uidlist lock always first"); here the uidlist work is finished and
//! its lock released before the log lock is taken, and under the log lock
//! the Maildir is only read.
//!
//! Messages whose file vanished (unlinked by another client, or by a move
//! that was killed before it updated the index) are expunged from the
//! index after a second scan confirms they are gone.
//!
//! Before anything is listed, `new/` and `cur/` are stat()ed and compared
//! with the index's `maildir` header, as Dovecot's quick check does: when
//! both are unchanged since the last full scan (Dovecot's or ours) and out
//! of their one-second delayed-refresh window, nothing is read. A full
//! scan that leaves every file it saw in the index records the stamps it
//! began with, in the same commit.
//!
//! When only `new/` changed (a delivery) and `cur/` is as last recorded,
//! only `new/` is listed, as in Dovecot's partial sync
//! ([`super::new_dir_sync`]).
//!
//! A bad entry does not fail the sync, as it does not fail Dovecot's: a
//! message whose file cannot be read (mode 000 for the mail user, a
//! dangling symlink) keeps its UID and flags, and an entry that is no
//! message (a directory named like one) is left alone; both are returned
//! in the [`SyncReport`] for the caller to log.
//!
//! Flags and keywords changed by renaming a file outside Dovecot and
//! Columba are taken from the file. The log's synced tail offset is not
//! tracked yet, so a STORE killed between its log commit and its renames is
//! undone by the next sync here (Dovecot would re-apply it to the files).

use std::collections::HashSet;

use columba_mail_index::{FileKind, IndexDir, Transaction};
use columba_maildir::{Mailbox, SkippedFile, UnreadableFile};

use super::append::index_flags;
use super::dir_stamps::{DirStamps, MaildirHeader};
use super::summary::stamp;

/// The system flag bits (\Answered \Flagged \Deleted \Seen \Draft).
const SYSTEM_FLAGS: u8 = 0x1f;
use crate::error::Result;
use crate::search::MessageFlags;

/// What a sync changed or found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// UIDs appended to the index.
    pub appended: Vec<u32>,
    /// UIDs whose flags or keywords were taken from a renamed file.
    pub flags_updated: Vec<u32>,
    /// UIDs whose file was gone, now expunged from the index.
    pub expunged: Vec<u32>,
    /// UIDs in the index whose file is gone and that could not be expunged
    /// (always empty unless the index has no log).
    pub missing_files: Vec<u32>,
    /// Whether the index was created (the mailbox had none).
    pub created_index: bool,
    /// Whether `new/` and `cur/` were listed: false when the index's
    /// `maildir` header (written by Dovecot or by this crate after a full
    /// scan) showed both directories unchanged and settled, as Dovecot's
    /// quick check decides.
    pub scanned: bool,
    /// Entries of `new/` and `cur/` this sync's listing found to be no
    /// message (a directory, a name with a line feed): left alone, as
    /// Dovecot ignores or sets them aside, and worth a warning in the log.
    pub skipped: Vec<SkippedFile>,
    /// Messages whose file this sync's listing could not read (for a size
    /// its name lacks): they keep their UIDs and flags, as in Dovecot, but
    /// their bodies cannot be read until the file is repaired.
    pub unreadable: Vec<UnreadableFile>,
}

impl SyncReport {
    /// True when the sync changed nothing in the index (whether or not it
    /// listed the directories or found entries it could not take).
    pub fn changed_nothing(&self) -> bool {
        self.appended.is_empty()
            && self.flags_updated.is_empty()
            && self.expunged.is_empty()
            && self.missing_files.is_empty()
            && !self.created_index
    }
}

/// Syncs new message files into the uidlist and the index.
pub fn sync(mailbox: &Mailbox) -> Result<SyncReport> {
    let dir = mailbox.path();
    let index = super::index_io::index_for_writing(dir);
    let mut report = SyncReport::default();
    let log_path = index.path(FileKind::Log);
    let log_before = stamp(&log_path);
    // The directories as they are before the scan: what the index's
    // `maildir` header is compared with, and what a full scan records.
    let dirs = DirStamps::take(dir);
    if let (Some(dirs), Some(log)) = (&dirs, &log_before) {
        // the extension header alone (the messages are not copied), and
        // not even that while the log is as it was when it was last read
        let hdr = match super::maildir_header_memo::get(dir, log) {
            Some(hdr) => Some(hdr),
            None => {
                let _turn = super::index_io::guard(dir);
                let read = index
                    .current_ext_header(super::dir_stamps::EXT_MAILDIR)
                    .ok();
                if let Some(hdr) = &read {
                    super::maildir_header_memo::put(dir, *log, hdr.clone());
                }
                read
            }
        };
        if let Some(hdr) = hdr {
            let hdr = MaildirHeader::from_ext_header(hdr.as_deref()).0;
            if dirs.unchanged_since(&hdr) {
                return Ok(report);
            }
            // only new/ changed: it alone is listed, as in Dovecot
            let recorded_new = (hdr.new_mtime, hdr.new_mtime_nsecs);
            if dirs.only_new_changed(&hdr)
                && super::new_dir_sync::sync_new_dir(
                    mailbox,
                    &index,
                    dirs,
                    recorded_new,
                    &mut report,
                )?
            {
                return Ok(report);
            }
        }
    }
    report.scanned = true;
    // new files get UIDs under the uidlist lock, released on return
    let listing = mailbox.sync()?;
    if let Some(dirs) = &dirs {
        // what new/ held at the stamp this scan records, for the next
        // partial sync
        let held = listing
            .messages
            .iter()
            .filter(|m| m.in_new)
            .map(|m| super::new_dir_memo::base_of(m.file_name.as_str()).to_string())
            .collect();
        super::new_dir_memo::remember(dir, dirs.new_stamp(), held);
    }
    report.skipped.clone_from(&listing.skipped);
    report.unreadable.clone_from(&listing.unreadable);
    if log_before.is_none() && !log_path.exists() {
        let uid_validity = listing.uid_validity.unwrap_or(1);
        let indexid = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_secs() as u32);
        // a new file: created with its syncs
        match IndexDir::new(dir).create(indexid, uid_validity) {
            Ok(()) => report.created_index = true,
            // Another process (a second session, or Dovecot) created it
            // first: use theirs.
            Err(columba_mail_index::Error::Io { source, .. })
                if source.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e.into()),
        }
    }
    if !report.created_index && log_before.is_some() {
        // Nothing to do when the index, read without the lock, already
        // shows what the scan found (no new UID, no vanished file, no flag
        // renamed outside): the log lock is not taken. A change committed
        // after that read is carried out by whoever committed it.
        let turn = super::index_io::guard(dir);
        if let Ok(view) = index.open_view_without_cache() {
            if in_step(&view, &listing) && !needs_stamps(&view, dirs.as_ref(), &listing) {
                return Ok(report);
            }
        }
        drop(turn);
    }
    let lock = super::index_io::lock(&index, dir)?;
    // The scan stands for the Maildir under the log lock when no one
    // committed to the log since it began (a flag change is logged before
    // its rename), or while the index is still empty.
    let unchanged = log_before.is_some() && stamp(&log_path) == log_before;
    let log_len = |lock: &super::index_io::StoreLock| lock.file().metadata().map_or(0, |m| m.len());
    let before = log_len(&lock);
    sync_with_listing(
        mailbox,
        &index,
        &lock,
        &mut report,
        Some(listing),
        unchanged,
        dirs,
    )?;
    let after = log_len(&lock);
    drop(lock);
    let grown = before / super::index_io::MAINTAIN_EVERY != after / super::index_io::MAINTAIN_EVERY;
    if (!report.appended.is_empty() || !report.expunged.is_empty())
        && (report.created_index || grown)
    {
        // As Dovecot after a sync: write dovecot.index once the log has
        // grown past mail_index_rewrite_*_log_bytes (so that opening the
        // mailbox reads the index instead of replaying the whole log),
        // rotate the log and purge the cache when they are due; looked at
        // after a first sync and once per 8 KiB of log.
        let _turn = super::index_io::guard(dir);
        IndexDir::new(dir).maintain()?;
    }
    Ok(report)
}

/// True if a scan that began with `dirs` and found `listing` (everything
/// of which the index holds) would write a `maildir` header different from
/// the one in `view`.
fn needs_stamps(
    view: &columba_mail_index::View,
    dirs: Option<&DirStamps>,
    listing: &columba_maildir::Listing,
) -> bool {
    let Some(dirs) = dirs else {
        return false;
    };
    if listing.messages.iter().any(|m| m.uid.is_none()) {
        return false;
    }
    let mut t = Transaction::new();
    dirs.record(view.map(), &mut t);
    !t.is_empty()
}

/// True if `view` holds exactly the messages of `listing` that have UIDs
/// below its `next_uid`, with the same flags and keywords, and the listing
/// has no UID at or above `next_uid`: what [`sync_with_listing`] would
/// find nothing to do for.
fn in_step(view: &columba_mail_index::View, listing: &columba_maildir::Listing) -> bool {
    let next_uid = view.header().next_uid;
    let by_uid: std::collections::HashMap<u32, &columba_maildir::MessageEntry> = listing
        .messages
        .iter()
        .filter_map(|m| Some((m.uid?, m)))
        .collect();
    if by_uid.keys().any(|&u| u >= next_uid) {
        return false;
    }
    for m in view.messages() {
        let Some(e) = by_uid.get(&m.uid) else {
            // a file whose name is not UTF-8 is there, just not listed
            if listing.undecodable_uids.contains(&m.uid) {
                continue;
            }
            return false;
        };
        if e.flags.bits() & SYSTEM_FLAGS != m.flags & SYSTEM_FLAGS {
            return false;
        }
        if e.keywords.len() != m.keywords.len() {
            return false;
        }
        let mut file_kw: Vec<&str> = e.keywords.iter().map(String::as_str).collect();
        let mut index_kw: Vec<&str> = m.keywords.clone();
        file_kw.sort_unstable();
        index_kw.sort_unstable();
        if file_kw != index_kw {
            return false;
        }
    }
    // files with UIDs the index expunged are left alone by the sync too
    true
}

/// The sync with a listing taken before the log lock, if any: it is used
/// when `unchanged` (nothing was committed to the log since the scan
/// began) or while the index is still empty under the lock; otherwise the
/// Maildir is listed again under the lock (read only: files without a UID
/// wait for the next sync), so that no flag change made meanwhile is
/// undone.
fn sync_with_listing(
    mailbox: &Mailbox,
    index: &IndexDir,
    lock: &columba_mail_index::LogLock,
    report: &mut SyncReport,
    scanned: Option<columba_maildir::Listing>,
    unchanged: bool,
    dirs: Option<DirStamps>,
) -> Result<()> {
    let view = index.open_view_locked(lock)?;
    // The header is recorded only when the index ends up holding every
    // file the scan that began with `dirs` saw.
    let (listing, mut dirs) = match scanned {
        Some(l) if unchanged || view.map().messages_count() == 0 => (l, dirs),
        _ => (mailbox.list()?, None),
    };
    let known: HashSet<u32> = view.messages().map(|m| m.uid).collect();
    let next_uid = view.header().next_uid;
    let mut entries: Vec<&columba_maildir::MessageEntry> = listing
        .messages
        .iter()
        .filter(|m| m.uid.is_some_and(|u| u >= next_uid))
        .collect();
    entries.sort_by_key(|m| m.uid);
    let mut t = Transaction::new();
    for e in entries {
        let uid = e.uid.unwrap_or(0);
        let f = e.flags;
        let flags = MessageFlags {
            answered: f.contains(columba_maildir::Flags::ANSWERED),
            flagged: f.contains(columba_maildir::Flags::FLAGGED),
            deleted: f.contains(columba_maildir::Flags::DELETED),
            seen: f.contains(columba_maildir::Flags::SEEN),
            draft: f.contains(columba_maildir::Flags::DRAFT),
            recent: false,
        };
        t.append(uid, index_flags(flags));
        for k in &e.keywords {
            t.add_keyword(k, &[(uid, uid)]);
        }
        report.appended.push(uid);
    }
    // Flags changed by renaming a file outside Dovecot and Columba: the file
    // wins, as in Dovecot's Maildir sync. (Both write flag changes to the
    // log and rename the files under the log lock held here, so a
    // difference seen now was made outside; only a crash between the two
    // steps of a STORE could be undone by this.)
    let by_uid: std::collections::HashMap<u32, &columba_maildir::MessageEntry> = listing
        .messages
        .iter()
        .filter_map(|m| Some((m.uid?, m)))
        .collect();
    for m in view.messages() {
        let Some(e) = by_uid.get(&m.uid) else {
            continue;
        };
        let file_bits = e.flags.bits() & SYSTEM_FLAGS;
        let index_bits = m.flags & SYSTEM_FLAGS;
        let mut file_kw: Vec<&str> = e.keywords.iter().map(String::as_str).collect();
        let mut index_kw: Vec<&str> = m.keywords.clone();
        file_kw.sort_unstable();
        index_kw.sort_unstable();
        if file_bits != index_bits || file_kw != index_kw {
            t.replace_flags(m.uid, m.uid, file_bits);
            if file_kw != index_kw {
                t.reset_keywords(m.uid, m.uid);
                for k in &e.keywords {
                    t.add_keyword(k, &[(m.uid, m.uid)]);
                }
            }
            report.flags_updated.push(m.uid);
        }
    }
    if listing
        .messages
        .iter()
        .any(|m| m.uid.is_none_or(|u| u < next_uid && !known.contains(&u)))
    {
        // a file without a UID, or one whose UID the index expunged
        // (an expunge in progress): look at the directories next time,
        // as Dovecot does with a racy file (it zeroes cur_check_time)
        dirs = None;
    }
    // (a file whose name is not UTF-8 is not listed, but it is there)
    let present: HashSet<u32> = listing
        .messages
        .iter()
        .filter_map(|m| m.uid)
        .chain(listing.undecodable_uids.iter().copied())
        .collect();
    let mut missing: Vec<u32> = known.difference(&present).copied().collect();
    if !missing.is_empty() {
        // a file renamed during the scan can look missing: look again
        let again = mailbox.list()?;
        let again: HashSet<u32> = again
            .messages
            .iter()
            .filter_map(|m| m.uid)
            .chain(again.undecodable_uids.iter().copied())
            .collect();
        missing.retain(|u| !again.contains(u));
        missing.sort_unstable();
    }
    if !missing.is_empty() {
        let mut ext = Transaction::external();
        for &uid in &missing {
            ext.expunge(uid, [0; 16]);
        }
        index.commit_locked(lock, &ext)?;
        report.expunged = missing;
    }
    if let Some(dirs) = dirs {
        // in the same commit as the messages it vouches for
        dirs.record(view.map(), &mut t);
    }
    if !t.is_empty() {
        index.commit_locked(lock, &t)?;
    }
    Ok(())
}

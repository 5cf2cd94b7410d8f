//! The `maildir` extension header of the index: Dovecot's record of the
//! `stat()` of `new/`, `cur/` and `dovecot-uidlist` as of the last full
//! scan (`struct maildir_index_header` in Dovecot's `maildir-storage.h`).
//!
//! A sync first compares the directories' modification times with it, as
//! `maildir_sync_quick_check()` does: when both are the same and neither is
//! in its delayed-refresh window, the index already shows the Maildir and
//! nothing is listed. A full scan writes the times it `stat()`ed before it
//! began, with the time the scan started as the check time, as
//! `maildir_scan_dir()` and `maildir_sync_index_update_ext_header()` do.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use columba_mail_index::{ExtDef, IndexMap, Transaction};

/// Name of Dovecot's Maildir extension in the index.
pub(super) const EXT_MAILDIR: &str = "maildir";
/// Size of its header: nine 32-bit fields.
const HDR_SIZE: usize = 36;
/// Dovecot's `MAILDIR_SYNC_SECS`: the most a directory's mtime can lag
/// behind a change to it (clock drift and timestamp granularity).
const SYNC_SECS: u32 = 1;

/// The `maildir` extension header.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct MaildirHeader {
    pub new_check_time: u32,
    pub new_mtime: u32,
    pub new_mtime_nsecs: u32,
    pub cur_check_time: u32,
    pub cur_mtime: u32,
    pub cur_mtime_nsecs: u32,
    pub uidlist_mtime: u32,
    pub uidlist_mtime_nsecs: u32,
    pub uidlist_size: u32,
}

impl MaildirHeader {
    /// The header in `map`, and whether it has Dovecot's size; a missing
    /// header reads as all zero (a first sync), as in Dovecot.
    pub fn from_map(map: &IndexMap) -> (MaildirHeader, bool) {
        Self::from_ext_header(map.ext(EXT_MAILDIR).map(|e| e.hdr.as_slice()))
    }

    /// The header from the `maildir` extension's header bytes (`None`:
    /// the index has no such extension), as [`MaildirHeader::from_map`].
    pub fn from_ext_header(hdr: Option<&[u8]>) -> (MaildirHeader, bool) {
        let Some(hdr) = hdr else {
            return (MaildirHeader::default(), false);
        };
        let mut f = [0u32; 9];
        for (i, chunk) in hdr.chunks_exact(4).take(9).enumerate() {
            f[i] = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        }
        let h = MaildirHeader {
            new_check_time: f[0],
            new_mtime: f[1],
            new_mtime_nsecs: f[2],
            cur_check_time: f[3],
            cur_mtime: f[4],
            cur_mtime_nsecs: f[5],
            uidlist_mtime: f[6],
            uidlist_mtime_nsecs: f[7],
            uidlist_size: f[8],
        };
        (h, hdr.len() == HDR_SIZE)
    }

    fn encode(&self) -> [u8; HDR_SIZE] {
        let f = [
            self.new_check_time,
            self.new_mtime,
            self.new_mtime_nsecs,
            self.cur_check_time,
            self.cur_mtime,
            self.cur_mtime_nsecs,
            self.uidlist_mtime,
            self.uidlist_mtime_nsecs,
            self.uidlist_size,
        ];
        let mut out = [0u8; HDR_SIZE];
        for (i, v) in f.iter().enumerate() {
            out[i * 4..i * 4 + 4].copy_from_slice(&v.to_le_bytes());
        }
        out
    }

    /// Dovecot's `DIR_DELAYED_REFRESH` without the clock: the directory
    /// was scanned within [`SYNC_SECS`] of its last change, so a change in
    /// the same timestamp tick may not show in its mtime.
    fn new_unsettled(&self) -> bool {
        self.new_check_time <= self.new_mtime.saturating_add(SYNC_SECS)
    }

    fn cur_unsettled(&self) -> bool {
        self.cur_check_time <= self.cur_mtime.saturating_add(SYNC_SECS)
    }

    /// `maildir_index_header_has_changed()`: whether writing `new` over
    /// `self` would change what a quick check decides.
    fn differs_for_check(&self, new: &MaildirHeader) -> bool {
        (
            self.new_mtime,
            self.new_mtime_nsecs,
            self.cur_mtime,
            self.cur_mtime_nsecs,
            self.uidlist_mtime,
            self.uidlist_mtime_nsecs,
            self.uidlist_size,
        ) != (
            new.new_mtime,
            new.new_mtime_nsecs,
            new.cur_mtime,
            new.cur_mtime_nsecs,
            new.uidlist_mtime,
            new.uidlist_mtime_nsecs,
            new.uidlist_size,
        ) || self.new_unsettled() != new.new_unsettled()
            || self.cur_unsettled() != new.cur_unsettled()
    }
}

/// The `stat()` of `new/` and `cur/` taken before a scan, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct DirStamps {
    new_mtime: u32,
    new_mtime_nsecs: u32,
    cur_mtime: u32,
    cur_mtime_nsecs: u32,
    /// Seconds since the epoch when the scan started (after the stats).
    now: u32,
}

/// Seconds since the epoch, as Dovecot's `time_to_uint32()`.
fn now_secs() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX))
}

pub(super) fn mtime_of(path: &Path) -> Option<(u32, u32)> {
    let m = std::fs::metadata(path).ok()?;
    let secs = u32::try_from(m.mtime()).unwrap_or(0);
    let nsecs = u32::try_from(m.mtime_nsec()).unwrap_or(0);
    Some((secs, nsecs))
}

impl DirStamps {
    /// Stats `new/` and `cur/` of the Maildir at `dir`; `None` when either
    /// cannot be stat()ed (the scan then reports why).
    pub fn take(dir: &Path) -> Option<DirStamps> {
        let (new_mtime, new_mtime_nsecs) = mtime_of(&dir.join("new"))?;
        let (cur_mtime, cur_mtime_nsecs) = mtime_of(&dir.join("cur"))?;
        Some(DirStamps {
            new_mtime,
            new_mtime_nsecs,
            cur_mtime,
            cur_mtime_nsecs,
            now: now_secs(),
        })
    }

    /// `maildir_sync_quick_check()` (without `undirty`): true when the
    /// header shows both directories as they are now and settled, so the
    /// index already holds what a scan would find.
    pub fn unchanged_since(&self, hdr: &MaildirHeader) -> bool {
        if hdr.new_mtime == 0 {
            // first sync
            return false;
        }
        let delayed = |check_time: u32, unsettled: bool| {
            unsettled && i64::from(check_time) < i64::from(self.now) - i64::from(SYNC_SECS)
        };
        if delayed(hdr.new_check_time, hdr.new_unsettled())
            || delayed(hdr.cur_check_time, hdr.cur_unsettled())
        {
            return false;
        }
        self.new_mtime == hdr.new_mtime
            && self.new_mtime_nsecs == hdr.new_mtime_nsecs
            && self.cur_mtime == hdr.cur_mtime
            && self.cur_mtime_nsecs == hdr.cur_mtime_nsecs
    }

    /// `new/`'s mtime as stat()ed before the scan.
    pub fn new_stamp(&self) -> (u32, u32) {
        (self.new_mtime, self.new_mtime_nsecs)
    }

    /// Whether `cur/` is as the header recorded it (same mtime, out of its
    /// delayed-refresh window) while `new/` is not: Dovecot then lists
    /// `new/` alone (`maildir_sync_quick_check()` gives `cur_changed`
    /// false, and the uidlist sync is partial).
    pub fn only_new_changed(&self, hdr: &MaildirHeader) -> bool {
        if hdr.new_mtime == 0 || self.unchanged_since(hdr) {
            return false;
        }
        let cur_delayed = hdr.cur_unsettled()
            && i64::from(hdr.cur_check_time) < i64::from(self.now) - i64::from(SYNC_SECS);
        !cur_delayed
            && self.cur_mtime == hdr.cur_mtime
            && self.cur_mtime_nsecs == hdr.cur_mtime_nsecs
    }

    /// Adds to `t` the header a scan that began with these stamps leaves,
    /// when it differs (for a quick check) from `old`, the header in the
    /// index; registers the extension first when the index lacks it. The
    /// uidlist fields are kept: they say when the uidlist was last read
    /// into an index whose `next_uid` matches it, which this scan does
    /// not establish.
    pub fn record(&self, map: &IndexMap, t: &mut Transaction) {
        let (old, sized) = MaildirHeader::from_map(map);
        let new = MaildirHeader {
            new_check_time: self.now,
            new_mtime: self.new_mtime,
            new_mtime_nsecs: self.new_mtime_nsecs,
            cur_check_time: self.now,
            cur_mtime: self.cur_mtime,
            cur_mtime_nsecs: self.cur_mtime_nsecs,
            ..old
        };
        if sized && !old.differs_for_check(&new) {
            return;
        }
        if !sized {
            t.ext_intro(ExtDef {
                name: EXT_MAILDIR.to_string(),
                hdr_size: HDR_SIZE as u32,
                record_size: 0,
                record_align: 0,
            });
        }
        t.ext_hdr_update(EXT_MAILDIR, 0, &new.encode());
    }
}

/// The modification times of `new/` and `cur/` before this process
/// changes files in them (appends, moves from `new/` to `cur/`, flag
/// renames, expunges), and when; see [`DirChange::record`].
#[derive(Debug, Clone, Copy)]
pub(super) struct DirChange {
    new_before: Option<(u32, u32)>,
    cur_before: Option<(u32, u32)>,
    time_before: u32,
    /// `new/`'s mtime after the change, when the caller stat()ed it
    /// (and knows what `new/` held then); otherwise stat()ed by
    /// [`DirChange::record`].
    pub new_after: Option<(u32, u32)>,
}

impl DirChange {
    /// Stats `cur/` of the Maildir at `dir`, for a change of files in
    /// `cur/` alone; call it before the files are changed (under the log
    /// lock where the change is logged).
    pub fn begin(dir: &Path) -> DirChange {
        DirChange {
            new_before: None,
            cur_before: mtime_of(&dir.join("cur")),
            time_before: now_secs(),
            new_after: None,
        }
    }

    /// [`DirChange::begin`] for a change of `new/` and `cur/` (an append,
    /// or SELECT's move of `new/` into `cur/`).
    pub fn begin_both(dir: &Path) -> DirChange {
        DirChange {
            new_before: mtime_of(&dir.join("new")),
            ..DirChange::begin(dir)
        }
    }

    /// After this process changed files (still under the log lock): for
    /// each directory watched whose stamp the index's header showed as it
    /// was before the change, and that changed, adds to `t` the header
    /// with the directory's new stamp, as Dovecot does after its own
    /// changes (`maildir_sync_index_update_ext_header`). The check time
    /// is the later of the time before the change and the new mtime,
    /// which puts the directory in its delayed-refresh window, so that a
    /// change another process made meanwhile is found by a scan once the
    /// window passes.
    pub fn record(&self, dir: &Path, map: &IndexMap, t: &mut Transaction) {
        let (old, sized) = MaildirHeader::from_map(map);
        if !sized || old.new_mtime == 0 {
            return;
        }
        let mut new = old;
        if let Some(before) = self.new_before {
            if (old.new_mtime, old.new_mtime_nsecs) == before {
                let after = self.new_after.or_else(|| mtime_of(&dir.join("new")));
                if let Some((mtime, nsecs)) = after.filter(|a| *a != before) {
                    new.new_check_time = self.time_before.max(mtime);
                    new.new_mtime = mtime;
                    new.new_mtime_nsecs = nsecs;
                }
            }
        }
        if let Some(before) = self.cur_before {
            if (old.cur_mtime, old.cur_mtime_nsecs) == before {
                if let Some((mtime, nsecs)) = mtime_of(&dir.join("cur")) {
                    new.cur_check_time = self.time_before.max(mtime);
                    new.cur_mtime = mtime;
                    new.cur_mtime_nsecs = nsecs;
                }
            }
        }
        if old.differs_for_check(&new) {
            t.ext_hdr_update(EXT_MAILDIR, 0, &new.encode());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamps(now: u32, mtime: u32) -> DirStamps {
        DirStamps {
            new_mtime: mtime,
            new_mtime_nsecs: 5,
            cur_mtime: mtime,
            cur_mtime_nsecs: 7,
            now,
        }
    }

    fn header(check: u32, mtime: u32) -> MaildirHeader {
        MaildirHeader {
            new_check_time: check,
            new_mtime: mtime,
            new_mtime_nsecs: 5,
            cur_check_time: check,
            cur_mtime: mtime,
            cur_mtime_nsecs: 7,
            ..MaildirHeader::default()
        }
    }

    #[test]
    fn settled_and_same_mtimes_skip_the_scan() {
        assert!(stamps(1000, 900).unchanged_since(&header(950, 900)));
    }

    #[test]
    fn a_changed_nsec_is_a_change() {
        let mut h = header(950, 900);
        h.cur_mtime_nsecs = 8;
        assert!(!stamps(1000, 900).unchanged_since(&h));
    }

    #[test]
    fn a_first_sync_scans() {
        assert!(!stamps(1000, 900).unchanged_since(&MaildirHeader::default()));
    }

    #[test]
    fn a_scan_in_the_changes_tick_is_checked_again_once_it_has_settled() {
        // scanned at 900, the mtime 900: unsettled; still in the window
        // at 901, rescanned from 902 on.
        let h = header(900, 900);
        assert!(stamps(901, 900).unchanged_since(&h));
        assert!(!stamps(902, 900).unchanged_since(&h));
    }

    #[test]
    fn header_round_trips_and_writes_only_changes() {
        let h = header(950, 900);
        let enc = h.encode();
        assert_eq!(enc.len(), 36);
        assert_eq!(u32::from_le_bytes(enc[4..8].try_into().unwrap()), 900);
        assert!(!h.differs_for_check(&MaildirHeader {
            new_check_time: 990,
            cur_check_time: 990,
            ..h
        }));
        assert!(h.differs_for_check(&MaildirHeader {
            new_check_time: 900,
            ..h
        }));
    }
}

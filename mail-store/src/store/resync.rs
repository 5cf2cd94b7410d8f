//! QRESYNC (RFC 7162 §3.2.5): what a client that last saw the mailbox at
//! some MODSEQ has missed, as Dovecot 2.3 answers `SELECT mailbox (QRESYNC
//! (uidvalidity modseq [known-uids [(seqs uids)]]))`.
//!
//! Expunges come from the transaction log while it still reaches back to
//! the client's modseq (the external expunge records after that modseq,
//! up to the position the view is synced to), as in Dovecot's
//! `mailbox_get_expunged_uids()`. When the log no longer covers it, every
//! UID of the client's known range below UIDNEXT that no longer exists is
//! reported, less the UIDs the client's sequence match data proves it
//! already knows to be gone (`get_expunges_fallback()` and
//! `expunges_drop_known()` in Dovecot's imap-fetch.c). Changed messages
//! are those in the known range whose modseq is above the client's.

use columba_mail_index::log_file::Payload;
use columba_mail_index::IndexDir;

use super::snapshot::MailboxSnapshot;
use crate::error::Result;

/// The client's side of a QRESYNC SELECT/EXAMINE.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QresyncRequest {
    /// The UIDVALIDITY the client remembers.
    pub uid_validity: u32,
    /// The last MODSEQ the client saw.
    pub modseq: u64,
    /// The client's known UIDs as ranges (`None`: all, `1:*`).
    pub known_uids: Option<Vec<(u32, u32)>>,
    /// The sequence match data as `(sequence, uid)` pairs in the client's
    /// order ([`qresync_sample`] builds them from the two sets); empty
    /// when the client sent none.
    pub known_sample: Vec<(u32, u32)>,
}

/// What the client missed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resync {
    /// `* VANISHED (EARLIER)`: expunged UIDs as ascending, merged ranges.
    pub vanished: Vec<(u32, u32)>,
    /// UIDs (in sequence order) of the messages to send as
    /// `FETCH (UID FLAGS MODSEQ)`: in the known range, modseq above the
    /// client's.
    pub changed: Vec<u32>,
    /// True if the expunges came from the transaction log (exact); false
    /// if the log no longer reached back to the client's modseq and every
    /// missing UID of the known range was reported.
    pub from_log: bool,
}

/// Pairs the QRESYNC known-sequence-set with the known-uid-set as Dovecot
/// does (`select_qresync_get_uids()`): each UID range contributes its
/// first UID, and its last when it spans more than one, each paired with
/// the sequence number at the same position. `None` when the sets do not
/// have the same number of members (the command is answered BAD).
pub fn qresync_sample(
    known_seqs: &[(u32, u32)],
    known_uids: &[(u32, u32)],
) -> Option<Vec<(u32, u32)>> {
    let seq_count: u64 = known_seqs
        .iter()
        .map(|&(a, b)| u64::from(a.abs_diff(b)) + 1)
        .sum();
    let nth_seq = |mut n: u64| -> Option<u32> {
        for &(a, b) in known_seqs {
            let (lo, hi) = (a.min(b), a.max(b));
            let len = u64::from(hi - lo) + 1;
            if n < len {
                return Some(lo + n as u32);
            }
            n -= len;
        }
        None
    };
    let mut out = Vec::new();
    let mut n: u64 = 0;
    for &(a, b) in known_uids {
        let (lo, hi) = (a.min(b), a.max(b));
        out.push((nth_seq(n)?, lo));
        n += 1;
        let diff = u64::from(hi - lo);
        if diff > 0 {
            n += diff - 1;
            out.push((nth_seq(n)?, hi));
            n += 1;
        }
    }
    (n == seq_count).then_some(out)
}

/// Answers a QRESYNC request against `view`, the view the session has just
/// opened for the SELECT. `None` when the UIDVALIDITY differs (or the
/// mailbox has none yet): the client must resync fully and nothing is sent.
pub fn resync(view: &MailboxSnapshot, request: &QresyncRequest) -> Result<Option<Resync>> {
    if request.uid_validity != view.uid_validity || view.uid_validity == 0 {
        return Ok(None);
    }
    let filter = normalize(
        request
            .known_uids
            .as_deref()
            .unwrap_or(&[(1, u32::MAX)][..]),
    );
    let changed = view
        .messages
        .iter()
        .filter(|m| m.modseq > request.modseq && contains(&filter, m.uid))
        .map(|m| m.uid)
        .collect();
    let (vanished, from_log) = match expunged_from_log(view, request.modseq, &filter)? {
        Some(ranges) => (ranges, true),
        None => (
            expunged_fallback(view, &filter, &request.known_sample),
            false,
        ),
    };
    Ok(Some(Resync {
        vanished,
        changed,
        from_log,
    }))
}

/// The UIDs of external expunge records whose modseq is above `modseq`, up
/// to the view's log position, restricted to `filter`, as merged ranges.
/// `None` when the
/// logs on disk no longer reach back to `modseq` (or cannot be read).
fn expunged_from_log(
    view: &MailboxSnapshot,
    modseq: u64,
    filter: &[(u32, u32)],
) -> Result<Option<Vec<(u32, u32)>>> {
    let Some(pos) = view.log_position else {
        return Ok(None);
    };
    if modseq >= view.highest_modseq {
        return Ok(Some(Vec::new()));
    }
    let turn = super::index_io::guard(view.mailbox().path());
    let logs = IndexDir::new(view.mailbox().path()).read_logs();
    drop(turn);
    let logs = match logs {
        Ok(logs) => logs,
        Err(_) => return Ok(None),
    };
    match logs.first() {
        Some(oldest) if oldest.header.initial_modseq <= modseq => {}
        _ => return Ok(None),
    }
    if !logs.iter().any(|l| l.header.file_seq == pos.file_seq) {
        return Ok(None);
    }
    let min_uid = filter.first().map_or(1, |r| r.0);
    let mut uids = Vec::new();
    for (i, log) in logs.iter().enumerate() {
        if log.header.file_seq > pos.file_seq {
            break;
        }
        // where this file's records must reach: the view's position, or
        // where the next file says this one ended
        let end = if log.header.file_seq == pos.file_seq {
            pos.offset
        } else {
            match logs.get(i + 1) {
                Some(next) => next.header.prev_file_offset,
                None => return Ok(None),
            }
        };
        let mut reached = u32::from(log.header.hdr_size);
        for rec in log.records() {
            let Ok(rec) = rec else {
                return Ok(None);
            };
            if rec.end() > end {
                break;
            }
            reached = rec.end();
            if rec.modseq <= modseq || !rec.is_external() {
                continue;
            }
            match &rec.payload {
                Payload::Expunge(ranges) => {
                    for &(a, b) in ranges {
                        uids.extend(intersect(filter, a.max(min_uid), b));
                    }
                }
                Payload::ExpungeGuid(v) => uids.extend(
                    v.iter()
                        .map(|&(uid, _)| (uid, uid))
                        .filter(|&(u, _)| u >= min_uid && contains(filter, u)),
                ),
                _ => {}
            }
        }
        if reached != end {
            // records the view applied cannot be read back: not exact
            return Ok(None);
        }
    }
    Ok(Some(merge(uids)))
}

/// The parts of `lo..=hi` inside `filter`.
fn intersect(filter: &[(u32, u32)], lo: u32, hi: u32) -> impl Iterator<Item = (u32, u32)> + '_ {
    filter
        .iter()
        .filter(move |r| r.0 <= hi && r.1 >= lo)
        .map(move |r| (r.0.max(lo), r.1.min(hi)))
}

/// Every UID of `filter` below UIDNEXT that the view does not have, less
/// those the sample proves the client knows are gone.
fn expunged_fallback(
    view: &MailboxSnapshot,
    filter: &[(u32, u32)],
    sample: &[(u32, u32)],
) -> Vec<(u32, u32)> {
    let present: Vec<u32> = view.messages.iter().map(|m| m.uid).collect();
    let below_next = view.uid_next.saturating_sub(1);
    // expunges_drop_known(): the leading sample pairs that still match
    let mut known_up_to = 0;
    for &(seq, uid) in sample {
        if seq == 0 || seq as usize > view.messages.len() {
            break;
        }
        if view.messages[seq as usize - 1].uid != uid {
            break;
        }
        known_up_to = uid;
    }
    let mut out: Vec<(u32, u32)> = Vec::new();
    for &(a, b) in filter {
        let lo = a.max(known_up_to.saturating_add(1)).max(1);
        let hi = b.min(below_next);
        if lo > hi {
            continue;
        }
        let mut next = lo;
        let start = present.partition_point(|&u| u < lo);
        for &uid in present[start..].iter().take_while(|&&u| u <= hi) {
            if uid > next {
                out.push((next, uid - 1));
            }
            next = uid + 1;
        }
        if next <= hi {
            out.push((next, hi));
        }
    }
    merge(out)
}

/// Sorted, merged ranges with `lo <= hi`.
fn normalize(ranges: &[(u32, u32)]) -> Vec<(u32, u32)> {
    merge(ranges.iter().map(|&(a, b)| (a.min(b), a.max(b))).collect())
}

fn merge(mut ranges: Vec<(u32, u32)>) -> Vec<(u32, u32)> {
    ranges.sort_unstable();
    let mut out: Vec<(u32, u32)> = Vec::with_capacity(ranges.len());
    for (a, b) in ranges {
        match out.last_mut() {
            Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

fn contains(ranges: &[(u32, u32)], uid: u32) -> bool {
    let i = ranges.partition_point(|r| r.1 < uid);
    ranges.get(i).is_some_and(|r| r.0 <= uid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_pairs_first_and_last_of_each_uid_range() {
        // RFC 7162's example: (1:5,7 1:3,5,7:9) would not pair up; this does
        assert_eq!(
            qresync_sample(&[(1, 3), (5, 5)], &[(2, 3), (5, 6)]),
            Some(vec![(1, 2), (2, 3), (3, 5), (5, 6)])
        );
        assert_eq!(qresync_sample(&[(1, 2)], &[(1, 3)]), None);
        assert_eq!(qresync_sample(&[(1, 4)], &[(1, 3)]), None);
    }

    #[test]
    fn ranges_merge_and_contain() {
        let r = normalize(&[(5, 3), (7, 9), (6, 6), (20, 20)]);
        assert_eq!(r, [(3, 9), (20, 20)]);
        assert!(contains(&r, 3) && contains(&r, 9) && contains(&r, 20));
        assert!(!contains(&r, 2) && !contains(&r, 10) && !contains(&r, 21));
        let cut: Vec<_> = intersect(&r, 5, 30).collect();
        assert_eq!(cut, [(5, 9), (20, 20)]);
    }
}

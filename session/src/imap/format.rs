//! Small pieces of IMAP syntax the responses need: mailbox names, strings,
//! dates, flag lists and sequence sets.

use columba_imap_proto::{SeqNumber, SequenceSet};

use crate::storage::MessageMeta;

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A string as an IMAP quoted string, or a literal when it cannot be quoted.
pub fn astring(out: &mut Vec<u8>, s: &[u8]) {
    if s.iter()
        .any(|&b| b == b'\r' || b == b'\n' || b == 0 || b >= 0x80)
    {
        out.extend_from_slice(format!("{{{}}}\r\n", s.len()).as_bytes());
        out.extend_from_slice(s);
        return;
    }
    out.push(b'"');
    for &b in s {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// A UTF-8 mailbox name as sent: modified UTF-7, as an atom when it is
/// one (as Dovecot writes names), else quoted.
pub fn mailbox_name(out: &mut Vec<u8>, name: &str) {
    let wire = columba_imap_proto::Mailbox::from_utf8(name);
    let bytes = wire.as_wire();
    let atom = !bytes.is_empty()
        && bytes
            .iter()
            .all(|&b| b > 0x20 && b < 0x7f && !b"(){%*\"\\]".contains(&b));
    if atom {
        out.extend_from_slice(bytes);
    } else {
        astring(out, bytes);
    }
}

/// Days since 1970-01-01 to (year, month, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// INTERNALDATE as `"dd-Mon-yyyy hh:mm:ss +0000"` (UTC).
pub fn internal_date(unix: i64) -> String {
    let (y, m, d) = civil_from_days(unix.div_euclid(86_400));
    let secs = unix.rem_euclid(86_400);
    format!(
        "\"{:02}-{}-{:04} {:02}:{:02}:{:02} +0000\"",
        d,
        MONTHS[(m - 1) as usize],
        y,
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// The FLAGS list of a message, in Dovecot's order.
pub fn flags_list(m: &MessageMeta) -> String {
    let f = m.flags;
    let mut parts: Vec<&str> = Vec::new();
    for (set, name) in [
        (f.answered, "\\Answered"),
        (f.flagged, "\\Flagged"),
        (f.deleted, "\\Deleted"),
        (f.seen, "\\Seen"),
        (f.draft, "\\Draft"),
        (f.recent, "\\Recent"),
    ] {
        if set {
            parts.push(name);
        }
    }
    parts.extend(m.keywords.iter().map(String::as_str));
    format!("({})", parts.join(" "))
}

/// Numbers (ascending or not) as a compact sequence set `1:3,7`.
pub fn compact_set(numbers: &[u32]) -> String {
    let mut sorted = numbers.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = String::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

/// Numbers in the same order, comma separated (COPYUID keeps the pairing).
pub fn ordered_set(numbers: &[u32]) -> String {
    numbers
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// A sequence set as text (for the store's search keys).
pub fn set_text(set: &SequenceSet) -> Option<String> {
    let SequenceSet::Ranges(ranges) = set else {
        return None;
    };
    let num = |n: SeqNumber| match n {
        SeqNumber::Value(v) => v.to_string(),
        SeqNumber::Largest => "*".into(),
    };
    Some(
        ranges
            .iter()
            .map(|r| match r.end {
                Some(e) => format!("{}:{}", num(r.start), num(e)),
                None => num(r.start),
            })
            .collect::<Vec<_>>()
            .join(","),
    )
}

/// The set's ranges as sorted, merged `(low, high)` pairs, `*` being
/// `largest`; `$` gives none.
pub fn set_ranges(set: &SequenceSet, largest: u32) -> Vec<(u32, u32)> {
    let SequenceSet::Ranges(ranges) = set else {
        return Vec::new();
    };
    let value = |x: SeqNumber| match x {
        SeqNumber::Value(v) => v,
        SeqNumber::Largest => largest,
    };
    let mut pairs: Vec<(u32, u32)> = ranges
        .iter()
        .map(|r| {
            let a = value(r.start);
            let b = r.end.map_or(a, value);
            (a.min(b), a.max(b))
        })
        .collect();
    pairs.sort_unstable();
    let mut merged: Vec<(u32, u32)> = Vec::new();
    for (a, b) in pairs {
        match merged.last_mut() {
            Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    merged
}

/// Whether `n` is in `set`, `*` being `largest`.
pub fn set_contains(set: &SequenceSet, n: u32, largest: u32) -> bool {
    let SequenceSet::Ranges(ranges) = set else {
        return false;
    };
    let value = |x: SeqNumber| match x {
        SeqNumber::Value(v) => v,
        SeqNumber::Largest => largest,
    };
    ranges.iter().any(|r| {
        let a = value(r.start);
        let b = r.end.map_or(a, value);
        a.min(b) <= n && n <= a.max(b)
    })
}

/// The 0-based positions `set` names in a view's messages, ascending and
/// each once: by sequence number, or by UID when `uid_of` is given (UIDs
/// ascend with the positions). A few messages of a big mailbox cost a
/// binary search per range, not a walk over every message.
pub fn set_positions<T>(
    set: &SequenceSet,
    messages: &[T],
    uid_of: Option<impl Fn(&T) -> u32>,
) -> Vec<usize> {
    let SequenceSet::Ranges(ranges) = set else {
        return Vec::new();
    };
    let n = messages.len();
    let largest = match &uid_of {
        Some(f) => messages.last().map_or(0, f),
        None => n as u32,
    };
    let value = |x: SeqNumber| match x {
        SeqNumber::Value(v) => v,
        SeqNumber::Largest => largest,
    };
    let mut spans: Vec<(usize, usize)> = ranges
        .iter()
        .filter_map(|r| {
            let a = value(r.start);
            let b = r.end.map_or(a, value);
            let (lo, hi) = (a.min(b), a.max(b));
            let (start, end) = match &uid_of {
                Some(f) => (
                    messages.partition_point(|m| f(m) < lo),
                    messages.partition_point(|m| f(m) <= hi),
                ),
                None => ((lo.max(1) as usize - 1).min(n), (hi as usize).min(n)),
            };
            (start < end).then_some((start, end))
        })
        .collect();
    spans.sort_unstable();
    let mut out = Vec::new();
    let mut next = 0;
    for (start, end) in spans {
        out.extend(start.max(next)..end);
        next = next.max(end);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_positions_names_what_set_contains_names() {
        use columba_imap_proto::SeqRange;
        // UIDs with gaps, as after expunges
        let uids: Vec<u32> = (1..=60u32).filter(|u| u % 7 != 0).map(|u| u * 3).collect();
        let v = |x: u32| {
            if x == 0 {
                SeqNumber::Largest
            } else {
                SeqNumber::Value(x)
            }
        };
        let mut seed = 12345u64;
        let mut next = |m: u32| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) as u32) % m
        };
        for _ in 0..2000 {
            let ranges: Vec<SeqRange> = (0..1 + next(4))
                .map(|_| SeqRange {
                    start: v(next(200)),
                    end: (next(2) == 1).then(|| v(next(200))),
                })
                .collect();
            let set = SequenceSet::Ranges(ranges);
            for by_uid in [false, true] {
                let largest = if by_uid {
                    *uids.last().unwrap()
                } else {
                    uids.len() as u32
                };
                let want: Vec<usize> = (0..uids.len())
                    .filter(|&i| {
                        let n = if by_uid { uids[i] } else { i as u32 + 1 };
                        set_contains(&set, n, largest)
                    })
                    .collect();
                let got = if by_uid {
                    set_positions(&set, &uids, Some(|u: &u32| *u))
                } else {
                    set_positions(&set, &uids, None::<fn(&u32) -> u32>)
                };
                assert_eq!(got, want, "{set:?} by uid {by_uid}");
            }
        }
    }

    #[test]
    fn dates_and_sets() {
        assert_eq!(internal_date(0), "\"01-Jan-1970 00:00:00 +0000\"");
        assert_eq!(internal_date(951_782_400), "\"29-Feb-2000 00:00:00 +0000\"");
        assert_eq!(compact_set(&[5, 1, 2, 3, 9]), "1:3,5,9");
    }
}

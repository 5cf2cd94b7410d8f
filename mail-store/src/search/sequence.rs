//! IMAP sequence sets (`1:4,7,9:*`) for sequence numbers and UIDs.

use crate::error::{Error, Result};

/// A sequence set; `u32::MAX` stands for `*` until resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequenceSet {
    ranges: Vec<(u32, u32)>,
}

const STAR: u32 = u32::MAX;

fn number(s: &str, position: usize) -> Result<u32> {
    if s == "*" {
        return Ok(STAR);
    }
    match s.parse::<u32>() {
        Ok(n) if n > 0 && s.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => Err(Error::BadSearch {
            position,
            reason: "invalid sequence set",
        }),
    }
}

impl SequenceSet {
    /// Parses `1:4,7,9:*`. `position` is used in errors.
    pub fn parse(s: &str, position: usize) -> Result<SequenceSet> {
        let mut ranges = Vec::new();
        for item in s.split(',') {
            let (a, b) = match item.split_once(':') {
                Some((a, b)) => (number(a, position)?, number(b, position)?),
                None => {
                    let n = number(item, position)?;
                    (n, n)
                }
            };
            ranges.push((a.min(b), a.max(b)));
        }
        Ok(SequenceSet { ranges })
    }

    /// True if `n` is in the set, `*` being `max` (the highest number in
    /// the mailbox; with an empty mailbox `*` matches nothing).
    pub fn contains(&self, n: u32, max: u32) -> bool {
        self.ranges.iter().any(|&(a, b)| {
            let resolve = |x: u32| if x == STAR { max } else { x };
            let (a, b) = (resolve(a), resolve(b));
            let (a, b) = (a.min(b), a.max(b));
            a <= n && n <= b
        })
    }
}

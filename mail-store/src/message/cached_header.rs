//! Header fields in the form Dovecot caches them as `hdr.<Name>` in
//! `dovecot.index.cache` (`index-mail-headers.c`): the 1-based line numbers
//! where each occurrence of the field starts, a 0 terminator, then the
//! fields' lines as they are in the message with CRs before LFs dropped.
//! Empty data means the message has no such field.
//!
//! ```
//! use columba_mail_store::message::cached_header::{encode_field, rebuild_header};
//! use columba_mail_store::Message;
//!
//! let raw = b"From: a@example.com\r\nSubject: hi\r\n there\r\nTo: b@example.com\r\n\r\nbody\r\n";
//! let msg = Message::parse_header(raw);
//! let subject = encode_field(&msg, "Subject");
//! assert_eq!(&subject[..8], &[2, 0, 0, 0, 0, 0, 0, 0]);
//! assert_eq!(&subject[8..], b"Subject: hi\n there\n");
//! let from = encode_field(&msg, "from");
//! // rebuilt in the message's line order, ending with the blank line
//! let header = rebuild_header(&[&subject, &from])?;
//! assert_eq!(header, b"From: a@example.com\nSubject: hi\n there\n\n".to_vec());
//! assert!(encode_field(&msg, "Cc").is_empty());
//! # Ok::<(), columba_mail_store::Error>(())
//! ```

use columba_mail_index::{Error as IndexError, FileKind};

use super::Message;
use crate::error::{Error, Result};

/// The most occurrences of one field read back from a cached value (bounds
/// the line-number array of a hostile cache file).
pub const MAX_CACHED_OCCURRENCES: usize = 10_000;

/// Dovecot's cached data of field `name` of the message's own header.
pub fn encode_field(msg: &Message<'_>, name: &str) -> Vec<u8> {
    let data = msg.data();
    let mut numbers: Vec<u32> = Vec::new();
    let mut text = Vec::new();
    let mut line = 1u32;
    let mut pos = 0usize;
    for f in &msg.root().fields {
        line = line.saturating_add(count_lf(&data[pos.min(f.start)..f.start]));
        pos = f.start;
        if f.name_end > f.start && f.is(data, name) {
            numbers.push(line);
            push_without_cr(&mut text, &data[f.start..f.end]);
        }
    }
    if numbers.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(4 * numbers.len() + 4 + text.len());
    for n in numbers {
        out.extend_from_slice(&n.to_le_bytes());
    }
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&text);
    out
}

fn count_lf(b: &[u8]) -> u32 {
    b.iter().filter(|&&c| c == b'\n').count() as u32
}

/// Appends `b` with every CR that precedes an LF dropped.
fn push_without_cr(out: &mut Vec<u8>, b: &[u8]) {
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\r' && b.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
}

fn corrupt(offset: usize, reason: impl Into<String>) -> Error {
    Error::Index(IndexError::Corrupt {
        file: FileKind::Cache,
        offset: offset as u64,
        reason: reason.into(),
    })
}

/// The occurrences in one cached `hdr.*` value: `(line number, text)`, the
/// text running to an LF not followed by a space or tab. Empty for a cached
/// "no such field". Errors name the byte offset inside the value.
pub fn decode_field(value: &[u8]) -> Result<Vec<(u32, &[u8])>> {
    if value.is_empty() {
        return Ok(Vec::new());
    }
    let mut numbers = Vec::new();
    let mut pos = 0;
    loop {
        let Some(raw) = value.get(pos..pos + 4) else {
            return Err(corrupt(pos, "cached header: line numbers not terminated"));
        };
        pos += 4;
        let n = u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]);
        if n == 0 {
            break;
        }
        if numbers.len() >= MAX_CACHED_OCCURRENCES {
            return Err(corrupt(pos - 4, "cached header: too many line numbers"));
        }
        numbers.push(n);
    }
    let mut text = &value[pos..];
    let mut out = Vec::with_capacity(numbers.len());
    for (i, n) in numbers.iter().enumerate() {
        if text.is_empty() {
            return Err(corrupt(
                value.len(),
                format!("cached header: text of occurrence {} missing", i + 1),
            ));
        }
        let mut end = text.len();
        let mut j = 0;
        while j < text.len() {
            if text[j] == b'\n' && !matches!(text.get(j + 1), Some(b' ' | b'\t')) {
                end = j + 1;
                break;
            }
            j += 1;
        }
        let (this, rest) = text.split_at(end);
        out.push((*n, this));
        text = rest;
    }
    Ok(out)
}

/// Rebuilds a message header from cached `hdr.*` values: every occurrence
/// in line order, each ending with an LF, then the blank line, so that
/// [`Message::parse_header`] reads the same fields as in the message.
pub fn rebuild_header(values: &[&[u8]]) -> Result<Vec<u8>> {
    let mut lines: Vec<(u32, &[u8])> = Vec::new();
    for v in values {
        lines.extend(decode_field(v)?);
    }
    lines.sort_by_key(|(n, _)| *n);
    let mut out = Vec::with_capacity(lines.iter().map(|(_, t)| t.len() + 1).sum::<usize>() + 1);
    for (_, t) in lines {
        out.extend_from_slice(t);
        if !t.ends_with(b"\n") {
            out.push(b'\n');
        }
    }
    out.push(b'\n');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_and_folded_fields_keep_their_lines() {
        let raw = b"Received: a\nX: 1\nReceived: b\n  c\nSubject: s\n\nbody";
        let msg = Message::parse_header(raw);
        let v = encode_field(&msg, "received");
        let occ = decode_field(&v).unwrap();
        assert_eq!(
            occ,
            vec![(1, &b"Received: a\n"[..]), (3, &b"Received: b\n  c\n"[..])]
        );
        let s = encode_field(&msg, "Subject");
        assert_eq!(decode_field(&s).unwrap(), vec![(5, &b"Subject: s\n"[..])]);
        assert_eq!(
            rebuild_header(&[&s, &v]).unwrap(),
            b"Received: a\nReceived: b\n  c\nSubject: s\n\n".to_vec()
        );
    }

    #[test]
    fn hostile_values_are_errors_not_panics() {
        assert!(decode_field(&[1, 0, 0]).is_err());
        assert!(decode_field(&[1, 0, 0, 0, 2, 0, 0, 0]).is_err());
        assert!(decode_field(&[1, 0, 0, 0, 0, 0, 0, 0]).is_err());
        // a terminator alone: no occurrence
        assert!(decode_field(&[0, 0, 0, 0]).unwrap().is_empty());
        // two line numbers, one line of text
        assert!(decode_field(b"\x01\0\0\0\x02\0\0\0\0\0\0\0A: b\n").is_err());
    }

    #[test]
    fn last_line_without_newline() {
        let raw = b"Subject: end";
        let msg = Message::parse_header(raw);
        let v = encode_field(&msg, "Subject");
        assert_eq!(&v[8..], b"Subject: end");
        assert_eq!(rebuild_header(&[&v]).unwrap(), b"Subject: end\n\n".to_vec());
    }
}

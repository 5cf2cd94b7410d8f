//! SEARCH answered from the index, then from the cache: header keys
//! (SUBJECT, FROM, TO, CC, BCC, HEADER, SENT*) are matched against the
//! header rebuilt from cached `hdr.*` fields, and only messages whose
//! fields are not cached are opened; their fields are then cached, so the
//! next search of the same kind reads no message file (Dovecot caches the
//! headers a search needed the same way).

use super::message_cache::MessageCache;
use super::snapshot::MailboxSnapshot;
use crate::error::Result;
use crate::message::Message;
use crate::search::{
    match_index, match_message, needs_body, needs_message, MessageInfo, SearchContext, SearchKey,
};

/// The header fields `key` reads, by the names Dovecot caches them under,
/// or `None` if it also needs the body.
pub fn header_fields_needed(key: &SearchKey) -> Option<Vec<String>> {
    if needs_body(key) {
        return None;
    }
    let mut out: Vec<String> = Vec::new();
    collect(key, &mut out);
    Some(out)
}

fn collect(key: &SearchKey, out: &mut Vec<String>) {
    use SearchKey as K;
    let mut push = |n: &str| {
        let canonical = match n.to_ascii_uppercase().as_str() {
            "FROM" => "From".to_string(),
            "TO" => "To".to_string(),
            "CC" => "Cc".to_string(),
            "BCC" => "Bcc".to_string(),
            "SUBJECT" => "Subject".to_string(),
            "DATE" => "Date".to_string(),
            _ => n.to_string(),
        };
        if !out.iter().any(|x| x.eq_ignore_ascii_case(&canonical)) {
            out.push(canonical);
        }
    };
    match key {
        K::Header(name, _) => push(name),
        K::SentDate(..) => push("Date"),
        K::Not(k) => collect(k, out),
        K::Or(a, b) => {
            collect(a, out);
            collect(b, out);
        }
        K::And(keys) => keys.iter().for_each(|k| collect(k, out)),
        _ => {}
    }
}

/// True if `key` uses INTERNALDATE or RFC822.SIZE.
fn needs_metadata(key: &SearchKey) -> bool {
    use SearchKey as K;
    match key {
        K::InternalDate(..) | K::SavedDate(..) | K::Age(..) | K::Larger(_) | K::Smaller(_) => true,
        K::Not(k) => needs_metadata(k),
        K::Or(a, b) => needs_metadata(a) || needs_metadata(b),
        K::And(keys) => keys.iter().any(needs_metadata),
        _ => false,
    }
}

impl MessageCache {
    /// SEARCH over `snapshot`: the sequence numbers of matching messages,
    /// as [`MailboxSnapshot::search`] finds them, with header keys answered
    /// from the cache where it holds the fields. Fields read from message
    /// files are cached before returning (one cache append for the search).
    pub fn search(
        &mut self,
        snapshot: &mut MailboxSnapshot,
        key: &SearchKey,
        tz_offset_secs: i64,
        now: i64,
    ) -> Result<Vec<u32>> {
        let needs_meta = needs_metadata(key);
        if needs_meta {
            snapshot.resolve_files()?;
        }
        let headers = header_fields_needed(key);
        let names: Vec<&str> = headers
            .as_ref()
            .map(|h| h.iter().map(String::as_str).collect())
            .unwrap_or_default();
        // the cache's names for them, lower-cased once for the lookups
        let fields: Vec<String> = names
            .iter()
            .map(|n| super::message_cache::header_field_name(n).to_ascii_lowercase())
            .collect();
        let ctx = SearchContext {
            max_seq: snapshot.messages.len() as u32,
            max_uid: snapshot.messages.last().map_or(0, |m| m.uid),
            tz_offset_secs,
            now,
        };
        let content = needs_message(key);
        let mut out = Vec::new();
        for i in 0..snapshot.messages.len() {
            let m = &snapshot.messages[i];
            let mut info = MessageInfo {
                seq: m.seq,
                uid: m.uid,
                flags: m.flags,
                keywords: m.keywords.clone(),
                modseq: m.modseq,
                ..MessageInfo::default()
            };
            if needs_meta && m.locate().is_some() {
                info.internal_date = m.internal_date()?;
                info.rfc822_size = m.rfc822_size()?;
            }
            let hit = match match_index(key, &info, &ctx) {
                Some(answer) => answer,
                None if !content => false,
                None => {
                    let uid = m.uid;
                    let cached: Option<Vec<u8>> = if headers.is_some() {
                        self.header_of_fields(uid, &fields)
                    } else {
                        None
                    };
                    match cached {
                        Some(header) => {
                            match_message(key, &info, &ctx, &Message::parse_header(&header))
                        }
                        None => {
                            snapshot.resolve_files()?;
                            let m = &snapshot.messages[i];
                            let located = m.locate();
                            if located.is_none() {
                                false
                            } else {
                                let data = match (&headers, &located) {
                                    (Some(_), Some(path)) => read_header(path).map_err(|e| {
                                        crate::error::Error::MessageFile {
                                            path: path.clone(),
                                            reason: e.to_string(),
                                        }
                                    })?,
                                    _ => m.read()?,
                                };
                                self.count_file_opened();
                                let msg = if headers.is_some() {
                                    Message::parse_header(&data)
                                } else {
                                    Message::parse(&data)
                                };
                                if headers.is_some() {
                                    self.add_headers(uid, &msg, &names);
                                }
                                match_message(key, &info, &ctx, &msg)
                            }
                        }
                    }
                }
            };
            if hit {
                out.push(snapshot.messages[i].seq);
            }
        }
        self.flush()?;
        Ok(out)
    }
}

/// The message's header (up to and including the blank line that ends
/// it), read in 16 KiB steps: a header search does not read attachments.
/// A message without a blank line is read whole.
pub(crate) fn read_header(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut data = Vec::with_capacity(16 * 1024);
    let mut scanned = 0usize;
    loop {
        let start = data.len();
        let n = (&mut f).take(16 * 1024).read_to_end(&mut data)?;
        // look for LF [CR] LF from just before the new bytes
        let from = scanned.saturating_sub(2);
        if let Some(end) = header_end(&data[from..], from == 0) {
            data.truncate(from + end);
            return Ok(data);
        }
        scanned = data.len();
        if n == 0 || data.len() == start {
            return Ok(data);
        }
    }
}

/// Offset just after the blank line ending a header, if `b` has one.
/// (A message starting with a blank line has an empty header; `at_start`
/// says whether `b` starts the message.)
fn header_end(b: &[u8], at_start: bool) -> Option<usize> {
    if at_start && b.starts_with(b"\n") {
        return Some(1);
    }
    if at_start && b.starts_with(b"\r\n") {
        return Some(2);
    }
    let mut i = 0;
    while let Some(p) = b[i..].iter().position(|&c| c == b'\n') {
        let lf = i + p;
        match b.get(lf + 1) {
            Some(b'\n') => return Some(lf + 2),
            Some(b'\r') if b.get(lf + 2) == Some(&b'\n') => return Some(lf + 3),
            _ => {}
        }
        i = lf + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::header_end;

    #[test]
    fn header_ends_at_the_first_blank_line() {
        assert_eq!(header_end(b"A: b\n\nbody\n\n", true), Some(6));
        assert_eq!(header_end(b"A: b\r\n\r\nbody", true), Some(8));
        assert_eq!(header_end(b"\nbody", true), Some(1));
        assert_eq!(header_end(b"\nbody", false), None);
        assert_eq!(header_end(b"\n\nbody", false), Some(2));
        assert_eq!(header_end(b"A: b\n c\n", true), None);
    }
}

//! `BODY[section]` as Dovecot 2.3 answers it (`imap-msgpart.c`): part numbers
//! walk into multiparts and encapsulated messages, `HEADER`, `TEXT` and
//! `HEADER.FIELDS` apply to the message or to a message/rfc822 part, `MIME`
//! is the part's own header, and every answer is sent with CRLF line
//! endings. A part that does not exist is an empty string.

use crate::error::{Error, Result};
use crate::message::MessagePart;

/// What of the addressed part is wanted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionText {
    /// `[]`: the whole message; with a part number: the part's body.
    Full,
    /// `HEADER`.
    Header,
    /// `HEADER.FIELDS (names)`.
    HeaderFields(Vec<Vec<u8>>),
    /// `HEADER.FIELDS.NOT (names)`.
    HeaderFieldsNot(Vec<Vec<u8>>),
    /// `TEXT`.
    Text,
    /// `MIME`: the part's MIME header.
    Mime,
}

/// A parsed section specifier: part number path and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// Part numbers, e.g. `[1, 2]` for `1.2`; empty for the message itself.
    pub part: Vec<u32>,
    /// The text wanted.
    pub text: SectionText,
}

fn bad(offset: usize, reason: &'static str) -> Error {
    Error::BadFetchItem { offset, reason }
}

impl Section {
    /// Parses the text between `[` and `]`.
    pub fn parse(spec: &str) -> Result<Section> {
        let b = spec.as_bytes();
        let mut i = 0;
        let mut next_digit = true;
        while i < b.len() {
            if b[i].is_ascii_digit() {
                next_digit = false;
            } else if !next_digit && b[i] == b'.' {
                next_digit = true;
            } else {
                break;
            }
            i += 1;
        }
        let (numbers, rest) = if i == 0 {
            ("", spec)
        } else if i == b.len() {
            if b[i - 1] == b'.' {
                return Err(bad(i, "section number ends with a dot"));
            }
            (spec, "")
        } else {
            if b[i - 1] != b'.' {
                return Err(bad(i, "section number not followed by a dot"));
            }
            (&spec[..i - 1], &spec[i..])
        };
        let mut part = Vec::new();
        if !numbers.is_empty() {
            for n in numbers.split('.') {
                let v: u32 = n
                    .parse()
                    .map_err(|_| bad(0, "section number out of range"))?;
                part.push(v);
            }
        }
        if rest.is_empty() {
            return Ok(Section {
                part,
                text: SectionText::Full,
            });
        }
        let upper = rest.to_ascii_uppercase();
        let text = if upper == "MIME" {
            if part.is_empty() {
                return Err(bad(i, "MIME needs a part number"));
            }
            SectionText::Mime
        } else if upper == "TEXT" {
            SectionText::Text
        } else if upper == "HEADER" {
            SectionText::Header
        } else if let Some(list) = upper.strip_prefix("HEADER.FIELDS.NOT") {
            SectionText::HeaderFieldsNot(parse_field_list(list, i + 17)?)
        } else if let Some(list) = upper.strip_prefix("HEADER.FIELDS") {
            SectionText::HeaderFields(parse_field_list(list, i + 13)?)
        } else {
            return Err(bad(i, "unknown section text"));
        };
        Ok(Section { part, text })
    }
}

fn parse_field_list(list: &str, offset: usize) -> Result<Vec<Vec<u8>>> {
    let list = list.strip_prefix(' ').unwrap_or(list);
    let inner = list
        .strip_prefix('(')
        .and_then(|l| l.strip_suffix(')'))
        .ok_or(bad(offset, "header field list must be parenthesized"))?;
    let mut names = Vec::new();
    for n in inner.split_ascii_whitespace() {
        let n = n.trim_matches('"');
        if n.is_empty() {
            return Err(bad(offset, "empty header field name"));
        }
        names.push(n.as_bytes().to_vec());
    }
    if names.is_empty() {
        return Err(bad(offset, "empty header field list"));
    }
    Ok(names)
}

/// The part a section number addresses (Dovecot's `imap_msgpart_find`).
pub fn find_part<'a>(root: &'a MessagePart, path: &[u32]) -> Option<&'a MessagePart> {
    let mut part = root;
    for (i, &num) in path.iter().enumerate() {
        let more = i + 1 < path.len();
        if part.is_multipart() {
            let idx = num.saturating_sub(1) as usize;
            part = part.children.get(idx)?;
        } else if num != 1 || (more && !part.is_message_rfc822()) {
            return None;
        }
        if more && part.is_message_rfc822() {
            part = part.children.first()?;
        }
    }
    Some(part)
}

/// The section's bytes as stored (before CRLF conversion); `None` when the
/// part does not exist (answered as an empty string).
pub fn section_raw(data: &[u8], root: &MessagePart, section: &Section) -> Option<Vec<u8>> {
    let part = if section.part.is_empty() {
        root
    } else {
        let p = find_part(root, &section.part)?;
        match section.text {
            SectionText::Full | SectionText::Mime => p,
            _ => {
                if !p.is_message_rfc822() {
                    return None;
                }
                p.children.first()?
            }
        }
    };
    Some(match &section.text {
        SectionText::Full if section.part.is_empty() => data.to_vec(),
        SectionText::Full => part.body(data).to_vec(),
        SectionText::Header | SectionText::Mime => part.header(data).to_vec(),
        SectionText::Text => part.body(data).to_vec(),
        SectionText::HeaderFields(names) if section.part.is_empty() => {
            cached_header_fields(data, part, names)
        }
        SectionText::HeaderFields(names) => filter_header(data, part, names, true),
        SectionText::HeaderFieldsNot(names) => filter_header(data, part, names, false),
    })
}

/// The header fields of `part` whose names are (or are not) in `names`,
/// each ending with a line break, then the blank line if the header had one.
pub fn filter_header(data: &[u8], part: &MessagePart, names: &[Vec<u8>], include: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for f in &part.fields {
        let name = f.name(data);
        let listed = names.iter().any(|n| n.eq_ignore_ascii_case(name));
        if listed == include {
            out.extend_from_slice(&data[f.start..f.end]);
            if f.last_newline_len == 0 {
                out.push(b'\n');
            }
        }
    }
    let fields_end = part.fields.last().map_or(part.offset, |f| f.end);
    if part.header_end > fields_end {
        out.extend_from_slice(&data[fields_end..part.header_end]);
    }
    out
}

/// HEADER.FIELDS of the message itself: Dovecot answers it from the header
/// cache, which holds each field as stored, and ends it with a blank line
/// whether or not the message had one.
pub fn cached_header_fields(data: &[u8], part: &MessagePart, names: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in &part.fields {
        if names.iter().any(|n| n.eq_ignore_ascii_case(f.name(data))) {
            out.extend_from_slice(&data[f.start..f.end]);
        }
    }
    out.push(b'\n');
    out
}

/// Converts bare LFs to CRLF, as Dovecot sends message data.
pub fn to_crlf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 32);
    let mut prev = 0u8;
    for &b in raw {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

/// Applies a partial range `<origin.count>` to `bytes`.
pub fn partial(bytes: &[u8], range: Option<(u64, u64)>) -> &[u8] {
    match range {
        None => bytes,
        Some((origin, count)) => {
            let start = usize::try_from(origin)
                .unwrap_or(usize::MAX)
                .min(bytes.len());
            let end = start
                .saturating_add(usize::try_from(count).unwrap_or(usize::MAX))
                .min(bytes.len());
            &bytes[start..end]
        }
    }
}

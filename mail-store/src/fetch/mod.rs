//! FETCH semantics: the data items as Dovecot 2.3 returns them, as IMAP
//! bytes (the form Dovecot caches as `imap.envelope` and
//! `imap.bodystructure` in `dovecot.index.cache`).

pub mod binary;
pub mod body_from_bodystructure;
pub mod bodystructure;
pub mod envelope;
pub mod quote;
pub mod section;

use crate::error::{Error, Result};
use crate::message::Message;
pub use envelope::Envelope;
pub use section::{Section, SectionText};

/// A partial range `<origin.count>`.
pub type Partial = Option<(u64, u64)>;

impl Message<'_> {
    /// The ENVELOPE contents (without the surrounding parentheses).
    pub fn envelope_imap(&self) -> Vec<u8> {
        let mut out = Vec::new();
        Envelope::from_fields(self.data(), &self.root().fields).write_imap(&mut out);
        out
    }

    /// The BODYSTRUCTURE (`extended`) or BODY contents, without the
    /// surrounding parentheses.
    pub fn bodystructure_imap(&self, extended: bool) -> Vec<u8> {
        let mut out = Vec::new();
        bodystructure::write_bodystructure(self.data(), self.root(), extended, &mut out);
        out
    }

    /// BODY[section]: the bytes sent, CRLF line endings, before any partial range.
    pub fn section(&self, section: &Section) -> Vec<u8> {
        section::section_raw(self.data(), self.root(), section)
            .map(|raw| section::to_crlf(&raw))
            .unwrap_or_default()
    }

    /// BINARY[section]: the content with its transfer encoding removed, and
    /// whether decoding happened. Part numbers only (and `[]`, `[TEXT]`);
    /// other section texts are as for BODY.
    pub fn binary(&self, section: &Section) -> Result<(Vec<u8>, bool)> {
        match section.text {
            SectionText::Full => {}
            SectionText::Text if section.part.is_empty() => {}
            _ => return Ok((self.section(section), false)),
        }
        if section.part.is_empty() {
            return Ok((self.section(section), false));
        }
        let Some(part) = section::find_part(self.root(), &section.part) else {
            return Ok((Vec::new(), false));
        };
        if part.is_multipart() || part.is_message_rfc822() {
            return Ok((self.section(section), false));
        }
        binary::decode_body(self.data(), part)
    }
}

impl Message<'_> {
    /// BINARY.SIZE[section]. Dovecot sizes a part by decoding the whole
    /// message, so any part with an unknown transfer encoding makes every
    /// BINARY.SIZE of the message fail with `UNKNOWN-CTE`.
    pub fn binary_size(&self, section: &Section) -> Result<u64> {
        check_encodings(self.root())?;
        Ok(self.binary(section)?.0.len() as u64)
    }
}

fn check_encodings(part: &crate::message::MessagePart) -> Result<()> {
    if part.children.is_empty() {
        binary::transfer_encoding(part)?;
    }
    part.children.iter().try_for_each(check_encodings)
}

fn bad(offset: usize, reason: &'static str) -> Error {
    Error::BadFetchItem { offset, reason }
}

fn parse_partial(s: &str, offset: usize) -> Result<Partial> {
    if s.is_empty() {
        return Ok(None);
    }
    let inner = s
        .strip_prefix('<')
        .and_then(|s| s.strip_suffix('>'))
        .ok_or(bad(offset, "expected <origin.count>"))?;
    let (o, c) = inner
        .split_once('.')
        .ok_or(bad(offset, "expected <origin.count>"))?;
    let o = o.parse().map_err(|_| bad(offset, "bad partial origin"))?;
    let c = c.parse().map_err(|_| bad(offset, "bad partial count"))?;
    Ok(Some((o, c)))
}

fn literal(out: &mut Vec<u8>, bytes: &[u8], literal8: bool) {
    out.extend_from_slice(
        format!("{}{{{}}}\r\n", if literal8 { "~" } else { "" }, bytes.len()).as_bytes(),
    );
    out.extend_from_slice(bytes);
}

/// Answers one FETCH data item for `message` with the bytes Dovecot sends
/// after the item name position (`ENVELOPE (...)`, `BODY[1] {5}\r\n...`).
/// Supported: RFC822.SIZE, ENVELOPE, BODYSTRUCTURE, BODY, BODY[...],
/// BODY.PEEK[...], BINARY[...], BINARY.PEEK[...], BINARY.SIZE[...], with
/// partial ranges.
pub fn fetch_item_imap(message: &[u8], item: &str) -> Result<Vec<u8>> {
    let msg = Message::parse(message);
    let mut out = Vec::new();
    let upper = item.to_ascii_uppercase();
    match upper.as_str() {
        "RFC822.SIZE" => {
            out.extend_from_slice(format!("RFC822.SIZE {}", msg.rfc822_size()).as_bytes());
            return Ok(out);
        }
        "ENVELOPE" => {
            out.extend_from_slice(b"ENVELOPE (");
            out.extend_from_slice(&msg.envelope_imap());
            out.push(b')');
            return Ok(out);
        }
        "BODYSTRUCTURE" | "BODY" => {
            out.extend_from_slice(upper.as_bytes());
            out.extend_from_slice(b" (");
            out.extend_from_slice(&msg.bodystructure_imap(upper == "BODYSTRUCTURE"));
            out.push(b')');
            return Ok(out);
        }
        _ => {}
    }
    let open = item.find('[').ok_or(bad(0, "unknown fetch item"))?;
    let close = item.rfind(']').ok_or(bad(open, "missing ]"))?;
    if close < open {
        return Err(bad(close, "missing ]"));
    }
    let name = upper[..open].to_string();
    let spec = &item[open + 1..close];
    let range = parse_partial(&item[close + 1..], close + 1)?;
    let section = Section::parse(spec)?;
    let shown = match range {
        Some((o, _)) => format!("[{spec}]<{o}>"),
        None => format!("[{spec}]"),
    };
    match name.as_str() {
        "BODY" | "BODY.PEEK" => {
            let bytes = msg.section(&section);
            out.extend_from_slice(format!("BODY{shown} ").as_bytes());
            literal(&mut out, section::partial(&bytes, range), false);
        }
        "BINARY" | "BINARY.PEEK" => {
            let (bytes, decoded) = msg.binary(&section)?;
            out.extend_from_slice(format!("BINARY{shown} ").as_bytes());
            literal(&mut out, section::partial(&bytes, range), decoded);
        }
        "BINARY.SIZE" => {
            if range.is_some() {
                return Err(bad(close + 1, "BINARY.SIZE takes no partial range"));
            }
            let size = msg.binary_size(&section)?;
            out.extend_from_slice(format!("BINARY.SIZE{shown} {size}").as_bytes());
        }
        _ => return Err(bad(0, "unknown fetch item")),
    }
    Ok(out)
}

//! FETCH: one message's data items as IMAP bytes, answered by the storage
//! without the message where it can (its cache: ENVELOPE, BODY,
//! BODYSTRUCTURE, `BODY[HEADER.FIELDS (...)]`, RFC822.SIZE, INTERNALDATE,
//! SAVEDATE), else computed by the store's message parser from the message.

use columba_imap_proto::{FetchAttribute, FetchItems, SectionText as WireText};
use columba_mail_store::fetch::section::partial;
use columba_mail_store::fetch::{Section, SectionText};
use columba_mail_store::Message;

use super::format::{flags_list, internal_date};
use crate::storage::{CachedItem, MessageMeta};

/// What the storage answered for one message without its bytes.
#[derive(Debug, Default)]
pub struct Known {
    /// Per requested attribute (same index): the cached answer.
    pub items: Vec<Option<Vec<u8>>>,
    /// INTERNALDATE, when known without the message.
    pub internal_date: Option<i64>,
    /// SAVEDATE; `None` is sent as NIL.
    pub save_date: Option<i64>,
}

impl Known {
    fn item(&self, i: usize) -> Option<&[u8]> {
        self.items.get(i).and_then(|v| v.as_deref())
    }

    /// Whether attribute `i` (`a`) still needs the message bytes.
    pub fn lacks(&self, i: usize, a: &FetchAttribute) -> bool {
        match a {
            FetchAttribute::InternalDate => self.internal_date.is_none(),
            _ => needs_message(a) && self.item(i).is_none(),
        }
    }
}

/// The storage's cache item for an attribute, if a cache can answer it.
pub fn cache_item(a: &FetchAttribute) -> Option<CachedItem> {
    match a {
        FetchAttribute::Envelope => Some(CachedItem::Envelope),
        FetchAttribute::BodyStructure => Some(CachedItem::BodyStructure),
        FetchAttribute::Body => Some(CachedItem::Body),
        FetchAttribute::Rfc822Size => Some(CachedItem::Rfc822Size),
        FetchAttribute::BodySection {
            section:
                columba_imap_proto::Section {
                    part,
                    text: Some(WireText::HeaderFields(names)),
                },
            ..
        } if part.is_empty() => Some(CachedItem::HeaderFields(
            names
                .iter()
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .collect(),
        )),
        _ => None,
    }
}

/// Whether only the cache and the file's metadata may answer the
/// attribute (no other item needs the whole message).
pub fn answerable_without_message(a: &FetchAttribute) -> bool {
    !needs_message(a) || matches!(a, FetchAttribute::InternalDate) || cache_item(a).is_some()
}

/// The attribute list a FETCH asked for, macros expanded.
pub fn expand(items: &FetchItems) -> Vec<FetchAttribute> {
    use FetchAttribute as A;
    match items {
        FetchItems::All => vec![A::Flags, A::InternalDate, A::Rfc822Size, A::Envelope],
        FetchItems::Fast => vec![A::Flags, A::InternalDate, A::Rfc822Size],
        FetchItems::Full => vec![
            A::Flags,
            A::InternalDate,
            A::Rfc822Size,
            A::Envelope,
            A::Body,
        ],
        FetchItems::Items(v) => v.clone(),
    }
}

/// Whether an attribute needs the message file.
pub fn needs_message(a: &FetchAttribute) -> bool {
    !matches!(
        a,
        FetchAttribute::Flags
            | FetchAttribute::Uid
            | FetchAttribute::ModSeq
            | FetchAttribute::SaveDate
    )
}

/// Whether fetching the attribute sets `\Seen`.
pub fn sets_seen(a: &FetchAttribute) -> bool {
    matches!(
        a,
        FetchAttribute::Rfc822
            | FetchAttribute::Rfc822Text
            | FetchAttribute::BodySection { peek: false, .. }
            | FetchAttribute::Binary { peek: false, .. }
    )
}

fn literal(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(format!("{{{}}}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
}

fn section_spec(part: &[u32], text: &Option<WireText>) -> (String, Section) {
    let mut spec = part
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(".");
    let names = |v: &[bytes::Bytes]| -> (String, Vec<Vec<u8>>) {
        let list: Vec<String> = v
            .iter()
            .map(|n| String::from_utf8_lossy(n).to_ascii_uppercase())
            .collect();
        (
            list.join(" "),
            list.iter().map(|n| n.as_bytes().to_vec()).collect(),
        )
    };
    let (suffix, text) = match text {
        None => (String::new(), SectionText::Full),
        Some(WireText::Header) => ("HEADER".into(), SectionText::Header),
        Some(WireText::Text) => ("TEXT".into(), SectionText::Text),
        Some(WireText::Mime) => ("MIME".into(), SectionText::Mime),
        Some(WireText::HeaderFields(v)) => {
            let (s, n) = names(v);
            (format!("HEADER.FIELDS ({s})"), SectionText::HeaderFields(n))
        }
        Some(WireText::HeaderFieldsNot(v)) => {
            let (s, n) = names(v);
            (
                format!("HEADER.FIELDS.NOT ({s})"),
                SectionText::HeaderFieldsNot(n),
            )
        }
    };
    if !suffix.is_empty() {
        if !spec.is_empty() {
            spec.push('.');
        }
        spec.push_str(&suffix);
    }
    (
        spec,
        Section {
            part: part.to_vec(),
            text,
        },
    )
}

fn with_partial(out: &mut Vec<u8>, name: String, bytes: &[u8], range: Option<(u32, u32)>) {
    out.extend_from_slice(name.as_bytes());
    match range {
        Some((origin, count)) => {
            out.extend_from_slice(format!("<{origin}> ").as_bytes());
            literal(out, partial(bytes, Some((origin as u64, count as u64))));
        }
        None => {
            out.push(b' ');
            literal(out, bytes);
        }
    }
}

/// Writes the items of one message (without `* n FETCH (` and `)`).
/// `message` is `(bytes, internaldate)` when some item needed it; `known`
/// holds what the storage answered without it.
pub fn write_items(
    out: &mut Vec<u8>,
    attrs: &[FetchAttribute],
    meta: &MessageMeta,
    message: Option<&(Vec<u8>, i64)>,
    known: &Known,
) -> Result<(), String> {
    let parsed = message.map(|(data, _)| Message::parse(data));
    let mut first = true;
    for (i, a) in attrs.iter().enumerate() {
        if !first {
            out.push(b' ');
        }
        first = false;
        let msg = || parsed.as_ref().ok_or("message not loaded".to_string());
        match a {
            FetchAttribute::Uid => out.extend_from_slice(format!("UID {}", meta.uid).as_bytes()),
            FetchAttribute::Flags => {
                out.extend_from_slice(format!("FLAGS {}", flags_list(meta)).as_bytes())
            }
            FetchAttribute::ModSeq => {
                out.extend_from_slice(format!("MODSEQ ({})", meta.modseq).as_bytes())
            }
            FetchAttribute::InternalDate => {
                let date = known.internal_date.or(message.map(|m| m.1)).unwrap_or(0);
                out.extend_from_slice(format!("INTERNALDATE {}", internal_date(date)).as_bytes())
            }
            FetchAttribute::SaveDate => {
                out.extend_from_slice(b"SAVEDATE ");
                match known.save_date {
                    Some(t) => out.extend_from_slice(internal_date(t).as_bytes()),
                    None => out.extend_from_slice(b"NIL"),
                }
            }
            FetchAttribute::Rfc822Size => {
                out.extend_from_slice(b"RFC822.SIZE ");
                match known.item(i) {
                    Some(v) => out.extend_from_slice(v),
                    None => out.extend_from_slice(msg()?.rfc822_size().to_string().as_bytes()),
                }
            }
            FetchAttribute::Envelope => {
                out.extend_from_slice(b"ENVELOPE (");
                match known.item(i) {
                    Some(v) => out.extend_from_slice(v),
                    None => out.extend_from_slice(&msg()?.envelope_imap()),
                }
                out.push(b')');
            }
            FetchAttribute::BodyStructure => {
                out.extend_from_slice(b"BODYSTRUCTURE (");
                match known.item(i) {
                    Some(v) => out.extend_from_slice(v),
                    None => out.extend_from_slice(&msg()?.bodystructure_imap(true)),
                }
                out.push(b')');
            }
            FetchAttribute::Body => {
                out.extend_from_slice(b"BODY (");
                match known.item(i) {
                    Some(v) => out.extend_from_slice(v),
                    None => out.extend_from_slice(&msg()?.bodystructure_imap(false)),
                }
                out.push(b')');
            }
            FetchAttribute::Rfc822 => {
                let (_, s) = section_spec(&[], &None);
                with_partial(out, "RFC822".into(), &msg()?.section(&s), None);
            }
            FetchAttribute::Rfc822Header => {
                let (_, s) = section_spec(&[], &Some(WireText::Header));
                with_partial(out, "RFC822.HEADER".into(), &msg()?.section(&s), None);
            }
            FetchAttribute::Rfc822Text => {
                let (_, s) = section_spec(&[], &Some(WireText::Text));
                with_partial(out, "RFC822.TEXT".into(), &msg()?.section(&s), None);
            }
            FetchAttribute::BodySection {
                section, partial, ..
            } => {
                let (spec, s) = section_spec(&section.part, &section.text);
                match known.item(i) {
                    Some(v) => with_partial(out, format!("BODY[{spec}]"), v, *partial),
                    None => {
                        with_partial(out, format!("BODY[{spec}]"), &msg()?.section(&s), *partial)
                    }
                }
            }
            FetchAttribute::Binary { part, partial, .. } => {
                let (spec, s) = section_spec(part, &None);
                let (bytes, _) = msg()?
                    .binary(&s)
                    .map_err(|e| format!("[UNKNOWN-CTE] {e}"))?;
                with_partial(out, format!("BINARY[{spec}]"), &bytes, *partial);
            }
            FetchAttribute::BinarySize { part } => {
                let (spec, s) = section_spec(part, &None);
                let size = msg()?
                    .binary_size(&s)
                    .map_err(|e| format!("[UNKNOWN-CTE] {e}"))?;
                out.extend_from_slice(format!("BINARY.SIZE[{spec}] {size}").as_bytes());
            }
        }
    }
    Ok(())
}

/// Writes the items of a message expunged by another session that this
/// session still numbers (its EXPUNGE is deferred): what the view knows
/// (UID, FLAGS, MODSEQ) as usual, everything from the message file as NIL,
/// as Dovecot answers (`* 1 FETCH (BODY[TEXT] NIL)`).
pub fn write_expunged_items(out: &mut Vec<u8>, attrs: &[FetchAttribute], meta: &MessageMeta) {
    for (i, a) in attrs.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        let name = match a {
            FetchAttribute::Uid | FetchAttribute::Flags | FetchAttribute::ModSeq => {
                // never fails: these need no message
                let _ = write_items(out, std::slice::from_ref(a), meta, None, &Known::default());
                continue;
            }
            FetchAttribute::SaveDate => "SAVEDATE".to_string(),
            FetchAttribute::InternalDate => "INTERNALDATE".to_string(),
            FetchAttribute::Rfc822Size => "RFC822.SIZE".to_string(),
            FetchAttribute::Envelope => "ENVELOPE".to_string(),
            FetchAttribute::BodyStructure => "BODYSTRUCTURE".to_string(),
            FetchAttribute::Body => "BODY".to_string(),
            FetchAttribute::Rfc822 => "RFC822".to_string(),
            FetchAttribute::Rfc822Header => "RFC822.HEADER".to_string(),
            FetchAttribute::Rfc822Text => "RFC822.TEXT".to_string(),
            FetchAttribute::BodySection { section, .. } => {
                format!("BODY[{}]", section_spec(&section.part, &section.text).0)
            }
            FetchAttribute::Binary { part, .. } => {
                format!("BINARY[{}]", section_spec(part, &None).0)
            }
            FetchAttribute::BinarySize { part } => {
                format!("BINARY.SIZE[{}]", section_spec(part, &None).0)
            }
        };
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b" NIL");
    }
}

//! Evaluating a search program against one message: first from what the
//! index holds (flags, keywords, UID, sequence, sizes, dates, modseq), then,
//! only for the keys that need it, from the message itself.

use super::date::{day_of, parse_header_date};
use super::decode::{decode_charset, decode_header_value, fold};
use super::key::SearchKey;
use crate::fetch::binary::{transfer_encoding, TransferEncoding};
use crate::message::address::{parse_address_list, Address};
use crate::message::{Message, MessagePart};

/// System flags of a message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MessageFlags {
    /// \Answered.
    pub answered: bool,
    /// \Flagged.
    pub flagged: bool,
    /// \Deleted.
    pub deleted: bool,
    /// \Seen.
    pub seen: bool,
    /// \Draft.
    pub draft: bool,
    /// \Recent (for this session).
    pub recent: bool,
}

/// What the index knows of a message.
#[derive(Debug, Clone, Default)]
pub struct MessageInfo {
    /// Sequence number.
    pub seq: u32,
    /// UID.
    pub uid: u32,
    /// System flags.
    pub flags: MessageFlags,
    /// Keywords.
    pub keywords: Vec<String>,
    /// INTERNALDATE as Unix seconds.
    pub internal_date: i64,
    /// RFC822.SIZE.
    pub rfc822_size: u64,
    /// MODSEQ (0 when CONDSTORE is off).
    pub modseq: u64,
    /// Save date as Unix seconds, when known.
    pub save_date: Option<i64>,
}

/// The mailbox-wide facts a search needs.
#[derive(Debug, Clone, Copy, Default)]
pub struct SearchContext {
    /// Number of messages (what `*` means in a sequence set).
    pub max_seq: u32,
    /// Highest UID (what `*` means in a UID set).
    pub max_uid: u32,
    /// Offset of the server's time zone, in which INTERNALDATE days are compared.
    pub tz_offset_secs: i64,
    /// The current time (Unix seconds) for OLDER / YOUNGER.
    pub now: i64,
}

/// True if answering `key` needs the message (headers or body), not only the index.
pub fn needs_message(key: &SearchKey) -> bool {
    match key {
        SearchKey::Header(..)
        | SearchKey::Body(_)
        | SearchKey::Text(_)
        | SearchKey::SentDate(..) => true,
        SearchKey::Not(k) => needs_message(k),
        SearchKey::Or(a, b) => needs_message(a) || needs_message(b),
        SearchKey::And(keys) => keys.iter().any(needs_message),
        _ => false,
    }
}

/// True if answering `key` needs the message body (BODY, TEXT), not only its header.
pub fn needs_body(key: &SearchKey) -> bool {
    match key {
        SearchKey::Body(_) | SearchKey::Text(_) => true,
        SearchKey::Not(k) => needs_body(k),
        SearchKey::Or(a, b) => needs_body(a) || needs_body(b),
        SearchKey::And(keys) => keys.iter().any(needs_body),
        _ => false,
    }
}

/// Evaluates `key` from the index alone: `Some(answer)`, or `None` when the
/// answer depends on the message's content.
pub fn match_index(key: &SearchKey, info: &MessageInfo, ctx: &SearchContext) -> Option<bool> {
    eval(key, info, ctx, None)
}

/// Evaluates `key` with the message at hand.
pub fn match_message(
    key: &SearchKey,
    info: &MessageInfo,
    ctx: &SearchContext,
    message: &Message<'_>,
) -> bool {
    eval(key, info, ctx, Some(message)).unwrap_or(false)
}

fn eval(
    key: &SearchKey,
    info: &MessageInfo,
    ctx: &SearchContext,
    msg: Option<&Message<'_>>,
) -> Option<bool> {
    use SearchKey as K;
    let f = info.flags;
    Some(match key {
        K::All => true,
        K::Answered(v) => f.answered == *v,
        K::Deleted(v) => f.deleted == *v,
        K::Draft(v) => f.draft == *v,
        K::Flagged(v) => f.flagged == *v,
        K::Seen(v) => f.seen == *v,
        K::Recent => f.recent,
        K::New => f.recent && !f.seen,
        K::Old => !f.recent,
        K::Keyword(k, v) => info.keywords.iter().any(|x| x.eq_ignore_ascii_case(k)) == *v,
        K::InternalDate(cmp, day) => {
            cmp.matches(day_of(info.internal_date, ctx.tz_offset_secs), *day)
        }
        K::SavedDate(cmp, day) => {
            // without a save date Dovecot uses INTERNALDATE
            let t = info.save_date.unwrap_or(info.internal_date);
            cmp.matches(day_of(t, ctx.tz_offset_secs), *day)
        }
        K::SaveDateSupported => true,
        K::Age(older, secs) => {
            let age = ctx.now - info.internal_date;
            if *older {
                age >= *secs
            } else {
                age <= *secs
            }
        }
        K::Larger(n) => info.rfc822_size > *n,
        K::Smaller(n) => info.rfc822_size < *n,
        K::Uid(set) => set.contains(info.uid, ctx.max_uid),
        K::Sequence(set) => set.contains(info.seq, ctx.max_seq),
        K::ModSeq(n) => info.modseq >= *n,
        K::Not(k) => !eval(k, info, ctx, msg)?,
        K::Or(a, b) => match (eval(a, info, ctx, msg), eval(b, info, ctx, msg)) {
            (Some(true), _) | (_, Some(true)) => true,
            (Some(false), Some(false)) => false,
            _ => return None,
        },
        K::And(keys) => {
            let mut unknown = false;
            for k in keys {
                match eval(k, info, ctx, msg) {
                    Some(false) => return Some(false),
                    None => unknown = true,
                    Some(true) => {}
                }
            }
            if unknown {
                return None;
            }
            true
        }
        K::SentDate(cmp, day) => {
            let m = msg?;
            let date = m
                .root()
                .fields
                .iter()
                .rev()
                .find(|fl| fl.is(m.data(), "Date"))
                .and_then(|fl| parse_header_date(&fl.full_value(m.data())));
            // no usable Date: the epoch, as for Dovecot
            let d = date.unwrap_or(0);
            cmp.matches(d, *day)
        }
        K::Header(name, value) => header_matches(msg?, name, value),
        K::Body(s) => body_contains(msg?, &fold(s), false),
        K::Text(s) => body_contains(msg?, &fold(s), true),
    })
}

fn header_matches(m: &Message<'_>, name: &str, value: &str) -> bool {
    let needle = fold(value);
    // FROM, TO, CC and BCC match the parsed and rewritten addresses
    let address = ["FROM", "TO", "CC", "BCC"]
        .iter()
        .any(|a| a.eq_ignore_ascii_case(name));
    m.root()
        .fields
        .iter()
        .filter(|f| f.is(m.data(), name))
        .any(|f| {
            if needle.is_empty() {
                return true;
            }
            let raw = f.full_value(m.data());
            let text = if address {
                write_addresses(&parse_address_list(&raw))
            } else {
                raw
            };
            fold(&decode_header_value(&text)).contains(&needle)
        })
}

/// Addresses written back as text (`Name <box@domain>`, `group: ...;`).
fn write_addresses(list: &[Address]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut first = true;
    for a in list {
        let is_group_end = a.name.is_none() && a.mailbox.is_none() && a.domain.is_none();
        let is_group_start = a.domain.is_none() && a.mailbox.is_some() && !is_group_end;
        if is_group_end {
            out.push(b';');
            continue;
        }
        if !first {
            out.extend_from_slice(b", ");
        }
        first = false;
        if is_group_start {
            out.extend_from_slice(a.mailbox.as_deref().unwrap_or_default());
            out.extend_from_slice(b": ");
            first = true;
            continue;
        }
        let mut spec = Vec::new();
        if let Some(r) = &a.route {
            spec.extend_from_slice(r);
            spec.push(b':');
        }
        spec.extend_from_slice(a.mailbox.as_deref().unwrap_or_default());
        spec.push(b'@');
        spec.extend_from_slice(a.domain.as_deref().unwrap_or_default());
        match &a.name {
            Some(n) => {
                out.extend_from_slice(n);
                out.extend_from_slice(b" <");
                out.extend_from_slice(&spec);
                out.push(b'>');
            }
            None => out.extend_from_slice(&spec),
        }
    }
    out
}

/// Decoded text of a leaf part's body, if it is text to search.
fn part_text(data: &[u8], part: &MessagePart) -> Option<String> {
    let c = &part.content;
    let is_text = c
        .content_type
        .as_ref()
        .is_none_or(|t| t.eq_ignore_ascii_case(b"text"));
    if !is_text {
        return None;
    }
    let body = part.body(data);
    let decoded = match transfer_encoding(part).unwrap_or(TransferEncoding::Identity) {
        TransferEncoding::Identity => body.to_vec(),
        TransferEncoding::Base64 => super::decode::decode_base64_lenient(body),
        TransferEncoding::QuotedPrintable => {
            crate::fetch::binary::decode_quoted_printable(body).unwrap_or_else(|| body.to_vec())
        }
    };
    let charset = c.type_param("charset").unwrap_or(b"utf-8");
    Some(decode_charset(charset, &decoded))
}

fn body_contains(m: &Message<'_>, needle: &str, with_headers: bool) -> bool {
    fn walk(data: &[u8], part: &MessagePart, needle: &str, with_headers: bool) -> bool {
        if with_headers {
            let header = decode_header_value(part.header(data));
            if fold(&header).contains(needle) {
                return true;
            }
        }
        if part.children.is_empty() {
            return part_text(data, part).is_some_and(|t| fold(&t).contains(needle));
        }
        part.children
            .iter()
            .any(|c| walk(data, c, needle, with_headers))
    }
    walk(m.data(), m.root(), needle, with_headers)
}

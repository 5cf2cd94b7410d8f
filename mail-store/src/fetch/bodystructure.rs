//! BODY and BODYSTRUCTURE as Dovecot 2.3 writes them (`imap-bodystructure.c`):
//! type and subtype as written, `("charset" "us-ascii")` added to text parts
//! without a charset, sizes and line counts with CRLF line endings,
//! extension data (MD5, disposition, language, location) for BODYSTRUCTURE.

use super::envelope::Envelope;
use super::quote::{append_nstring_nolf, append_string};
use crate::message::content::{ContentData, Parameter};
use crate::message::{MessagePart, PartFlags};

const EMPTY_BODY: &[u8] = b"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)";
const EMPTY_BODYSTRUCTURE: &[u8] =
    b"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)";

/// Writes the BODYSTRUCTURE (`extended`) or BODY of `part`, without the
/// outer parentheses, as the contents of `BODYSTRUCTURE (...)`.
pub fn write_bodystructure(data: &[u8], part: &MessagePart, extended: bool, out: &mut Vec<u8>) {
    if part.is_multipart() {
        write_multipart(data, part, extended, out);
    } else {
        write_single(data, part, extended, out);
    }
}

fn write_params(out: &mut Vec<u8>, params: &[Parameter], default_charset: bool) {
    if !default_charset && params.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    let mut seen_charset = false;
    for (i, (k, v)) in params.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        if default_charset && k.eq_ignore_ascii_case(b"charset") {
            seen_charset = true;
        }
        append_string(out, k);
        out.push(b' ');
        append_string(out, v);
    }
    if default_charset && !seen_charset {
        if !params.is_empty() {
            out.push(b' ');
        }
        out.extend_from_slice(b"\"charset\" \"us-ascii\"");
    }
    out.push(b')');
}

fn write_siblings(data: &[u8], parts: &[MessagePart], extended: bool, out: &mut Vec<u8>) {
    for p in parts {
        out.push(b'(');
        write_bodystructure(data, p, extended, out);
        out.push(b')');
    }
}

fn write_common(c: &ContentData, out: &mut Vec<u8>) {
    out.push(b' ');
    match &c.disposition {
        None => out.extend_from_slice(b"NIL"),
        Some(d) => {
            out.push(b'(');
            append_string(out, d);
            out.push(b' ');
            write_params(out, &c.disposition_params, false);
            out.push(b')');
        }
    }
    out.push(b' ');
    match &c.language {
        None => out.extend_from_slice(b"NIL"),
        Some(langs) => {
            out.push(b'(');
            for (i, l) in langs.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                append_string(out, l);
            }
            out.push(b')');
        }
    }
    out.push(b' ');
    append_nstring_nolf(out, c.location.as_deref());
}

fn write_multipart(data: &[u8], part: &MessagePart, extended: bool, out: &mut Vec<u8>) {
    let c = &part.content;
    if !part.children.is_empty() {
        write_siblings(data, &part.children, extended, out);
    } else if extended {
        out.extend_from_slice(EMPTY_BODYSTRUCTURE);
    } else {
        out.extend_from_slice(EMPTY_BODY);
    }
    out.push(b' ');
    append_string(out, &c.content_subtype);
    if !extended {
        return;
    }
    out.push(b' ');
    write_params(out, &c.content_type_params, false);
    write_common(c, out);
}

/// message/rfc822 or multipart without the flag (limits reached), or a
/// digest child without Content-Type: written as application/octet-stream.
fn is_truncated(part: &MessagePart, parent_digest: bool) -> bool {
    match &part.content.content_type {
        Some(t) => {
            (t.eq_ignore_ascii_case(b"message")
                && part.content.content_subtype.eq_ignore_ascii_case(b"rfc822"))
                || t.eq_ignore_ascii_case(b"multipart")
        }
        None => parent_digest,
    }
}

fn write_single(data: &[u8], part: &MessagePart, extended: bool, out: &mut Vec<u8>) {
    let c = &part.content;
    let text;
    if part.is_message_rfc822() {
        out.extend_from_slice(b"\"message\" \"rfc822\"");
        text = false;
    } else if is_truncated(
        part,
        part.flags.has(PartFlags::OVERFLOW) && c.content_type.is_none(),
    ) {
        out.extend_from_slice(b"\"application\" \"octet-stream\"");
        text = false;
    } else {
        match &c.content_type {
            None => {
                text = true;
                out.extend_from_slice(b"\"text\" \"plain\"");
            }
            Some(t) => {
                text = t.eq_ignore_ascii_case(b"text");
                append_string(out, t);
                out.push(b' ');
                append_string(out, &c.content_subtype);
            }
        }
    }
    out.push(b' ');
    write_params(out, &c.content_type_params, text);
    out.push(b' ');
    append_nstring_nolf(out, c.id.as_deref());
    out.push(b' ');
    append_nstring_nolf(out, c.description.as_deref());
    out.push(b' ');
    match &c.transfer_encoding {
        Some(e) => append_string(out, e),
        None => out.extend_from_slice(b"\"7bit\""),
    }
    out.extend_from_slice(format!(" {}", part.body_size.virtual_size).as_bytes());
    if text {
        out.extend_from_slice(format!(" {}", part.body_size.lines).as_bytes());
    } else if part.is_message_rfc822() {
        out.extend_from_slice(b" (");
        if let Some(child) = part.children.first() {
            Envelope::from_fields(data, &child.fields).write_imap(out);
            out.extend_from_slice(b") ");
            write_siblings(data, &part.children[..1], extended, out);
        } else {
            out.extend_from_slice(b"NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) ");
            out.extend_from_slice(if extended {
                EMPTY_BODYSTRUCTURE
            } else {
                EMPTY_BODY
            });
        }
        out.extend_from_slice(format!(" {}", part.body_size.lines).as_bytes());
    }
    if !extended {
        return;
    }
    out.push(b' ');
    append_nstring_nolf(out, c.md5.as_deref());
    write_common(c, out);
}

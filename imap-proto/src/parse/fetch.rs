//! FETCH items (command side) and message data items (response side).

use super::{PResult, Parser};
use crate::types::{FetchAttribute, FetchItems, MessageItem, Section, SectionText};

/// Case-insensitive keyword comparison; the length check first makes a
/// miss nearly free in the long dispatch chains.
#[inline(always)]
fn is(word: &[u8], name: &str) -> bool {
    let n = name.as_bytes();
    word.len() == n.len() && word.eq_ignore_ascii_case(n)
}

/// `ALL` / `FULL` / `FAST` / fetch-att / `(fetch-att ...)`.
pub(crate) fn fetch_items(p: &mut Parser<'_>) -> PResult<FetchItems> {
    if p.peek() == Some(b'(') {
        p.open()?;
        let mut items = vec![fetch_attribute(p)?];
        while p.eat(b' ') {
            items.push(fetch_attribute(p)?);
        }
        p.close()?;
        return Ok(FetchItems::Items(items));
    }
    let start = p.pos;
    let w = p.word("fetch item")?;
    if is(w, "ALL") {
        Ok(FetchItems::All)
    } else if is(w, "FULL") {
        Ok(FetchItems::Full)
    } else if is(w, "FAST") {
        Ok(FetchItems::Fast)
    } else {
        p.pos = start;
        Ok(FetchItems::Items(vec![fetch_attribute(p)?]))
    }
}

fn partial(p: &mut Parser<'_>) -> PResult<Option<(u32, u32)>> {
    if !p.eat(b'<') {
        return Ok(None);
    }
    let offset = p.number()?;
    p.expect(b'.', "\".\"")?;
    let count = p.nz_number()?;
    p.expect(b'>', "\">\"")?;
    Ok(Some((offset, count)))
}

fn fetch_attribute(p: &mut Parser<'_>) -> PResult<FetchAttribute> {
    let start = p.pos;
    let w = p.word("fetch item")?;
    macro_rules! unit {
        ($($n:literal => $v:expr),*) => {
            $(if is(w, $n) && p.peek() != Some(b'[') { return Ok($v); })*
        };
    }
    unit!(
        "ENVELOPE" => FetchAttribute::Envelope,
        "FLAGS" => FetchAttribute::Flags,
        "INTERNALDATE" => FetchAttribute::InternalDate,
        "RFC822" => FetchAttribute::Rfc822,
        "RFC822.HEADER" => FetchAttribute::Rfc822Header,
        "RFC822.SIZE" => FetchAttribute::Rfc822Size,
        "RFC822.TEXT" => FetchAttribute::Rfc822Text,
        "BODY" => FetchAttribute::Body,
        "BODYSTRUCTURE" => FetchAttribute::BodyStructure,
        "UID" => FetchAttribute::Uid,
        "MODSEQ" => FetchAttribute::ModSeq,
        "SAVEDATE" => FetchAttribute::SaveDate
    );
    if is(w, "BODY") || is(w, "BODY.PEEK") {
        let section = section(p)?;
        let partial = partial(p)?;
        Ok(FetchAttribute::BodySection {
            peek: w.len() > 4,
            section,
            partial,
        })
    } else if is(w, "BINARY") || is(w, "BINARY.PEEK") {
        let part = section_binary(p)?;
        let partial = partial(p)?;
        Ok(FetchAttribute::Binary {
            peek: w.len() > 6,
            part,
            partial,
        })
    } else if is(w, "BINARY.SIZE") {
        Ok(FetchAttribute::BinarySize {
            part: section_binary(p)?,
        })
    } else {
        p.pos = start;
        p.fail("fetch item")
    }
}

/// `"[" [section-part ["." section-text] / section-msgtext] "]"`.
pub(crate) fn section(p: &mut Parser<'_>) -> PResult<Section> {
    p.expect(b'[', "\"[\"")?;
    let mut sec = Section::default();
    if p.eat(b']') {
        return Ok(sec);
    }
    if p.peek().is_some_and(|b| b.is_ascii_digit()) {
        sec.part.push(p.nz_number()?);
        while p.peek() == Some(b'.') && p.peek_at(1).is_some_and(|b| b.is_ascii_digit()) {
            p.pos += 1;
            sec.part.push(p.nz_number()?);
        }
        if p.eat(b']') {
            return Ok(sec);
        }
        p.expect(b'.', "\".\" or \"]\"")?;
    }
    let start = p.pos;
    let w = p.take_section_word();
    sec.text = Some(if is(w, "HEADER") {
        SectionText::Header
    } else if is(w, "TEXT") {
        SectionText::Text
    } else if is(w, "MIME") && !sec.part.is_empty() {
        SectionText::Mime
    } else if is(w, "HEADER.FIELDS") || is(w, "HEADER.FIELDS.NOT") {
        p.sp()?;
        p.open()?;
        let mut names = vec![p.astring()?];
        while p.eat(b' ') {
            names.push(p.astring()?);
        }
        p.close()?;
        if w.len() > 13 {
            SectionText::HeaderFieldsNot(names)
        } else {
            SectionText::HeaderFields(names)
        }
    } else {
        p.pos = start;
        return p.fail("HEADER, HEADER.FIELDS, HEADER.FIELDS.NOT, TEXT or MIME");
    });
    p.expect(b']', "\"]\"")?;
    Ok(sec)
}

/// `"[" [section-part] "]"` of BINARY.
fn section_binary(p: &mut Parser<'_>) -> PResult<Vec<u32>> {
    p.expect(b'[', "\"[\"")?;
    let mut part = Vec::new();
    if !p.eat(b']') {
        part.push(p.nz_number()?);
        while p.eat(b'.') {
            part.push(p.nz_number()?);
        }
        p.expect(b']', "\"]\"")?;
    }
    Ok(part)
}

/// `["<" number ">"]` after a section in a FETCH response.
fn origin(p: &mut Parser<'_>) -> PResult<Option<u32>> {
    if !p.eat(b'<') {
        return Ok(None);
    }
    let o = p.number()?;
    p.expect(b'>', "\">\"")?;
    Ok(Some(o))
}

/// `msg-att`: `"(" item *(SP item) ")"` of a FETCH response.
pub(crate) fn message_items(p: &mut Parser<'_>) -> PResult<Vec<MessageItem>> {
    p.open()?;
    let mut items = Vec::with_capacity(4);
    loop {
        items.push(message_item(p)?);
        if !p.eat(b' ') {
            break;
        }
    }
    p.close()?;
    Ok(items)
}

fn message_item(p: &mut Parser<'_>) -> PResult<MessageItem> {
    let start = p.pos;
    let w = p.word("message data item")?;
    if p.peek() == Some(b'[') {
        if is(w, "BODY") {
            let section = section(p)?;
            let origin = origin(p)?;
            p.sp()?;
            return Ok(MessageItem::BodySection {
                section,
                origin,
                data: p.nstring()?,
            });
        } else if is(w, "BINARY") {
            let part = section_binary(p)?;
            let origin = origin(p)?;
            p.sp()?;
            let data = p.nstring()?;
            return Ok(MessageItem::Binary { part, origin, data });
        } else if is(w, "BINARY.SIZE") {
            let part = section_binary(p)?;
            p.sp()?;
            return Ok(MessageItem::BinarySize {
                part,
                size: p.number()?,
            });
        }
        p.pos = start;
        return p.fail("message data item");
    }
    p.sp()?;
    if is(w, "FLAGS") {
        Ok(MessageItem::Flags(p.flag_list()?))
    } else if is(w, "ENVELOPE") {
        Ok(MessageItem::Envelope(Box::new(super::body::envelope(p)?)))
    } else if is(w, "INTERNALDATE") {
        Ok(MessageItem::InternalDate(p.date_time()?))
    } else if is(w, "RFC822") {
        Ok(MessageItem::Rfc822(p.nstring()?))
    } else if is(w, "RFC822.HEADER") {
        Ok(MessageItem::Rfc822Header(p.nstring()?))
    } else if is(w, "RFC822.TEXT") {
        Ok(MessageItem::Rfc822Text(p.nstring()?))
    } else if is(w, "RFC822.SIZE") {
        Ok(MessageItem::Rfc822Size(p.number()?))
    } else if is(w, "BODY") {
        Ok(MessageItem::Body(Box::new(super::body::body(p)?)))
    } else if is(w, "BODYSTRUCTURE") {
        Ok(MessageItem::BodyStructure(Box::new(super::body::body(p)?)))
    } else if is(w, "UID") {
        Ok(MessageItem::Uid(p.nz_number()?))
    } else if is(w, "MODSEQ") {
        p.open()?;
        let m = p.number64()?;
        p.close()?;
        Ok(MessageItem::ModSeq(m))
    } else if is(w, "SAVEDATE") {
        if p.peek() == Some(b'"') {
            Ok(MessageItem::SaveDate(Some(p.date_time()?)))
        } else {
            let at = p.pos;
            let nil = p.word("NIL or date-time")?;
            if !is(nil, "NIL") {
                p.pos = at;
                return p.fail("NIL or date-time");
            }
            Ok(MessageItem::SaveDate(None))
        }
    } else {
        p.pos = start;
        p.fail("message data item")
    }
}

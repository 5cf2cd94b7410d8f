//! ENVELOPE and BODYSTRUCTURE.

use bytes::Bytes;

use super::{PResult, Parser};
use crate::types::{
    Address, BodyExtension, BodyFields, BodyStructure, DispositionExtension, Envelope,
    LanguageExtension, LocationExtension, MultiPartExtension, SinglePartExtension, SpecificFields,
};

fn address_list(p: &mut Parser<'_>) -> PResult<Vec<Address>> {
    if p.eat_ci(b"NIL") {
        return Ok(Vec::new());
    }
    p.open()?;
    let mut list = Vec::new();
    while p.peek() == Some(b'(') {
        p.open()?;
        let name = p.nstring()?;
        p.sp()?;
        let adl = p.nstring()?;
        p.sp()?;
        let mailbox = p.nstring()?;
        p.sp()?;
        let host = p.nstring()?;
        p.close()?;
        list.push(Address {
            name,
            adl,
            mailbox,
            host,
        });
        // Some servers separate addresses with a space.
        if p.peek() == Some(b' ') && p.peek_at(1) == Some(b'(') {
            p.pos += 1;
        }
    }
    p.close()?;
    Ok(list)
}

/// `envelope`.
pub(crate) fn envelope(p: &mut Parser<'_>) -> PResult<Envelope> {
    p.open()?;
    let date = p.nstring()?;
    p.sp()?;
    let subject = p.nstring()?;
    p.sp()?;
    let from = address_list(p)?;
    p.sp()?;
    let sender = address_list(p)?;
    p.sp()?;
    let reply_to = address_list(p)?;
    p.sp()?;
    let to = address_list(p)?;
    p.sp()?;
    let cc = address_list(p)?;
    p.sp()?;
    let bcc = address_list(p)?;
    p.sp()?;
    let in_reply_to = p.nstring()?;
    p.sp()?;
    let message_id = p.nstring()?;
    p.close()?;
    Ok(Envelope {
        date,
        subject,
        from,
        sender,
        reply_to,
        to,
        cc,
        bcc,
        in_reply_to,
        message_id,
    })
}

/// `body-fld-param`: `("name" "value" ...)` or NIL.
fn params(p: &mut Parser<'_>) -> PResult<Vec<(Bytes, Bytes)>> {
    if p.eat_ci(b"NIL") {
        return Ok(Vec::new());
    }
    p.open()?;
    let mut list = Vec::new();
    loop {
        let k = p.string()?;
        p.sp()?;
        list.push((k, p.string()?));
        if !p.eat(b' ') {
            break;
        }
    }
    p.close()?;
    Ok(list)
}

/// `body`: `"(" (body-type-1part / body-type-mpart) ")"`.
pub(crate) fn body(p: &mut Parser<'_>) -> PResult<BodyStructure> {
    p.open()?;
    let b = if p.peek() == Some(b'(') {
        let mut parts = Vec::new();
        while p.peek() == Some(b'(') {
            parts.push(body(p)?);
            // Tolerate a space between parts.
            if p.peek() == Some(b' ') && p.peek_at(1) == Some(b'(') {
                p.pos += 1;
            }
        }
        p.sp()?;
        let subtype = p.string()?;
        let extension = if p.eat(b' ') {
            let params = params(p)?;
            Some(MultiPartExtension {
                params,
                tail: disposition_ext(p)?,
            })
        } else {
            None
        };
        BodyStructure::Multi {
            parts,
            subtype,
            extension,
        }
    } else {
        let media_type = p.string()?;
        p.sp()?;
        let subtype = p.string()?;
        p.sp()?;
        let params = params(p)?;
        p.sp()?;
        let id = p.nstring()?;
        p.sp()?;
        let description = p.nstring()?;
        p.sp()?;
        let encoding = p.string()?;
        p.sp()?;
        let octets = p.number()?;
        let fields = BodyFields {
            media_type,
            subtype,
            params,
            id,
            description,
            encoding,
            octets,
        };
        let specific = if fields.media_type.eq_ignore_ascii_case(b"MESSAGE")
            && (fields.subtype.eq_ignore_ascii_case(b"RFC822")
                || fields.subtype.eq_ignore_ascii_case(b"GLOBAL"))
            && p.peek() == Some(b' ')
            && p.peek_at(1) == Some(b'(')
        {
            p.sp()?;
            let envelope = Box::new(envelope(p)?);
            p.sp()?;
            let body = Box::new(body(p)?);
            p.sp()?;
            SpecificFields::Message {
                envelope,
                body,
                lines: p.number()?,
            }
        } else if fields.media_type.eq_ignore_ascii_case(b"TEXT") {
            p.sp()?;
            SpecificFields::Text { lines: p.number()? }
        } else {
            SpecificFields::Basic
        };
        let extension = if p.eat(b' ') {
            let md5 = p.nstring()?;
            Some(SinglePartExtension {
                md5,
                tail: disposition_ext(p)?,
            })
        } else {
            None
        };
        BodyStructure::Single {
            fields,
            specific,
            extension,
        }
    };
    p.close()?;
    Ok(b)
}

fn disposition_ext(p: &mut Parser<'_>) -> PResult<Option<DispositionExtension>> {
    if !p.eat(b' ') {
        return Ok(None);
    }
    let disposition = if p.eat_ci(b"NIL") {
        None
    } else {
        p.open()?;
        let kind = p.string()?;
        p.sp()?;
        let params = params(p)?;
        p.close()?;
        Some((kind, params))
    };
    let tail = if p.eat(b' ') {
        let languages = if p.peek() == Some(b'(') {
            p.open()?;
            let mut l = vec![p.string()?];
            while p.eat(b' ') {
                l.push(p.string()?);
            }
            p.close()?;
            l
        } else {
            p.nstring()?.into_iter().collect()
        };
        let tail = if p.eat(b' ') {
            let location = p.nstring()?;
            let mut extensions = Vec::new();
            while p.eat(b' ') {
                extensions.push(body_extension(p)?);
            }
            Some(LocationExtension {
                location,
                extensions,
            })
        } else {
            None
        };
        Some(LanguageExtension { languages, tail })
    } else {
        None
    };
    Ok(Some(DispositionExtension { disposition, tail }))
}

fn body_extension(p: &mut Parser<'_>) -> PResult<BodyExtension> {
    match p.peek() {
        Some(b'(') => {
            p.open()?;
            let mut l = vec![body_extension(p)?];
            while p.eat(b' ') {
                l.push(body_extension(p)?);
            }
            p.close()?;
            Ok(BodyExtension::List(l))
        }
        Some(b'0'..=b'9') => Ok(BodyExtension::Number(p.number64()?)),
        _ => Ok(BodyExtension::String(p.nstring()?)),
    }
}

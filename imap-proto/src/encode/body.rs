//! Encoding ENVELOPE and BODYSTRUCTURE.

use bytes::Bytes;

use super::Writer;
use crate::types::{
    Address, BodyExtension, BodyStructure, DispositionExtension, Envelope, SpecificFields,
};

fn address_list(w: &mut Writer<'_>, list: &[Address]) {
    if list.is_empty() {
        return w.raw(b"NIL");
    }
    w.byte(b'(');
    for a in list {
        w.byte(b'(');
        w.nstring(a.name.as_deref());
        w.sp();
        w.nstring(a.adl.as_deref());
        w.sp();
        w.nstring(a.mailbox.as_deref());
        w.sp();
        w.nstring(a.host.as_deref());
        w.byte(b')');
    }
    w.byte(b')');
}

pub(crate) fn envelope(w: &mut Writer<'_>, e: &Envelope) {
    w.byte(b'(');
    w.nstring(e.date.as_deref());
    w.sp();
    w.nstring(e.subject.as_deref());
    for list in [&e.from, &e.sender, &e.reply_to, &e.to, &e.cc, &e.bcc] {
        w.sp();
        address_list(w, list);
    }
    w.sp();
    w.nstring(e.in_reply_to.as_deref());
    w.sp();
    w.nstring(e.message_id.as_deref());
    w.byte(b')');
}

fn params(w: &mut Writer<'_>, params: &[(Bytes, Bytes)]) {
    if params.is_empty() {
        return w.raw(b"NIL");
    }
    w.list(params, |w, (k, v)| {
        w.string(k);
        w.sp();
        w.string(v);
    });
}

pub(crate) fn body(w: &mut Writer<'_>, b: &BodyStructure) {
    w.byte(b'(');
    match b {
        BodyStructure::Multi {
            parts,
            subtype,
            extension,
        } => {
            for p in parts {
                body(w, p);
            }
            w.sp();
            w.string(subtype);
            if let Some(ext) = extension {
                w.sp();
                params(w, &ext.params);
                disposition(w, ext.tail.as_ref());
            }
        }
        BodyStructure::Single {
            fields,
            specific,
            extension,
        } => {
            w.string(&fields.media_type);
            w.sp();
            w.string(&fields.subtype);
            w.sp();
            params(w, &fields.params);
            w.sp();
            w.nstring(fields.id.as_deref());
            w.sp();
            w.nstring(fields.description.as_deref());
            w.sp();
            w.string(&fields.encoding);
            w.sp();
            w.number(u64::from(fields.octets));
            match specific {
                SpecificFields::Basic => {}
                SpecificFields::Text { lines } => {
                    w.sp();
                    w.number(u64::from(*lines));
                }
                SpecificFields::Message {
                    envelope: e,
                    body: b,
                    lines,
                } => {
                    w.sp();
                    envelope(w, e);
                    w.sp();
                    body(w, b);
                    w.sp();
                    w.number(u64::from(*lines));
                }
            }
            if let Some(ext) = extension {
                w.sp();
                w.nstring(ext.md5.as_deref());
                disposition(w, ext.tail.as_ref());
            }
        }
    }
    w.byte(b')');
}

fn disposition(w: &mut Writer<'_>, d: Option<&DispositionExtension>) {
    let Some(d) = d else { return };
    w.sp();
    match &d.disposition {
        None => w.raw(b"NIL"),
        Some((kind, p)) => {
            w.byte(b'(');
            w.string(kind);
            w.sp();
            params(w, p);
            w.byte(b')');
        }
    }
    let Some(lang) = &d.tail else { return };
    w.sp();
    match lang.languages.as_slice() {
        [] => w.raw(b"NIL"),
        [one] => w.string(one),
        many => w.list(many, |w, l| w.string(l)),
    }
    let Some(loc) = &lang.tail else { return };
    w.sp();
    w.nstring(loc.location.as_deref());
    for e in &loc.extensions {
        w.sp();
        extension(w, e);
    }
}

fn extension(w: &mut Writer<'_>, e: &BodyExtension) {
    match e {
        BodyExtension::String(s) => w.nstring(s.as_deref()),
        BodyExtension::Number(n) => w.number(*n),
        BodyExtension::List(l) => w.list(l, extension),
    }
}

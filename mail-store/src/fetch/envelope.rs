//! ENVELOPE as Dovecot 2.3 writes it (`imap-envelope.c` over the header
//! fields collected as `message-part-data.c` collects them: the last Date,
//! Subject, Message-ID and In-Reply-To win; address headers that repeat are
//! joined into one list).

use super::quote::{append_nstring, append_nstring_nolf, append_string_for_humans};
use crate::message::address::{parse_address_list, Address};
use crate::message::header::{strdup_value, HeaderField};

/// The envelope fields of one message header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    /// Date, raw.
    pub date: Option<Vec<u8>>,
    /// Subject, raw (encoded words kept).
    pub subject: Option<Vec<u8>>,
    /// From.
    pub from: Option<Vec<Address>>,
    /// Sender.
    pub sender: Option<Vec<Address>>,
    /// Reply-To.
    pub reply_to: Option<Vec<Address>>,
    /// To.
    pub to: Option<Vec<Address>>,
    /// Cc.
    pub cc: Option<Vec<Address>>,
    /// Bcc.
    pub bcc: Option<Vec<Address>>,
    /// In-Reply-To, raw.
    pub in_reply_to: Option<Vec<u8>>,
    /// Message-ID, raw.
    pub message_id: Option<Vec<u8>>,
}

impl Envelope {
    /// Collects the envelope from a part's header fields.
    pub fn from_fields(data: &[u8], fields: &[HeaderField]) -> Envelope {
        let mut e = Envelope::default();
        for f in fields {
            let name = f.name(data);
            let is = |s: &str| name.eq_ignore_ascii_case(s.as_bytes());
            let addrs = if is("From") {
                Some(&mut e.from)
            } else if is("Sender") {
                Some(&mut e.sender)
            } else if is("Reply-To") {
                Some(&mut e.reply_to)
            } else if is("To") {
                Some(&mut e.to)
            } else if is("Cc") {
                Some(&mut e.cc)
            } else if is("Bcc") {
                Some(&mut e.bcc)
            } else {
                None
            };
            if let Some(slot) = addrs {
                let parsed = parse_address_list(&f.full_value(data));
                match slot {
                    Some(list) => list.extend(parsed),
                    None => {
                        if !parsed.is_empty() {
                            *slot = Some(parsed)
                        }
                    }
                }
                continue;
            }
            let text = if is("Date") {
                &mut e.date
            } else if is("Subject") {
                &mut e.subject
            } else if is("Message-ID") {
                &mut e.message_id
            } else if is("In-Reply-To") {
                &mut e.in_reply_to
            } else {
                continue;
            };
            *text = Some(strdup_value(&f.full_value(data)));
        }
        e
    }

    /// The IMAP ENVELOPE contents (without the surrounding parentheses).
    pub fn write_imap(&self, out: &mut Vec<u8>) {
        append_nstring_nolf(out, self.date.as_deref());
        out.push(b' ');
        match &self.subject {
            None => out.extend_from_slice(b"NIL"),
            Some(s) => append_string_for_humans(out, s),
        }
        out.push(b' ');
        write_addresses(out, self.from.as_deref());
        out.push(b' ');
        write_addresses(out, self.sender.as_deref().or(self.from.as_deref()));
        out.push(b' ');
        write_addresses(out, self.reply_to.as_deref().or(self.from.as_deref()));
        out.push(b' ');
        write_addresses(out, self.to.as_deref());
        out.push(b' ');
        write_addresses(out, self.cc.as_deref());
        out.push(b' ');
        write_addresses(out, self.bcc.as_deref());
        out.push(b' ');
        append_nstring_nolf(out, self.in_reply_to.as_deref());
        out.push(b' ');
        append_nstring_nolf(out, self.message_id.as_deref());
    }
}

fn write_addresses(out: &mut Vec<u8>, list: Option<&[Address]>) {
    let Some(list) = list else {
        out.extend_from_slice(b"NIL");
        return;
    };
    out.push(b'(');
    for a in list {
        out.push(b'(');
        match &a.name {
            None => out.extend_from_slice(b"NIL"),
            Some(n) => append_string_for_humans(out, n),
        }
        out.push(b' ');
        append_nstring(out, a.route.as_deref());
        out.push(b' ');
        append_nstring(out, a.mailbox.as_deref());
        out.push(b' ');
        append_nstring(out, a.domain.as_deref());
        out.push(b')');
    }
    out.push(b')');
}

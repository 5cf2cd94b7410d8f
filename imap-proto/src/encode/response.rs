//! Encoding responses (server side).

use super::command::{id_params, part, section, status_item_name};
use super::Writer;
use crate::types::{
    Continuation, Data, ESearchData, ExtensionValue, ListExtendedItem, MailboxAttribute,
    MailboxListing, MessageItem, NamespaceDescription, Response, ResponseCode, StatusKind,
    StatusResponse, StatusValue,
};

impl Response {
    /// Encodes the response, CRLF included.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        self.encode_to(&mut out);
        out
    }

    /// Appends the encoded response to `out`.
    pub fn encode_to(&self, out: &mut Vec<u8>) {
        let mut w = Writer {
            out,
            mode: None,
            waits: Vec::new(),
        };
        match self {
            Response::Status(s) => status(&mut w, s),
            Response::Data(d) => {
                w.raw(b"* ");
                data(&mut w, d);
            }
            Response::Continuation(Continuation::Base64(b)) => {
                w.raw(b"+ ");
                w.raw(b);
            }
            Response::Continuation(Continuation::Text { code, text }) => {
                w.raw(b"+ ");
                resp_text(&mut w, code.as_ref(), text);
            }
        }
        w.crlf();
    }
}

impl Response {
    /// The same response in a buffer of its own (see [`Command::into_owned`](crate::Command::into_owned)).
    pub fn into_owned(self) -> Response {
        let auth = matches!(self, Response::Continuation(Continuation::Base64(_)));
        let wire = bytes::Bytes::from(self.encode());
        crate::parse::response::response(&wire, usize::MAX, auth).unwrap_or(self)
    }
}

impl StatusResponse {
    /// Encodes the status response, CRLF included.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        let mut w = Writer {
            out: &mut out,
            mode: None,
            waits: Vec::new(),
        };
        status(&mut w, self);
        w.crlf();
        out
    }
}

fn status(w: &mut Writer<'_>, s: &StatusResponse) {
    match &s.tag {
        Some(t) => w.raw(t.as_bytes()),
        None => w.byte(b'*'),
    }
    w.raw(match s.kind {
        StatusKind::Ok => b" OK",
        StatusKind::No => b" NO",
        StatusKind::Bad => b" BAD",
        StatusKind::PreAuth => b" PREAUTH",
        StatusKind::Bye => b" BYE",
    });
    if s.code.is_some() || !s.text.is_empty() {
        w.sp();
        resp_text(w, s.code.as_ref(), &s.text);
    }
}

fn resp_text(w: &mut Writer<'_>, code: Option<&ResponseCode>, text: &[u8]) {
    if let Some(c) = code {
        w.byte(b'[');
        response_code(w, c);
        w.byte(b']');
        if !text.is_empty() {
            w.sp();
        }
    }
    w.text(text);
}

fn atoms(w: &mut Writer<'_>, atoms: &[crate::types::Atom]) {
    for a in atoms {
        w.sp();
        w.atom(a.as_bytes());
    }
}

fn response_code(w: &mut Writer<'_>, c: &ResponseCode) {
    match c {
        ResponseCode::Alert => w.raw(b"ALERT"),
        ResponseCode::BadCharset(list) => {
            w.raw(b"BADCHARSET");
            if !list.is_empty() {
                w.sp();
                w.list(list, |w, c| w.astring_in_text(c));
            }
        }
        ResponseCode::Capability(caps) => {
            w.raw(b"CAPABILITY");
            atoms(w, caps);
        }
        ResponseCode::Parse => w.raw(b"PARSE"),
        ResponseCode::PermanentFlags(flags) => {
            w.raw(b"PERMANENTFLAGS ");
            w.flag_list(flags);
        }
        ResponseCode::ReadOnly => w.raw(b"READ-ONLY"),
        ResponseCode::ReadWrite => w.raw(b"READ-WRITE"),
        ResponseCode::TryCreate => w.raw(b"TRYCREATE"),
        ResponseCode::UidNext(n) => {
            w.raw(b"UIDNEXT ");
            w.nz(u64::from(*n));
        }
        ResponseCode::UidValidity(n) => {
            w.raw(b"UIDVALIDITY ");
            w.nz(u64::from(*n));
        }
        ResponseCode::Unseen(n) => {
            w.raw(b"UNSEEN ");
            w.nz(u64::from(*n));
        }
        ResponseCode::AppendUid { uid_validity, uids } => {
            w.raw(b"APPENDUID ");
            w.nz(u64::from(*uid_validity));
            w.sp();
            w.sequence_set(uids);
        }
        ResponseCode::CopyUid {
            uid_validity,
            source,
            destination,
        } => {
            w.raw(b"COPYUID ");
            w.nz(u64::from(*uid_validity));
            w.sp();
            w.sequence_set(source);
            w.sp();
            w.sequence_set(destination);
        }
        ResponseCode::UidNotSticky => w.raw(b"UIDNOTSTICKY"),
        ResponseCode::HighestModSeq(n) => {
            w.raw(b"HIGHESTMODSEQ ");
            w.number(*n);
        }
        ResponseCode::NoModSeq => w.raw(b"NOMODSEQ"),
        ResponseCode::Modified(set) => {
            w.raw(b"MODIFIED ");
            w.sequence_set(set);
        }
        ResponseCode::Closed => w.raw(b"CLOSED"),
        ResponseCode::CompressionActive => w.raw(b"COMPRESSIONACTIVE"),
        ResponseCode::OverQuota => w.raw(b"OVERQUOTA"),
        ResponseCode::TooBig => w.raw(b"TOOBIG"),
        ResponseCode::UnknownCte => w.raw(b"UNKNOWN-CTE"),
        ResponseCode::NotSaved => w.raw(b"NOTSAVED"),
        ResponseCode::UseAttr => w.raw(b"USEATTR"),
        ResponseCode::Simple(s) => w.raw(s.name().as_bytes()),
        ResponseCode::Other { name, data } => {
            w.atom(name.as_bytes());
            if let Some(d) = data {
                w.sp();
                for &b in d.iter() {
                    w.byte(if matches!(b, b']' | b'\r' | b'\n') {
                        b' '
                    } else {
                        b
                    });
                }
            }
        }
    }
}

fn quoted_char(w: &mut Writer<'_>, c: Option<u8>) {
    match c {
        None => w.raw(b"NIL"),
        Some(c) => w.quoted(&[c]),
    }
}

fn listing(w: &mut Writer<'_>, l: &MailboxListing) {
    w.list(&l.attributes, |w, a| {
        w.byte(b'\\');
        w.raw(match a {
            MailboxAttribute::NoInferiors => b"Noinferiors",
            MailboxAttribute::NoSelect => b"Noselect",
            MailboxAttribute::Marked => b"Marked",
            MailboxAttribute::Unmarked => b"Unmarked",
            MailboxAttribute::NonExistent => b"NonExistent",
            MailboxAttribute::Subscribed => b"Subscribed",
            MailboxAttribute::Remote => b"Remote",
            MailboxAttribute::HasChildren => b"HasChildren",
            MailboxAttribute::HasNoChildren => b"HasNoChildren",
            MailboxAttribute::All => b"All",
            MailboxAttribute::Archive => b"Archive",
            MailboxAttribute::Drafts => b"Drafts",
            MailboxAttribute::Flagged => b"Flagged",
            MailboxAttribute::Junk => b"Junk",
            MailboxAttribute::Sent => b"Sent",
            MailboxAttribute::Trash => b"Trash",
            MailboxAttribute::Extension(a) => a.as_bytes(),
        })
    });
    w.sp();
    quoted_char(w, l.delimiter);
    w.sp();
    w.mailbox(&l.mailbox);
    if !l.extended.is_empty() {
        w.sp();
        w.list(&l.extended, |w, e| match e {
            ListExtendedItem::ChildInfo(v) => {
                w.raw(b"\"CHILDINFO\" ");
                w.list(v, |w, s| w.string(s));
            }
            ListExtendedItem::OldName(m) => {
                w.raw(b"\"OLDNAME\" (");
                w.mailbox(m);
                w.byte(b')');
            }
            ListExtendedItem::Other { tag, value } => {
                w.astring(tag);
                w.sp();
                extension_value(w, value);
            }
        });
    }
}

fn extension_value(w: &mut Writer<'_>, v: &ExtensionValue) {
    match v {
        ExtensionValue::Simple(s) => {
            let token = !s.is_empty()
                && s.len() <= 1024
                && s.iter()
                    .all(|&b| crate::types::is_astring_char(b) || b == b'*');
            if token {
                w.raw(s)
            } else {
                w.string(s)
            }
        }
        ExtensionValue::List(l) => w.list(l, extension_value),
    }
}

fn namespaces(w: &mut Writer<'_>, list: &[NamespaceDescription]) {
    if list.is_empty() {
        return w.raw(b"NIL");
    }
    w.byte(b'(');
    for n in list {
        w.byte(b'(');
        w.string(&n.prefix);
        w.sp();
        quoted_char(w, n.delimiter);
        for (name, values) in &n.extensions {
            w.sp();
            w.string(name);
            w.sp();
            w.list(values, |w, v| w.string(v));
        }
        w.byte(b')');
    }
    w.byte(b')');
}

fn data(w: &mut Writer<'_>, d: &Data) {
    match d {
        Data::Capability(caps) => {
            w.raw(b"CAPABILITY");
            atoms(w, caps);
        }
        Data::Enabled(caps) => {
            w.raw(b"ENABLED");
            atoms(w, caps);
        }
        Data::List(l) => {
            w.raw(b"LIST ");
            listing(w, l);
        }
        Data::Lsub(l) => {
            w.raw(b"LSUB ");
            listing(w, l);
        }
        Data::Status { mailbox, items } => {
            w.raw(b"STATUS ");
            w.mailbox(mailbox);
            w.sp();
            w.list(items, |w, v| {
                w.raw(status_item_name(v.item()));
                w.sp();
                match *v {
                    StatusValue::Messages(n)
                    | StatusValue::Recent(n)
                    | StatusValue::UidNext(n)
                    | StatusValue::UidValidity(n)
                    | StatusValue::Unseen(n)
                    | StatusValue::Deleted(n) => w.number(u64::from(n)),
                    StatusValue::Size(n)
                    | StatusValue::HighestModSeq(n)
                    | StatusValue::DeletedStorage(n) => w.number(n),
                    StatusValue::AppendLimit(Some(n)) => w.number(n),
                    StatusValue::AppendLimit(None) => w.raw(b"NIL"),
                }
            });
        }
        Data::Search { numbers, modseq } => {
            w.raw(b"SEARCH");
            for n in numbers {
                w.sp();
                w.nz(u64::from(*n));
            }
            if let Some(m) = modseq {
                w.raw(b" (MODSEQ ");
                w.number(*m);
                w.byte(b')');
            }
        }
        Data::ESearch(e) => {
            w.raw(b"ESEARCH");
            if let Some(t) = &e.tag {
                w.raw(b" (TAG ");
                w.quoted(t.as_bytes());
                w.byte(b')');
            }
            if e.uid {
                w.raw(b" UID");
            }
            for d in &e.data {
                w.sp();
                match d {
                    ESearchData::Min(n) => {
                        w.raw(b"MIN ");
                        w.nz(u64::from(*n));
                    }
                    ESearchData::Max(n) => {
                        w.raw(b"MAX ");
                        w.nz(u64::from(*n));
                    }
                    ESearchData::All(set) => {
                        w.raw(b"ALL ");
                        w.sequence_set(set);
                    }
                    ESearchData::Count(n) => {
                        w.raw(b"COUNT ");
                        w.number(u64::from(*n));
                    }
                    ESearchData::ModSeq(n) => {
                        w.raw(b"MODSEQ ");
                        w.number(*n);
                    }
                }
            }
        }
        Data::Flags(flags) => {
            w.raw(b"FLAGS ");
            w.flag_list(flags);
        }
        Data::Exists(n) => {
            w.number(u64::from(*n));
            w.raw(b" EXISTS");
        }
        Data::Recent(n) => {
            w.number(u64::from(*n));
            w.raw(b" RECENT");
        }
        Data::Expunge(n) => {
            w.number(u64::from(*n));
            w.raw(b" EXPUNGE");
        }
        Data::Fetch { seq, items } => {
            w.number(u64::from(*seq));
            w.raw(b" FETCH ");
            w.list(items, message_item);
        }
        Data::Id(params) => {
            w.raw(b"ID ");
            id_params(w, params.as_deref());
        }
        Data::Namespace {
            personal,
            other,
            shared,
        } => {
            w.raw(b"NAMESPACE ");
            namespaces(w, personal);
            w.sp();
            namespaces(w, other);
            w.sp();
            namespaces(w, shared);
        }
        Data::Quota { root, resources } => {
            w.raw(b"QUOTA ");
            w.astring(root);
            w.sp();
            w.list(resources, |w, r| {
                w.atom(r.name.as_bytes());
                w.sp();
                w.number(r.usage);
                w.sp();
                w.number(r.limit);
            });
        }
        Data::QuotaRoot { mailbox, roots } => {
            w.raw(b"QUOTAROOT ");
            w.mailbox(mailbox);
            for r in roots {
                w.sp();
                w.astring(r);
            }
        }
        Data::Vanished { earlier, uids } => {
            w.raw(b"VANISHED ");
            if *earlier {
                w.raw(b"(EARLIER) ");
            }
            w.sequence_set(uids);
        }
    }
}

fn message_item(w: &mut Writer<'_>, i: &MessageItem) {
    match i {
        MessageItem::Flags(f) => {
            w.raw(b"FLAGS ");
            w.flag_list(f);
        }
        MessageItem::Envelope(e) => {
            w.raw(b"ENVELOPE ");
            super::body::envelope(w, e);
        }
        MessageItem::InternalDate(d) => {
            w.raw(b"INTERNALDATE ");
            w.date_time(d);
        }
        MessageItem::Rfc822(s) => {
            w.raw(b"RFC822 ");
            w.nstring(s.as_deref());
        }
        MessageItem::Rfc822Header(s) => {
            w.raw(b"RFC822.HEADER ");
            w.nstring(s.as_deref());
        }
        MessageItem::Rfc822Text(s) => {
            w.raw(b"RFC822.TEXT ");
            w.nstring(s.as_deref());
        }
        MessageItem::Rfc822Size(n) => {
            w.raw(b"RFC822.SIZE ");
            w.number(u64::from(*n));
        }
        MessageItem::Body(b) => {
            w.raw(b"BODY ");
            super::body::body(w, b);
        }
        MessageItem::BodyStructure(b) => {
            w.raw(b"BODYSTRUCTURE ");
            super::body::body(w, b);
        }
        MessageItem::BodySection {
            section: s,
            origin,
            data,
        } => {
            w.raw(b"BODY");
            section(w, s);
            if let Some(o) = origin {
                w.byte(b'<');
                w.number(u64::from(*o));
                w.byte(b'>');
            }
            w.sp();
            w.nstring(data.as_deref());
        }
        MessageItem::Binary {
            part: p,
            origin,
            data,
        } => {
            w.raw(b"BINARY");
            part(w, p);
            if let Some(o) = origin {
                w.byte(b'<');
                w.number(u64::from(*o));
                w.byte(b'>');
            }
            w.sp();
            match data {
                Some(d) if d.contains(&0) => w.literal(d, true),
                other => w.nstring(other.as_deref()),
            }
        }
        MessageItem::BinarySize { part: p, size } => {
            w.raw(b"BINARY.SIZE");
            part(w, p);
            w.sp();
            w.number(u64::from(*size));
        }
        MessageItem::Uid(n) => {
            w.raw(b"UID ");
            w.nz(u64::from(*n));
        }
        MessageItem::ModSeq(n) => {
            w.raw(b"MODSEQ (");
            w.number(*n);
            w.byte(b')');
        }
        MessageItem::SaveDate(d) => {
            w.raw(b"SAVEDATE ");
            match d {
                Some(d) => w.date_time(d),
                None => w.raw(b"NIL"),
            }
        }
    }
}

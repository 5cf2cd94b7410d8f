//! Encoding commands (client side).

use super::{LiteralMode, Writer};
use crate::types::{
    AuthenticateData, Command, CommandBody, FetchAttribute, FetchItems, FetchModifier,
    ListReturnOption, ListSelectOption, SearchKey, SearchReturnOption, Section, SectionText,
    SelectParam, StatusItem, StoreKind,
};

impl Command {
    /// Encodes the command with synchronizing literals (`{n}`).
    ///
    /// A client must wait for the server's `+` after each `{n}\r\n` before
    /// sending the literal's bytes; [`Command::encode_to`] with
    /// [`LiteralMode::NonSync`] writes `{n+}` instead (LITERAL+).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        self.encode_to(&mut out, LiteralMode::Sync);
        out
    }

    /// Appends the encoded command to `out`.
    pub fn encode_to(&self, out: &mut Vec<u8>, mode: LiteralMode) {
        self.write(out, mode);
    }

    /// Encodes the command with synchronizing literals, cut where the
    /// client must wait for the server's continuation request: send the
    /// first part, and each further part after a `+` (a tagged `NO`/`BAD`
    /// instead ends the command).
    ///
    /// ```
    /// use columba_imap_proto::parse_command;
    /// let c = parse_command(b"a LOGIN {3}\r\nbob {7}\r\nsec\r\nrt\r\n").unwrap();
    /// let parts = c.encode_parts();
    /// assert_eq!(parts, [&b"a LOGIN bob {7}\r\n"[..], b"sec\r\nrt\r\n"]);
    /// ```
    pub fn encode_parts(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::with_capacity(64);
        let waits = self.write(&mut out, LiteralMode::Sync);
        let mut parts = Vec::with_capacity(waits.len() + 1);
        let mut start = 0;
        for end in waits {
            parts.push(out[start..end].to_vec());
            start = end;
        }
        parts.push(out[start..].to_vec());
        parts
    }

    fn write(&self, out: &mut Vec<u8>, mode: LiteralMode) -> Vec<usize> {
        let mut w = Writer {
            out,
            mode: Some(mode),
            waits: Vec::new(),
        };
        w.raw(self.tag.as_bytes());
        w.sp();
        body(&mut w, &self.body);
        w.crlf();
        w.waits
    }
}

impl Command {
    /// The same command in a buffer of its own.
    ///
    /// Decoded values are slices of the receive buffer they came from, and
    /// keep all of it alive; this copies the command into one allocation of
    /// its own size (by encoding and decoding it again).
    pub fn into_owned(self) -> Command {
        let mut wire = Vec::new();
        self.encode_to(&mut wire, LiteralMode::NonSync);
        crate::parse_command_bytes(bytes::Bytes::from(wire)).unwrap_or(self)
    }
}

impl AuthenticateData {
    /// Encodes the line (`base64 CRLF` or `* CRLF`).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            AuthenticateData::Data(d) => out.extend_from_slice(d.expose()),
            AuthenticateData::Cancel => out.push(b'*'),
        }
        out.extend_from_slice(b"\r\n");
        out
    }
}

/// The bytes that end IDLE.
pub const IDLE_DONE: &[u8] = b"DONE\r\n";

fn status_items(w: &mut Writer<'_>, items: &[StatusItem]) {
    w.list(items, |w, i| w.raw(status_item_name(*i)));
}

pub(crate) fn status_item_name(i: StatusItem) -> &'static [u8] {
    match i {
        StatusItem::Messages => b"MESSAGES",
        StatusItem::Recent => b"RECENT",
        StatusItem::UidNext => b"UIDNEXT",
        StatusItem::UidValidity => b"UIDVALIDITY",
        StatusItem::Unseen => b"UNSEEN",
        StatusItem::Deleted => b"DELETED",
        StatusItem::Size => b"SIZE",
        StatusItem::HighestModSeq => b"HIGHESTMODSEQ",
        StatusItem::AppendLimit => b"APPENDLIMIT",
        StatusItem::DeletedStorage => b"DELETED-STORAGE",
    }
}

fn body(w: &mut Writer<'_>, b: &CommandBody) {
    w.raw(b.name().as_bytes());
    match b {
        CommandBody::Capability
        | CommandBody::Noop
        | CommandBody::Logout
        | CommandBody::StartTls
        | CommandBody::Namespace
        | CommandBody::Idle
        | CommandBody::Check
        | CommandBody::Close
        | CommandBody::Unselect
        | CommandBody::Expunge => {}
        CommandBody::Authenticate {
            mechanism,
            initial_response,
        } => {
            w.sp();
            w.atom(mechanism.as_bytes());
            if let Some(ir) = initial_response {
                w.sp();
                if ir.expose().is_empty() {
                    w.byte(b'=');
                } else {
                    w.raw(ir.expose());
                }
            }
        }
        CommandBody::Login { username, password } => {
            w.sp();
            w.astring(username);
            w.sp();
            w.astring(password.expose());
        }
        CommandBody::Enable { capabilities } => {
            for c in capabilities {
                w.sp();
                w.atom(c.as_bytes());
            }
        }
        CommandBody::Select { mailbox, params } | CommandBody::Examine { mailbox, params } => {
            w.sp();
            w.mailbox(mailbox);
            if !params.is_empty() {
                w.sp();
                w.list(params, |w, p| match p {
                    SelectParam::CondStore => w.raw(b"CONDSTORE"),
                    SelectParam::QResync {
                        uid_validity,
                        modseq,
                        known_uids,
                        seq_match,
                    } => {
                        w.raw(b"QRESYNC (");
                        w.nz(u64::from(*uid_validity));
                        w.sp();
                        w.number(*modseq);
                        if let Some(k) = known_uids {
                            w.sp();
                            w.sequence_set(k);
                        }
                        if let Some((a, b)) = seq_match {
                            w.raw(b" (");
                            w.sequence_set(a);
                            w.sp();
                            w.sequence_set(b);
                            w.byte(b')');
                        }
                        w.byte(b')');
                    }
                });
            }
        }
        CommandBody::Create {
            mailbox,
            special_use,
        } => {
            w.sp();
            w.mailbox(mailbox);
            if !special_use.is_empty() {
                w.raw(b" (USE ");
                w.list(special_use, |w, a| {
                    w.byte(b'\\');
                    w.atom(a.as_bytes());
                });
                w.byte(b')');
            }
        }
        CommandBody::Delete { mailbox }
        | CommandBody::Subscribe { mailbox }
        | CommandBody::Unsubscribe { mailbox }
        | CommandBody::GetQuotaRoot { mailbox } => {
            w.sp();
            w.mailbox(mailbox);
        }
        CommandBody::Rename { from, to } => {
            w.sp();
            w.mailbox(from);
            w.sp();
            w.mailbox(to);
        }
        CommandBody::List {
            selection,
            reference,
            patterns,
            return_options,
        } => {
            w.sp();
            if !selection.is_empty() {
                w.list(selection, |w, s| {
                    w.raw(match s {
                        ListSelectOption::Subscribed => b"SUBSCRIBED",
                        ListSelectOption::Remote => b"REMOTE",
                        ListSelectOption::RecursiveMatch => b"RECURSIVEMATCH",
                        ListSelectOption::SpecialUse => b"SPECIAL-USE",
                    })
                });
                w.sp();
            }
            w.mailbox(reference);
            w.sp();
            if patterns.len() == 1 {
                w.list_mailbox(&patterns[0]);
            } else {
                w.list(patterns, |w, p| w.list_mailbox(p));
            }
            if !return_options.is_empty() {
                w.raw(b" RETURN ");
                w.list(return_options, |w, r| match r {
                    ListReturnOption::Subscribed => w.raw(b"SUBSCRIBED"),
                    ListReturnOption::Children => w.raw(b"CHILDREN"),
                    ListReturnOption::SpecialUse => w.raw(b"SPECIAL-USE"),
                    ListReturnOption::Status(items) => {
                        w.raw(b"STATUS ");
                        status_items(w, items);
                    }
                });
            }
        }
        CommandBody::Lsub { reference, pattern } => {
            w.sp();
            w.mailbox(reference);
            w.sp();
            w.list_mailbox(pattern);
        }
        CommandBody::Status { mailbox, items } => {
            w.sp();
            w.mailbox(mailbox);
            w.sp();
            status_items(w, items);
        }
        CommandBody::Append { mailbox, messages } => {
            w.sp();
            w.mailbox(mailbox);
            for m in messages {
                w.sp();
                if !m.flags.is_empty() {
                    w.flag_list(&m.flags);
                    w.sp();
                }
                if let Some(d) = &m.date {
                    w.date_time(d);
                    w.sp();
                }
                if m.utf8 {
                    w.raw(b"UTF8 (");
                    w.literal(&m.data, true);
                    w.byte(b')');
                } else {
                    w.literal(&m.data, m.binary || m.data.contains(&0));
                }
            }
        }
        CommandBody::UidExpunge(set) => {
            w.sp();
            w.sequence_set(set);
        }
        CommandBody::Search {
            return_options,
            charset,
            criteria,
            ..
        } => {
            if let Some(opts) = return_options {
                w.raw(b" RETURN ");
                w.list(opts, |w, o| {
                    w.raw(match o {
                        SearchReturnOption::Min => b"MIN",
                        SearchReturnOption::Max => b"MAX",
                        SearchReturnOption::All => b"ALL",
                        SearchReturnOption::Count => b"COUNT",
                        SearchReturnOption::Save => b"SAVE",
                    })
                });
            }
            if let Some(c) = charset {
                w.raw(b" CHARSET ");
                w.astring(c);
            }
            for k in criteria {
                w.sp();
                search_key(w, k);
            }
        }
        CommandBody::Fetch {
            set,
            items,
            modifiers,
            ..
        } => {
            w.sp();
            w.sequence_set(set);
            w.sp();
            match items {
                FetchItems::All => w.raw(b"ALL"),
                FetchItems::Fast => w.raw(b"FAST"),
                FetchItems::Full => w.raw(b"FULL"),
                FetchItems::Items(items) if items.len() == 1 => fetch_attribute(w, &items[0]),
                FetchItems::Items(items) => w.list(items, fetch_attribute),
            }
            if !modifiers.is_empty() {
                w.sp();
                w.list(modifiers, |w, m| match m {
                    FetchModifier::ChangedSince(n) => {
                        w.raw(b"CHANGEDSINCE ");
                        w.number(*n);
                    }
                    FetchModifier::Vanished => w.raw(b"VANISHED"),
                });
            }
        }
        CommandBody::Store {
            set,
            unchanged_since,
            kind,
            silent,
            flags,
            ..
        } => {
            w.sp();
            w.sequence_set(set);
            w.sp();
            if let Some(n) = unchanged_since {
                w.raw(b"(UNCHANGEDSINCE ");
                w.number(*n);
                w.raw(b") ");
            }
            w.raw(match kind {
                StoreKind::Replace => b"FLAGS",
                StoreKind::Add => b"+FLAGS",
                StoreKind::Remove => b"-FLAGS",
            });
            if *silent {
                w.raw(b".SILENT");
            }
            w.sp();
            w.flag_list(flags);
        }
        CommandBody::Copy { set, mailbox, .. } | CommandBody::Move { set, mailbox, .. } => {
            w.sp();
            w.sequence_set(set);
            w.sp();
            w.mailbox(mailbox);
        }
        CommandBody::Id(params) => {
            w.sp();
            id_params(w, params.as_deref());
        }
        CommandBody::GetQuota { root } => {
            w.sp();
            w.astring(root);
        }
        CommandBody::SetQuota { root, limits } => {
            w.sp();
            w.astring(root);
            w.sp();
            w.list(limits, |w, (name, n)| {
                w.atom(name.as_bytes());
                w.sp();
                w.number(*n);
            });
        }
        CommandBody::Compress { mechanism } => {
            w.sp();
            w.atom(mechanism.as_bytes());
        }
    }
}

pub(crate) fn id_params(
    w: &mut Writer<'_>,
    params: Option<&[(bytes::Bytes, Option<bytes::Bytes>)]>,
) {
    match params {
        None => w.raw(b"NIL"),
        Some(fields) => w.list(fields, |w, (k, v)| {
            w.string(k);
            w.sp();
            w.nstring(v.as_deref());
        }),
    }
}

pub(crate) fn section(w: &mut Writer<'_>, s: &Section) {
    w.byte(b'[');
    for (i, p) in s.part.iter().enumerate() {
        if i > 0 {
            w.byte(b'.');
        }
        w.nz(u64::from(*p));
    }
    if let Some(t) = &s.text {
        if !s.part.is_empty() {
            w.byte(b'.');
        }
        match t {
            SectionText::Header => w.raw(b"HEADER"),
            SectionText::Text => w.raw(b"TEXT"),
            SectionText::Mime => w.raw(b"MIME"),
            SectionText::HeaderFields(names) | SectionText::HeaderFieldsNot(names) => {
                w.raw(if matches!(t, SectionText::HeaderFields(_)) {
                    b"HEADER.FIELDS "
                } else {
                    b"HEADER.FIELDS.NOT "
                });
                w.list(names, |w, n| w.astring(n));
            }
        }
    }
    w.byte(b']');
}

pub(crate) fn part(w: &mut Writer<'_>, part: &[u32]) {
    w.byte(b'[');
    for (i, p) in part.iter().enumerate() {
        if i > 0 {
            w.byte(b'.');
        }
        w.nz(u64::from(*p));
    }
    w.byte(b']');
}

fn fetch_attribute(w: &mut Writer<'_>, a: &FetchAttribute) {
    let partial = |w: &mut Writer<'_>, p: &Option<(u32, u32)>| {
        if let Some((o, c)) = p {
            w.byte(b'<');
            w.number(u64::from(*o));
            w.byte(b'.');
            w.nz(u64::from(*c));
            w.byte(b'>');
        }
    };
    match a {
        FetchAttribute::Envelope => w.raw(b"ENVELOPE"),
        FetchAttribute::Flags => w.raw(b"FLAGS"),
        FetchAttribute::InternalDate => w.raw(b"INTERNALDATE"),
        FetchAttribute::Rfc822 => w.raw(b"RFC822"),
        FetchAttribute::Rfc822Header => w.raw(b"RFC822.HEADER"),
        FetchAttribute::Rfc822Size => w.raw(b"RFC822.SIZE"),
        FetchAttribute::Rfc822Text => w.raw(b"RFC822.TEXT"),
        FetchAttribute::Body => w.raw(b"BODY"),
        FetchAttribute::BodyStructure => w.raw(b"BODYSTRUCTURE"),
        FetchAttribute::Uid => w.raw(b"UID"),
        FetchAttribute::ModSeq => w.raw(b"MODSEQ"),
        FetchAttribute::SaveDate => w.raw(b"SAVEDATE"),
        FetchAttribute::BodySection {
            peek,
            section: s,
            partial: p,
        } => {
            w.raw(if *peek { b"BODY.PEEK" } else { b"BODY" });
            section(w, s);
            partial(w, p);
        }
        FetchAttribute::Binary {
            peek,
            part: pt,
            partial: p,
        } => {
            w.raw(if *peek { b"BINARY.PEEK" } else { b"BINARY" });
            part(w, pt);
            partial(w, p);
        }
        FetchAttribute::BinarySize { part: pt } => {
            w.raw(b"BINARY.SIZE");
            part(w, pt);
        }
    }
}

fn search_key(w: &mut Writer<'_>, k: &SearchKey) {
    macro_rules! s {
        ($name:literal, $v:expr) => {{
            w.raw($name);
            w.sp();
            w.astring($v);
        }};
    }
    macro_rules! d {
        ($name:literal, $v:expr) => {{
            w.raw($name);
            w.sp();
            w.date($v);
        }};
    }
    match k {
        SearchKey::All => w.raw(b"ALL"),
        SearchKey::Answered => w.raw(b"ANSWERED"),
        SearchKey::Bcc(v) => s!(b"BCC", v),
        SearchKey::Before(v) => d!(b"BEFORE", v),
        SearchKey::Body(v) => s!(b"BODY", v),
        SearchKey::Cc(v) => s!(b"CC", v),
        SearchKey::Deleted => w.raw(b"DELETED"),
        SearchKey::Draft => w.raw(b"DRAFT"),
        SearchKey::Flagged => w.raw(b"FLAGGED"),
        SearchKey::From(v) => s!(b"FROM", v),
        SearchKey::Header(f, v) => {
            w.raw(b"HEADER ");
            w.astring(f);
            w.sp();
            w.astring(v);
        }
        SearchKey::Keyword(a) => {
            w.raw(b"KEYWORD ");
            w.atom(a.as_bytes());
        }
        SearchKey::Larger(n) => {
            w.raw(b"LARGER ");
            w.number(u64::from(*n));
        }
        SearchKey::New => w.raw(b"NEW"),
        SearchKey::Not(k) => {
            w.raw(b"NOT ");
            search_key(w, k);
        }
        SearchKey::Old => w.raw(b"OLD"),
        SearchKey::On(v) => d!(b"ON", v),
        SearchKey::Or(a, b) => {
            w.raw(b"OR ");
            search_key(w, a);
            w.sp();
            search_key(w, b);
        }
        SearchKey::Recent => w.raw(b"RECENT"),
        SearchKey::Seen => w.raw(b"SEEN"),
        SearchKey::SavedBefore(v) => d!(b"SAVEDBEFORE", v),
        SearchKey::SavedOn(v) => d!(b"SAVEDON", v),
        SearchKey::SavedSince(v) => d!(b"SAVEDSINCE", v),
        SearchKey::SaveDateSupported => w.raw(b"SAVEDATESUPPORTED"),
        SearchKey::SentBefore(v) => d!(b"SENTBEFORE", v),
        SearchKey::SentOn(v) => d!(b"SENTON", v),
        SearchKey::SentSince(v) => d!(b"SENTSINCE", v),
        SearchKey::Since(v) => d!(b"SINCE", v),
        SearchKey::Smaller(n) => {
            w.raw(b"SMALLER ");
            w.number(u64::from(*n));
        }
        SearchKey::Subject(v) => s!(b"SUBJECT", v),
        SearchKey::Text(v) => s!(b"TEXT", v),
        SearchKey::To(v) => s!(b"TO", v),
        SearchKey::Uid(set) => {
            w.raw(b"UID ");
            w.sequence_set(set);
        }
        SearchKey::Unanswered => w.raw(b"UNANSWERED"),
        SearchKey::Undeleted => w.raw(b"UNDELETED"),
        SearchKey::Undraft => w.raw(b"UNDRAFT"),
        SearchKey::Unflagged => w.raw(b"UNFLAGGED"),
        SearchKey::Unkeyword(a) => {
            w.raw(b"UNKEYWORD ");
            w.atom(a.as_bytes());
        }
        SearchKey::Unseen => w.raw(b"UNSEEN"),
        SearchKey::SequenceSet(set) => w.sequence_set(set),
        SearchKey::And(keys) => w.list(keys, search_key),
        SearchKey::ModSeq { entry, modseq } => {
            w.raw(b"MODSEQ ");
            if let Some((name, t)) = entry {
                w.quoted_or_literal_entry(name);
                w.sp();
                w.raw(match t {
                    crate::types::EntryType::Private => b"priv",
                    crate::types::EntryType::Shared => b"shared",
                    crate::types::EntryType::All => b"all",
                });
                w.sp();
            }
            w.number(*modseq);
        }
    }
}

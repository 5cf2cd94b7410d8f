//! The response grammar (client side).

use bytes::Bytes;

use super::{PResult, Parser};
use crate::types::{
    Atom, Continuation, Data, ESearch, ESearchData, ExtensionValue, ListExtendedItem,
    MailboxAttribute, MailboxListing, NamespaceDescription, QuotaResource, Response, ResponseCode,
    SimpleCode, StatusKind, StatusResponse, StatusValue, Tag,
};
use crate::Error;

/// Case-insensitive keyword comparison; the length check first makes a
/// miss nearly free in the long dispatch chains.
#[inline(always)]
fn is(word: &[u8], name: &str) -> bool {
    let n = name.as_bytes();
    word.len() == n.len() && word.eq_ignore_ascii_case(n)
}

/// Parses one complete response message. `auth` makes `+` lines base64
/// (during AUTHENTICATE).
pub(crate) fn response(buf: &Bytes, max_depth: usize, auth: bool) -> Result<Response, Error> {
    let mut p = Parser::new(buf, max_depth);
    let mut tag: Option<Tag> = None;
    let r = (|| {
        let r = if p.eat(b'+') {
            let had_sp = p.eat(b' ');
            let rest = &p.buf[p.pos..];
            let line = &rest[..memchr::memchr2(b'\r', b'\n', rest).unwrap_or(rest.len())];
            if auth
                && line
                    .iter()
                    .all(|&b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
            {
                Response::Continuation(Continuation::Base64(p.text()))
            } else {
                let (code, text) = if had_sp {
                    resp_text(&mut p)?
                } else {
                    (None, Bytes::new())
                };
                Response::Continuation(Continuation::Text { code, text })
            }
        } else if p.eat(b'*') {
            p.sp()?;
            untagged(&mut p)?
        } else {
            let t = p.tag()?;
            tag = Some(t.clone());
            p.sp()?;
            let w = p.word("OK, NO or BAD")?;
            let kind = if is(w, "OK") {
                StatusKind::Ok
            } else if is(w, "NO") {
                StatusKind::No
            } else if is(w, "BAD") {
                StatusKind::Bad
            } else {
                p.pos -= w.len();
                return p.fail("OK, NO or BAD");
            };
            let (code, text) = status_tail(&mut p)?;
            Response::Status(StatusResponse {
                tag: Some(t),
                kind,
                code,
                text,
            })
        };
        p.end()?;
        Ok(r)
    })();
    r.map_err(|f| p.error(f, tag))
}

/// After OK/NO/BAD/...: `[SP resp-text]`.
fn status_tail(p: &mut Parser<'_>) -> PResult<(Option<ResponseCode>, Bytes)> {
    if p.eat(b' ') {
        resp_text(p)
    } else if p.at_eol() {
        Ok((None, Bytes::new()))
    } else {
        p.fail("SP")
    }
}

/// `resp-text`: `["[" resp-text-code "]" [SP]] text`.
fn resp_text(p: &mut Parser<'_>) -> PResult<(Option<ResponseCode>, Bytes)> {
    let start = p.pos;
    let code = if p.eat(b'[') {
        match response_code(p).and_then(|c| p.expect(b']', "\"]\"").map(|()| c)) {
            Ok(c) => {
                p.eat(b' ');
                Some(c)
            }
            Err(super::Fail::TooDeep(at)) => return Err(super::Fail::TooDeep(at)),
            // Text that merely starts with "[" is still text.
            Err(_) => {
                p.pos = start;
                None
            }
        }
    } else {
        None
    };
    Ok((code, p.text()))
}

fn atoms(p: &mut Parser<'_>) -> PResult<Vec<Atom>> {
    let mut caps = Vec::new();
    while p.eat(b' ') {
        if p.at_eol() || p.peek() == Some(b']') {
            break;
        }
        caps.push(p.atom("capability")?);
    }
    Ok(caps)
}

fn response_code(p: &mut Parser<'_>) -> PResult<ResponseCode> {
    let start = p.pos;
    match typed_code(p) {
        Ok(c) if p.peek() == Some(b']') => return Ok(c),
        Err(super::Fail::TooDeep(at)) => return Err(super::Fail::TooDeep(at)),
        _ => p.pos = start,
    }
    // Any other code: atom [SP 1*<TEXT-CHAR except "]">].
    let name = p.atom("response code")?;
    let data = if p.eat(b' ') {
        let s = p.pos;
        while p
            .peek()
            .is_some_and(|b| b != b']' && b != b'\r' && b != b'\n')
        {
            p.pos += 1;
        }
        Some(p.slice(s, p.pos))
    } else {
        None
    };
    Ok(ResponseCode::Other { name, data })
}

fn typed_code(p: &mut Parser<'_>) -> PResult<ResponseCode> {
    let w = p.word("response code")?;
    macro_rules! unit {
        ($($n:literal => $v:expr),*) => {
            $(if is(w, $n) { return Ok($v); })*
        };
    }
    unit!(
        "ALERT" => ResponseCode::Alert,
        "PARSE" => ResponseCode::Parse,
        "READ-ONLY" => ResponseCode::ReadOnly,
        "READ-WRITE" => ResponseCode::ReadWrite,
        "TRYCREATE" => ResponseCode::TryCreate,
        "UIDNOTSTICKY" => ResponseCode::UidNotSticky,
        "NOMODSEQ" => ResponseCode::NoModSeq,
        "CLOSED" => ResponseCode::Closed,
        "COMPRESSIONACTIVE" => ResponseCode::CompressionActive,
        "OVERQUOTA" => ResponseCode::OverQuota,
        "TOOBIG" => ResponseCode::TooBig,
        "UNKNOWN-CTE" => ResponseCode::UnknownCte,
        "NOTSAVED" => ResponseCode::NotSaved,
        "USEATTR" => ResponseCode::UseAttr
    );
    if let Some(c) = SimpleCode::from_name(w) {
        return Ok(ResponseCode::Simple(c));
    }
    if is(w, "BADCHARSET") {
        let mut list = Vec::new();
        if p.eat(b' ') {
            p.open()?;
            loop {
                list.push(p.astring()?);
                if !p.eat(b' ') {
                    break;
                }
            }
            p.close()?;
        }
        return Ok(ResponseCode::BadCharset(list));
    }
    if is(w, "CAPABILITY") {
        return Ok(ResponseCode::Capability(atoms(p)?));
    }
    p.sp()?;
    if is(w, "PERMANENTFLAGS") {
        Ok(ResponseCode::PermanentFlags(p.flag_list()?))
    } else if is(w, "UIDNEXT") {
        Ok(ResponseCode::UidNext(p.nz_number()?))
    } else if is(w, "UIDVALIDITY") {
        Ok(ResponseCode::UidValidity(p.nz_number()?))
    } else if is(w, "UNSEEN") {
        Ok(ResponseCode::Unseen(p.nz_number()?))
    } else if is(w, "APPENDUID") {
        let uid_validity = p.nz_number()?;
        p.sp()?;
        Ok(ResponseCode::AppendUid {
            uid_validity,
            uids: p.sequence_set()?,
        })
    } else if is(w, "COPYUID") {
        let uid_validity = p.nz_number()?;
        p.sp()?;
        let source = p.sequence_set()?;
        p.sp()?;
        Ok(ResponseCode::CopyUid {
            uid_validity,
            source,
            destination: p.sequence_set()?,
        })
    } else if is(w, "HIGHESTMODSEQ") {
        Ok(ResponseCode::HighestModSeq(p.number64()?))
    } else if is(w, "MODIFIED") {
        Ok(ResponseCode::Modified(p.sequence_set()?))
    } else {
        p.fail("response code")
    }
}

fn untagged(p: &mut Parser<'_>) -> PResult<Response> {
    if p.peek().is_some_and(|b| b.is_ascii_digit()) {
        let n = p.number()?;
        p.sp()?;
        let w = p.word("EXISTS, RECENT, EXPUNGE or FETCH")?;
        return Ok(Response::Data(if is(w, "EXISTS") {
            Data::Exists(n)
        } else if is(w, "RECENT") {
            Data::Recent(n)
        } else if is(w, "EXPUNGE") {
            Data::Expunge(n)
        } else if is(w, "FETCH") {
            p.sp()?;
            Data::Fetch {
                seq: n,
                items: super::fetch::message_items(p)?,
            }
        } else {
            p.pos -= w.len();
            return p.fail("EXISTS, RECENT, EXPUNGE or FETCH");
        }));
    }
    let start = p.pos;
    let w = p.word("response")?;
    let mut status = |kind| -> PResult<Response> {
        let (code, text) = status_tail(p)?;
        Ok(Response::Status(StatusResponse {
            tag: None,
            kind,
            code,
            text,
        }))
    };
    if is(w, "OK") {
        return status(StatusKind::Ok);
    } else if is(w, "NO") {
        return status(StatusKind::No);
    } else if is(w, "BAD") {
        return status(StatusKind::Bad);
    } else if is(w, "PREAUTH") {
        return status(StatusKind::PreAuth);
    } else if is(w, "BYE") {
        return status(StatusKind::Bye);
    }
    let data = if is(w, "CAPABILITY") {
        Data::Capability(atoms(p)?)
    } else if is(w, "ENABLED") {
        Data::Enabled(atoms(p)?)
    } else if is(w, "LIST") {
        p.sp()?;
        Data::List(mailbox_listing(p)?)
    } else if is(w, "LSUB") {
        p.sp()?;
        Data::Lsub(mailbox_listing(p)?)
    } else if is(w, "STATUS") {
        p.sp()?;
        let mailbox = p.mailbox()?;
        p.sp()?;
        p.open()?;
        let mut items = Vec::new();
        if p.peek() != Some(b')') {
            loop {
                items.push(status_value(p)?);
                if !p.eat(b' ') {
                    break;
                }
            }
        }
        p.close()?;
        // Some servers end STATUS with a space.
        if p.peek() == Some(b' ') {
            p.pos += 1;
        }
        Data::Status { mailbox, items }
    } else if is(w, "SEARCH") {
        let mut numbers = Vec::new();
        let mut modseq = None;
        while p.eat(b' ') {
            if p.at_eol() {
                break;
            }
            if p.peek() == Some(b'(') {
                p.open()?;
                p.expect_ci(b"MODSEQ", "MODSEQ")?;
                p.sp()?;
                modseq = Some(p.number64()?);
                p.close()?;
                break;
            }
            numbers.push(p.nz_number()?);
        }
        Data::Search { numbers, modseq }
    } else if is(w, "ESEARCH") {
        Data::ESearch(esearch(p)?)
    } else if is(w, "FLAGS") {
        p.sp()?;
        Data::Flags(p.flag_list()?)
    } else if is(w, "ID") {
        p.sp()?;
        Data::Id(super::command::id_params(p)?)
    } else if is(w, "NAMESPACE") {
        p.sp()?;
        let personal = namespaces(p)?;
        p.sp()?;
        let other = namespaces(p)?;
        p.sp()?;
        let shared = namespaces(p)?;
        Data::Namespace {
            personal,
            other,
            shared,
        }
    } else if is(w, "QUOTA") {
        p.sp()?;
        let root = p.astring()?;
        p.sp()?;
        p.open()?;
        let mut resources = Vec::new();
        loop {
            let name = p.atom("quota resource")?;
            p.sp()?;
            let usage = p.number64()?;
            p.sp()?;
            let limit = p.number64()?;
            resources.push(QuotaResource { name, usage, limit });
            if !p.eat(b' ') {
                break;
            }
        }
        p.close()?;
        Data::Quota { root, resources }
    } else if is(w, "QUOTAROOT") {
        p.sp()?;
        let mailbox = p.mailbox()?;
        let mut roots = Vec::new();
        while p.eat(b' ') {
            roots.push(p.astring()?);
        }
        Data::QuotaRoot { mailbox, roots }
    } else if is(w, "VANISHED") {
        p.sp()?;
        let earlier = p.eat_ci(b"(EARLIER) ");
        Data::Vanished {
            earlier,
            uids: p.sequence_set()?,
        }
    } else {
        p.pos = start;
        return p.fail("untagged response");
    };
    Ok(Response::Data(data))
}

fn quoted_char(p: &mut Parser<'_>) -> PResult<Option<u8>> {
    if p.eat_ci(b"NIL") {
        return Ok(None);
    }
    let start = p.pos;
    let q = p.quoted()?;
    if q.len() != 1 {
        return Err(super::Fail::Expected(start, "one-character delimiter"));
    }
    Ok(Some(q[0]))
}

fn mailbox_listing(p: &mut Parser<'_>) -> PResult<MailboxListing> {
    p.open()?;
    let mut attributes = Vec::new();
    if p.peek() != Some(b')') {
        loop {
            p.expect(b'\\', "mailbox attribute")?;
            let a = p.atom("mailbox attribute")?;
            attributes.push(mailbox_attribute(a));
            if !p.eat(b' ') {
                break;
            }
        }
    }
    p.close()?;
    p.sp()?;
    let delimiter = quoted_char(p)?;
    p.sp()?;
    let mailbox = p.mailbox()?;
    let mut extended = Vec::new();
    if p.eat(b' ') {
        p.open()?;
        loop {
            let name = p.astring()?;
            p.sp()?;
            if name.eq_ignore_ascii_case(b"CHILDINFO") {
                p.open()?;
                let mut l = vec![p.string()?];
                while p.eat(b' ') {
                    l.push(p.string()?);
                }
                p.close()?;
                extended.push(ListExtendedItem::ChildInfo(l));
            } else if name.eq_ignore_ascii_case(b"OLDNAME") {
                p.open()?;
                let m = p.mailbox()?;
                p.close()?;
                extended.push(ListExtendedItem::OldName(m));
            } else {
                let value = extension_value(p)?;
                extended.push(ListExtendedItem::Other { tag: name, value });
            }
            if !p.eat(b' ') {
                break;
            }
        }
        p.close()?;
    }
    Ok(MailboxListing {
        attributes,
        delimiter,
        mailbox,
        extended,
    })
}

/// `tagged-ext-val` / `tagged-ext-comp`, leniently: strings anywhere.
fn extension_value(p: &mut Parser<'_>) -> PResult<ExtensionValue> {
    match p.peek() {
        Some(b'(') => {
            p.open()?;
            let mut list = Vec::new();
            if p.peek() != Some(b')') {
                loop {
                    list.push(extension_value(p)?);
                    if !p.eat(b' ') {
                        break;
                    }
                }
            }
            p.close()?;
            Ok(ExtensionValue::List(list))
        }
        Some(b'"' | b'{') => Ok(ExtensionValue::Simple(p.string()?)),
        Some(b'~') if p.peek_at(1) == Some(b'{') => Ok(ExtensionValue::Simple(p.string()?)),
        _ => {
            let start = p.pos;
            while p
                .peek()
                .is_some_and(|b| crate::types::is_astring_char(b) || b == b'*')
            {
                p.pos += 1;
            }
            if p.pos == start {
                return p.fail("extension value");
            }
            Ok(ExtensionValue::Simple(p.slice(start, p.pos)))
        }
    }
}

pub(crate) fn mailbox_attribute(a: Atom) -> MailboxAttribute {
    const TABLE: &[(&str, MailboxAttribute)] = &[
        ("Noinferiors", MailboxAttribute::NoInferiors),
        ("Noselect", MailboxAttribute::NoSelect),
        ("Marked", MailboxAttribute::Marked),
        ("Unmarked", MailboxAttribute::Unmarked),
        ("NonExistent", MailboxAttribute::NonExistent),
        ("Subscribed", MailboxAttribute::Subscribed),
        ("Remote", MailboxAttribute::Remote),
        ("HasChildren", MailboxAttribute::HasChildren),
        ("HasNoChildren", MailboxAttribute::HasNoChildren),
        ("All", MailboxAttribute::All),
        ("Archive", MailboxAttribute::Archive),
        ("Drafts", MailboxAttribute::Drafts),
        ("Flagged", MailboxAttribute::Flagged),
        ("Junk", MailboxAttribute::Junk),
        ("Sent", MailboxAttribute::Sent),
        ("Trash", MailboxAttribute::Trash),
    ];
    for (name, attr) in TABLE {
        if a.eq_ignore_case(name) {
            return attr.clone();
        }
    }
    MailboxAttribute::Extension(a)
}

fn status_value(p: &mut Parser<'_>) -> PResult<StatusValue> {
    let item = super::command::status_item(p)?;
    p.sp()?;
    use crate::types::StatusItem as I;
    Ok(match item {
        I::Messages => StatusValue::Messages(p.number()?),
        I::Recent => StatusValue::Recent(p.number()?),
        I::UidNext => StatusValue::UidNext(p.number()?),
        I::UidValidity => StatusValue::UidValidity(p.number()?),
        I::Unseen => StatusValue::Unseen(p.number()?),
        I::Deleted => StatusValue::Deleted(p.number()?),
        I::Size => StatusValue::Size(p.number64()?),
        I::DeletedStorage => StatusValue::DeletedStorage(p.number64()?),
        I::HighestModSeq => StatusValue::HighestModSeq(p.number64()?),
        I::AppendLimit => {
            if p.eat_ci(b"NIL") {
                StatusValue::AppendLimit(None)
            } else {
                StatusValue::AppendLimit(Some(p.number64()?))
            }
        }
    })
}

fn esearch(p: &mut Parser<'_>) -> PResult<ESearch> {
    let mut tag = None;
    let mut uid = false;
    if p.peek() == Some(b' ') && p.peek_at(1) == Some(b'(') {
        p.pos += 1;
        p.open()?;
        p.expect_ci(b"TAG", "TAG")?;
        p.sp()?;
        let start = p.pos;
        let t = p.string()?;
        tag = Some(Tag::new(t).map_err(|_| super::Fail::Expected(start, "tag"))?);
        p.close()?;
    }
    let mut data = Vec::new();
    while p.eat(b' ') {
        let start = p.pos;
        let w = p.word("search return data")?;
        if is(w, "UID") && data.is_empty() && !uid {
            uid = true;
            continue;
        }
        p.sp()?;
        data.push(if is(w, "MIN") {
            ESearchData::Min(p.nz_number()?)
        } else if is(w, "MAX") {
            ESearchData::Max(p.nz_number()?)
        } else if is(w, "ALL") {
            ESearchData::All(p.sequence_set()?)
        } else if is(w, "COUNT") {
            ESearchData::Count(p.number()?)
        } else if is(w, "MODSEQ") {
            ESearchData::ModSeq(p.number64()?)
        } else {
            p.pos = start;
            return p.fail("MIN, MAX, ALL, COUNT or MODSEQ");
        });
    }
    Ok(ESearch { tag, uid, data })
}

fn namespaces(p: &mut Parser<'_>) -> PResult<Vec<NamespaceDescription>> {
    if p.eat_ci(b"NIL") {
        return Ok(Vec::new());
    }
    p.open()?;
    let mut list = Vec::new();
    while p.peek() == Some(b'(') {
        p.open()?;
        let prefix = p.string()?;
        p.sp()?;
        let delimiter = quoted_char(p)?;
        let mut extensions = Vec::new();
        while p.eat(b' ') {
            let name = p.string()?;
            p.sp()?;
            p.open()?;
            let mut values = vec![p.string()?];
            while p.eat(b' ') {
                values.push(p.string()?);
            }
            p.close()?;
            extensions.push((name, values));
        }
        p.close()?;
        list.push(NamespaceDescription {
            prefix,
            delimiter,
            extensions,
        });
    }
    p.close()?;
    if list.is_empty() {
        return p.fail("namespace description");
    }
    Ok(list)
}

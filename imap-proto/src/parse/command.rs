//! The command grammar (server side).

use bytes::Bytes;

use super::{PResult, Parser};
use crate::types::{
    AppendHeader, AppendMessage, AuthenticateData, Command, CommandBody, ListReturnOption,
    ListSelectOption, Mailbox, Secret, SelectParam, StatusItem, StoreKind, Tag,
};
use crate::Error;

/// Parses one complete command message (ending in CRLF).
pub(crate) fn command(buf: &Bytes, max_depth: usize) -> Result<Command, Error> {
    let mut p = Parser::new(buf, max_depth);
    let tag = match p.tag() {
        Ok(t) => t,
        Err(f) => return Err(p.error(f, None)),
    };
    let body = (|| {
        p.sp()?;
        let body = command_body(&mut p)?;
        p.end()?;
        Ok(body)
    })();
    match body {
        Ok(body) => Ok(Command { tag, body }),
        Err(f) => Err(p.error(f, Some(tag))),
    }
}

/// Reads a tag at the start of a message, for error reports.
pub(crate) fn leading_tag(buf: &[u8]) -> Option<Tag> {
    let n = buf
        .iter()
        .position(|&b| !crate::types::is_tag_char(b))
        .unwrap_or(buf.len());
    if n == 0 || n > 64 || buf.get(n) != Some(&b' ') {
        return None;
    }
    Some(Tag::from_parsed_slice(&buf[..n], || {
        Bytes::copy_from_slice(&buf[..n])
    }))
}

/// Case-insensitive keyword comparison; the length check first makes a
/// miss nearly free in the long dispatch chains.
#[inline(always)]
fn is(word: &[u8], name: &str) -> bool {
    let n = name.as_bytes();
    word.len() == n.len() && word.eq_ignore_ascii_case(n)
}

fn command_body(p: &mut Parser<'_>) -> PResult<CommandBody> {
    let start = p.pos;
    let name = p.word("command name")?;
    let no_args = |b: CommandBody| -> PResult<CommandBody> { Ok(b) };
    macro_rules! simple {
        ($($n:literal => $v:expr),*) => {
            $(if is(name, $n) { return no_args($v); })*
        };
    }
    simple!(
        "CAPABILITY" => CommandBody::Capability,
        "NOOP" => CommandBody::Noop,
        "LOGOUT" => CommandBody::Logout,
        "STARTTLS" => CommandBody::StartTls,
        "NAMESPACE" => CommandBody::Namespace,
        "IDLE" => CommandBody::Idle,
        "CHECK" => CommandBody::Check,
        "CLOSE" => CommandBody::Close,
        "UNSELECT" => CommandBody::Unselect,
        "EXPUNGE" => CommandBody::Expunge
    );
    if is(name, "UID") {
        p.sp()?;
        let sub = p.word("UID command")?;
        p.sp()?;
        return if is(sub, "FETCH") {
            fetch(p, true)
        } else if is(sub, "SEARCH") {
            search(p, true)
        } else if is(sub, "STORE") {
            store(p, true)
        } else if is(sub, "COPY") {
            let set = p.sequence_set()?;
            p.sp()?;
            Ok(CommandBody::Copy {
                uid: true,
                set,
                mailbox: p.mailbox()?,
            })
        } else if is(sub, "MOVE") {
            let set = p.sequence_set()?;
            p.sp()?;
            Ok(CommandBody::Move {
                uid: true,
                set,
                mailbox: p.mailbox()?,
            })
        } else if is(sub, "EXPUNGE") {
            Ok(CommandBody::UidExpunge(p.sequence_set()?))
        } else {
            p.pos -= sub.len() + 1;
            p.fail("FETCH, SEARCH, STORE, COPY, MOVE or EXPUNGE after UID")
        };
    }
    if !p.eat(b' ') {
        const WITH_ARGS: &[&str] = &[
            "LOGIN",
            "AUTHENTICATE",
            "ENABLE",
            "SELECT",
            "EXAMINE",
            "CREATE",
            "DELETE",
            "RENAME",
            "SUBSCRIBE",
            "UNSUBSCRIBE",
            "LIST",
            "LSUB",
            "STATUS",
            "APPEND",
            "SEARCH",
            "FETCH",
            "STORE",
            "COPY",
            "MOVE",
            "ID",
            "GETQUOTA",
            "GETQUOTAROOT",
            "SETQUOTA",
            "COMPRESS",
        ];
        if WITH_ARGS.iter().any(|n| is(name, n)) {
            return p.fail("SP and arguments");
        }
        p.pos = start;
        return p.fail("command name");
    }
    if is(name, "LOGIN") {
        let username = p.astring()?;
        p.sp()?;
        let password = Secret(p.astring()?);
        Ok(CommandBody::Login { username, password })
    } else if is(name, "AUTHENTICATE") {
        let mechanism = p.atom("SASL mechanism")?;
        let initial_response = if p.eat(b' ') {
            if p.eat(b'=') {
                Some(Secret(Bytes::new()))
            } else {
                Some(Secret(base64(p)?))
            }
        } else {
            None
        };
        Ok(CommandBody::Authenticate {
            mechanism,
            initial_response,
        })
    } else if is(name, "ENABLE") {
        let mut capabilities = vec![p.atom("capability")?];
        while p.eat(b' ') {
            capabilities.push(p.atom("capability")?);
        }
        Ok(CommandBody::Enable { capabilities })
    } else if is(name, "SELECT") || is(name, "EXAMINE") {
        let mailbox = p.mailbox()?;
        let params = select_params(p)?;
        Ok(if is(name, "SELECT") {
            CommandBody::Select { mailbox, params }
        } else {
            CommandBody::Examine { mailbox, params }
        })
    } else if is(name, "CREATE") {
        let mailbox = p.mailbox()?;
        let mut special_use = Vec::new();
        if p.eat(b' ') {
            p.open()?;
            p.expect_ci(b"USE", "USE")?;
            p.sp()?;
            p.open()?;
            loop {
                p.expect(b'\\', "special-use attribute")?;
                special_use.push(p.atom("special-use attribute")?);
                if !p.eat(b' ') {
                    break;
                }
            }
            p.close()?;
            p.close()?;
        }
        Ok(CommandBody::Create {
            mailbox,
            special_use,
        })
    } else if is(name, "DELETE") {
        Ok(CommandBody::Delete {
            mailbox: p.mailbox()?,
        })
    } else if is(name, "RENAME") {
        let from = p.mailbox()?;
        p.sp()?;
        Ok(CommandBody::Rename {
            from,
            to: p.mailbox()?,
        })
    } else if is(name, "SUBSCRIBE") {
        Ok(CommandBody::Subscribe {
            mailbox: p.mailbox()?,
        })
    } else if is(name, "UNSUBSCRIBE") {
        Ok(CommandBody::Unsubscribe {
            mailbox: p.mailbox()?,
        })
    } else if is(name, "LIST") {
        list(p)
    } else if is(name, "LSUB") {
        let reference = p.mailbox()?;
        p.sp()?;
        Ok(CommandBody::Lsub {
            reference,
            pattern: p.list_mailbox()?,
        })
    } else if is(name, "STATUS") {
        let mailbox = p.mailbox()?;
        p.sp()?;
        p.open()?;
        let mut items = vec![status_item(p)?];
        while p.eat(b' ') {
            items.push(status_item(p)?);
        }
        p.close()?;
        Ok(CommandBody::Status { mailbox, items })
    } else if is(name, "APPEND") {
        append(p)
    } else if is(name, "SEARCH") {
        search(p, false)
    } else if is(name, "FETCH") {
        fetch(p, false)
    } else if is(name, "STORE") {
        store(p, false)
    } else if is(name, "COPY") || is(name, "MOVE") {
        let set = p.sequence_set()?;
        p.sp()?;
        let mailbox = p.mailbox()?;
        Ok(if is(name, "COPY") {
            CommandBody::Copy {
                uid: false,
                set,
                mailbox,
            }
        } else {
            CommandBody::Move {
                uid: false,
                set,
                mailbox,
            }
        })
    } else if is(name, "ID") {
        Ok(CommandBody::Id(id_params(p)?))
    } else if is(name, "GETQUOTA") {
        Ok(CommandBody::GetQuota { root: p.astring()? })
    } else if is(name, "GETQUOTAROOT") {
        Ok(CommandBody::GetQuotaRoot {
            mailbox: p.mailbox()?,
        })
    } else if is(name, "SETQUOTA") {
        let root = p.astring()?;
        p.sp()?;
        p.open()?;
        let mut limits = Vec::new();
        if p.peek() != Some(b')') {
            loop {
                let name = p.atom("quota resource")?;
                p.sp()?;
                limits.push((name, p.number64()?));
                if !p.eat(b' ') {
                    break;
                }
            }
        }
        p.close()?;
        Ok(CommandBody::SetQuota { root, limits })
    } else if is(name, "COMPRESS") {
        Ok(CommandBody::Compress {
            mechanism: p.atom("compression mechanism")?,
        })
    } else {
        p.pos = start;
        p.fail("command name")
    }
}

/// Base64 text (possibly empty) up to the end of the line.
fn base64(p: &mut Parser<'_>) -> PResult<Bytes> {
    let start = p.pos;
    while let Some(b) = p.peek() {
        if b.is_ascii_alphanumeric() || b == b'+' || b == b'/' {
            p.pos += 1;
        } else {
            break;
        }
    }
    while p.peek() == Some(b'=') {
        p.pos += 1;
    }
    if !p.at_eol() {
        return p.fail("base64");
    }
    Ok(p.slice(start, p.pos))
}

/// An AUTHENTICATE data line: base64 or `*`.
pub(crate) fn authenticate_data(buf: &Bytes) -> Result<AuthenticateData, Error> {
    let mut p = Parser::new(buf, 1);
    let r = (|| {
        if p.eat(b'*') {
            p.end()?;
            return Ok(AuthenticateData::Cancel);
        }
        let data = base64(&mut p)?;
        p.end()?;
        Ok(AuthenticateData::Data(Secret(data)))
    })();
    r.map_err(|f| p.error(f, None))
}

/// IDLE's `DONE`.
pub(crate) fn idle_done(buf: &Bytes) -> Result<(), Error> {
    let mut p = Parser::new(buf, 1);
    let r = (|| {
        p.expect_ci(b"DONE", "DONE")?;
        p.end()
    })();
    r.map_err(|f| p.error(f, None))
}

pub(crate) fn id_params(p: &mut Parser<'_>) -> PResult<Option<crate::types::IdParams>> {
    if p.eat_ci(b"NIL") {
        return Ok(None);
    }
    p.open()?;
    let mut fields = Vec::new();
    if p.peek() != Some(b')') {
        loop {
            let k = p.string()?;
            p.sp()?;
            fields.push((k, p.nstring()?));
            if !p.eat(b' ') {
                break;
            }
        }
    }
    p.close()?;
    Ok(Some(fields))
}

fn select_params(p: &mut Parser<'_>) -> PResult<Vec<SelectParam>> {
    let mut params = Vec::new();
    if !p.eat(b' ') {
        return Ok(params);
    }
    p.open()?;
    loop {
        let w = p.word("select parameter")?;
        if is(w, "CONDSTORE") {
            params.push(SelectParam::CondStore);
        } else if is(w, "QRESYNC") {
            p.sp()?;
            p.open()?;
            let uid_validity = p.nz_number()?;
            p.sp()?;
            let modseq = p.number64()?;
            let mut known_uids = None;
            let mut seq_match = None;
            if p.eat(b' ') {
                if p.peek() == Some(b'(') {
                    seq_match = Some(seq_match_data(p)?);
                } else {
                    known_uids = Some(p.sequence_set()?);
                    if p.eat(b' ') {
                        seq_match = Some(seq_match_data(p)?);
                    }
                }
            }
            p.close()?;
            params.push(SelectParam::QResync {
                uid_validity,
                modseq,
                known_uids,
                seq_match,
            });
        } else {
            p.pos -= w.len();
            return p.fail("CONDSTORE or QRESYNC");
        }
        if !p.eat(b' ') {
            break;
        }
    }
    p.close()?;
    Ok(params)
}

fn seq_match_data(
    p: &mut Parser<'_>,
) -> PResult<(crate::types::SequenceSet, crate::types::SequenceSet)> {
    p.open()?;
    let a = p.sequence_set()?;
    p.sp()?;
    let b = p.sequence_set()?;
    p.close()?;
    Ok((a, b))
}

fn list(p: &mut Parser<'_>) -> PResult<CommandBody> {
    let mut selection = Vec::new();
    if p.peek() == Some(b'(') {
        p.open()?;
        if p.peek() != Some(b')') {
            loop {
                let w = p.word("LIST selection option")?;
                selection.push(if is(w, "SUBSCRIBED") {
                    ListSelectOption::Subscribed
                } else if is(w, "REMOTE") {
                    ListSelectOption::Remote
                } else if is(w, "RECURSIVEMATCH") {
                    ListSelectOption::RecursiveMatch
                } else if is(w, "SPECIAL-USE") {
                    ListSelectOption::SpecialUse
                } else {
                    p.pos -= w.len();
                    return p.fail("LIST selection option");
                });
                if !p.eat(b' ') {
                    break;
                }
            }
        }
        p.close()?;
        p.sp()?;
    }
    let reference = p.mailbox()?;
    p.sp()?;
    let mut patterns = Vec::new();
    if p.peek() == Some(b'(') {
        p.open()?;
        loop {
            patterns.push(p.list_mailbox()?);
            if !p.eat(b' ') {
                break;
            }
        }
        p.close()?;
    } else {
        patterns.push(p.list_mailbox()?);
    }
    let mut return_options = Vec::new();
    if p.eat(b' ') {
        p.expect_ci(b"RETURN", "RETURN")?;
        p.sp()?;
        p.open()?;
        if p.peek() != Some(b')') {
            loop {
                let w = p.word("LIST return option")?;
                return_options.push(if is(w, "SUBSCRIBED") {
                    ListReturnOption::Subscribed
                } else if is(w, "CHILDREN") {
                    ListReturnOption::Children
                } else if is(w, "SPECIAL-USE") {
                    ListReturnOption::SpecialUse
                } else if is(w, "STATUS") {
                    p.sp()?;
                    p.open()?;
                    let mut items = vec![status_item(p)?];
                    while p.eat(b' ') {
                        items.push(status_item(p)?);
                    }
                    p.close()?;
                    ListReturnOption::Status(items)
                } else {
                    p.pos -= w.len();
                    return p.fail("LIST return option");
                });
                if !p.eat(b' ') {
                    break;
                }
            }
        }
        p.close()?;
    }
    Ok(CommandBody::List {
        selection,
        reference,
        patterns,
        return_options,
    })
}

pub(crate) fn status_item(p: &mut Parser<'_>) -> PResult<StatusItem> {
    let w = p.word("status item")?;
    Ok(if is(w, "MESSAGES") {
        StatusItem::Messages
    } else if is(w, "RECENT") {
        StatusItem::Recent
    } else if is(w, "UIDNEXT") {
        StatusItem::UidNext
    } else if is(w, "UIDVALIDITY") {
        StatusItem::UidValidity
    } else if is(w, "UNSEEN") {
        StatusItem::Unseen
    } else if is(w, "DELETED") {
        StatusItem::Deleted
    } else if is(w, "SIZE") {
        StatusItem::Size
    } else if is(w, "HIGHESTMODSEQ") {
        StatusItem::HighestModSeq
    } else if is(w, "APPENDLIMIT") {
        StatusItem::AppendLimit
    } else if is(w, "DELETED-STORAGE") {
        StatusItem::DeletedStorage
    } else {
        p.pos -= w.len();
        return p.fail("status item");
    })
}

/// `[flag-list SP] [date-time SP] ["UTF8 ("] literal-header CRLF` at the
/// end of the buffer: what precedes a streamed APPEND message.
fn append_head(p: &mut Parser<'_>) -> PResult<AppendHeader> {
    let mut flags = Vec::new();
    let mut date = None;
    if p.peek() == Some(b'(') {
        flags = p.flag_list()?;
        p.sp()?;
    }
    if p.peek() == Some(b'"') {
        date = Some(p.date_time()?);
        p.sp()?;
    }
    let utf8 = p.eat_ci(b"UTF8 (");
    let binary = p.eat(b'~');
    p.expect(b'{', "message literal")?;
    let size = p.number64()?;
    let non_sync = p.eat(b'+');
    p.expect(b'}', "\"}\"")?;
    p.end()?;
    if utf8 && !binary {
        return p.fail("literal8 in UTF8 ( )");
    }
    Ok(AppendHeader {
        flags,
        date,
        size,
        binary: binary && !utf8,
        utf8,
        non_sync,
    })
}

/// `tag SP "APPEND" SP mailbox SP append-head`: the start of an APPEND
/// whose message literal is about to follow. `None` if it is anything else.
pub(crate) fn append_prefix(buf: &Bytes, max_depth: usize) -> Option<(Tag, Mailbox, AppendHeader)> {
    let mut p = Parser::new(buf, max_depth);
    let tag = p.tag().ok()?;
    p.sp().ok()?;
    if !p.eat_ci(b"APPEND ") {
        return None;
    }
    let mailbox = p.mailbox().ok()?;
    p.sp().ok()?;
    let head = append_head(&mut p).ok()?;
    Some((tag, mailbox, head))
}

/// What follows a streamed APPEND message: CRLF (`None`: the command is
/// complete) or `SP append-head` for the next message (MULTIAPPEND).
pub(crate) fn append_continuation(
    buf: &Bytes,
    utf8: bool,
    max_depth: usize,
    tag: &Tag,
) -> Result<Option<AppendHeader>, Error> {
    let mut p = Parser::new(buf, max_depth);
    let r = (|| {
        if utf8 {
            p.expect(b')', "\")\" after UTF8 literal")?;
        }
        if p.end().is_ok() {
            return Ok(None);
        }
        p.sp()?;
        append_head(&mut p).map(Some)
    })();
    r.map_err(|f| p.error(f, Some(tag.clone())))
}

fn append(p: &mut Parser<'_>) -> PResult<CommandBody> {
    let mailbox = p.mailbox()?;
    let mut messages = Vec::new();
    while p.eat(b' ') {
        let mut flags = Vec::new();
        let mut date = None;
        if p.peek() == Some(b'(') {
            flags = p.flag_list()?;
            p.sp()?;
        }
        if p.peek() == Some(b'"') {
            date = Some(p.date_time()?);
            p.sp()?;
        }
        let utf8 = p.eat_ci(b"UTF8 (");
        if !matches!(p.peek(), Some(b'{' | b'~')) {
            return p.fail(if utf8 {
                "literal8"
            } else {
                "message literal or UTF8"
            });
        }
        let (data, mut binary) = p.literal()?;
        if utf8 {
            if !binary {
                return p.fail("literal8 in UTF8 ( )");
            }
            binary = false;
            p.expect(b')', "\")\"")?;
        }
        messages.push(AppendMessage {
            flags,
            date,
            data,
            binary,
            utf8,
        });
    }
    if messages.is_empty() {
        return p.fail("SP and message");
    }
    Ok(CommandBody::Append { mailbox, messages })
}

fn search(p: &mut Parser<'_>, uid: bool) -> PResult<CommandBody> {
    let mut return_options = None;
    if p.eat_ci(b"RETURN ") {
        p.open()?;
        let mut opts = Vec::new();
        if p.peek() != Some(b')') {
            loop {
                let w = p.word("search return option")?;
                use crate::types::SearchReturnOption as O;
                opts.push(if is(w, "MIN") {
                    O::Min
                } else if is(w, "MAX") {
                    O::Max
                } else if is(w, "ALL") {
                    O::All
                } else if is(w, "COUNT") {
                    O::Count
                } else if is(w, "SAVE") {
                    O::Save
                } else {
                    p.pos -= w.len();
                    return p.fail("MIN, MAX, ALL, COUNT or SAVE");
                });
                if !p.eat(b' ') {
                    break;
                }
            }
        }
        p.close()?;
        p.sp()?;
        return_options = Some(opts);
    }
    let mut charset = None;
    if p.eat_ci(b"CHARSET ") {
        charset = Some(p.astring()?);
        p.sp()?;
    }
    let mut criteria = vec![super::search::search_key(p)?];
    while p.eat(b' ') {
        criteria.push(super::search::search_key(p)?);
    }
    Ok(CommandBody::Search {
        uid,
        return_options,
        charset,
        criteria,
    })
}

fn fetch(p: &mut Parser<'_>, uid: bool) -> PResult<CommandBody> {
    let set = p.sequence_set()?;
    p.sp()?;
    let items = super::fetch::fetch_items(p)?;
    let mut modifiers = Vec::new();
    if p.eat(b' ') {
        p.open()?;
        loop {
            let w = p.word("fetch modifier")?;
            if is(w, "CHANGEDSINCE") {
                p.sp()?;
                modifiers.push(crate::types::FetchModifier::ChangedSince(p.number64()?));
            } else if is(w, "VANISHED") {
                modifiers.push(crate::types::FetchModifier::Vanished);
            } else {
                p.pos -= w.len();
                return p.fail("CHANGEDSINCE or VANISHED");
            }
            if !p.eat(b' ') {
                break;
            }
        }
        p.close()?;
    }
    Ok(CommandBody::Fetch {
        uid,
        set,
        items,
        modifiers,
    })
}

fn store(p: &mut Parser<'_>, uid: bool) -> PResult<CommandBody> {
    let set = p.sequence_set()?;
    p.sp()?;
    let mut unchanged_since = None;
    if p.peek() == Some(b'(') {
        p.open()?;
        p.expect_ci(b"UNCHANGEDSINCE", "UNCHANGEDSINCE")?;
        p.sp()?;
        unchanged_since = Some(p.number64()?);
        p.close()?;
        p.sp()?;
    }
    let kind = if p.eat(b'+') {
        StoreKind::Add
    } else if p.eat(b'-') {
        StoreKind::Remove
    } else {
        StoreKind::Replace
    };
    p.expect_ci(b"FLAGS", "FLAGS, +FLAGS or -FLAGS")?;
    let silent = p.eat_ci(b".SILENT");
    p.sp()?;
    let flags = if p.peek() == Some(b'(') {
        p.flag_list()?
    } else {
        let mut flags = vec![p.flag()?];
        while p.eat(b' ') {
            flags.push(p.flag()?);
        }
        flags
    };
    Ok(CommandBody::Store {
        uid,
        set,
        unchanged_since,
        kind,
        silent,
        flags,
    })
}

//! Every response, response code and data item: decoded into the expected
//! type, re-encoded, and decoded again to the same value.

use bytes::Bytes;
use columba_imap_proto::*;

fn parse(input: &str) -> Response {
    parse_bytes(input.as_bytes())
}

fn parse_bytes(input: &[u8]) -> Response {
    let r = parse_response(input)
        .unwrap_or_else(|e| panic!("{:?}: {e}", String::from_utf8_lossy(input)));
    let enc = r.encode();
    let again = parse_response(&enc)
        .unwrap_or_else(|e| panic!("re-encoded {:?}: {e}", String::from_utf8_lossy(&enc)));
    assert_eq!(
        again,
        r,
        "round trip of {:?}",
        String::from_utf8_lossy(input)
    );
    r
}

fn code(input: &str) -> ResponseCode {
    match parse(input) {
        Response::Status(StatusResponse { code: Some(c), .. }) => c,
        other => panic!("{other:?}"),
    }
}

fn data(input: &str) -> Data {
    match parse(input) {
        Response::Data(d) => d,
        other => panic!("{other:?}"),
    }
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

#[test]
fn status_responses_and_greetings() {
    let r = parse("* OK IMAP4rev1 Service Ready\r\n");
    assert_eq!(
        r,
        Response::Status(StatusResponse {
            tag: None,
            kind: StatusKind::Ok,
            code: None,
            text: b("IMAP4rev1 Service Ready")
        })
    );
    parse("* PREAUTH IMAP4rev1 server logged in as Smith\r\n");
    parse("* BYE Autologout; idle for too long\r\n");
    parse("A001 NO LOGIN failure\r\n");
    parse("A001 BAD Command unknown\r\n");
    parse("* NO Disk is 98% full, please delete unnecessary data\r\n");
    parse("a OK\r\n");
    parse("* OK [ALERT]\r\n");
    // Text that only looks like a code.
    let r = parse("* OK [not a code\r\n");
    assert!(matches!(
        r,
        Response::Status(StatusResponse { code: None, .. })
    ));
    // 8-bit text passes through.
    let r = parse_bytes(b"* OK Gr\xc3\xbc\xc3\x9fe \xff\r\n");
    assert!(
        matches!(r, Response::Status(StatusResponse { ref text, .. }) if text.ends_with(b"\xff"))
    );
}

#[test]
fn response_codes() {
    assert_eq!(
        code("* OK [ALERT] System shutdown in 10 minutes\r\n"),
        ResponseCode::Alert
    );
    assert_eq!(
        code("a NO [BADCHARSET (UTF-8 US-ASCII)] x\r\n"),
        ResponseCode::BadCharset(vec![b("UTF-8"), b("US-ASCII")])
    );
    assert_eq!(
        code("a NO [BADCHARSET] x\r\n"),
        ResponseCode::BadCharset(vec![])
    );
    let ResponseCode::Capability(caps) = code("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN] Dovecot ready.\r\n") else { panic!() };
    assert_eq!(caps.len(), 8);
    assert_eq!(code("a BAD [PARSE] x\r\n"), ResponseCode::Parse);
    assert_eq!(
        code("* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n"),
        ResponseCode::PermanentFlags(vec![Flag::Deleted, Flag::Seen, Flag::Wildcard])
    );
    assert_eq!(code("a OK [READ-ONLY] x\r\n"), ResponseCode::ReadOnly);
    assert_eq!(code("a OK [READ-WRITE] x\r\n"), ResponseCode::ReadWrite);
    assert_eq!(code("a NO [TRYCREATE] x\r\n"), ResponseCode::TryCreate);
    assert_eq!(
        code("* OK [UIDNEXT 4392] Predicted next UID\r\n"),
        ResponseCode::UidNext(4392)
    );
    assert_eq!(
        code("* OK [UIDVALIDITY 3857529045] UIDs valid\r\n"),
        ResponseCode::UidValidity(3857529045)
    );
    assert_eq!(
        code("* OK [UNSEEN 12] Message 12 is first unseen\r\n"),
        ResponseCode::Unseen(12)
    );
    assert_eq!(
        code("A003 OK [APPENDUID 38505 3955] APPEND completed\r\n"),
        ResponseCode::AppendUid {
            uid_validity: 38505,
            uids: SequenceSet::single(3955)
        }
    );
    assert!(matches!(
        code("A004 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n"),
        ResponseCode::CopyUid {
            uid_validity: 38505,
            ..
        }
    ));
    assert_eq!(
        code("a OK [UIDNOTSTICKY] x\r\n"),
        ResponseCode::UidNotSticky
    );
    assert_eq!(
        code("* OK [HIGHESTMODSEQ 715194045007] Highest\r\n"),
        ResponseCode::HighestModSeq(715194045007)
    );
    assert_eq!(code("* OK [NOMODSEQ] Sorry\r\n"), ResponseCode::NoModSeq);
    assert!(matches!(
        code("d105 OK [MODIFIED 7,9] Conditional STORE failed\r\n"),
        ResponseCode::Modified(_)
    ));
    assert_eq!(code("* OK [CLOSED] x\r\n"), ResponseCode::Closed);
    assert_eq!(
        code("a NO [COMPRESSIONACTIVE] x\r\n"),
        ResponseCode::CompressionActive
    );
    assert_eq!(code("a NO [OVERQUOTA] x\r\n"), ResponseCode::OverQuota);
    assert_eq!(code("a NO [TOOBIG] x\r\n"), ResponseCode::TooBig);
    assert_eq!(code("a NO [UNKNOWN-CTE] x\r\n"), ResponseCode::UnknownCte);
    assert_eq!(code("a NO [NOTSAVED] x\r\n"), ResponseCode::NotSaved);
    assert_eq!(code("a NO [USEATTR] x\r\n"), ResponseCode::UseAttr);
    for (name, c) in [
        ("AUTHENTICATIONFAILED", SimpleCode::AuthenticationFailed),
        ("UNAVAILABLE", SimpleCode::Unavailable),
        ("NOPERM", SimpleCode::NoPerm),
        ("INUSE", SimpleCode::InUse),
        ("LIMIT", SimpleCode::Limit),
        ("ALREADYEXISTS", SimpleCode::AlreadyExists),
        ("NONEXISTENT", SimpleCode::NonExistent),
        ("SERVERBUG", SimpleCode::ServerBug),
        ("CONTACTADMIN", SimpleCode::ContactAdmin),
        ("EXPUNGEISSUED", SimpleCode::ExpungeIssued),
    ] {
        assert_eq!(
            code(&format!("a NO [{name}] x\r\n")),
            ResponseCode::Simple(c)
        );
    }
    let ResponseCode::Other { name, data } = code("* OK [XFOO bar baz] x\r\n") else {
        panic!()
    };
    assert_eq!((name.as_str(), data), ("XFOO", Some(b("bar baz"))));
    // A known code with unexpected data is kept, not rejected.
    assert!(matches!(
        code("* OK [UIDNEXT x] y\r\n"),
        ResponseCode::Other { .. }
    ));
}

#[test]
fn mailbox_data() {
    assert!(
        matches!(data("* CAPABILITY IMAP4rev1 STARTTLS AUTH=GSSAPI LOGINDISABLED\r\n"), Data::Capability(c) if c.len() == 4)
    );
    assert!(matches!(data("* ENABLED CONDSTORE QRESYNC\r\n"), Data::Enabled(c) if c.len() == 2));
    assert!(matches!(data("* ENABLED\r\n"), Data::Enabled(c) if c.is_empty()));
    let Data::List(l) = data("* LIST (\\Noselect) \"/\" ~/Mail/foo\r\n") else {
        panic!()
    };
    assert_eq!(l.attributes, vec![MailboxAttribute::NoSelect]);
    assert_eq!(l.delimiter, Some(b'/'));
    let Data::List(l) = data("* LIST () NIL inbox\r\n") else {
        panic!()
    };
    assert_eq!((l.delimiter, l.mailbox), (None, Mailbox::Inbox));
    let Data::List(l) = data("* LIST (\\Subscribed \\NonExistent \\HasNoChildren \\Sent \\X-Custom) \".\" \"Sent Items\" (\"CHILDINFO\" (\"SUBSCRIBED\") \"OLDNAME\" (\"Old\"))\r\n") else { panic!() };
    assert_eq!(l.attributes[3], MailboxAttribute::Sent);
    assert!(matches!(&l.attributes[4], MailboxAttribute::Extension(a) if a.as_str() == "X-Custom"));
    assert_eq!(l.extended.len(), 2);
    let Data::List(l) = data("* LIST (\\HasNoChildren) \"\\\\\" \"Drafts\"\r\n") else {
        panic!()
    };
    assert_eq!(l.delimiter, Some(b'\\'));
    let Data::List(l) = data("* LIST () \"/\" {8}\r\nfoo\r\nbar\r\n") else {
        panic!()
    };
    assert_eq!(l.mailbox, Mailbox::Other(b("foo\r\nbar")));
    assert!(matches!(
        data("* LSUB () \".\" #news.comp.mail.misc\r\n"),
        Data::Lsub(_)
    ));
    let Data::Status { items, .. } = data("* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292 SIZE 9999999999 HIGHESTMODSEQ 7 APPENDLIMIT NIL DELETED 2 UNSEEN 0 RECENT 1 UIDVALIDITY 5)\r\n") else { panic!() };
    assert_eq!(items[2], StatusValue::Size(9999999999));
    assert_eq!(items[4], StatusValue::AppendLimit(None));
    assert_eq!(
        data("* SEARCH 2 3 6\r\n"),
        Data::Search {
            numbers: vec![2, 3, 6],
            modseq: None
        }
    );
    assert_eq!(
        data("* SEARCH\r\n"),
        Data::Search {
            numbers: vec![],
            modseq: None
        }
    );
    assert_eq!(
        data("* SEARCH 2 5 6 7 11 12 18 19 20 23 (MODSEQ 917162500)\r\n"),
        Data::Search {
            numbers: vec![2, 5, 6, 7, 11, 12, 18, 19, 20, 23],
            modseq: Some(917162500)
        }
    );
    let Data::ESearch(e) = data("* ESEARCH (TAG \"A282\") MIN 2 COUNT 3\r\n") else {
        panic!()
    };
    assert_eq!(e.tag.unwrap().as_bytes(), b"A282");
    assert_eq!(e.data, vec![ESearchData::Min(2), ESearchData::Count(3)]);
    let Data::ESearch(e) =
        data("* ESEARCH (TAG \"A285\") UID MIN 7 MAX 3800 ALL 1:3,5 MODSEQ 9\r\n")
    else {
        panic!()
    };
    assert!(e.uid);
    assert_eq!(e.data.len(), 4);
    let Data::ESearch(e) = data("* ESEARCH (TAG \"A286\")\r\n") else {
        panic!()
    };
    assert!(e.data.is_empty());
    assert_eq!(
        data("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded)\r\n"),
        Data::Flags(vec![
            Flag::Answered,
            Flag::Flagged,
            Flag::Deleted,
            Flag::Seen,
            Flag::Draft,
            Flag::keyword("$Forwarded").unwrap()
        ])
    );
    assert_eq!(data("* 23 EXISTS\r\n"), Data::Exists(23));
    assert_eq!(data("* 5 RECENT\r\n"), Data::Recent(5));
    assert_eq!(data("* 8 EXPUNGE\r\n"), Data::Expunge(8));
    assert!(
        matches!(data("* ID (\"name\" \"Dovecot\" \"x\" NIL)\r\n"), Data::Id(Some(f)) if f.len() == 2)
    );
    assert_eq!(data("* ID NIL\r\n"), Data::Id(None));
    let Data::Namespace { personal, other, shared } = data("* NAMESPACE ((\"\" \"/\")) ((\"~\" \"/\")) ((\"#shared/\" \"/\" \"X-PARAM\" (\"FLAG1\" \"FLAG2\"))(\"#public/\" \"/\"))\r\n") else { panic!() };
    assert_eq!((personal.len(), other.len(), shared.len()), (1, 1, 2));
    assert_eq!(shared[0].extensions[0].1.len(), 2);
    assert!(
        matches!(data("* NAMESPACE ((\"\" \".\")) NIL NIL\r\n"), Data::Namespace { other, .. } if other.is_empty())
    );
    let Data::Quota { resources, .. } =
        data("* QUOTA \"!partition/sda4\" (STORAGE 104 10923847 MESSAGE 5 100)\r\n")
    else {
        panic!()
    };
    assert_eq!(resources[1].limit, 100);
    assert!(
        matches!(data("* QUOTAROOT INBOX \"#user/alice\" \"!partition/sda4\"\r\n"), Data::QuotaRoot { roots, .. } if roots.len() == 2)
    );
    assert!(
        matches!(data("* QUOTAROOT comp.mail.mime\r\n"), Data::QuotaRoot { roots, .. } if roots.is_empty())
    );
    assert!(matches!(
        data("* VANISHED (EARLIER) 300:310,405,411\r\n"),
        Data::Vanished { earlier: true, .. }
    ));
    assert!(matches!(
        data("* VANISHED 405,407,410,425\r\n"),
        Data::Vanished { earlier: false, .. }
    ));
}

#[test]
fn fetch_data() {
    let Data::Fetch { seq, items } = data("* 12 FETCH (FLAGS (\\Seen) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" RFC822.SIZE 4286 ENVELOPE (\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"IMAP4rev1 WG mtg summary and minutes\" ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((NIL NIL \"imap\" \"cac.washington.edu\")) ((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) NIL NIL \"<B27397-0100000@cac.washington.edu>\") BODY (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92))\r\n") else { panic!() };
    assert_eq!(seq, 12);
    let MessageItem::Envelope(env) = &items[3] else {
        panic!()
    };
    assert_eq!(env.cc.len(), 2);
    assert_eq!(env.cc[1].name, Some(b("John Klensin")));
    assert!(env.bcc.is_empty());
    let MessageItem::Body(body) = &items[4] else {
        panic!()
    };
    assert!(matches!(
        **body,
        BodyStructure::Single {
            specific: SpecificFields::Text { lines: 92 },
            extension: None,
            ..
        }
    ));

    // A multipart BODYSTRUCTURE with extension data, a message/rfc822 part and a disposition.
    let Data::Fetch { items, .. } = data("* 3 FETCH (UID 7 MODSEQ (624140003) BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"QUOTED-PRINTABLE\" 1315 42 NIL NIL NIL NIL)(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 342 (NIL \"sub\" NIL NIL NIL NIL NIL NIL NIL NIL) (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 20 1) 12 NIL (\"inline\" NIL) NIL)(\"APPLICATION\" \"PDF\" (\"NAME\" \"a.pdf\") \"<id@x>\" \"desc\" \"BASE64\" 4096 \"md5sum\" (\"attachment\" (\"FILENAME\" \"a.pdf\")) (\"en\" \"de\") \"loc\" 7 (\"x\" 8)) \"MIXED\" (\"BOUNDARY\" \"b1\") NIL \"en\" NIL))\r\n") else { panic!() };
    assert_eq!(items[0], MessageItem::Uid(7));
    assert_eq!(items[1], MessageItem::ModSeq(624140003));
    let MessageItem::BodyStructure(bs) = &items[2] else {
        panic!()
    };
    let BodyStructure::Multi {
        parts,
        subtype,
        extension,
    } = &**bs
    else {
        panic!()
    };
    assert_eq!(parts.len(), 3);
    assert_eq!(subtype, "MIXED");
    assert!(extension
        .as_ref()
        .unwrap()
        .tail
        .as_ref()
        .unwrap()
        .tail
        .is_some());
    assert!(matches!(
        &parts[1],
        BodyStructure::Single {
            specific: SpecificFields::Message { lines: 12, .. },
            ..
        }
    ));
    let BodyStructure::Single {
        extension: Some(ext),
        ..
    } = &parts[2]
    else {
        panic!()
    };
    let loc = ext
        .tail
        .as_ref()
        .unwrap()
        .tail
        .as_ref()
        .unwrap()
        .tail
        .as_ref()
        .unwrap();
    assert_eq!(loc.extensions.len(), 2);

    let Data::Fetch { items, .. } = data("* 1 FETCH (BODY[1.2.HEADER.FIELDS (FROM TO)]<0> {5}\r\nabc\r\n BODY[]<10> NIL RFC822 NIL RFC822.HEADER \"h\" RFC822.TEXT \"t\" BINARY[1] ~{3}\r\na\0b BINARY.SIZE[2] 77 BINARY[] \"plain\")\r\n") else { panic!() };
    assert!(
        matches!(&items[0], MessageItem::BodySection { origin: Some(0), data: Some(d), .. } if d == "abc\r\n")
    );
    assert!(matches!(&items[5], MessageItem::Binary { data: Some(d), .. } if d[..] == b"a\0b"[..]));
    assert_eq!(
        items[6],
        MessageItem::BinarySize {
            part: vec![2],
            size: 77
        }
    );
}

#[test]
fn continuation_requests() {
    assert_eq!(
        parse("+ Ready for additional command text\r\n"),
        Response::Continuation(Continuation::Text {
            code: None,
            text: b("Ready for additional command text")
        })
    );
    assert!(matches!(
        parse("+ [ALERT] idling\r\n"),
        Response::Continuation(Continuation::Text {
            code: Some(ResponseCode::Alert),
            ..
        })
    ));
    assert!(matches!(
        parse_response(b"+\r\n").unwrap(),
        Response::Continuation(_)
    ));
    let mut dec = ResponseDecoder::new(Limits::default());
    dec.expect_greeting(false);
    dec.set_authenticating(true);
    dec.feed(
        b"+ YGgGCSqGSIb3EgECAgIBAAD/////6jcyG4GE3KkTzBeBiVHeceP2CWY0SR0fAQAgAAQEBAQ=\r\n+ \r\n",
    );
    assert!(
        matches!(dec.decode(), Ok(Decoded::Message(Response::Continuation(Continuation::Base64(d)))) if d.len() == 72)
    );
    assert_eq!(
        dec.decode(),
        Ok(Decoded::Message(Response::Continuation(
            Continuation::Base64(Bytes::new())
        )))
    );
}

#[test]
fn errors() {
    let e = parse_response(b"a1 MAYBE x\r\n").unwrap_err();
    assert_eq!(e.tag().unwrap().as_bytes(), b"a1");
    assert_eq!(e.offset(), 3);
    let e = parse_response(b"* 3 FETCH (FLAGS (\\Seen) BOGUS 1)\r\n").unwrap_err();
    assert_eq!(e.offset(), 25);
    assert!(e.to_string().contains("BOGUS"));
    let mut dec = ResponseDecoder::new(Limits::default());
    dec.feed(b"a1 OK not a greeting\r\n* OK next\r\n");
    assert!(matches!(
        dec.decode(),
        Err(Error::Syntax {
            expected: "greeting (* OK, * PREAUTH or * BYE)",
            ..
        })
    ));
    assert!(matches!(
        dec.decode(),
        Ok(Decoded::Message(Response::Status(_)))
    ));
}

#[test]
fn list_extended_items_and_binary_origin() {
    let Data::List(l) = data("* LIST (\\Marked) \":\" Tables (tablecloth ((\"edge\" \"lacy\") (\"color\" \"red\")) Sample \"text\")\r\n") else { panic!() };
    assert_eq!(l.extended.len(), 2);
    let ListExtendedItem::Other {
        tag,
        value: ExtensionValue::List(v),
    } = &l.extended[0]
    else {
        panic!()
    };
    assert_eq!(tag, "tablecloth");
    assert_eq!(v.len(), 2);
    let Data::Fetch { items, .. } = data("* 2 FETCH (BINARY[1]<0> ~{3}\r\n\0ab)\r\n") else {
        panic!()
    };
    assert!(
        matches!(&items[0], MessageItem::Binary { origin: Some(0), data: Some(d), .. } if d[..] == b"\0ab"[..])
    );
    let Data::Status { items, .. } = data("* STATUS INBOX (DELETED-STORAGE 8)\r\n") else {
        panic!()
    };
    assert_eq!(items[0], StatusValue::DeletedStorage(8));
}

#[test]
fn savedate_fetch_data() {
    let Data::Fetch { items, .. } =
        data("* 1 FETCH (UID 4 SAVEDATE \"17-Jul-1996 02:44:25 -0700\")\r\n")
    else {
        panic!()
    };
    let MessageItem::SaveDate(Some(d)) = &items[1] else {
        panic!("{items:?}")
    };
    assert_eq!((d.date.day, d.hour), (17, 2));
    let Data::Fetch { items, .. } = data("* 2 FETCH (SAVEDATE NIL UID 5)\r\n") else {
        panic!()
    };
    assert_eq!(items, [MessageItem::SaveDate(None), MessageItem::Uid(5)]);
    assert!(columba_imap_proto::parse_response(b"* 2 FETCH (SAVEDATE NILS)\r\n").is_err());
    assert!(columba_imap_proto::parse_response(b"* 2 FETCH (SAVEDATE 5)\r\n").is_err());
}

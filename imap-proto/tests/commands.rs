//! Every command of RFC 3501, RFC 9051 and the supported extensions: decoded
//! into the expected type, re-encoded, and decoded again to the same value.

use bytes::Bytes;
use columba_imap_proto::*;

fn parse(input: &str) -> Command {
    let c = parse_command(input.as_bytes()).unwrap_or_else(|e| panic!("{input:?}: {e}"));
    let again = parse_command(&c.encode())
        .unwrap_or_else(|e| panic!("re-encoded {:?}: {e}", String::from_utf8_lossy(&c.encode())));
    assert_eq!(again, c, "round trip of {input:?}");
    let mut nonsync = Vec::new();
    c.encode_to(&mut nonsync, LiteralMode::NonSync);
    assert_eq!(parse_command(&nonsync).unwrap(), c);
    c
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

#[test]
fn any_state_and_not_authenticated() {
    for (input, name) in [
        ("a CAPABILITY\r\n", "CAPABILITY"),
        ("a noop\r\n", "NOOP"),
        ("a LOGOUT\r\n", "LOGOUT"),
        ("a STARTTLS\r\n", "STARTTLS"),
        ("a NAMESPACE\r\n", "NAMESPACE"),
        ("a IDLE\r\n", "IDLE"),
        ("a CHECK\r\n", "CHECK"),
        ("a CLOSE\r\n", "CLOSE"),
        ("a UNSELECT\r\n", "UNSELECT"),
        ("a EXPUNGE\r\n", "EXPUNGE"),
    ] {
        assert_eq!(parse(input).body.name(), name);
    }
    let c = parse("a001 LOGIN SMITH SESAME\r\n");
    let CommandBody::Login { username, password } = c.body else {
        panic!()
    };
    assert_eq!(username, "SMITH");
    assert_eq!(password.expose(), b"SESAME");
    assert!(!format!("{password:?}").contains("SESAME"));

    let c = parse("A001 LOGIN {11}\r\nFRED FOOBAR {7}\r\nfat man\r\n");
    let CommandBody::Login { username, password } = c.body else {
        panic!()
    };
    assert_eq!(username, "FRED FOOBAR");
    assert_eq!(password.expose(), b"fat man");

    let c = parse("A01 AUTHENTICATE PLAIN dGVzdAB0ZXN0AHRlc3Q=\r\n");
    let CommandBody::Authenticate {
        mechanism,
        initial_response,
    } = c.body
    else {
        panic!()
    };
    assert_eq!(mechanism.as_str(), "PLAIN");
    assert_eq!(initial_response.unwrap().expose(), b"dGVzdAB0ZXN0AHRlc3Q=");
    let c = parse("A01 AUTHENTICATE EXTERNAL =\r\n");
    assert!(
        matches!(c.body, CommandBody::Authenticate { initial_response: Some(ref r), .. } if r.expose().is_empty())
    );
    parse("A01 AUTHENTICATE GSSAPI\r\n");
    let c = parse("a ID (\"name\" \"Thunderbird\" \"version\" \"115.0\" \"os\" NIL)\r\n");
    let CommandBody::Id(Some(fields)) = c.body else {
        panic!()
    };
    assert_eq!(fields[2], (b("os"), None));
    assert_eq!(parse("a ID NIL\r\n").body, CommandBody::Id(None));
    let c = parse("a ENABLE CONDSTORE QRESYNC UTF8=ACCEPT\r\n");
    let CommandBody::Enable { capabilities } = c.body else {
        panic!()
    };
    assert_eq!(capabilities.len(), 3);
    assert!(capabilities[2].eq_ignore_case("utf8=accept"));
    parse("a COMPRESS DEFLATE\r\n");
}

#[test]
fn mailbox_commands() {
    let c = parse("A142 SELECT INBOX\r\n");
    assert_eq!(
        c.body,
        CommandBody::Select {
            mailbox: Mailbox::Inbox,
            params: vec![]
        }
    );
    let c = parse("a EXAMINE \"Entw&APw-rfe\" (CONDSTORE)\r\n");
    let CommandBody::Examine { mailbox, params } = c.body else {
        panic!()
    };
    assert_eq!(mailbox.to_utf8().unwrap(), "Entwürfe");
    assert_eq!(params, vec![SelectParam::CondStore]);
    let c = parse("A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n");
    let CommandBody::Select { params, .. } = c.body else {
        panic!()
    };
    assert!(matches!(
        params[0],
        SelectParam::QResync {
            uid_validity: 67890007,
            modseq: 20050715194045000,
            known_uids: Some(_),
            seq_match: None
        }
    ));
    let c = parse("B04 SELECT INBOX (QRESYNC (67890007 90060115194045000 1:29997 (5000,7500,9000,9990:9999 15000,22500,27000,29970,29973,29976,29979,29982,29985,29988,29991,29994,29997)))\r\n");
    let CommandBody::Select { params, .. } = c.body else {
        panic!()
    };
    assert!(matches!(
        params[0],
        SelectParam::QResync {
            seq_match: Some(_),
            ..
        }
    ));
    parse("A003 CREATE owatagusiam/\r\n");
    let c = parse("t1 CREATE \"Important Messages\" (USE (\\Important))\r\n");
    let CommandBody::Create { special_use, .. } = c.body else {
        panic!()
    };
    assert_eq!(special_use[0].as_str(), "Important");
    parse("A683 DELETE blurdybloop\r\n");
    parse("A683 RENAME blurdybloop sarasoop\r\n");
    parse("A002 SUBSCRIBE #news.comp.mail.mime\r\n");
    parse("A002 UNSUBSCRIBE #news.comp.mail.mime\r\n");
    let c = parse("A682 LIST \"\" *\r\n");
    assert!(matches!(c.body, CommandBody::List { ref patterns, .. } if patterns[0] == "*"));
    parse("A202 LIST ~/Mail/ %\r\n");
    parse("A002 LSUB \"#news.\" \"comp.mail.*\"\r\n");
    let c = parse("A02 LIST (SUBSCRIBED REMOTE RECURSIVEMATCH) \"\" (\"%\" \"Other Users/%\") RETURN (CHILDREN SPECIAL-USE STATUS (MESSAGES UNSEEN SIZE))\r\n");
    let CommandBody::List {
        selection,
        patterns,
        return_options,
        ..
    } = c.body
    else {
        panic!()
    };
    assert_eq!(selection.len(), 3);
    assert_eq!(patterns.len(), 2);
    assert_eq!(
        return_options[2],
        ListReturnOption::Status(vec![
            StatusItem::Messages,
            StatusItem::Unseen,
            StatusItem::Size
        ])
    );
    parse("t3 LIST (SPECIAL-USE) \"\" \"*\"\r\n");
    parse("A03 LIST () \"\" \"%\" RETURN (SUBSCRIBED)\r\n");
    let c = parse("A042 STATUS blurdybloop (UIDNEXT MESSAGES HIGHESTMODSEQ DELETED APPENDLIMIT RECENT UIDVALIDITY)\r\n");
    assert!(matches!(c.body, CommandBody::Status { ref items, .. } if items.len() == 7));
    parse("a GETQUOTA \"\"\r\n");
    parse("a GETQUOTAROOT INBOX\r\n");
    let c = parse("S0000 SETQUOTA \"#user/alice\" (STORAGE 510 MESSAGE 1000)\r\n");
    assert!(matches!(c.body, CommandBody::SetQuota { ref limits, .. } if limits[1].1 == 1000));
    parse("a SETQUOTA \"\" ()\r\n");
}

#[test]
fn append_plain_multi_binary() {
    let msg = "Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\nFrom: Fred Foobar <foobar@Blurdybloop.example>\r\n\r\nHello Joe, do you think we can meet at 3:30 tomorrow?\r\n";
    let input = format!(
        "A003 APPEND saved-messages (\\Seen) \"17-Jul-1996 02:44:25 -0700\" {{{}}}\r\n{}\r\n",
        msg.len(),
        msg
    );
    let c = parse(&input);
    let CommandBody::Append { mailbox, messages } = c.body else {
        panic!()
    };
    assert_eq!(mailbox, Mailbox::from_wire(b("saved-messages")));
    assert_eq!(messages[0].data, msg);
    assert_eq!(messages[0].flags, vec![Flag::Seen]);
    let d = messages[0].date.unwrap();
    assert_eq!(
        (d.date.day, d.date.month, d.date.year, d.zone_minutes),
        (17, 7, 1996, -420)
    );

    let c = parse("A003 APPEND saved-messages (\\Seen) {3+}\r\nabc (\\Draft) \" 1-Feb-2024 10:00:00 +0000\" {2+}\r\nxy\r\n");
    let CommandBody::Append { messages, .. } = c.body else {
        panic!()
    };
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[1].data, "xy");
    let c = parse("a APPEND INBOX ~{5}\r\nab\0cd\r\n");
    let CommandBody::Append { messages, .. } = c.body else {
        panic!()
    };
    assert!(messages[0].binary);
    assert_eq!(&messages[0].data[..], b"ab\0cd");
    // 8-bit bytes are carried through.
    let c = parse_command(b"a APPEND INBOX {4}\r\n\xc3\xa9\xff\x80\r\n").unwrap();
    assert_eq!(parse_command(&c.encode()).unwrap(), c);
    let CommandBody::Append { messages, .. } = c.body else {
        panic!()
    };
    assert_eq!(&messages[0].data[..], b"\xc3\xa9\xff\x80");
    let c = parse_command(b"a LOGIN \"j\xc3\xbcrgen\" x\r\n").unwrap();
    assert!(
        matches!(c.body, CommandBody::Login { ref username, .. } if username[..] == *"jürgen".as_bytes())
    );
}

#[test]
fn selected_state() {
    let c = parse("A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n");
    let CommandBody::Search {
        criteria,
        uid: false,
        ..
    } = c.body
    else {
        panic!()
    };
    assert_eq!(criteria.len(), 3);
    assert_eq!(
        criteria[1],
        SearchKey::Since(Date {
            year: 1994,
            month: 2,
            day: 1
        })
    );
    assert_eq!(
        criteria[2],
        SearchKey::Not(Box::new(SearchKey::From(b("Smith"))))
    );
    let c = parse("A284 SEARCH CHARSET UTF-8 TEXT {12}\r\nXXXXXXXXXXXX\r\n");
    assert!(matches!(
        c.body,
        CommandBody::Search {
            charset: Some(_),
            ..
        }
    ));
    parse("a UID SEARCH OR (SEEN FLAGGED) (UNSEEN LARGER 1000) UID 1:* HEADER Message-ID \"<x@y>\" KEYWORD $Forwarded\r\n");
    parse("a SEARCH ANSWERED BCC x BEFORE 1-Jan-2000 BODY y CC z DELETED DRAFT FLAGGED NEW OLD ON 2-Mar-2001 RECENT SEEN SENTBEFORE 1-Jan-2000 SENTON 1-Jan-2000 SENTSINCE 1-Jan-2000 SMALLER 5 SUBJECT s TEXT t TO u UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNKEYWORD k UNSEEN 1,3:5,7:* ALL\r\n");
    let c = parse("a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338\r\n");
    assert!(
        matches!(c.body, CommandBody::Search { ref criteria, .. } if matches!(criteria[0], SearchKey::ModSeq { entry: Some((_, EntryType::All)), modseq: 620162338 }))
    );
    let c = parse("A282 SEARCH RETURN (MIN COUNT SAVE) FLAGGED SINCE 1-Feb-1994\r\n");
    assert!(
        matches!(c.body, CommandBody::Search { return_options: Some(ref o), .. } if o.len() == 3)
    );
    parse("A283 SEARCH RETURN () FLAGGED\r\n");
    parse("A284 FETCH $ (UID)\r\n");
    parse("a UID SEARCH UID $ SEEN\r\n");

    let c = parse("A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])\r\n");
    let CommandBody::Fetch {
        items: FetchItems::Items(items),
        ..
    } = c.body
    else {
        panic!()
    };
    assert_eq!(
        items[1],
        FetchAttribute::BodySection {
            peek: false,
            section: Section {
                part: vec![],
                text: Some(SectionText::HeaderFields(vec![b("DATE"), b("FROM")]))
            },
            partial: None
        }
    );
    for input in [
        "a FETCH 1 ALL\r\n",
        "a FETCH 1 FAST\r\n",
        "a FETCH 1:* FULL\r\n",
        "a FETCH 1 (ENVELOPE FLAGS INTERNALDATE RFC822 RFC822.HEADER RFC822.SIZE RFC822.TEXT BODY BODYSTRUCTURE UID MODSEQ)\r\n",
        "a UID FETCH 1:* (BODY.PEEK[1.2.HEADER.FIELDS.NOT (X-Spam)]<0.2048> BODY[1.MIME] BODY[2.TEXT] BODY[] BODY[3])\r\n",
        "a FETCH 1 (BINARY[1.2] BINARY.PEEK[]<10.20> BINARY.SIZE[1])\r\n",
        "s100 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)\r\n",
        "s100 UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)\r\n",
        "a fetch 12 body[header]\r\n",
    ] {
        parse(input);
    }
    let c = parse("A003 STORE 2:4 +FLAGS (\\Deleted)\r\n");
    assert_eq!(
        c.body,
        CommandBody::Store {
            uid: false,
            set: SequenceSet::range(2, 4),
            unchanged_since: None,
            kind: StoreKind::Add,
            silent: false,
            flags: vec![Flag::Deleted]
        }
    );
    let c = parse("a UID STORE 1 -FLAGS.SILENT \\Seen $Junk\r\n");
    assert!(
        matches!(c.body, CommandBody::Store { uid: true, kind: StoreKind::Remove, silent: true, ref flags, .. } if flags.len() == 2)
    );
    let c = parse("d105 STORE 7,5,9 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Deleted)\r\n");
    assert!(matches!(
        c.body,
        CommandBody::Store {
            unchanged_since: Some(320162338),
            ..
        }
    ));
    parse("a STORE 1 FLAGS ()\r\n");
    parse("A003 COPY 2:4 MEETING\r\n");
    parse("a UID COPY 1:3 \"Sent Items\"\r\n");
    parse("a MOVE 1:3 Trash\r\n");
    parse("a UID MOVE 42 Junk\r\n");
    let c = parse("A202 UID EXPUNGE 3000:3002\r\n");
    assert_eq!(
        c.body,
        CommandBody::UidExpunge(SequenceSet::range(3000, 3002))
    );
}

#[test]
fn errors_carry_tag_offset_and_expectation() {
    let e = parse_command(b"a1 FETCH 1 (FLAGS BOGUS)\r\n").unwrap_err();
    assert_eq!(e.tag().map(|t| t.as_bytes()), Some(&b"a1"[..]));
    assert_eq!(e.offset(), 18);
    assert!(e.to_string().contains("BOGUS"), "{e}");
    let e = parse_command(b"a2 FROBNICATE\r\n").unwrap_err();
    assert_eq!(e.offset(), 3);
    assert!(e.to_string().contains("command name"), "{e}");
    let e = parse_command(b"+x NOOP\r\n").unwrap_err();
    assert_eq!(e.tag(), None);
    assert_eq!(e.offset(), 0);
    let e = parse_command(b"a3 LOGIN \"unterminated\r\n").unwrap_err();
    assert_eq!(e.tag().unwrap().as_bytes(), b"a3");
    let e = parse_command(b"a4 SELECT INBOX\r\nextra").unwrap_err();
    assert_eq!(e.offset(), 15);
    let e = parse_command(b"a5 LOGIN {10}\r\nshort\r\n").unwrap_err();
    assert!(matches!(
        e,
        Error::Syntax {
            expected: "literal data",
            ..
        }
    ));
    // Display escapes the offending bytes.
    let e = parse_command(b"a6 NOOP \x00\xff\r\n").unwrap_err();
    assert!(e.to_string().contains(r"\x00\xff\r\n"), "{e}");
    // Deep nesting is refused, not overflowed.
    let deep = format!(
        "a7 SEARCH {}ALL{}\r\n",
        "(".repeat(10_000),
        ")".repeat(10_000)
    );
    assert!(matches!(
        parse_command(deep.as_bytes()),
        Err(Error::TooDeep { .. })
    ));
    let deep = format!("a8 SEARCH {}ALL\r\n", "NOT ".repeat(10_000));
    assert!(matches!(
        parse_command(deep.as_bytes()),
        Err(Error::TooDeep { .. })
    ));
}

#[test]
fn encoder_chooses_atom_quoted_literal() {
    let login = |u: &[u8], p: &[u8]| Command {
        tag: Tag::new(b("a")).unwrap(),
        body: CommandBody::Login {
            username: Bytes::copy_from_slice(u),
            password: Secret(Bytes::copy_from_slice(p)),
        },
    };
    assert_eq!(login(b"alice", b"pw").encode(), b"a LOGIN alice pw\r\n");
    assert_eq!(login(b"a b", b"").encode(), b"a LOGIN \"a b\" \"\"\r\n");
    assert_eq!(
        login(b"q\"\\", b"x").encode(),
        b"a LOGIN \"q\\\"\\\\\" x\r\n"
    );
    assert_eq!(
        login(b"l\r\n", b"x").encode(),
        b"a LOGIN {3}\r\nl\r\n x\r\n"
    );
    assert_eq!(
        login("jürgen".as_bytes(), b"x").encode(),
        "a LOGIN {7}\r\njürgen x\r\n".as_bytes()
    );
    let mut out = Vec::new();
    login(b"l\r\n", b"x").encode_to(&mut out, LiteralMode::NonSync);
    assert_eq!(out, b"a LOGIN {3+}\r\nl\r\n x\r\n");
    assert!(Tag::new(b("a b")).is_err());
    assert!(Atom::new(b("x(")).is_err());
    assert_eq!(Mailbox::from_utf8("INBOX"), Mailbox::Inbox);
}

#[test]
fn nul_is_refused_outside_literal8() {
    // Dovecot answers BAD to NUL in quoted strings and literals; literal8 carries it.
    let e = parse_command(b"b1 LOGIN \"al\0ice\" pw\r\n").unwrap_err();
    assert_eq!((e.offset(), e.tag().unwrap().as_bytes()), (12, &b"b1"[..]));
    let e = parse_command(b"b3 LOGIN {6}\r\nal\0ice pw\r\n").unwrap_err();
    assert_eq!(e.offset(), 16);
    // A value with NUL is encoded as literal8, which decodes.
    let c = Command {
        tag: Tag::new(b("a")).unwrap(),
        body: CommandBody::Login {
            username: b("x\0y"),
            password: Secret(b("p")),
        },
    };
    assert_eq!(c.encode(), b"a LOGIN ~{3}\r\nx\0y p\r\n");
    assert_eq!(parse_command(&c.encode()).unwrap(), c);
}

#[test]
fn utf8_append_and_deleted_storage() {
    let c = parse("A003 APPEND Drafts (\\Draft) UTF8 (~{5+}\r\nHallo)\r\n");
    let CommandBody::Append { messages, .. } = c.body else {
        panic!()
    };
    assert!(messages[0].utf8);
    assert_eq!(messages[0].data, "Hallo");
    let c = parse("a STATUS INBOX (DELETED-STORAGE SIZE)\r\n");
    assert!(
        matches!(c.body, CommandBody::Status { ref items, .. } if items[0] == StatusItem::DeletedStorage)
    );
}

#[test]
fn out_of_range_values_still_encode_to_valid_bytes() {
    let c = Command {
        tag: Tag::new(b("a")).unwrap(),
        body: CommandBody::Append {
            mailbox: Mailbox::Inbox,
            messages: vec![AppendMessage {
                flags: vec![],
                date: Some(DateTime {
                    date: Date {
                        year: 20000,
                        month: 13,
                        day: 0,
                    },
                    hour: 99,
                    minute: 99,
                    second: 99,
                    zone_minutes: i16::MIN,
                }),
                data: b("x"),
                binary: false,
                utf8: false,
            }],
        },
    };
    assert!(
        parse_command(&c.encode()).is_ok(),
        "{:?}",
        String::from_utf8_lossy(&c.encode())
    );
    let c = Command {
        tag: Tag::new(b("a")).unwrap(),
        body: CommandBody::Fetch {
            uid: true,
            set: SequenceSet::range(0, 0),
            items: FetchItems::Items(vec![FetchAttribute::BodySection {
                peek: true,
                section: Section {
                    part: vec![0],
                    text: None,
                },
                partial: Some((0, 0)),
            }]),
            modifiers: vec![],
        },
    };
    assert_eq!(c.encode(), b"a UID FETCH 1:1 BODY.PEEK[1]<0.1>\r\n");
}

#[test]
fn into_owned_copies_out_of_the_receive_buffer() {
    let c = parse("a LOGIN {5}\r\nalice \"pw\"\r\n");
    assert_eq!(c.clone().into_owned(), c);
}

#[test]
fn savedate_fetch_item_and_search_keys() {
    // RFC 8514 section 5's examples
    let c = parse("a102 fetch 1 (savedate)\r\n");
    let CommandBody::Fetch { items, .. } = c.body else {
        panic!()
    };
    assert_eq!(items, FetchItems::Items(vec![FetchAttribute::SaveDate]));
    let c = parse("a SEARCH SAVEDBEFORE 1-Jan-2024 SAVEDON 2-Feb-2024 SAVEDSINCE 3-Mar-2024 SAVEDATESUPPORTED\r\n");
    let CommandBody::Search { ref criteria, .. } = c.body else {
        panic!()
    };
    assert!(matches!(criteria[0], SearchKey::SavedBefore(d) if d.year == 2024 && d.day == 1));
    assert!(matches!(criteria[1], SearchKey::SavedOn(d) if d.month == 2));
    assert!(matches!(criteria[2], SearchKey::SavedSince(d) if d.day == 3));
    assert_eq!(criteria[3], SearchKey::SaveDateSupported);
    assert_eq!(
        c.encode(),
        b"a SEARCH SAVEDBEFORE 1-Jan-2024 SAVEDON 2-Feb-2024 SAVEDSINCE 3-Mar-2024 SAVEDATESUPPORTED\r\n"
    );
    assert!(parse_command(b"a SEARCH SAVEDON\r\n").is_err());
    assert!(parse_command(b"a FETCH 1 SAVEDATE[]\r\n").is_err());
}

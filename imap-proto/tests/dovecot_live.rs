//! Against a live private Dovecot: commands encoded by this crate are
//! accepted, and everything Dovecot answers decodes (and survives a
//! re-encode). Skipped, visibly, when Dovecot is not installed.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::Bytes;
use columba_imap_proto::*;
use columba_interop::{require_tool, DovecotConfig, PrivateDovecot};

struct Client {
    stream: TcpStream,
    decoder: ResponseDecoder,
    next: u32,
}

impl Client {
    /// Reads until a response satisfies `done`; returns all of them.
    fn read_until(&mut self, done: impl Fn(&Response) -> bool) -> Vec<Response> {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            loop {
                match self.decoder.decode() {
                    Ok(Decoded::Message(r)) => {
                        let again = parse_response(&r.encode());
                        assert_eq!(again.as_ref().ok(), Some(&r), "re-encoding {r:?}");
                        let finished = done(&r);
                        out.push(r);
                        if finished {
                            return out;
                        }
                    }
                    Ok(_) => break,
                    Err(e) => panic!("Dovecot sent something we cannot decode: {e}"),
                }
            }
            let n = self.stream.read(&mut buf).expect("read from Dovecot");
            assert!(n > 0, "Dovecot closed the connection after {out:#?}");
            self.decoder.feed(&buf[..n]);
        }
    }

    /// Sends a command (waiting for `+` after each synchronizing literal)
    /// and returns everything up to its tagged completion, which must be OK.
    fn run(&mut self, body: CommandBody) -> Vec<Response> {
        self.next += 1;
        let tag = Tag::new(Bytes::from(format!("c{}", self.next))).unwrap();
        let command = Command {
            tag: tag.clone(),
            body,
        };
        let parts = command.encode_parts();
        let mut out = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            self.stream.write_all(part).unwrap();
            if i + 1 < parts.len() {
                out.extend(self.read_until(|r| matches!(r, Response::Continuation(_))));
            }
        }
        out.extend(
            self.read_until(|r| matches!(r, Response::Status(s) if s.tag.as_ref() == Some(&tag))),
        );
        match out.last() {
            Some(Response::Status(s)) if s.kind == StatusKind::Ok => out,
            other => panic!("{} failed: {other:?}", command.body.name()),
        }
    }
}

fn data(responses: &[Response]) -> Vec<&Data> {
    responses
        .iter()
        .filter_map(|r| match r {
            Response::Data(d) => Some(d),
            _ => None,
        })
        .collect()
}

fn tagged_code(responses: &[Response]) -> Option<&ResponseCode> {
    match responses.last() {
        Some(Response::Status(s)) => s.code.as_ref(),
        _ => None,
    }
}

/// Seconds since 1970 of a date-time (days from civil, proleptic Gregorian).
fn utc_seconds(d: DateTime) -> i64 {
    let (y, m, day) = (
        i64::from(d.date.year),
        i64::from(d.date.month),
        i64::from(d.date.day),
    );
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    days * 86400 + i64::from(d.hour) * 3600 + i64::from(d.minute) * 60 + i64::from(d.second)
        - i64::from(d.zone_minutes) * 60
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

#[test]
fn a_session_with_dovecot_decodes_end_to_end() {
    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    let stream = TcpStream::connect(("127.0.0.1", dovecot.imap_port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut c = Client {
        stream,
        decoder: ResponseDecoder::new(Limits::default()),
        next: 0,
    };
    let greeting = c.read_until(|_| true);
    assert!(matches!(
        &greeting[0],
        Response::Status(StatusResponse {
            tag: None,
            kind: StatusKind::Ok,
            ..
        })
    ));

    let caps = c.run(CommandBody::Capability);
    assert!(data(&caps).iter().any(
        |d| matches!(d, Data::Capability(c) if c.iter().any(|a| a.eq_ignore_case("IMAP4rev1")))
    ));
    c.run(CommandBody::Login {
        username: b("alice"),
        password: Secret(b("alicepw")),
    });
    let enabled = c.run(CommandBody::Enable {
        capabilities: vec![Atom::from_static("CONDSTORE")],
    });
    assert!(data(&enabled)
        .iter()
        .any(|d| matches!(d, Data::Enabled(c) if c.len() == 1)));
    let id = c.run(CommandBody::Id(Some(vec![(b("name"), Some(b("columba")))])));
    assert!(data(&id).iter().any(|d| matches!(d, Data::Id(_))));
    let ns = c.run(CommandBody::Namespace);
    assert!(data(&ns)
        .iter()
        .any(|d| matches!(d, Data::Namespace { personal, .. } if !personal.is_empty())));

    let select = c.run(CommandBody::Select {
        mailbox: Mailbox::Inbox,
        params: vec![],
    });
    assert!(data(&select).iter().any(|d| matches!(d, Data::Exists(0))));
    assert_eq!(tagged_code(&select), Some(&ResponseCode::ReadWrite));

    // APPEND with synchronizing literals (MULTIAPPEND: two messages).
    let first = b("From: Fred <fred@example.org>\r\nSubject: hello\r\n\r\nfirst body, grüße\r\n");
    let second = b("Subject: second\r\n\r\nsecond\r\n");
    let date =
        parse_response(b"* 1 FETCH (INTERNALDATE \"17-Jul-1996 02:44:25 -0700\")\r\n").unwrap();
    let Response::Data(Data::Fetch { items, .. }) = date else {
        panic!()
    };
    let MessageItem::InternalDate(date) = items[0] else {
        panic!()
    };
    let append = c.run(CommandBody::Append {
        mailbox: Mailbox::Inbox,
        messages: vec![
            AppendMessage {
                flags: vec![Flag::Seen],
                date: Some(date),
                data: first.clone(),
                binary: false,
                utf8: false,
            },
            AppendMessage {
                flags: vec![],
                date: None,
                data: second.clone(),
                binary: false,
                utf8: false,
            },
        ],
    });
    assert!(
        append
            .iter()
            .any(|r| matches!(r, Response::Continuation(_))),
        "{append:#?}"
    );
    assert!(
        matches!(tagged_code(&append), Some(ResponseCode::AppendUid { .. })),
        "{append:#?}"
    );

    let fetch = c.run(CommandBody::Fetch {
        uid: true,
        set: SequenceSet::Ranges(vec![SeqRange {
            start: SeqNumber::Value(1),
            end: Some(SeqNumber::Largest),
        }]),
        items: FetchItems::Items(vec![
            FetchAttribute::Uid,
            FetchAttribute::Flags,
            FetchAttribute::InternalDate,
            FetchAttribute::Rfc822Size,
            FetchAttribute::Envelope,
            FetchAttribute::BodyStructure,
            FetchAttribute::ModSeq,
            FetchAttribute::BodySection {
                peek: true,
                section: Section::default(),
                partial: None,
            },
        ]),
        modifiers: vec![],
    });
    let fetched: Vec<&Vec<MessageItem>> = data(&fetch)
        .into_iter()
        .filter_map(|d| match d {
            Data::Fetch { items, .. } => Some(items),
            _ => None,
        })
        .collect();
    assert_eq!(fetched.len(), 2);
    let body = fetched[0].iter().find_map(|i| match i {
        MessageItem::BodySection { data, .. } => data.clone(),
        _ => None,
    });
    assert_eq!(body.as_ref(), Some(&first));
    // Dovecot keeps the instant, and shows it in its own time zone.
    let internal = fetched[0].iter().find_map(|i| match i {
        MessageItem::InternalDate(d) => Some(*d),
        _ => None,
    });
    assert_eq!(
        internal.map(utc_seconds),
        Some(utc_seconds(date)),
        "{internal:?}"
    );
    let subject = fetched[0].iter().find_map(|i| match i {
        MessageItem::Envelope(e) => e.subject.clone(),
        _ => None,
    });
    assert_eq!(subject, Some(b("hello")));
    assert!(fetched[0]
        .iter()
        .any(|i| matches!(i, MessageItem::BodyStructure(_))));
    assert!(fetched[0]
        .iter()
        .any(|i| matches!(i, MessageItem::Flags(f) if f.contains(&Flag::Seen))));

    let search = c.run(CommandBody::Search {
        uid: true,
        return_options: Some(vec![
            SearchReturnOption::Min,
            SearchReturnOption::Count,
            SearchReturnOption::All,
        ]),
        charset: None,
        criteria: vec![SearchKey::Or(
            Box::new(SearchKey::Subject(b("hello"))),
            Box::new(SearchKey::Subject(b("second"))),
        )],
    });
    assert!(
        data(&search)
            .iter()
            .any(|d| matches!(d, Data::ESearch(e) if e.data.contains(&ESearchData::Count(2)))),
        "{search:#?}"
    );

    let store = c.run(CommandBody::Store {
        uid: false,
        set: SequenceSet::single(2),
        unchanged_since: None,
        kind: StoreKind::Add,
        silent: false,
        flags: vec![Flag::Flagged, Flag::keyword("$Forwarded").unwrap()],
    });
    assert!(data(&store)
        .iter()
        .any(|d| matches!(d, Data::Fetch { seq: 2, .. })));

    let drafts = Mailbox::from_utf8("Entwürfe");
    c.run(CommandBody::Create {
        mailbox: drafts.clone(),
        special_use: vec![],
    });
    let list = c.run(CommandBody::List {
        selection: vec![],
        reference: Mailbox::from_wire(b("")),
        patterns: vec![b("*")],
        return_options: vec![ListReturnOption::Status(vec![StatusItem::Messages])],
    });
    assert!(data(&list).iter().any(|d| matches!(d, Data::List(l) if l.mailbox.to_utf8().ok().as_deref() == Some("Entwürfe"))), "{list:#?}");
    let moved = c.run(CommandBody::Move {
        uid: false,
        set: SequenceSet::single(1),
        mailbox: drafts.clone(),
    });
    assert!(
        moved.iter().any(|r| matches!(
            r,
            Response::Status(StatusResponse {
                code: Some(ResponseCode::CopyUid { .. }),
                ..
            })
        )),
        "{moved:#?}"
    );
    let status = c.run(CommandBody::Status {
        mailbox: drafts,
        items: vec![
            StatusItem::Messages,
            StatusItem::UidNext,
            StatusItem::Unseen,
            StatusItem::HighestModSeq,
        ],
    });
    assert!(
        data(&status).iter().any(
            |d| matches!(d, Data::Status { items, .. } if items.contains(&StatusValue::Messages(1)))
        ),
        "{status:#?}"
    );

    // IDLE: "+ idling", then DONE ends it.
    c.next += 1;
    let tag = Tag::new(Bytes::from(format!("c{}", c.next))).unwrap();
    c.stream
        .write_all(
            &Command {
                tag: tag.clone(),
                body: CommandBody::Idle,
            }
            .encode(),
        )
        .unwrap();
    c.read_until(|r| matches!(r, Response::Continuation(_)));
    c.stream.write_all(IDLE_DONE).unwrap();
    let idle = c.read_until(|r| matches!(r, Response::Status(s) if s.tag.as_ref() == Some(&tag)));
    assert!(matches!(idle.last(), Some(Response::Status(s)) if s.kind == StatusKind::Ok));

    let logout = c.run(CommandBody::Logout);
    assert!(logout
        .iter()
        .any(|r| matches!(r, Response::Status(s) if s.kind == StatusKind::Bye)));
    assert_eq!(dovecot.log_problems(), Vec::<String>::new());
}

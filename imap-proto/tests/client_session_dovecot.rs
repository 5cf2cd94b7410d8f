//! `ClientSession` driving a live private Dovecot 2.3: it says when to send
//! each literal part, each AUTHENTICATE line and `DONE`, and which command
//! each tagged status completes. Skipped, visibly, when Dovecot is not
//! installed (a failure under `COLUMBA_REQUIRE_INTEROP=1`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::Bytes;
use columba_imap_proto::*;
use columba_interop::{require_tool, DovecotConfig, PrivateDovecot};

/// base64 of "\0alice\0alicepw".
const PLAIN: &[u8] = b"AGFsaWNlAGFsaWNlcHc=";

struct Client {
    stream: TcpStream,
    session: ClientSession,
    next: u32,
}

impl Client {
    fn connect(dovecot: &PrivateDovecot) -> Client {
        let stream = TcpStream::connect(("127.0.0.1", dovecot.imap_port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut c = Client {
            stream,
            session: ClientSession::new(Limits::default()),
            next: 0,
        };
        let greeting = c.event();
        assert!(matches!(
            greeting.response,
            Response::Status(StatusResponse {
                kind: StatusKind::Ok,
                ..
            })
        ));
        c
    }

    /// The next decoded response with its meaning.
    fn event(&mut self) -> ClientEvent {
        let mut buf = [0u8; 4096];
        loop {
            match self.session.decode() {
                Ok(Decoded::Message(e)) => return e,
                Ok(_) => {}
                Err(e) => panic!("Dovecot sent something we cannot decode: {e}"),
            }
            let n = self.stream.read(&mut buf).expect("read from Dovecot");
            assert!(n > 0, "Dovecot closed the connection");
            self.session.feed(&buf[..n]);
        }
    }

    /// Events up to one that is not untagged data or an untagged OK/NO.
    fn step(&mut self) -> ClientEvent {
        loop {
            let e = self.event();
            let untagged = match &e.response {
                Response::Data(_) => true,
                Response::Status(s) => {
                    s.tag.is_none() && matches!(s.kind, StatusKind::Ok | StatusKind::No)
                }
                Response::Continuation(_) => false,
            };
            if !untagged {
                return e;
            }
            assert_eq!(e.next, NextStep::Nothing);
        }
    }

    fn send(&mut self, body: CommandBody) -> Tag {
        self.next += 1;
        let tag = Tag::new(Bytes::from(format!("s{}", self.next))).unwrap();
        let bytes = self.session.send(&Command {
            tag: tag.clone(),
            body,
        });
        self.stream.write_all(&bytes).unwrap();
        tag
    }

    fn write(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// The next step must complete `tag` (the command `name`) with `kind`.
    fn expect_completion(&mut self, tag: &Tag, name: &str, kind: StatusKind) -> ClientEvent {
        let e = self.step();
        match (&e.response, &e.next) {
            (
                Response::Status(s),
                NextStep::Completed {
                    tag: t,
                    command: Some(n),
                    literal_refused: false,
                },
            ) if t == tag && *n == name && s.kind == kind => e,
            _ => panic!("expected {tag} {kind:?} for {name}, got {e:?}"),
        }
    }
}

fn message(data: &'static [u8]) -> AppendMessage {
    AppendMessage {
        flags: vec![],
        date: None,
        data: Bytes::from_static(data),
        binary: false,
        utf8: false,
    }
}

#[test]
fn client_session_follows_a_live_dovecot() {
    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    let mut c = Client::connect(&dovecot);

    // IDLE before login: Dovecot refuses it, no DONE is due.
    let idle = c.send(CommandBody::Idle);
    assert_eq!(c.session.idling(), Some(&idle));
    c.expect_completion(&idle, "IDLE", StatusKind::Bad);
    assert_eq!(c.session.idling(), None);

    // Multi-step AUTHENTICATE PLAIN: an empty challenge, then the data line.
    let auth = c.send(CommandBody::Authenticate {
        mechanism: Atom::new(Bytes::from_static(b"PLAIN")).unwrap(),
        initial_response: None,
    });
    let e = c.step();
    assert_eq!(e.next, NextStep::SendAuthenticateData { tag: auth.clone() });
    assert!(matches!(
        e.response,
        Response::Continuation(Continuation::Base64(_))
    ));
    c.write(&AuthenticateData::Data(Secret(Bytes::from_static(PLAIN))).encode());
    c.expect_completion(&auth, "AUTHENTICATE", StatusKind::Ok);
    assert_eq!(c.session.authenticating(), None);

    let select = c.send(CommandBody::Select {
        mailbox: Mailbox::Inbox,
        params: vec![],
    });
    c.expect_completion(&select, "SELECT", StatusKind::Ok);

    // MULTIAPPEND with two synchronizing literals: one `+` per part.
    let append = c.send(CommandBody::Append {
        mailbox: Mailbox::Inbox,
        messages: vec![
            message(b"Subject: one\r\n\r\nfirst\r\n"),
            message(b"Subject: two\r\n\r\nsecond\r\n"),
        ],
    });
    for _ in 0..2 {
        let e = c.step();
        let NextStep::SendLiteral {
            tag,
            part: Some(part),
        } = e.next
        else {
            panic!("expected a literal continuation, got {e:?}")
        };
        assert_eq!(tag.as_ref(), Some(&append));
        c.write(&part);
    }
    assert!(!c.session.waits_for_continuation());
    let e = c.expect_completion(&append, "APPEND", StatusKind::Ok);
    let Response::Status(s) = e.response else {
        panic!()
    };
    assert!(
        matches!(s.code, Some(ResponseCode::AppendUid { .. })),
        "{s:?}"
    );

    // APPEND to a mailbox that does not exist: Dovecot answers NO instead
    // of `+`, and the message is never sent.
    let refused = c.send(CommandBody::Append {
        mailbox: Mailbox::from_utf8("nosuchbox"),
        messages: vec![message(b"Subject: lost\r\n\r\nnever sent\r\n")],
    });
    assert!(c.session.waits_for_continuation());
    let e = c.step();
    assert_eq!(
        e.next,
        NextStep::Completed {
            tag: refused,
            command: Some("APPEND"),
            literal_refused: true
        },
        "{e:?}"
    );
    assert!(matches!(
        e.response,
        Response::Status(StatusResponse {
            kind: StatusKind::No,
            code: Some(ResponseCode::TryCreate),
            ..
        })
    ));
    assert!(!c.session.waits_for_continuation());

    // Pipelined: both complete, in order, each named.
    let noop = c.send(CommandBody::Noop);
    let check = c.send(CommandBody::Check);
    c.expect_completion(&noop, "NOOP", StatusKind::Ok);
    c.expect_completion(&check, "CHECK", StatusKind::Ok);

    // IDLE accepted: `+ idling`, then DONE ends it.
    let idle = c.send(CommandBody::Idle);
    let e = c.step();
    assert_eq!(e.next, NextStep::IdleActive { tag: idle.clone() });
    c.write(IDLE_DONE);
    c.expect_completion(&idle, "IDLE", StatusKind::Ok);
    assert_eq!(c.session.in_flight().count(), 0);

    let logout = c.send(CommandBody::Logout);
    let bye = c.step();
    assert!(matches!(
        bye.response,
        Response::Status(StatusResponse {
            kind: StatusKind::Bye,
            tag: None,
            ..
        })
    ));
    c.expect_completion(&logout, "LOGOUT", StatusKind::Ok);
}

#[test]
fn one_step_sasl_ir_leaves_continuations_as_text() {
    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    let mut c = Client::connect(&dovecot);
    let auth = c.send(CommandBody::Authenticate {
        mechanism: Atom::new(Bytes::from_static(b"PLAIN")).unwrap(),
        initial_response: Some(Secret(Bytes::from_static(PLAIN))),
    });
    c.expect_completion(&auth, "AUTHENTICATE", StatusKind::Ok);
    assert_eq!(c.session.authenticating(), None);

    // The next `+` is the APPEND literal's, as text.
    let append = c.send(CommandBody::Append {
        mailbox: Mailbox::Inbox,
        messages: vec![message(b"Subject: x\r\n\r\nx\r\n")],
    });
    let e = c.step();
    assert!(
        matches!(
            e.response,
            Response::Continuation(Continuation::Text { .. })
        ),
        "{e:?}"
    );
    let NextStep::SendLiteral {
        part: Some(part), ..
    } = e.next
    else {
        panic!("{e:?}")
    };
    c.write(&part);
    c.expect_completion(&append, "APPEND", StatusKind::Ok);
}

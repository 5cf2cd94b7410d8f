//! `ClientSession` (the client's view of a session) and the server-side
//! mode confirmation of `CommandDecoder`.
//!
//! - Over every well-formed transcript of `tests/transcripts/`, replayed as
//!   a client would (telling the session what it sends, feeding it what it
//!   receives): every continuation request is attributed to a command that
//!   waits for one, the client's next line is what the session said to send
//!   (the literal, an AUTHENTICATE line, `DONE`), and every tagged status
//!   completes the command the client sent with that tag.
//! - Feeding the received bytes one at a time gives the same events.
//! - A server decoder built with `explicit_modes` stays in command mode
//!   after a refused IDLE and a one-step SASL-IR AUTHENTICATE.

use std::collections::HashMap;
use std::path::Path;

use bytes::Bytes;
use columba_imap_proto::{
    parse_command, AuthenticateData, ClientEvent, ClientSession, CommandBody, CommandDecoder,
    CommandEvent, CommandMode, Continuation, Decoded, Limits, NextStep, Response, Secret, Tag,
};

fn well_formed() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for folder in ["rfc", "extensions", "clients", "servers"] {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/transcripts")
            .join(folder);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "imap"))
            .collect();
        files.sort();
        for p in files {
            let name = format!("{folder}/{}", p.file_name().unwrap().to_string_lossy());
            out.push((name, std::fs::read(&p).unwrap()));
        }
    }
    assert!(out.len() > 50, "the transcript corpus is missing");
    out
}

/// What the client sent, as the server decodes it.
#[derive(Debug)]
enum Sent {
    LiteralHeader,
    Command(Tag, &'static str),
    AuthenticateData,
    Done,
}

/// Everything a replay observed, for comparisons.
#[derive(Debug, Default)]
struct Replay {
    events: Vec<ClientEvent>,
    sent: Vec<Sent>,
    /// Index into `sent` at the time each event arrived.
    sent_before: Vec<usize>,
}

/// Replays a transcript in order: client lines go through a server-side
/// decoder (as the server would see them) and are told to the session;
/// server lines are fed to the session in chunks of `chunk` bytes.
fn replay(transcript: &[u8], chunk: usize) -> Replay {
    let mut server_side = CommandDecoder::new(Limits::default());
    let mut session = ClientSession::new(Limits::default());
    let mut r = Replay::default();
    for raw in transcript.split(|&b| b == b'\n') {
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if let Some(content) = line
            .strip_prefix(b"C: ")
            .or((line == b"C:").then_some(&b""[..]))
        {
            server_side.feed(content);
            server_side.feed(b"\r\n");
            loop {
                let Ok(decoded) = server_side.decode() else {
                    // An extension this crate does not know (the server answers BAD).
                    continue;
                };
                match decoded {
                    Decoded::Incomplete => break,
                    Decoded::NeedsContinuation { tag, .. } => {
                        session.sent_literal_header(tag);
                        r.sent.push(Sent::LiteralHeader);
                    }
                    Decoded::Message(CommandEvent::Command(c)) => {
                        session.sent_command(&c);
                        r.sent.push(Sent::Command(c.tag.clone(), c.body.name()));
                    }
                    Decoded::Message(CommandEvent::AuthenticateData(_)) => {
                        r.sent.push(Sent::AuthenticateData)
                    }
                    Decoded::Message(CommandEvent::IdleDone) => r.sent.push(Sent::Done),
                }
            }
        } else if let Some(content) = line
            .strip_prefix(b"S: ")
            .or((line == b"S:").then_some(&b""[..]))
        {
            let mut bytes = content.to_vec();
            bytes.extend_from_slice(b"\r\n");
            for piece in bytes.chunks(chunk) {
                session.feed(piece);
                loop {
                    let Ok(decoded) = session.decode() else {
                        // Unknown extension data (XPIG-LATIN): skipped, in sync.
                        continue;
                    };
                    match decoded {
                        Decoded::Message(e) => {
                            if let NextStep::Completed {
                                command: Some("IDLE" | "AUTHENTICATE"),
                                ..
                            } = &e.next
                            {
                                server_side.resume_commands();
                            }
                            if let NextStep::Completed {
                                literal_refused: true,
                                ..
                            } = &e.next
                            {
                                server_side.refuse_literal();
                            }
                            r.events.push(e);
                            r.sent_before.push(r.sent.len());
                        }
                        _ => break,
                    }
                }
            }
        }
    }
    assert!(session.is_between_messages());
    r
}

#[test]
fn transcripts_every_continuation_and_completion_is_attributed() {
    let (mut literals, mut challenges, mut idles, mut completions) = (0, 0, 0, 0);
    for (name, transcript) in well_formed() {
        let r = replay(&transcript, usize::MAX);
        // Which command each tag named, from the client stream alone.
        let mut names: HashMap<Tag, Vec<&'static str>> = HashMap::new();
        for s in &r.sent {
            if let Sent::Command(tag, n) = s {
                names.entry(tag.clone()).or_default().push(n);
            }
        }
        for (i, e) in r.events.iter().enumerate() {
            let after = &r.sent[r.sent_before[i]..];
            match (&e.response, &e.next) {
                (Response::Continuation(_), NextStep::SendLiteral { tag, part }) => {
                    literals += 1;
                    assert_eq!(part, &None, "{name}: the client encoded itself");
                    // The literal's command completes in the client's next message.
                    if let Some(Sent::Command(t, _)) = after.first() {
                        assert_eq!(Some(t), tag.as_ref(), "{name}: literal of another command");
                    }
                }
                (Response::Continuation(_), NextStep::SendAuthenticateData { .. }) => {
                    challenges += 1;
                    if let Some(next) = after.first() {
                        assert!(
                            matches!(next, Sent::AuthenticateData),
                            "{name}: after a challenge the client sent {next:?}"
                        );
                    }
                }
                (Response::Continuation(_), NextStep::IdleActive { .. }) => idles += 1,
                (Response::Continuation(_), next) => {
                    panic!("{name}: continuation request #{i} answers nothing: {next:?}")
                }
                (Response::Status(s), NextStep::Completed { tag, command, .. }) => {
                    completions += 1;
                    assert_eq!(s.tag.as_ref(), Some(tag));
                    if let Some(command) = command {
                        assert!(
                            names.get(tag).is_some_and(|n| n.contains(command)),
                            "{name}: {tag} completed {command}, which the client never sent"
                        );
                    }
                }
                (Response::Status(s), next) => {
                    assert!(s.tag.is_none(), "{name}: tagged status without completion");
                    assert_eq!(next, &NextStep::Nothing);
                }
                (Response::Data(_), next) => assert_eq!(next, &NextStep::Nothing),
            }
        }
        // IDLE ends with DONE before its completion, unless the server refused it.
        for (i, e) in r.events.iter().enumerate() {
            if let NextStep::IdleActive { tag } = &e.next {
                let done_before_completion = r.events[i..].iter().position(
                    |later| matches!(&later.next, NextStep::Completed { tag: t, .. } if t == tag),
                );
                if let Some(j) = done_before_completion {
                    let sent = &r.sent[..r.sent_before[i + j]];
                    assert!(
                        sent.iter().any(|s| matches!(s, Sent::Done)),
                        "{name}: IDLE {tag} completed without DONE"
                    );
                }
            }
        }
    }
    // The corpus exercises each kind.
    assert!(literals >= 5, "{literals} literal continuations");
    assert!(challenges >= 4, "{challenges} AUTHENTICATE challenges");
    assert!(idles >= 3, "{idles} IDLE continuations");
    assert!(completions >= 200, "{completions} completions");
}

#[test]
fn transcripts_byte_at_a_time_gives_the_same_events() {
    for (name, transcript) in well_formed() {
        let whole = replay(&transcript, usize::MAX);
        let bytewise = replay(&transcript, 1);
        assert_eq!(whole.events, bytewise.events, "{name}");
    }
}

fn event(session: &mut ClientSession, bytes: &[u8]) -> ClientEvent {
    session.feed(bytes);
    match session.decode() {
        Ok(Decoded::Message(e)) => e,
        other => panic!("{other:?}"),
    }
}

fn tag(s: &str) -> Tag {
    Tag::new(Bytes::copy_from_slice(s.as_bytes())).unwrap()
}

#[test]
fn send_hands_out_each_literal_part_after_its_continuation() {
    let mut s = ClientSession::new(Limits::default());
    s.expect_greeting(false);
    let cmd = parse_command(b"a1 LOGIN {4}\r\nx\r\ny {3}\r\n\"\\\n\r\n").unwrap();
    let parts = cmd.encode_parts();
    assert_eq!(parts.len(), 3);
    assert_eq!(s.send(&cmd), parts[0]);
    assert!(s.waits_for_continuation());
    let e = event(&mut s, b"+ go on\r\n");
    assert_eq!(
        e.next,
        NextStep::SendLiteral {
            tag: Some(tag("a1")),
            part: Some(parts[1].clone())
        }
    );
    assert!(s.waits_for_continuation());
    let e = event(&mut s, b"+ and on\r\n");
    assert_eq!(
        e.next,
        NextStep::SendLiteral {
            tag: Some(tag("a1")),
            part: Some(parts[2].clone())
        }
    );
    assert!(!s.waits_for_continuation());
    let e = event(&mut s, b"a1 OK done\r\n");
    assert_eq!(
        e.next,
        NextStep::Completed {
            tag: tag("a1"),
            command: Some("LOGIN"),
            literal_refused: false
        }
    );
    assert_eq!(s.in_flight().count(), 0);
}

#[test]
fn a_refused_literal_completes_the_command() {
    let mut s = ClientSession::new(Limits::default());
    s.expect_greeting(false);
    let cmd = parse_command(b"a1 APPEND INBOX {3}\r\nx\r\n\r\n").unwrap();
    s.send(&cmd);
    let e = event(&mut s, b"a1 NO [TOOBIG] no\r\n");
    assert_eq!(
        e.next,
        NextStep::Completed {
            tag: tag("a1"),
            command: Some("APPEND"),
            literal_refused: true
        }
    );
    assert!(!s.waits_for_continuation());
    // A later `+` answers nothing.
    assert_eq!(event(&mut s, b"+ stray\r\n").next, NextStep::Nothing);
}

#[test]
fn authenticate_challenges_are_base64_until_the_tagged_result() {
    let mut s = ClientSession::new(Limits::default());
    s.expect_greeting(false);
    s.send(&parse_command(b"x1 AUTHENTICATE LOGIN\r\n").unwrap());
    assert_eq!(s.authenticating(), Some(&tag("x1")));
    let e = event(&mut s, b"+ VXNlcm5hbWU6\r\n");
    assert_eq!(e.next, NextStep::SendAuthenticateData { tag: tag("x1") });
    assert_eq!(
        e.response,
        Response::Continuation(Continuation::Base64(Bytes::from_static(b"VXNlcm5hbWU6")))
    );
    // The answer is a base64 data line.
    assert_eq!(
        AuthenticateData::Data(Secret(Bytes::from_static(b"YWxpY2U="))).encode(),
        b"YWxpY2U=\r\n"
    );
    let e = event(&mut s, b"x1 NO [AUTHENTICATIONFAILED] no\r\n");
    assert!(matches!(
        e.next,
        NextStep::Completed {
            command: Some("AUTHENTICATE"),
            ..
        }
    ));
    assert_eq!(s.authenticating(), None);
    // After it, `+` text is text again.
    assert_eq!(event(&mut s, b"+ not base64!\r\n").next, NextStep::Nothing);
}

#[test]
fn idle_active_then_done_and_pipelined_completions() {
    let mut s = ClientSession::new(Limits::default());
    s.expect_greeting(false);
    s.send(&parse_command(b"a1 NOOP\r\n").unwrap());
    s.send(&parse_command(b"a2 IDLE\r\n").unwrap());
    let e = event(&mut s, b"a1 OK noop\r\n");
    assert!(matches!(
        e.next,
        NextStep::Completed {
            command: Some("NOOP"),
            ..
        }
    ));
    let e = event(&mut s, b"+ idling\r\n");
    assert_eq!(e.next, NextStep::IdleActive { tag: tag("a2") });
    assert_eq!(event(&mut s, b"* 3 EXISTS\r\n").next, NextStep::Nothing);
    let e = event(&mut s, b"a2 OK IDLE done\r\n");
    assert!(matches!(
        e.next,
        NextStep::Completed {
            command: Some("IDLE"),
            ..
        }
    ));
    assert_eq!(s.idling(), None);
    // A tag nobody sent is still a completion, of an unknown command.
    let e = event(&mut s, b"zz BAD who?\r\n");
    assert_eq!(
        e.next,
        NextStep::Completed {
            tag: tag("zz"),
            command: None,
            literal_refused: false
        }
    );
}

fn command(dec: &mut CommandDecoder) -> CommandBody {
    match dec.decode() {
        Ok(Decoded::Message(CommandEvent::Command(c))) => c.body,
        other => panic!("{other:?}"),
    }
}

#[test]
fn explicit_modes_refused_idle_stays_in_command_mode() {
    let mut dec = CommandDecoder::new(Limits::default()).explicit_modes();
    dec.feed(b"a1 IDLE\r\na2 NOOP\r\n");
    assert_eq!(command(&mut dec), CommandBody::Idle);
    // The server answers "a1 NO" and confirms nothing.
    assert_eq!(dec.mode(), CommandMode::Command);
    assert_eq!(command(&mut dec), CommandBody::Noop);
}

#[test]
fn explicit_modes_accepted_idle_expects_done() {
    let mut dec = CommandDecoder::new(Limits::default()).explicit_modes();
    dec.feed(b"a1 IDLE\r\nDONE\r\na2 NOOP\r\n");
    assert_eq!(command(&mut dec), CommandBody::Idle);
    dec.accept_idle();
    assert_eq!(dec.decode(), Ok(Decoded::Message(CommandEvent::IdleDone)));
    assert_eq!(dec.mode(), CommandMode::Command);
    assert_eq!(command(&mut dec), CommandBody::Noop);
}

#[test]
fn explicit_modes_one_step_sasl_ir_stays_in_command_mode() {
    let mut dec = CommandDecoder::new(Limits::default()).explicit_modes();
    dec.feed(b"a1 AUTHENTICATE PLAIN AGFsaWNlAGFsaWNlcHc=\r\na2 SELECT INBOX\r\n");
    assert!(matches!(
        command(&mut dec),
        CommandBody::Authenticate {
            initial_response: Some(_),
            ..
        }
    ));
    // The server answers "a1 OK" at once.
    assert_eq!(dec.mode(), CommandMode::Command);
    assert!(matches!(command(&mut dec), CommandBody::Select { .. }));
}

#[test]
fn explicit_modes_multi_step_authenticate() {
    let mut dec = CommandDecoder::new(Limits::default()).explicit_modes();
    dec.feed(b"a1 AUTHENTICATE LOGIN\r\n");
    assert!(matches!(
        command(&mut dec),
        CommandBody::Authenticate { .. }
    ));
    // The server sends "+ VXNlcm5hbWU6".
    dec.begin_authenticate();
    dec.feed(b"YWxpY2U=\r\nYWxpY2Vwdw==\r\n");
    for _ in 0..2 {
        assert!(matches!(
            dec.decode(),
            Ok(Decoded::Message(CommandEvent::AuthenticateData(
                AuthenticateData::Data(_)
            )))
        ));
    }
    // The server sends "a1 OK".
    dec.resume_commands();
    dec.feed(b"a2 NOOP\r\n");
    assert_eq!(command(&mut dec), CommandBody::Noop);
}

#[test]
fn default_modes_need_resume_after_a_refused_idle() {
    let mut dec = CommandDecoder::new(Limits::default());
    dec.feed(b"a1 IDLE\r\n");
    assert_eq!(command(&mut dec), CommandBody::Idle);
    assert_eq!(dec.mode(), CommandMode::Idle);
    dec.resume_commands();
    dec.feed(b"a2 NOOP\r\n");
    assert_eq!(command(&mut dec), CommandBody::Noop);

    dec.feed(b"a3 AUTHENTICATE PLAIN AGFsaWNlAGFsaWNlcHc=\r\n");
    assert!(matches!(
        command(&mut dec),
        CommandBody::Authenticate { .. }
    ));
    assert_eq!(dec.mode(), CommandMode::Authenticate);
    dec.resume_commands();
    dec.feed(b"a4 NOOP\r\n");
    assert_eq!(command(&mut dec), CommandBody::Noop);
}

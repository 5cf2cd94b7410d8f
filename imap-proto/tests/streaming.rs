//! The streaming decoders: input split at every byte boundary, limits,
//! resynchronisation after a rejected message, session modes, offsets.

use columba_imap_proto::*;

const COMMANDS: &[u8] = b"a1 LOGIN {5}\r\nalice {6+}\r\nsecret\r\n\
a2 SELECT \"Entw&APw-rfe\"\r\n\
a3 APPEND INBOX (\\Seen) {12}\r\nHello\r\nWorld\r\n\
a4 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (FROM)])\n\
a5 IDLE\r\nDONE\r\n\
a6 AUTHENTICATE PLAIN\r\nAGFsaWNlAHNlY3JldA==\r\n";

/// Decodes everything fed so far; returns events as debug strings.
fn drain(dec: &mut CommandDecoder, out: &mut Vec<String>) {
    loop {
        match dec.decode() {
            Ok(Decoded::Incomplete) => return,
            Ok(Decoded::NeedsContinuation { tag, size, .. }) => {
                out.push(format!("+{size} {:?}", tag.map(|t| t.to_string())))
            }
            Ok(Decoded::Message(m)) => out.push(format!("{m:?}")),
            Err(e) => out.push(format!(
                "error {} {:?} {e}",
                e.offset(),
                e.tag().map(|t| t.to_string())
            )),
        }
    }
}

fn decode_in_chunks(input: &[u8], cuts: &[usize], limits: Limits) -> Vec<String> {
    let mut dec = CommandDecoder::new(limits);
    let mut out = Vec::new();
    let mut last = 0;
    for &c in cuts.iter().chain(std::iter::once(&input.len())) {
        dec.feed(&input[last..c]);
        drain(&mut dec, &mut out);
        last = c;
    }
    out
}

#[test]
fn commands_split_at_every_byte_boundary() {
    let whole = decode_in_chunks(COMMANDS, &[], Limits::default());
    assert_eq!(whole.len(), 10, "{whole:#?}");
    assert!(whole[0].starts_with("+5 Some(\"a1\")"));
    assert!(whole.iter().any(|e| e.contains("IdleDone")));
    assert!(whole.last().unwrap().contains("AuthenticateData"));
    // Continuation requests depend on when the literal header arrives, not on chunking.
    for cut in 0..=COMMANDS.len() {
        assert_eq!(
            decode_in_chunks(COMMANDS, &[cut], Limits::default()),
            whole,
            "cut at {cut}"
        );
    }
    for cut in 0..COMMANDS.len() {
        for cut2 in (cut..COMMANDS.len()).step_by(7) {
            assert_eq!(
                decode_in_chunks(COMMANDS, &[cut, cut2], Limits::default()),
                whole
            );
        }
    }
    let every: Vec<usize> = (1..COMMANDS.len()).collect();
    assert_eq!(decode_in_chunks(COMMANDS, &every, Limits::default()), whole);
}

const RESPONSES: &[u8] = b"* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n\
* 1 FETCH (UID 5 BODY[] {12}\r\nHello\r\nWorld BODY[TEXT] {0}\r\n FLAGS (\\Seen))\r\n\
+ go ahead\r\n\
* LIST (\\HasNoChildren) \"/\" {3}\r\na\"b\r\n\
a1 OK [APPENDUID 1 2] done\r\n";

#[test]
fn responses_split_at_every_byte_boundary() {
    let run = |cuts: &[usize]| {
        let mut dec = ResponseDecoder::new(Limits::default());
        let mut out = Vec::new();
        let mut last = 0;
        for &c in cuts.iter().chain(std::iter::once(&RESPONSES.len())) {
            dec.feed(&RESPONSES[last..c]);
            last = c;
            while let Decoded::Message(r) = dec.decode().unwrap() {
                out.push(r);
            }
        }
        out
    };
    let whole = run(&[]);
    assert_eq!(whole.len(), 5);
    for cut in 0..=RESPONSES.len() {
        assert_eq!(run(&[cut]), whole);
    }
    let every: Vec<usize> = (1..RESPONSES.len()).collect();
    assert_eq!(run(&every), whole);
    // Re-encoding the decoded responses gives a stream that decodes the same.
    let mut again = ResponseDecoder::new(Limits::default());
    for r in &whole {
        again.feed(&r.encode());
    }
    for r in &whole {
        assert_eq!(again.decode(), Ok(Decoded::Message(r.clone())));
    }
}

fn small() -> Limits {
    Limits {
        max_line: 64,
        max_literal: 100,
        max_non_sync_literal: 50,
        max_message: 400,
        max_depth: 8,
    }
}

#[test]
fn over_long_line_is_rejected_with_tag_and_skipped() {
    let mut input = b"t1 NOOP\r\nt2 LOGIN ".to_vec();
    input.extend(std::iter::repeat_n(b'x', 200));
    input.extend_from_slice(b" pw\r\nt3 NOOP\r\n");
    for cut in 0..input.len() {
        let out = decode_in_chunks(&input, &[cut], small());
        assert_eq!(out.len(), 3, "cut {cut}: {out:#?}");
        assert!(
            out[1].starts_with("error 9 Some(\"t2\") line at byte 9 exceeds 64 bytes"),
            "{out:?}"
        );
        assert!(out[2].contains("Noop") && out[2].contains("t3"));
    }
}

#[test]
fn over_limit_sync_literal_is_refused_before_data() {
    // The client waits for "+", gets "t1 NO", and does not send the literal.
    let input = b"t1 APPEND INBOX {1000}\r\nt2 NOOP\r\n";
    let out = decode_in_chunks(input, &[], small());
    assert_eq!(out.len(), 2, "{out:#?}");
    assert!(
        out[0]
            .starts_with("error 0 Some(\"t1\") literal of 1000 bytes at byte 0 exceeds 100 bytes"),
        "{out:?}"
    );
    assert!(out[1].contains("t2"));
}

#[test]
fn over_limit_non_sync_literal_sent_anyway_is_skipped() {
    // LITERAL-: non-synchronizing literals over the limit are rejected, but the
    // client already sends the data, and the rest of the command.
    let mut input = b"t1 APPEND INBOX {60+}\r\n".to_vec();
    input.extend(std::iter::repeat_n(b'\n', 60));
    input.extend_from_slice(b" (\\Seen) {70+}\r\n");
    input.extend(std::iter::repeat_n(b'y', 70));
    input.extend_from_slice(b"\r\nt2 NOOP\r\n");
    let expect = decode_in_chunks(&input, &[], small());
    assert_eq!(expect.len(), 2, "{expect:#?}");
    assert!(expect[0].contains("literal of 60 bytes at byte 0 exceeds 50 bytes"));
    assert!(expect[1].contains("t2"));
    for cut in 0..input.len() {
        assert_eq!(
            decode_in_chunks(&input, &[cut], small()),
            expect,
            "cut {cut}"
        );
    }
    let every: Vec<usize> = (1..input.len()).collect();
    assert_eq!(decode_in_chunks(&input, &every, small()), expect);
}

#[test]
fn huge_announced_literal_allocates_nothing() {
    let input = b"t1 APPEND INBOX {18446744073709551615+}\r\n";
    let out = decode_in_chunks(input, &[], Limits::default());
    assert_eq!(out.len(), 1);
    assert!(out[0].contains("literal of 18446744073709551615 bytes"));
}

#[test]
fn message_size_limit_counts_literals() {
    let mut input = b"t1 LOGIN {90+}\r\n".to_vec();
    input.extend(std::iter::repeat_n(b'a', 90));
    input.extend_from_slice(b" {90+}\r\n");
    input.extend(std::iter::repeat_n(b'b', 90));
    input.extend_from_slice(b"\r\nt2 NOOP\r\n");
    let limits = Limits {
        max_non_sync_literal: 100,
        max_message: 150,
        ..small()
    };
    let out = decode_in_chunks(&input, &[], limits);
    assert_eq!(out.len(), 2, "{out:#?}");
    assert!(out[0].contains("message at byte 0 exceeds 150 bytes"));
    assert!(out[1].contains("t2"));
}

#[test]
fn syntax_error_offsets_are_stream_offsets() {
    let input = b"t1 NOOP\r\nt2 FETCH 1 (FLAGS FOO)\r\nt3 NOOP\r\n";
    let out = decode_in_chunks(input, &[], Limits::default());
    assert_eq!(out.len(), 3);
    assert!(out[1].starts_with("error 27 Some(\"t2\")"), "{out:?}");
}

#[test]
fn authenticate_and_idle_modes() {
    let mut dec = CommandDecoder::new(Limits::default());
    dec.feed(b"a AUTHENTICATE SCRAM-SHA-256\r\n");
    assert!(matches!(
        dec.decode(),
        Ok(Decoded::Message(CommandEvent::Command(_)))
    ));
    assert_eq!(dec.mode(), CommandMode::Authenticate);
    // A data line that would be a literal marker is just data here.
    dec.feed(b"biwsbj1hbGljZSxyPXh5eg==\r\n");
    assert!(matches!(
        dec.decode(),
        Ok(Decoded::Message(CommandEvent::AuthenticateData(
            AuthenticateData::Data(_)
        )))
    ));
    dec.feed(b"*\r\n");
    assert_eq!(
        dec.decode(),
        Ok(Decoded::Message(CommandEvent::AuthenticateData(
            AuthenticateData::Cancel
        )))
    );
    assert_eq!(dec.mode(), CommandMode::Command);
    dec.feed(b"b IDLE\r\ndone\r\nc NOOP\r\n");
    assert!(matches!(
        dec.decode(),
        Ok(Decoded::Message(CommandEvent::Command(_)))
    ));
    assert_eq!(dec.mode(), CommandMode::Idle);
    assert_eq!(dec.decode(), Ok(Decoded::Message(CommandEvent::IdleDone)));
    assert!(
        matches!(dec.decode(), Ok(Decoded::Message(CommandEvent::Command(c))) if c.body == CommandBody::Noop)
    );
    // Something else than DONE ends IDLE with an error.
    dec.feed(b"d IDLE\r\ne NOOP\r\n");
    dec.decode().unwrap();
    assert!(dec.decode().is_err());
    assert_eq!(dec.mode(), CommandMode::Command);
}

#[test]
fn refused_synchronizing_literal_drops_the_command() {
    let mut dec = CommandDecoder::new(Limits::default());
    dec.feed(b"t0 NOOP\r\nt1 APPEND nosuchbox (\\Seen) {1023}\r\n");
    assert!(matches!(dec.decode(), Ok(Decoded::Message(_))));
    assert!(matches!(
        dec.decode(),
        Ok(Decoded::NeedsContinuation { size: 1023, .. })
    ));
    // The server answers "t1 NO [TRYCREATE]"; the client goes on with t2.
    assert_eq!(dec.refuse_literal(), Some(9));
    assert_eq!(dec.refuse_literal(), None);
    dec.feed(b"t2 NOOP\r\n");
    let Ok(Decoded::Message(CommandEvent::Command(c))) = dec.decode() else {
        panic!()
    };
    assert_eq!(c.tag.as_bytes(), b"t2");
    assert_eq!(dec.offset(), 9 + 36 + 9);
}

/// Runs `decode_streaming` over `input` fed in pieces of `chunk` bytes;
/// APPEND data chunks are joined per message.
fn stream(input: &[u8], chunk: usize, min: u64, limits: Limits) -> (Vec<String>, usize) {
    let mut dec = CommandDecoder::new(limits);
    let mut out = Vec::new();
    let mut data: Option<Vec<u8>> = None;
    let mut max_buffered = 0;
    for piece in input.chunks(chunk.max(1)) {
        dec.feed(piece);
        loop {
            max_buffered = max_buffered.max(dec.buffered());
            match dec.decode_streaming(min) {
                Ok(Decoded::Incomplete) => break,
                Ok(Decoded::NeedsContinuation { size, .. }) => out.push(format!("+{size}")),
                Ok(Decoded::Message(StreamEvent::AppendData(d))) => {
                    data.get_or_insert_with(Vec::new).extend_from_slice(&d)
                }
                Ok(Decoded::Message(e)) => {
                    if let Some(d) = data.take() {
                        out.push(format!("data {}", String::from_utf8_lossy(&d)));
                    }
                    out.push(match e {
                        StreamEvent::Command(CommandEvent::Command(c)) => {
                            format!("command {} {}", c.tag, c.body.name())
                        }
                        StreamEvent::AppendStart {
                            tag,
                            mailbox,
                            message,
                        } => format!(
                            "start {tag} {:?} {} {:?}",
                            mailbox, message.size, message.flags
                        ),
                        StreamEvent::AppendNext(m) => format!("next {} utf8={}", m.size, m.utf8),
                        other => format!("{other:?}"),
                    });
                }
                Err(e) => {
                    if let Some(d) = data.take() {
                        out.push(format!("data {}", String::from_utf8_lossy(&d)));
                    }
                    out.push(format!(
                        "error {} {:?}",
                        e.offset(),
                        e.tag().map(|t| t.to_string())
                    ))
                }
            }
        }
    }
    (out, max_buffered)
}

const MULTIAPPEND: &[u8] = b"a0 NOOP\r\n\
a1 APPEND Drafts (\\Seen) {26}\r\nSubject: one\r\n\r\nfirst body (\\Draft) \" 7-Feb-1994 22:43:04 -0800\" {11+}\r\nsecond body UTF8 (~{5+}\r\nthird)\r\n\
a2 APPEND INBOX {3}\r\nabc\r\n\
a3 NOOP\r\n";

#[test]
fn append_literals_stream_in_chunks() {
    let (whole, _) = stream(MULTIAPPEND, MULTIAPPEND.len(), 10, Limits::default());
    assert_eq!(
        whole,
        [
            "command a0 NOOP",
            "start a1 Mailbox(\"Drafts\") 26 [Seen]",
            "+26",
            "data Subject: one\r\n\r\nfirst body",
            "next 11 utf8=false",
            "data second body",
            "next 5 utf8=true",
            "data third",
            "AppendEnd",
            "+3",
            "command a2 APPEND",
            "command a3 NOOP",
        ]
    );
    for chunk in 1..MULTIAPPEND.len() {
        let (out, _) = stream(MULTIAPPEND, chunk, 10, Limits::default());
        assert_eq!(out, whole, "chunk {chunk}");
    }
    // The streamed data equals what the buffering decoder gives.
    let end = MULTIAPPEND.windows(4).position(|w| w == b"a2 A").unwrap();
    let c = parse_command(&MULTIAPPEND[9..end]).unwrap();
    let CommandBody::Append { messages, .. } = c.body else {
        panic!()
    };
    assert_eq!(messages[0].data, "Subject: one\r\n\r\nfirst body");
    assert!(messages[2].utf8);
}

#[test]
fn a_large_append_is_never_held_whole() {
    let size = 5_000_000usize;
    let mut input = format!("a1 APPEND INBOX {{{size}+}}\r\n").into_bytes();
    input.extend((0..size).map(|i| b'a' + (i % 26) as u8));
    input.extend_from_slice(b"\r\na2 NOOP\r\n");
    let (out, max_buffered) = stream(&input, 64 * 1024, 1024, Limits::default());
    assert_eq!(out.len(), 4);
    assert_eq!(out[1].len(), 5 + size);
    assert_eq!(out[2..], ["AppendEnd", "command a2 NOOP"]);
    assert!(max_buffered <= 64 * 1024, "{max_buffered}");
}

#[test]
fn streamed_append_errors_resynchronise() {
    // Over the literal limit, non-synchronizing: rejected, data skipped.
    let mut input = b"a1 APPEND INBOX {200+}\r\n".to_vec();
    input.extend(std::iter::repeat_n(b'x', 200));
    input.extend_from_slice(b"\r\na2 NOOP\r\n");
    let limits = Limits {
        max_literal: 100,
        ..Limits::default()
    };
    for chunk in [1, 7, 1000] {
        let (out, _) = stream(&input, chunk, 10, limits);
        assert_eq!(
            out,
            ["error 0 Some(\"a1\")", "command a2 NOOP"],
            "chunk {chunk}"
        );
    }
    // Garbage after the literal: an error with the tag, then the next command.
    let input = b"a1 APPEND INBOX {3+}\r\nabc garbage\r\na2 NOOP\r\n";
    let (out, _) = stream(input, 1, 1, Limits::default());
    assert_eq!(out[..2], ["start a1 Inbox 3 []", "data abc"]);
    assert_eq!(out[2..], ["error 26 Some(\"a1\")", "command a2 NOOP"]);
}

#[test]
fn response_text_that_looks_like_a_literal_is_text() {
    let input = b"a1 OK done {2}\r\n+ send {5}\r\n* BYE {1}\r\n* 1 FETCH (BODY[] {2}\r\nab)\r\n";
    let mut dec = ResponseDecoder::new(Limits::default());
    dec.expect_greeting(false);
    dec.feed(input);
    let mut got = Vec::new();
    while let Decoded::Message(r) = dec.decode().unwrap() {
        assert_eq!(parse_response(&r.encode()).unwrap(), r);
        got.push(r);
    }
    assert_eq!(got.len(), 4);
    assert!(matches!(&got[0], Response::Status(s) if s.text == "done {2}"));
}

#[test]
fn found_by_fuzzing() {
    // Successive literals of one command each ask for a continuation, at
    // distinct offsets.
    let mut dec = CommandDecoder::new(Limits::default());
    dec.feed(b"a LOGIN {1}\r\nx {1}\r\ny\r\n");
    let first = dec.decode().unwrap();
    let second = dec.decode().unwrap();
    assert!(
        matches!(first, Decoded::NeedsContinuation { offset: 13, .. }),
        "{first:?}"
    );
    assert!(
        matches!(second, Decoded::NeedsContinuation { offset: 20, .. }),
        "{second:?}"
    );
    // A rejected status line ending in "{n}" is text: nothing after it is skipped.
    let limits = Limits {
        max_line: 64,
        ..Limits::default()
    };
    let mut input = b"* OK ".to_vec();
    input.extend(std::iter::repeat_n(b'x', 100));
    input.extend_from_slice(b" {5}\r\n* 3 EXISTS\r\n");
    for chunk in [1, 8, input.len()] {
        let mut dec = ResponseDecoder::new(limits);
        let mut got = Vec::new();
        for piece in input.chunks(chunk) {
            dec.feed(piece);
            loop {
                match dec.decode() {
                    Ok(Decoded::Incomplete) => break,
                    Ok(Decoded::Message(r)) => got.push(format!("{r:?}")),
                    Ok(other) => got.push(format!("{other:?}")),
                    Err(e) => got.push(format!("error {}", e.offset())),
                }
            }
        }
        assert_eq!(got, ["error 0", "Data(Exists(3))"], "chunk {chunk}");
    }
}

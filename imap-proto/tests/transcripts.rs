//! The transcript corpus (`tests/transcripts/`, see its README): RFC examples,
//! captured and documented client and server sessions, malformed streams.
//!
//! - `columba imap-trace`'s core reports no error on any well-formed
//!   transcript, and exactly the expected errors on the malformed ones.
//! - Re-encoding every decoded message and decoding it again gives the same
//!   value.
//! - Decoding each direction one byte at a time, and split in two at every
//!   byte boundary, gives the same messages as decoding line by line.

use std::path::{Path, PathBuf};

use columba_imap_proto::transcript::{trace, Direction};
use columba_imap_proto::{
    parse_command, CommandBody, CommandDecoder, CommandEvent, CommandMode, Decoded, Error, Limits,
    LiteralMode, Response, ResponseDecoder, StatusResponse,
};

fn transcripts(folder: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/transcripts")
        .join(folder);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "imap"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no transcripts in {}", dir.display());
    files
        .into_iter()
        .map(|p| {
            let name = format!("{folder}/{}", p.file_name().unwrap().to_string_lossy());
            let bytes = std::fs::read(&p).expect("reading a transcript");
            (name, bytes)
        })
        .collect()
}

const WELL_FORMED: [&str; 4] = ["rfc", "extensions", "clients", "servers"];

fn all_well_formed() -> Vec<(String, Vec<u8>)> {
    WELL_FORMED.iter().flat_map(|f| transcripts(f)).collect()
}

/// One direction's byte stream: each line without its prefix, plus CRLF.
fn stream(transcript: &[u8], prefix: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in transcript.split(|&b| b == b'\n') {
        if let Some(rest) = line.strip_prefix(prefix) {
            out.extend_from_slice(rest);
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

/// What `NAME.expected` next to a transcript says: the exact list of
/// `error <C|S> <offset>` entries (none when the file is absent or has no
/// error line), and optionally `ok <C|S> <count>` message counts.
#[derive(Debug, Default)]
struct Expected {
    errors: Vec<String>,
    counts: Vec<String>,
    constrains_errors: bool,
}

fn expected(name: &str) -> Expected {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/transcripts")
        .join(name.replace(".imap", ".expected"));
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Expected {
            constrains_errors: true,
            ..Expected::default()
        };
    };
    let mut e = Expected::default();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        if line.starts_with("error ") {
            e.errors.push(line.to_owned());
        } else if line.starts_with("ok ") {
            e.counts.push(line.to_owned());
        } else {
            panic!("{}: unknown line {line:?}", path.display());
        }
    }
    e.constrains_errors = !e.errors.is_empty() || e.counts.is_empty();
    e
}

fn letter(direction: Direction) -> char {
    match direction {
        Direction::Client => 'C',
        Direction::Server => 'S',
    }
}

/// Traces every transcript of `folder` and compares with its expectations.
fn assert_trace_as_expected(folder: &str) {
    let mut failures = Vec::new();
    let files = transcripts(folder);
    for (name, bytes) in &files {
        let want = expected(name);
        let entries = trace(bytes);
        let errors: Vec<String> = entries
            .iter()
            .filter_map(|e| {
                let err = e.result.as_ref().err()?;
                Some(format!("error {} {}", letter(e.direction), err.offset))
            })
            .collect();
        let mut problems = Vec::new();
        if want.constrains_errors && errors != want.errors {
            problems.push(format!("errors {errors:?}, expected {:?}", want.errors));
        }
        for count in &want.counts {
            let mut words = count.split_whitespace().skip(1);
            let (d, n) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
            let got = entries
                .iter()
                .filter(|e| e.result.is_ok() && letter(e.direction).to_string() == d)
                .count();
            if got.to_string() != n {
                problems.push(format!("{got} ok {d} messages, expected {n}"));
            }
        }
        if !problems.is_empty() {
            let all: Vec<String> = entries.iter().map(ToString::to_string).collect();
            failures.push(format!(
                "{name}: {}\n    {}",
                problems.join("; "),
                all.join("\n    ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} transcripts of {folder}/ trace differently:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

#[test]
fn rfc_examples_trace_as_expected() {
    assert_trace_as_expected("rfc");
}

#[test]
fn extension_sessions_trace_as_expected() {
    assert_trace_as_expected("extensions");
}

#[test]
fn client_sessions_trace_as_expected() {
    assert_trace_as_expected("clients");
}

#[test]
fn server_sessions_trace_as_expected() {
    assert_trace_as_expected("servers");
}

#[test]
fn malformed_transcripts_report_the_expected_errors() {
    assert_trace_as_expected("malformed");
}

#[test]
fn every_message_of_a_transcript_is_traced() {
    // The RFC 3501 section 8 sample: 6 commands, 16 server messages (greeting included).
    let (_, bytes) = transcripts("rfc")
        .into_iter()
        .find(|(n, _)| n.ends_with("rfc3501-8-sample-imap4rev1-connection-1.imap"))
        .expect("the RFC 3501 sample");
    let entries = trace(&bytes);
    let client = entries
        .iter()
        .filter(|e| e.direction == Direction::Client)
        .count();
    let server = entries.len() - client;
    assert_eq!((client, server), (6, 16), "{entries:#?}");
}

/// What a decoder produced for one message.
#[derive(Debug, Clone, PartialEq)]
enum Outcome<T> {
    Message(T),
    Error(Error),
}

/// The session events of a transcript, found by decoding it line by line in
/// order (as `trace` does), so that other ways of feeding the same streams
/// can apply them at the same message boundaries.
#[derive(Debug, Default)]
struct Replay {
    greeting: bool,
    client: Vec<Outcome<CommandEvent>>,
    server: Vec<Outcome<Response>>,
    /// After this many client messages, the server ends AUTHENTICATE.
    client_resets: Vec<usize>,
    /// From this server message on, continuation requests are (or are not)
    /// SASL challenges.
    server_authenticating: Vec<(usize, bool)>,
}

impl Replay {
    fn authenticating_at(&self, index: usize) -> bool {
        self.server_authenticating
            .iter()
            .rev()
            .find(|(at, _)| *at <= index)
            .is_some_and(|(_, on)| *on)
    }
}

fn starts_with_greeting(transcript: &[u8]) -> bool {
    let first = transcript.split(|&b| b == b'\n').next().unwrap_or_default();
    [&b"S: * OK"[..], b"S: * PREAUTH", b"S: * BYE"]
        .iter()
        .any(|p| first.starts_with(p))
}

fn drain_client(decoder: &mut CommandDecoder, out: &mut Vec<Outcome<CommandEvent>>) {
    for _ in 0..100_000 {
        match decoder.decode() {
            Ok(Decoded::Incomplete) => return,
            Ok(Decoded::NeedsContinuation { .. }) => {}
            Ok(Decoded::Message(m)) => out.push(Outcome::Message(m)),
            Err(e) => out.push(Outcome::Error(e)),
        }
    }
    panic!("the command decoder does not stop");
}

fn line_by_line(transcript: &[u8]) -> Replay {
    let mut replay = Replay {
        greeting: starts_with_greeting(transcript),
        ..Replay::default()
    };
    let mut client = CommandDecoder::new(Limits::default());
    let mut server = ResponseDecoder::new(Limits::default());
    server.expect_greeting(replay.greeting);
    let mut authenticate_tag = None;
    for line in transcript.split(|&b| b == b'\n') {
        if let Some(rest) = line.strip_prefix(b"C: ") {
            client.feed(rest);
            client.feed(b"\r\n");
            let before = replay.client.len();
            drain_client(&mut client, &mut replay.client);
            for outcome in &replay.client[before..] {
                if let Outcome::Message(CommandEvent::Command(c)) = outcome {
                    if matches!(c.body, CommandBody::Authenticate { .. }) {
                        authenticate_tag = Some(c.tag.clone());
                        server.set_authenticating(true);
                        replay
                            .server_authenticating
                            .push((replay.server.len(), true));
                    }
                }
            }
        } else if let Some(rest) = line.strip_prefix(b"S: ") {
            server.feed(rest);
            server.feed(b"\r\n");
            for _ in 0..100_000 {
                match server.decode() {
                    Ok(Decoded::Incomplete) => break,
                    Ok(Decoded::NeedsContinuation { .. }) => {
                        panic!("a response decoder never asks for a continuation")
                    }
                    Ok(Decoded::Message(response)) => {
                        let ends_authenticate = matches!(
                            &response,
                            Response::Status(StatusResponse { tag: Some(t), .. })
                                if Some(t) == authenticate_tag.as_ref()
                        );
                        replay.server.push(Outcome::Message(response));
                        if ends_authenticate {
                            authenticate_tag = None;
                            server.set_authenticating(false);
                            replay
                                .server_authenticating
                                .push((replay.server.len(), false));
                            client.set_mode(CommandMode::Command);
                            replay.client_resets.push(replay.client.len());
                        }
                    }
                    Err(e) => replay.server.push(Outcome::Error(e)),
                }
            }
        }
    }
    replay
}

/// Decodes the client stream fed in the given pieces, applying the
/// AUTHENTICATE resets at the message counts `replay` recorded.
fn client_in_pieces(replay: &Replay, pieces: &[&[u8]]) -> Vec<Outcome<CommandEvent>> {
    let mut decoder = CommandDecoder::new(Limits::default());
    let mut out = Vec::new();
    let mut resets = replay.client_resets.iter().peekable();
    for piece in pieces {
        decoder.feed(piece);
        for _ in 0..100_000 {
            while resets.next_if(|&&at| at <= out.len()).is_some() {
                decoder.set_mode(CommandMode::Command);
            }
            match decoder.decode() {
                Ok(Decoded::Incomplete) => break,
                Ok(Decoded::NeedsContinuation { .. }) => {}
                Ok(Decoded::Message(m)) => out.push(Outcome::Message(m)),
                Err(e) => out.push(Outcome::Error(e)),
            }
        }
    }
    out
}

fn server_in_pieces(replay: &Replay, pieces: &[&[u8]]) -> Vec<Outcome<Response>> {
    let mut decoder = ResponseDecoder::new(Limits::default());
    decoder.expect_greeting(replay.greeting);
    let mut out = Vec::new();
    for piece in pieces {
        decoder.feed(piece);
        for _ in 0..100_000 {
            decoder.set_authenticating(replay.authenticating_at(out.len()));
            match decoder.decode() {
                Ok(Decoded::Incomplete) => break,
                Ok(Decoded::NeedsContinuation { .. }) => {
                    panic!("a response decoder never asks for a continuation")
                }
                Ok(Decoded::Message(m)) => out.push(Outcome::Message(m)),
                Err(e) => out.push(Outcome::Error(e)),
            }
        }
    }
    out
}

#[test]
fn line_by_line_decoding_has_no_errors() {
    let mut failures = Vec::new();
    for (name, bytes) in all_well_formed() {
        if !expected(&name).errors.is_empty() {
            continue;
        }
        let replay = line_by_line(&bytes);
        for outcome in &replay.client {
            if let Outcome::Error(e) = outcome {
                failures.push(format!("{name}: C {e}"));
            }
        }
        for outcome in &replay.server {
            if let Outcome::Error(e) = outcome {
                failures.push(format!("{name}: S {e}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} errors:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn reencoded_messages_decode_to_the_same_value() {
    let mut failures = Vec::new();
    for (name, bytes) in all_well_formed() {
        let replay = line_by_line(&bytes);
        for outcome in &replay.client {
            let Outcome::Message(event) = outcome else {
                continue;
            };
            match event {
                CommandEvent::Command(command) => {
                    for mode in [LiteralMode::Sync, LiteralMode::NonSync] {
                        let mut encoded = Vec::new();
                        command.encode_to(&mut encoded, mode);
                        match parse_command(&encoded) {
                            Ok(again) if &again == command => {}
                            other => failures.push(format!(
                                "{name}: {:?} ({mode:?}) decodes as {other:?}, was {command:?}",
                                String::from_utf8_lossy(&encoded)
                            )),
                        }
                    }
                }
                CommandEvent::AuthenticateData(data) => {
                    let encoded = data.encode();
                    let mut decoder = CommandDecoder::new(Limits::default());
                    decoder.set_mode(CommandMode::Authenticate);
                    decoder.feed(&encoded);
                    match decoder.decode() {
                        Ok(Decoded::Message(CommandEvent::AuthenticateData(again)))
                            if &again == data => {}
                        other => failures.push(format!(
                            "{name}: {:?} decodes as {other:?}, was {data:?}",
                            String::from_utf8_lossy(&encoded)
                        )),
                    }
                }
                CommandEvent::IdleDone => {}
            }
        }
        for (index, outcome) in replay.server.iter().enumerate() {
            let Outcome::Message(response) = outcome else {
                continue;
            };
            let encoded = response.encode();
            let mut decoder = ResponseDecoder::new(Limits::default());
            decoder.expect_greeting(false);
            decoder.set_authenticating(replay.authenticating_at(index));
            decoder.feed(&encoded);
            match decoder.decode() {
                Ok(Decoded::Message(again)) if &again == response => {}
                other => failures.push(format!(
                    "{name}: {:?} decodes as {other:?}, was {response:?}",
                    String::from_utf8_lossy(&encoded)
                )),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} round trips fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn one_byte_at_a_time_decodes_the_same() {
    let mut failures = Vec::new();
    for (name, bytes) in all_well_formed() {
        let replay = line_by_line(&bytes);
        let client = stream(&bytes, b"C: ");
        let pieces: Vec<&[u8]> = client.chunks(1).collect();
        if client_in_pieces(&replay, &pieces) != replay.client {
            failures.push(format!("{name}: client stream"));
        }
        let server = stream(&bytes, b"S: ");
        let pieces: Vec<&[u8]> = server.chunks(1).collect();
        if server_in_pieces(&replay, &pieces) != replay.server {
            failures.push(format!("{name}: server stream"));
        }
    }
    assert!(
        failures.is_empty(),
        "byte-at-a-time decoding differs:\n{}",
        failures.join("\n")
    );
}

/// Streams up to this size are split at every byte boundary (the cost is
/// quadratic; the larger captured sessions are covered byte by byte above).
const SPLIT_EVERYWHERE_MAX: usize = 4096;

#[test]
fn splitting_at_every_byte_boundary_decodes_the_same() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for (name, bytes) in all_well_formed() {
        let replay = line_by_line(&bytes);
        let client = stream(&bytes, b"C: ");
        if client.len() <= SPLIT_EVERYWHERE_MAX {
            checked += 1;
            for at in 1..client.len() {
                let (a, b) = client.split_at(at);
                if client_in_pieces(&replay, &[a, b]) != replay.client {
                    failures.push(format!("{name}: client stream split at {at}"));
                    break;
                }
            }
        }
        let server = stream(&bytes, b"S: ");
        if server.len() <= SPLIT_EVERYWHERE_MAX {
            checked += 1;
            for at in 1..server.len() {
                let (a, b) = server.split_at(at);
                if server_in_pieces(&replay, &[a, b]) != replay.server {
                    failures.push(format!("{name}: server stream split at {at}"));
                    break;
                }
            }
        }
    }
    assert!(checked > 500, "only {checked} streams were small enough");
    assert!(
        failures.is_empty(),
        "split decoding differs:\n{}",
        failures.join("\n")
    );
}

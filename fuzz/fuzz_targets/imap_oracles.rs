//! What the IMAP fuzz targets check, shared with `imap-proto/tests/fuzz_corpus.rs`
//! (which includes this file) so the committed corpus replays the same code
//! under plain `cargo test`.
//!
//! Every function takes arbitrary bytes and panics only when the library
//! breaks a promise: a panic inside the library, a decoder that stops making
//! progress, chunked decoding that disagrees with decoding at once, or an
//! encoding that does not decode back to the same value.

#![allow(dead_code)]

use columba_imap_proto::transcript::trace;
use columba_imap_proto::{
    parse_command, parse_response, CommandDecoder, CommandEvent, CommandMode, Decoded, Limits,
    LiteralMode, Response, ResponseDecoder,
};

/// Small limits, so the fuzzer reaches the over-limit paths too.
fn fuzz_limits() -> Limits {
    Limits {
        max_line: 512,
        max_literal: 2048,
        max_non_sync_literal: 1024,
        max_message: 4096,
        max_depth: 16,
    }
}

/// One thing a decoder produced: a message or an error with its offset.
#[derive(Debug, PartialEq)]
enum Outcome<T> {
    Message(T),
    Error { offset: usize },
}

/// Chunk size from the first input byte: 1 to 64 bytes.
fn chunk_size(data: &[u8]) -> (usize, &[u8]) {
    match data.split_first() {
        Some((&first, rest)) => (1 + usize::from(first % 64), rest),
        None => (1, data),
    }
}

/// Feeds `stream` to a command decoder `chunk` bytes at a time and collects
/// every message and error. After an AUTHENTICATE data line the decoder goes
/// back to commands (one data line per exchange), the same in every run.
fn decode_commands(stream: &[u8], chunk: usize) -> Vec<Outcome<CommandEvent>> {
    let mut decoder = CommandDecoder::new(fuzz_limits());
    let mut out = Vec::new();
    for piece in stream.chunks(chunk.max(1)) {
        decoder.feed(piece);
        drain_commands(&mut decoder, &mut out);
    }
    out
}

fn drain_commands(decoder: &mut CommandDecoder, out: &mut Vec<Outcome<CommandEvent>>) {
    // Each call returns Incomplete, or makes progress, or reports something
    // new; the same error at the same position three times in a row means
    // the decoder spins, which a server loop would turn into a hang.
    let mut last = None;
    let mut repeats = 0;
    loop {
        let position = (decoder.offset(), decoder.buffered());
        let result = decoder.decode();
        let key = (position, format!("{result:?}"));
        if last.as_ref() == Some(&key) {
            repeats += 1;
            // One continuation request per literal: a command with several
            // literals of one size repeats it until the command completes,
            // and each literal takes at least 5 bytes (`{0}` CRLF).
            let allowed = match &result {
                Ok(Decoded::NeedsContinuation { .. }) => 3 + decoder.buffered() / 5,
                _ => 3,
            };
            assert!(
                repeats < allowed,
                "command decoder repeats {:?} without progress",
                key.1
            );
        } else {
            repeats = 0;
        }
        last = Some(key);
        match result {
            Ok(Decoded::Incomplete) => return,
            // The server would send "+" now; the literal's bytes may already be here.
            Ok(Decoded::NeedsContinuation { .. }) => {}
            Ok(Decoded::Message(event)) => {
                if let CommandEvent::AuthenticateData(_) = &event {
                    decoder.set_mode(CommandMode::Command);
                }
                out.push(Outcome::Message(event));
            }
            Err(e) => out.push(Outcome::Error { offset: e.offset() }),
        }
    }
}

/// Feeds `stream` to a response decoder `chunk` bytes at a time.
fn decode_responses(stream: &[u8], chunk: usize, greeting: bool) -> Vec<Outcome<Response>> {
    let mut decoder = ResponseDecoder::new(fuzz_limits());
    decoder.expect_greeting(greeting);
    let mut out = Vec::new();
    for piece in stream.chunks(chunk.max(1)) {
        decoder.feed(piece);
        let mut last = None;
        let mut repeats = 0;
        loop {
            let position = (decoder.offset(), decoder.buffered());
            let result = decoder.decode();
            let key = (position, format!("{result:?}"));
            if last.as_ref() == Some(&key) {
                repeats += 1;
                assert!(
                    repeats < 3,
                    "response decoder repeats {:?} without progress",
                    key.1
                );
            } else {
                repeats = 0;
            }
            last = Some(key);
            match result {
                Ok(Decoded::Incomplete) => break,
                Ok(Decoded::NeedsContinuation { .. }) => {
                    panic!("a response decoder never asks for a continuation")
                }
                Ok(Decoded::Message(response)) => out.push(Outcome::Message(response)),
                Err(e) => out.push(Outcome::Error { offset: e.offset() }),
            }
        }
    }
    out
}

/// A command the encoder wrote must decode to the same command, whichever
/// literal mode it used.
pub fn check_command_encoding(command: &columba_imap_proto::Command) {
    for mode in [LiteralMode::Sync, LiteralMode::NonSync] {
        let mut bytes = Vec::new();
        command.encode_to(&mut bytes, mode);
        match parse_command(&bytes) {
            Ok(again) => assert_eq!(
                &again,
                command,
                "re-encoded command decodes differently: {:?}",
                String::from_utf8_lossy(&bytes)
            ),
            Err(e) => panic!(
                "the decoder rejects the encoder's output {:?}: {e}",
                String::from_utf8_lossy(&bytes)
            ),
        }
    }
}

/// A response the encoder wrote must decode to the same response.
pub fn check_response_encoding(response: &Response) {
    let bytes = response.encode();
    let mut decoder = ResponseDecoder::new(Limits::default());
    decoder.expect_greeting(false);
    decoder.feed(&bytes);
    match decoder.decode() {
        Ok(Decoded::Message(again)) => assert_eq!(
            &again,
            response,
            "re-encoded response decodes differently: {:?}",
            String::from_utf8_lossy(&bytes)
        ),
        other => panic!(
            "the decoder does not take the encoder's output {:?}: {other:?}",
            String::from_utf8_lossy(&bytes)
        ),
    }
    assert_eq!(decoder.buffered(), 0, "encoder wrote more than one message");
}

/// Server side: decoding in chunks gives what decoding at once gives, and
/// every decoded command survives encode -> decode.
pub fn command_decode(data: &[u8]) {
    let (chunk, stream) = chunk_size(data);
    let whole = decode_commands(stream, stream.len().max(1));
    let chunked = decode_commands(stream, chunk);
    assert_eq!(whole, chunked, "chunks of {chunk} bytes decode differently");
    for outcome in &whole {
        if let Outcome::Message(CommandEvent::Command(command)) = outcome {
            check_command_encoding(command);
        }
    }
}

/// Client side: the same for responses (the first input byte also says
/// whether a greeting is expected).
pub fn response_decode(data: &[u8]) {
    let (chunk, stream) = chunk_size(data);
    let greeting = data.first().is_some_and(|b| b & 0x80 != 0);
    let whole = decode_responses(stream, stream.len().max(1), greeting);
    let chunked = decode_responses(stream, chunk, greeting);
    assert_eq!(whole, chunked, "chunks of {chunk} bytes decode differently");
    for outcome in &whole {
        if let Outcome::Message(response) = outcome {
            check_response_encoding(response);
        }
    }
}

/// One-shot: a command that parses survives encode -> parse.
pub fn command_roundtrip(data: &[u8]) {
    if let Ok(command) = parse_command(data) {
        check_command_encoding(&command);
    }
}

/// One-shot: a response that parses survives encode -> decode.
pub fn response_roundtrip(data: &[u8]) {
    if let Ok(response) = parse_response(data) {
        check_response_encoding(&response);
    }
}

/// `columba imap-trace` on any bytes: never panics, and every entry prints.
pub fn transcript(data: &[u8]) {
    for entry in trace(data) {
        let line = entry.to_string();
        assert!(
            !line.contains('\n'),
            "a trace line contains a newline: {line:?}"
        );
    }
}

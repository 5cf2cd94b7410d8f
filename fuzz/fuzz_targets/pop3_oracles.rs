//! What the POP3 fuzz targets check, shared with
//! `pop3-proto/tests/fuzz_corpus.rs` (which includes this file) so the
//! committed corpus replays the same code under plain `cargo test`.
//!
//! Every function takes arbitrary bytes and panics only when the library
//! breaks a promise: a panic inside it, chunked decoding that disagrees
//! with decoding at once, a decoded value that does not re-encode, or an
//! encoding that does not decode back to the same value.

#![allow(dead_code)]

use columba_pop3_proto::transcript::trace;
use columba_pop3_proto::{
    BodyEncoder, ClientMessage, Command, CommandDecoder, Error, Expect, Limits, ListItem, ListKind,
    ResponseDecoder, ResponseEvent, SaslResponse, StatusLine,
};

/// Small limits, so the fuzzer reaches the over-limit paths too.
fn fuzz_limits(selector: u8) -> Limits {
    Limits {
        command_line: 16 + usize::from(selector & 0x3f) * 4,
        sasl_line: 64,
        response_line: 24 + usize::from(selector & 0x3f) * 8,
        continuation_line: 96,
    }
}

/// The first byte of an input: chunk size and limits.
fn split_header(data: &[u8]) -> (u8, &[u8]) {
    match data.split_first() {
        Some((&header, rest)) => (header, rest),
        None => (0, data),
    }
}

fn chunks(data: &[u8], header: u8) -> impl Iterator<Item = &[u8]> {
    data.chunks(1 + usize::from(header >> 5) * 3)
}

#[derive(Debug, PartialEq)]
enum Seen<T> {
    Ok(T),
    Err(Error),
}

fn decode_commands<'a>(
    limits: Limits,
    input: impl Iterator<Item = &'a [u8]>,
) -> Vec<Seen<ClientMessage>> {
    let mut decoder = CommandDecoder::with_limits(limits);
    let mut seen = Vec::new();
    let mut count = 0usize;
    for chunk in input {
        decoder.feed(chunk);
        loop {
            // Every third line is read as an AUTH continuation answer.
            if count % 3 == 2 {
                decoder.expect_sasl_response();
            }
            let Some(message) = decoder.next() else { break };
            count += 1;
            seen.push(match message {
                Ok(message) => Seen::Ok(message),
                Err(error) => Seen::Err(error),
            });
        }
    }
    if let Err(error) = decoder.finish() {
        seen.push(Seen::Err(error));
    }
    seen
}

/// Server direction: commands from arbitrary bytes.
pub fn command_decode(data: &[u8]) {
    let (header, input) = split_header(data);
    let limits = fuzz_limits(header);
    let whole = decode_commands(limits, std::iter::once(input));
    let chunked = decode_commands(limits, chunks(input, header));
    assert_eq!(whole, chunked, "chunking changed the result");
    for seen in &whole {
        match seen {
            Seen::Ok(message) => {
                let mut wire = Vec::new();
                message
                    .encode_into(&mut wire)
                    .expect("a decoded message re-encodes");
                let line = &wire[..wire.len() - 2];
                let again = match message {
                    ClientMessage::Command(_) => ClientMessage::Command(
                        Command::parse(line, 0, false).expect("re-encoded command parses"),
                    ),
                    ClientMessage::SaslResponse(_) => ClientMessage::SaslResponse(
                        SaslResponse::parse(line, 0).expect("re-encoded SASL line parses"),
                    ),
                };
                assert_eq!(&again, message);
            }
            Seen::Err(error) => {
                assert!(error.offset().is_some());
                assert!(!error.reason().is_empty());
            }
        }
    }
}

fn expectations(selector: &[u8]) -> Vec<Expect> {
    selector
        .iter()
        .map(|b| match b % 9 {
            0 => Expect::SingleLine,
            1 => Expect::Message,
            2 => Expect::Auth,
            3 => Expect::Listing(ListKind::Scan),
            4 => Expect::Listing(ListKind::UniqueId),
            5 => Expect::Listing(ListKind::Capability),
            6 => Expect::Listing(ListKind::Mechanism),
            7 => Expect::Listing(ListKind::Language),
            _ => Expect::Greeting,
        })
        .collect()
}

fn decode_responses<'a>(
    limits: Limits,
    expect: &[Expect],
    input: impl Iterator<Item = &'a [u8]>,
) -> Vec<Seen<ResponseEvent>> {
    let mut decoder = ResponseDecoder::with_limits(limits);
    for &e in expect {
        decoder.expect(e);
    }
    let mut seen: Vec<Seen<ResponseEvent>> = Vec::new();
    for chunk in input {
        decoder.feed(chunk);
        while let Some(event) = decoder.next() {
            match event {
                Ok(ResponseEvent::BodyChunk(more)) => {
                    assert!(!more.is_empty(), "empty body chunk");
                    if let Some(Seen::Ok(ResponseEvent::BodyChunk(body))) = seen.last_mut() {
                        body.extend(more);
                    } else {
                        seen.push(Seen::Ok(ResponseEvent::BodyChunk(more)));
                    }
                }
                Ok(event) => seen.push(Seen::Ok(event)),
                Err(error) => seen.push(Seen::Err(error)),
            }
        }
    }
    if let Err(error) = decoder.finish() {
        seen.push(Seen::Err(error));
    }
    seen
}

fn status_round_trip(status: &StatusLine) {
    let mut wire = Vec::new();
    status
        .encode_into(&mut wire)
        .expect("a decoded status line re-encodes");
    let again = StatusLine::parse(&wire[..wire.len() - 2], 0).expect("re-encoded status parses");
    assert_eq!(&again, status);
}

/// Client direction: the first byte picks chunking and limits, the next
/// eight the answers expected (after the greeting), the rest is what the
/// server sends.
pub fn response_decode(data: &[u8]) {
    let (header, rest) = split_header(data);
    let (selector, input) = rest.split_at(rest.len().min(8));
    let limits = fuzz_limits(header);
    let expect = expectations(selector);
    let whole = decode_responses(limits, &expect, std::iter::once(input));
    let chunked = decode_responses(limits, &expect, chunks(input, header));
    assert_eq!(whole, chunked, "chunking changed the result");
    for seen in &whole {
        match seen {
            Seen::Ok(ResponseEvent::Single(status) | ResponseEvent::MultiLineBegin(status)) => {
                status_round_trip(status)
            }
            Seen::Ok(ResponseEvent::Item(item)) => {
                let mut wire = Vec::new();
                item.encode_into(&mut wire)
                    .expect("a decoded item re-encodes");
                if let ListItem::Scan(_) | ListItem::UniqueId(_) = item {
                    assert!(wire.ends_with(b"\r\n"));
                }
            }
            Seen::Ok(ResponseEvent::Continuation(c)) => {
                let mut wire = Vec::new();
                c.encode_into(&mut wire)
                    .expect("a decoded continuation re-encodes");
            }
            Seen::Ok(_) => {}
            Seen::Err(error) => assert!(error.offset().is_some()),
        }
    }
}

/// Whole transcripts: no panic, one line per entry.
pub fn transcript(data: &[u8]) {
    for entry in trace(data) {
        let shown = entry.to_string();
        assert!(!shown.contains('\n') && !shown.contains('\r'), "{shown:?}");
    }
}

/// A body stuffed by the streaming encoder (in chunks cut by the first
/// byte) and unstuffed by the decoder (in other chunks) comes back with
/// CRLF line ends and a terminated last line.
pub fn body_round_trip(data: &[u8]) {
    let (header, message) = split_header(data);
    let mut wire = b"+OK\r\n".to_vec();
    let mut encoder = BodyEncoder::new();
    for chunk in message.chunks(1 + usize::from(header & 0x1f)) {
        encoder.push(chunk, &mut wire);
    }
    encoder.finish(&mut wire);
    let mut decoder = ResponseDecoder::new();
    decoder.feed(b"+OK\r\n");
    assert!(decoder.next().is_some());
    decoder.command_sent(&Command::Retr(1));
    let mut body = Vec::new();
    let mut ended = false;
    for chunk in wire.chunks(1 + usize::from(header >> 3)) {
        decoder.feed(chunk);
        while let Some(event) = decoder.next() {
            match event.expect("the encoder's output decodes") {
                ResponseEvent::BodyChunk(more) => body.extend(more),
                ResponseEvent::MultiLineEnd => ended = true,
                _ => {}
            }
        }
    }
    assert!(ended, "the terminator was not seen");
    let mut expected = Vec::new();
    for (i, &b) in message.iter().enumerate() {
        if b == b'\n' && (i == 0 || message[i - 1] != b'\r') {
            expected.push(b'\r');
        }
        expected.push(b);
    }
    if expected.ends_with(b"\r") {
        expected.push(b'\n');
    } else if !expected.is_empty() && !expected.ends_with(b"\n") {
        expected.extend_from_slice(b"\r\n");
    }
    assert_eq!(body, expected);
}

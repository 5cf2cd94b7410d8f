//! The two libraries behind one interface, and the shared corpus; included
//! by the criterion bench and the CPU-time example.

use std::hint::black_box;

use imap_codec::decode::Decoder;
use imap_codec::encode::Encoder;
use imap_codec::{CommandCodec, ResponseCodec};

pub const STREAM_LEN: usize = 256 * 1024;

/// Messages imap-codec decodes completely (with nothing left over).
fn codec_accepts_command(message: &[u8]) -> bool {
    matches!(CommandCodec::default().decode(message), Ok((rest, _)) if rest.is_empty())
}

fn codec_accepts_response(message: &[u8]) -> bool {
    matches!(ResponseCodec::default().decode(message), Ok((rest, _)) if rest.is_empty())
}

pub struct Corpus {
    pub commands: &'static [u8],
    pub responses: &'static [u8],
}

pub fn corpus() -> Corpus {
    let all_commands = columba_bench::command_corpus();
    let commands: Vec<Vec<u8>> = all_commands
        .iter()
        .filter(|m| codec_accepts_command(m) && columba::accepts_command(m))
        .cloned()
        .collect();
    let all_responses = columba_bench::fetch_response_corpus();
    let responses: Vec<Vec<u8>> = all_responses
        .iter()
        .filter(|m| codec_accepts_response(m) && columba::accepts_response(m))
        .cloned()
        .collect();
    eprintln!(
        "corpus: {} of {} commands ({} bytes), {} of {} FETCH responses ({} bytes) decoded by both",
        commands.len(),
        all_commands.len(),
        commands.iter().map(Vec::len).sum::<usize>(),
        responses.len(),
        all_responses.len(),
        responses.iter().map(Vec::len).sum::<usize>(),
    );
    Corpus {
        commands: Box::leak(columba_bench::repeat_to(&commands, STREAM_LEN).into_boxed_slice()),
        responses: Box::leak(columba_bench::repeat_to(&responses, STREAM_LEN).into_boxed_slice()),
    }
}

pub mod codec {
    use super::*;

    pub fn decode_commands(mut input: &[u8]) -> usize {
        let codec = CommandCodec::default();
        let mut n = 0;
        while !input.is_empty() {
            let (rest, command) = codec.decode(input).expect("corpus command");
            black_box(&command);
            input = rest;
            n += 1;
        }
        n
    }

    pub fn decode_responses(mut input: &[u8]) -> usize {
        let codec = ResponseCodec::default();
        let mut n = 0;
        while !input.is_empty() {
            let (rest, response) = codec.decode(input).expect("corpus response");
            black_box(&response);
            input = rest;
            n += 1;
        }
        n
    }

    pub fn commands(
        mut input: &'static [u8],
    ) -> Vec<imap_codec::imap_types::command::Command<'static>> {
        let codec = CommandCodec::default();
        let mut out = Vec::new();
        while !input.is_empty() {
            let (rest, command) = codec.decode(input).expect("corpus command");
            out.push(command);
            input = rest;
        }
        out
    }

    pub fn responses(
        mut input: &'static [u8],
    ) -> Vec<imap_codec::imap_types::response::Response<'static>> {
        let codec = ResponseCodec::default();
        let mut out = Vec::new();
        while !input.is_empty() {
            let (rest, response) = codec.decode(input).expect("corpus response");
            out.push(response);
            input = rest;
        }
        out
    }

    pub fn encode_commands(
        commands: &[imap_codec::imap_types::command::Command<'static>],
        out: &mut Vec<u8>,
    ) {
        let codec = CommandCodec::default();
        for command in commands {
            out.extend_from_slice(&codec.encode(command).dump());
        }
    }

    pub fn encode_responses(
        responses: &[imap_codec::imap_types::response::Response<'static>],
        out: &mut Vec<u8>,
    ) {
        let codec = ResponseCodec::default();
        for response in responses {
            out.extend_from_slice(&codec.encode(response).dump());
        }
    }
}

pub mod columba {
    use super::*;
    use columba_imap_proto::{
        parse_command, parse_response, Command, CommandDecoder, CommandEvent, Decoded, Limits,
        LiteralMode, Response, ResponseDecoder,
    };

    pub fn accepts_command(message: &[u8]) -> bool {
        parse_command(message).is_ok()
    }

    pub fn accepts_response(message: &[u8]) -> bool {
        parse_response(message).is_ok()
    }

    /// A server's path: bytes arrive in its buffer, commands come out.
    pub fn decode_commands(input: &[u8]) -> usize {
        let mut decoder = CommandDecoder::new(Limits::default());
        decoder.feed(input);
        let mut n = 0;
        loop {
            match decoder.decode().expect("corpus command") {
                Decoded::Message(event) => {
                    black_box(&event);
                    n += 1;
                }
                Decoded::NeedsContinuation { .. } => {}
                Decoded::Incomplete => break,
            }
        }
        assert_eq!(decoder.buffered(), 0, "corpus left undecoded bytes");
        n
    }

    /// A client's path: bytes arrive in its buffer, responses come out.
    pub fn decode_responses(input: &[u8]) -> usize {
        let mut decoder = ResponseDecoder::new(Limits::default());
        decoder.expect_greeting(false);
        decoder.feed(input);
        let mut n = 0;
        loop {
            match decoder.decode().expect("corpus response") {
                Decoded::Message(response) => {
                    black_box(&response);
                    n += 1;
                }
                Decoded::NeedsContinuation { .. } => {}
                Decoded::Incomplete => break,
            }
        }
        assert_eq!(decoder.buffered(), 0, "corpus left undecoded bytes");
        n
    }

    pub fn commands(input: &[u8]) -> Vec<Command> {
        let mut decoder = CommandDecoder::new(Limits::default());
        decoder.feed(input);
        let mut out = Vec::new();
        loop {
            match decoder.decode().expect("corpus command") {
                Decoded::Message(CommandEvent::Command(c)) => out.push(c),
                Decoded::Message(_) | Decoded::NeedsContinuation { .. } => {}
                Decoded::Incomplete => break,
            }
        }
        out
    }

    pub fn responses(input: &[u8]) -> Vec<Response> {
        let mut decoder = ResponseDecoder::new(Limits::default());
        decoder.expect_greeting(false);
        decoder.feed(input);
        let mut out = Vec::new();
        while let Decoded::Message(r) = decoder.decode().expect("corpus response") {
            out.push(r);
        }
        out
    }

    pub fn encode_commands(commands: &[Command], out: &mut Vec<u8>) {
        for command in commands {
            command.encode_to(out, LiteralMode::NonSync);
        }
    }

    pub fn encode_responses(responses: &[Response], out: &mut Vec<u8>) {
        for response in responses {
            response.encode_to(out);
        }
    }
}

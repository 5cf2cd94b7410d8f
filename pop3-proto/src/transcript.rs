//! Decoding a whole POP3 transcript, both directions, as the two peers
//! would.
//!
//! A transcript follows the RFC examples' convention: every line starts
//! with `C: ` (client) or `S: ` (server); each line without its prefix,
//! plus CRLF, in order, forms that direction's byte stream. (`C:` or `S:`
//! with nothing after it is an empty line.) Client lines go through a
//! [`CommandDecoder`] as a server reads them, server lines through a
//! [`ResponseDecoder`] as a client reads them: each decoded command tells
//! the response decoder what answer to expect (single-line, listing,
//! message, AUTH exchange), and each AUTH continuation tells the command
//! decoder that a SASL response line comes next.

use std::collections::VecDeque;
use std::fmt;

use crate::{
    BodyEncoder, ClientMessage, Command, CommandDecoder, Error, Expect, ResponseDecoder,
    ResponseEvent,
};

/// Which peer sent a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The client (`C: ` lines).
    Client,
    /// The server (`S: ` lines).
    Server,
}

/// Why a message did not decode, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceError {
    /// Byte offset in that direction's stream (for a line of the
    /// transcript that is neither `C: ` nor `S: `: offset in the file).
    pub offset: usize,
    /// What was wrong.
    pub reason: String,
}

/// One decoded message: a command, a SASL line, a one-line response, or a
/// whole multi-line response (its `.` line included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceEntry {
    /// Who sent it.
    pub direction: Direction,
    /// The message re-encoded from its decoded form, or the error.
    pub result: Result<Vec<u8>, TraceError>,
}

impl fmt::Display for TraceEntry {
    /// `ok C <escaped message>` or `error S <offset> <reason>`; CR, LF,
    /// backslash, non-printable and non-ASCII bytes are escaped, so each
    /// entry is one line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let direction = match self.direction {
            Direction::Client => 'C',
            Direction::Server => 'S',
        };
        match &self.result {
            Ok(message) => write!(f, "ok {direction} {}", escape(message)),
            Err(error) => write!(
                f,
                "error {direction} {} {}",
                error.offset,
                escape(error.reason.as_bytes())
            ),
        }
    }
}

/// Escapes bytes for one line of output: `\r`, `\n`, `\t`, `\\`, and
/// `\xNN` for every other byte outside printable ASCII.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 8);
    for &byte in bytes {
        match byte {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(char::from(byte)),
            _ => out.push_str(&format!("\\x{byte:02x}")),
        }
    }
    out
}

/// A multi-line response being re-encoded.
struct Pending {
    bytes: Vec<u8>,
    body: Option<BodyEncoder>,
    failed: bool,
}

/// Decodes a transcript; one entry per message, in transcript order.
pub fn trace(transcript: &[u8]) -> Vec<TraceEntry> {
    let mut tracer = Tracer {
        commands: CommandDecoder::new(),
        responses: ResponseDecoder::new(),
        pending: None,
        entries: Vec::new(),
        awaiting_utf8: VecDeque::new(),
    };
    let mut file_offset = 0;
    let mut lines: Vec<&[u8]> = transcript.split(|&b| b == b'\n').collect();
    if lines.last() == Some(&&b""[..]) {
        lines.pop();
    }
    for (number, raw) in lines.into_iter().enumerate() {
        let line_offset = file_offset;
        file_offset += raw.len() + 1;
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        let (direction, content) = match line {
            [b'C', b':'] => (Direction::Client, &b""[..]),
            [b'S', b':'] => (Direction::Server, &b""[..]),
            [b'C', b':', b' ', rest @ ..] => (Direction::Client, rest),
            [b'S', b':', b' ', rest @ ..] => (Direction::Server, rest),
            _ => {
                tracer.entries.push(TraceEntry {
                    direction: Direction::Client,
                    result: Err(TraceError {
                        offset: line_offset,
                        reason: format!(
                            "transcript line {} does not start with \"C: \" or \"S: \"",
                            number + 1
                        ),
                    }),
                });
                continue;
            }
        };
        let mut bytes = Vec::with_capacity(content.len() + 2);
        bytes.extend_from_slice(content);
        bytes.extend_from_slice(b"\r\n");
        match direction {
            Direction::Client => tracer.client_bytes(&bytes),
            Direction::Server => tracer.server_bytes(&bytes),
        }
    }
    if let Err(error) = tracer.commands.finish() {
        tracer.error(Direction::Client, &error);
    }
    if let Err(error) = tracer.responses.finish() {
        tracer.error(Direction::Server, &error);
    }
    tracer.entries
}

struct Tracer {
    commands: CommandDecoder,
    responses: ResponseDecoder,
    pending: Option<Pending>,
    entries: Vec<TraceEntry>,
    /// One flag per awaited answer after the greeting: whether it answers
    /// `UTF8` (a `+OK` switches the server to UTF-8 mode, RFC 6856).
    awaiting_utf8: VecDeque<bool>,
}

impl Tracer {
    fn error(&mut self, direction: Direction, error: &Error) {
        let offset = error.offset().unwrap_or(match direction {
            Direction::Client => self.commands.offset(),
            Direction::Server => self.responses.offset(),
        });
        self.entries.push(TraceEntry {
            direction,
            result: Err(TraceError {
                offset,
                reason: error.reason(),
            }),
        });
    }

    fn encoded(&mut self, direction: Direction, result: Result<Vec<u8>, Error>) {
        match result {
            Ok(bytes) => self.entries.push(TraceEntry {
                direction,
                result: Ok(bytes),
            }),
            Err(error) => self.error(direction, &error),
        }
    }

    fn client_bytes(&mut self, bytes: &[u8]) {
        self.commands.feed(bytes);
        loop {
            let sasl = self.commands.is_expecting_sasl_response();
            let Some(message) = self.commands.next() else {
                break;
            };
            match message {
                Ok(message) => {
                    if let ClientMessage::Command(command) = &message {
                        self.responses.command_sent(command);
                        self.awaiting_utf8.push_back(*command == Command::Utf8);
                    }
                    let mut out = Vec::new();
                    let result = message.encode_into(&mut out).map(|()| out);
                    self.encoded(Direction::Client, result);
                }
                Err(error) => {
                    // The server answers a command line it cannot read
                    // with -ERR; a bad SASL line ends the pending AUTH,
                    // whose answer is already expected.
                    if !sasl {
                        self.responses.expect(Expect::SingleLine);
                        self.awaiting_utf8.push_back(false);
                    }
                    self.error(Direction::Client, &error);
                }
            }
        }
    }

    fn server_bytes(&mut self, bytes: &[u8]) {
        self.responses.feed(bytes);
        loop {
            let awaited = self.responses.awaited();
            let Some(event) = self.responses.next() else {
                break;
            };
            // The greeting is awaited from the start and has no flag.
            if self.responses.awaited() < awaited && awaited <= self.awaiting_utf8.len() {
                let utf8 = self.awaiting_utf8.pop_front().unwrap_or(false);
                if utf8 && matches!(&event, Ok(ResponseEvent::Single(status)) if status.is_ok()) {
                    self.commands.set_utf8(true);
                }
            }
            let event = match event {
                Ok(event) => event,
                Err(error) => {
                    if let Some(pending) = &mut self.pending {
                        pending.failed = true;
                    }
                    self.error(Direction::Server, &error);
                    continue;
                }
            };
            match event {
                ResponseEvent::Single(status) => {
                    let mut out = Vec::new();
                    let result = status.encode_into(&mut out).map(|()| out);
                    self.encoded(Direction::Server, result);
                }
                ResponseEvent::Continuation(continuation) => {
                    self.commands.expect_sasl_response();
                    let mut out = Vec::new();
                    let result = continuation.encode_into(&mut out).map(|()| out);
                    self.encoded(Direction::Server, result);
                }
                ResponseEvent::MultiLineBegin(status) => {
                    let mut pending = Pending {
                        bytes: Vec::new(),
                        body: None,
                        failed: false,
                    };
                    if let Err(error) = status.encode_into(&mut pending.bytes) {
                        self.error(Direction::Server, &error);
                        pending.failed = true;
                    }
                    self.pending = Some(pending);
                }
                ResponseEvent::Item(item) => {
                    let mut line = Vec::new();
                    let result = item.encode_into(&mut line);
                    if let Err(error) = result {
                        self.error(Direction::Server, &error);
                    }
                    if let Some(pending) = &mut self.pending {
                        if line.first() == Some(&b'.') {
                            pending.bytes.push(b'.');
                        }
                        pending.bytes.extend_from_slice(&line);
                    }
                }
                ResponseEvent::BodyChunk(chunk) => {
                    if let Some(pending) = &mut self.pending {
                        pending
                            .body
                            .get_or_insert_with(BodyEncoder::new)
                            .push(&chunk, &mut pending.bytes);
                    }
                }
                ResponseEvent::MultiLineEnd => {
                    if let Some(mut pending) = self.pending.take() {
                        match pending.body.take() {
                            Some(body) => body.finish(&mut pending.bytes),
                            None => pending.bytes.extend_from_slice(b".\r\n"),
                        }
                        if !pending.failed {
                            self.entries.push(TraceEntry {
                                direction: Direction::Server,
                                result: Ok(pending.bytes),
                            });
                        }
                    }
                }
            }
        }
    }
}

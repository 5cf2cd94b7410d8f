//! Decoding a whole IMAP transcript, both directions, as real peers would.
//!
//! A transcript follows the RFC examples' convention: every line starts with
//! `C: ` (client to server) or `S: ` (server to client). Each line without
//! its prefix, followed by CRLF, in order, is that direction's byte stream.

use std::fmt;

use crate::client_session::{ClientEvent, ClientSession, NextStep};
use crate::decode::{CommandDecoder, CommandEvent, CommandMode, Decoded};
use crate::escape::Escaped;
use crate::{Error, Limits};

/// Which peer sent a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Client to server (`C: `).
    Client,
    /// Server to client (`S: `).
    Server,
}

impl Direction {
    fn letter(self) -> char {
        match self {
            Direction::Client => 'C',
            Direction::Server => 'S',
        }
    }
}

/// Why a message of a transcript failed to decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceError {
    /// Offset in that direction's byte stream.
    pub offset: usize,
    /// What was wrong.
    pub reason: String,
}

/// One message of a transcript: re-encoded by this crate, or an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceEntry {
    /// Who sent it.
    pub direction: Direction,
    /// The message as this crate encodes it, or why it failed.
    pub result: Result<Vec<u8>, TraceError>,
}

impl fmt::Display for TraceEntry {
    /// `ok C <message, escaped>` or `error S <offset> <reason>`, one line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.direction.letter();
        match &self.result {
            Ok(bytes) => write!(f, "ok {d} {}", Escaped(bytes)),
            Err(e) => write!(f, "error {d} {} {}", e.offset, Escaped(e.reason.as_bytes())),
        }
    }
}

/// The two peers' decoders: the server's view of the client stream, and
/// the client's session (which knows what each response answers).
struct Session {
    client: CommandDecoder,
    server: ClientSession,
    entries: Vec<TraceEntry>,
}

impl Session {
    fn error(&mut self, direction: Direction, e: &Error) {
        self.entries.push(TraceEntry {
            direction,
            result: Err(TraceError {
                offset: e.offset(),
                reason: e.reason(),
            }),
        });
    }

    fn ok(&mut self, direction: Direction, bytes: Vec<u8>) {
        self.entries.push(TraceEntry {
            direction,
            result: Ok(bytes),
        });
    }

    fn drain_client(&mut self) {
        loop {
            match self.client.decode() {
                Ok(Decoded::Incomplete) => return,
                Ok(Decoded::NeedsContinuation { tag, .. }) => self.server.sent_literal_header(tag),
                Ok(Decoded::Message(CommandEvent::Command(c))) => {
                    // The decoder entered AUTHENTICATE or IDLE mode by itself
                    // (a pipelining client may send DONE before the `+`);
                    // the server's answer may end it below.
                    self.server.sent_command(&c);
                    self.ok(Direction::Client, c.encode());
                }
                Ok(Decoded::Message(CommandEvent::AuthenticateData(d))) => {
                    self.ok(Direction::Client, d.encode())
                }
                Ok(Decoded::Message(CommandEvent::IdleDone)) => {
                    self.ok(Direction::Client, crate::IDLE_DONE.to_vec())
                }
                Err(e) => self.error(Direction::Client, &e),
            }
        }
    }

    fn drain_server(&mut self) {
        loop {
            match self.server.decode() {
                Ok(Decoded::Incomplete) | Ok(Decoded::NeedsContinuation { .. }) => return,
                Ok(Decoded::Message(ClientEvent { response, next })) => {
                    if let NextStep::Completed {
                        command,
                        literal_refused,
                        ..
                    } = next
                    {
                        if literal_refused {
                            // The client drops the command.
                            if let Some(offset) = self.client.refuse_literal() {
                                self.entries.push(TraceEntry {
                                    direction: Direction::Client,
                                    result: Err(TraceError {
                                        offset,
                                        reason: "command abandoned: the server refused its synchronizing literal".to_owned(),
                                    }),
                                });
                            }
                        }
                        match command {
                            // IDLE refused: the client sends no DONE.
                            Some("IDLE") if self.client.mode() == CommandMode::Idle => {
                                self.client.resume_commands()
                            }
                            Some("AUTHENTICATE") => self.client.resume_commands(),
                            _ => {}
                        }
                    }
                    self.ok(Direction::Server, response.encode());
                }
                Err(e) => self.error(Direction::Server, &e),
            }
        }
    }
}

/// Decodes a transcript; one entry per message, in order.
///
/// Both streams are decoded as real peers would, with the session state a
/// peer keeps: AUTHENTICATE data lines and IDLE's `DONE` on the client side,
/// base64 challenges during AUTHENTICATE on the server side. A message left
/// incomplete at the end is an error. Never panics.
///
/// ```
/// use columba_imap_proto::transcript::trace;
/// let entries = trace(b"S: * OK ready\nC: a1 NOOP\nS: a1 OK done\n");
/// let lines: Vec<String> = entries.iter().map(|e| e.to_string()).collect();
/// assert_eq!(lines, [r"ok S * OK ready\r\n", r"ok C a1 NOOP\r\n", r"ok S a1 OK done\r\n"]);
/// ```
pub fn trace(transcript: &[u8]) -> Vec<TraceEntry> {
    let mut s = Session {
        client: CommandDecoder::new(Limits::default()),
        server: ClientSession::new(Limits::default()),
        entries: Vec::new(),
    };
    let mut last = Direction::Client;
    let mut line_buf = Vec::new();
    for (n, raw) in transcript.split(|&b| b == b'\n').enumerate() {
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        let (direction, content) = if let Some(c) = line.strip_prefix(b"C: ") {
            (Direction::Client, c)
        } else if let Some(c) = line.strip_prefix(b"S: ") {
            (Direction::Server, c)
        } else if line == b"C:" {
            (Direction::Client, &b""[..])
        } else if line == b"S:" {
            (Direction::Server, &b""[..])
        } else if line.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        } else {
            let offset = match last {
                Direction::Client => s.client.offset() + s.client.buffered(),
                Direction::Server => s.server.offset() + s.server.buffered(),
            };
            s.entries.push(TraceEntry {
                direction: last,
                result: Err(TraceError {
                    offset,
                    reason: format!(
                        "transcript line {} starts with neither \"C: \" nor \"S: \"",
                        n + 1
                    ),
                }),
            });
            continue;
        };
        last = direction;
        line_buf.clear();
        line_buf.extend_from_slice(content);
        line_buf.extend_from_slice(b"\r\n");
        match direction {
            Direction::Client => {
                s.client.feed(&line_buf);
                s.drain_client();
            }
            Direction::Server => {
                s.server.feed(&line_buf);
                s.drain_server();
            }
        }
    }
    if !s.client.is_between_messages() {
        let e = Error::Incomplete {
            offset: s.client.offset(),
            tag: None,
        };
        s.error(Direction::Client, &e);
    }
    if !s.server.is_between_messages() {
        let e = Error::Incomplete {
            offset: s.server.offset(),
            tag: None,
        };
        s.error(Direction::Server, &e);
    }
    s.entries
}

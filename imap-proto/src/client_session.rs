//! The client's view of a session: which response answers which command.

use std::collections::VecDeque;

use crate::decode::{Decoded, ResponseDecoder};
use crate::types::{Command, CommandBody, Response, Tag};
use crate::{Error, Limits};

/// What a client does after a response, as [`ClientSession`] tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextStep {
    /// Nothing in particular: untagged data or status, or a continuation
    /// request no command waits for.
    Nothing,
    /// A continuation request answered the synchronizing literal of the
    /// command `tag`: send its next part.
    SendLiteral {
        /// The waiting command's tag (`None` when it had no valid tag).
        tag: Option<Tag>,
        /// The part to send, when the command went through
        /// [`ClientSession::send`]; `None` when the client encoded it.
        part: Option<Vec<u8>>,
    },
    /// A challenge during AUTHENTICATE (the [`Response::Continuation`]
    /// holds it as [`crate::Continuation::Base64`], as sent): send the next data line
    /// ([`crate::AuthenticateData::encode`]), `*` to cancel.
    SendAuthenticateData {
        /// The AUTHENTICATE command's tag.
        tag: Tag,
    },
    /// The server accepted IDLE: untagged updates follow until the client
    /// sends [`crate::IDLE_DONE`].
    IdleActive {
        /// The IDLE command's tag.
        tag: Tag,
    },
    /// A tagged status completes the command `tag`.
    Completed {
        /// The completed command's tag.
        tag: Tag,
        /// Its name ([`CommandBody::name`]), when the session knew the
        /// command (`None` for a tag it was never told about, or a command
        /// refused before it was complete).
        command: Option<&'static str>,
        /// The command waited for `+` before a synchronizing literal and
        /// the server refused instead: the rest of it is not sent.
        literal_refused: bool,
    },
}

/// One decoded response and what it means for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientEvent {
    /// The response as received.
    pub response: Response,
    /// What the client does next.
    pub next: NextStep,
}

/// The command waiting for a `+`.
#[derive(Debug)]
struct LiteralWait {
    tag: Option<Tag>,
    /// Parts still to send, when the session encoded the command.
    parts: VecDeque<Vec<u8>>,
}

/// Client-side session state over a [`ResponseDecoder`], sans-IO.
///
/// The client tells it what it sends ([`send`](ClientSession::send) encodes
/// a command and keeps the parts that wait for `+`; or
/// [`sent_command`](ClientSession::sent_command) and
/// [`sent_literal_header`](ClientSession::sent_literal_header) when it
/// encodes itself) and feeds it the bytes it receives. Each decoded
/// response comes with a [`NextStep`]: send the next literal part, the next
/// AUTHENTICATE line, IDLE is active (send `DONE` to end it), or which
/// command a tagged status completes. Continuation requests decode as
/// base64 challenges while an AUTHENTICATE is in progress.
///
/// ```
/// use columba_imap_proto::{parse_command, ClientSession, Decoded, Limits, NextStep};
///
/// let mut session = ClientSession::new(Limits::default());
/// session.feed(b"* OK ready\r\n");
/// assert!(matches!(session.decode(), Ok(Decoded::Message(e)) if e.next == NextStep::Nothing));
///
/// // A user name with a line break can only be a literal.
/// let login = parse_command(b"a1 LOGIN {5}\r\nal\r\nx secret\r\n").unwrap();
/// assert_eq!(session.send(&login), b"a1 LOGIN {5}\r\n");
/// session.feed(b"+ go ahead\r\n");
/// let Ok(Decoded::Message(e)) = session.decode() else { panic!() };
/// assert_eq!(e.next, NextStep::SendLiteral { tag: Some(login.tag.clone()), part: Some(b"al\r\nx secret\r\n".to_vec()) });
/// session.feed(b"a1 OK logged in\r\n");
/// let Ok(Decoded::Message(e)) = session.decode() else { panic!() };
/// assert_eq!(e.next, NextStep::Completed { tag: login.tag, command: Some("LOGIN"), literal_refused: false });
/// ```
#[derive(Debug)]
pub struct ClientSession {
    decoder: ResponseDecoder,
    /// Commands sent and not yet completed, oldest first.
    in_flight: Vec<(Tag, &'static str)>,
    literal: Option<LiteralWait>,
    authenticate: Option<Tag>,
    idle: Option<Tag>,
}

impl ClientSession {
    /// A session expecting the server's greeting first.
    pub fn new(limits: Limits) -> Self {
        ClientSession {
            decoder: ResponseDecoder::new(limits),
            in_flight: Vec::new(),
            literal: None,
            authenticate: None,
            idle: None,
        }
    }

    /// Whether the next response must be a greeting (`false` after
    /// STARTTLS, or when the greeting was read elsewhere).
    pub fn expect_greeting(&mut self, expect: bool) {
        self.decoder.expect_greeting(expect);
    }

    /// Encodes `command` with synchronizing literals and returns the bytes
    /// to send now; each further part comes in a
    /// [`NextStep::SendLiteral`] after the server's `+`. Call it only when
    /// no earlier command still waits for `+`.
    pub fn send(&mut self, command: &Command) -> Vec<u8> {
        let mut parts: VecDeque<Vec<u8>> = command.encode_parts().into();
        let first = parts.pop_front().unwrap_or_default();
        if !parts.is_empty() {
            self.literal = Some(LiteralWait {
                tag: Some(command.tag.clone()),
                parts,
            });
        }
        self.sent_command(command);
        first
    }

    /// The client sent `command` (all of it; after
    /// [`sent_literal_header`](ClientSession::sent_literal_header) for each
    /// synchronizing literal, when it has any).
    pub fn sent_command(&mut self, command: &Command) {
        self.in_flight
            .push((command.tag.clone(), command.body.name()));
        match command.body {
            CommandBody::Authenticate { .. } => {
                self.authenticate = Some(command.tag.clone());
                self.decoder.set_authenticating(true);
            }
            CommandBody::Idle => self.idle = Some(command.tag.clone()),
            _ => {}
        }
    }

    /// The client sent a part of a command ending in a synchronizing
    /// literal's `{n}\r\n` and waits for `+` (or a tagged refusal).
    pub fn sent_literal_header(&mut self, tag: Option<Tag>) {
        self.literal = Some(LiteralWait {
            tag,
            parts: VecDeque::new(),
        });
    }

    /// True while a command waits for `+` before its next literal.
    pub fn waits_for_continuation(&self) -> bool {
        self.literal.is_some()
    }

    /// The tag of the AUTHENTICATE in progress.
    pub fn authenticating(&self) -> Option<&Tag> {
        self.authenticate.as_ref()
    }

    /// The tag of the IDLE in progress (sent, not yet completed).
    pub fn idling(&self) -> Option<&Tag> {
        self.idle.as_ref()
    }

    /// Commands sent and not yet completed, oldest first: tag and name.
    pub fn in_flight(&self) -> impl Iterator<Item = (&Tag, &'static str)> {
        self.in_flight.iter().map(|(t, n)| (t, *n))
    }

    /// Adds received bytes.
    pub fn feed(&mut self, data: &[u8]) {
        self.decoder.feed(data);
    }

    /// Offset in the received stream of the next undecoded byte.
    pub fn offset(&self) -> usize {
        self.decoder.offset()
    }

    /// Bytes received but not yet decoded.
    pub fn buffered(&self) -> usize {
        self.decoder.buffered()
    }

    /// True when no partial response is buffered or being skipped.
    pub fn is_between_messages(&self) -> bool {
        self.decoder.is_between_messages()
    }

    /// Decodes the next response, if complete, with what it means. Never
    /// returns [`Decoded::NeedsContinuation`]. An error leaves the session
    /// in sync: the bad response is skipped.
    pub fn decode(&mut self) -> Result<Decoded<ClientEvent>, Error> {
        let response = match self.decoder.decode()? {
            Decoded::Message(r) => r,
            Decoded::Incomplete => return Ok(Decoded::Incomplete),
            Decoded::NeedsContinuation { tag, size, offset } => {
                return Ok(Decoded::NeedsContinuation { tag, size, offset })
            }
        };
        let next = self.step(&response);
        Ok(Decoded::Message(ClientEvent { response, next }))
    }

    fn step(&mut self, response: &Response) -> NextStep {
        match response {
            Response::Continuation(_) => {
                if let Some(wait) = &mut self.literal {
                    let tag = wait.tag.clone();
                    let part = wait.parts.pop_front();
                    if wait.parts.is_empty() {
                        self.literal = None;
                    }
                    NextStep::SendLiteral { tag, part }
                } else if let Some(tag) = &self.authenticate {
                    NextStep::SendAuthenticateData { tag: tag.clone() }
                } else if let Some(tag) = &self.idle {
                    NextStep::IdleActive { tag: tag.clone() }
                } else {
                    NextStep::Nothing
                }
            }
            Response::Status(s) => {
                let Some(tag) = &s.tag else {
                    return NextStep::Nothing;
                };
                let literal_refused = match &self.literal {
                    Some(wait) if wait.tag.as_ref() == Some(tag) => {
                        self.literal = None;
                        true
                    }
                    _ => false,
                };
                if self.idle.as_ref() == Some(tag) {
                    self.idle = None;
                }
                if self.authenticate.as_ref() == Some(tag) {
                    self.authenticate = None;
                    self.decoder.set_authenticating(false);
                }
                let command = self
                    .in_flight
                    .iter()
                    .position(|(t, _)| t == tag)
                    .map(|i| self.in_flight.remove(i).1);
                NextStep::Completed {
                    tag: tag.clone(),
                    command,
                    literal_refused,
                }
            }
            Response::Data(_) => NextStep::Nothing,
        }
    }
}

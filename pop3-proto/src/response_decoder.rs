//! The client side: decoding server responses from a byte stream.

use std::collections::VecDeque;

use crate::command::Command;
use crate::line::InputBuffer;
use crate::response::{
    Capability, Continuation, Language, ListItem, ScanListing, StatusLine, UniqueId,
};
use crate::{Error, Limits};

/// What kind of answer the client waits for. POP3 responses do not say
/// whether they are multi-line: the client knows from what it asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// The server greeting, one line.
    Greeting,
    /// A one-line answer (`USER`, `STAT`, `LIST 1`, `DELE`, ...).
    SingleLine,
    /// A listing on `+OK`: `LIST`, `UIDL`, `CAPA`, bare `AUTH`, bare `LANG`.
    Listing(ListKind),
    /// A message on `+OK`: `RETR`, `TOP`.
    Message,
    /// The answer to `AUTH mechanism`: any number of `+ ` continuations,
    /// then `+OK` or `-ERR`.
    Auth,
}

/// The kind of lines a listing holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    /// `msg size` lines (`LIST`).
    Scan,
    /// `msg uid` lines (`UIDL`).
    UniqueId,
    /// Capability lines (`CAPA`).
    Capability,
    /// SASL mechanism names (bare `AUTH`).
    Mechanism,
    /// Language lines (bare `LANG`).
    Language,
}

impl Expect {
    /// The answer a command gets.
    pub fn for_command(command: &Command) -> Expect {
        match command {
            Command::List(None) => Expect::Listing(ListKind::Scan),
            Command::Uidl(None) => Expect::Listing(ListKind::UniqueId),
            Command::Capa => Expect::Listing(ListKind::Capability),
            Command::Auth(None) => Expect::Listing(ListKind::Mechanism),
            Command::Lang(None) => Expect::Listing(ListKind::Language),
            Command::Retr(_) | Command::Top { .. } => Expect::Message,
            Command::Auth(Some(_)) => Expect::Auth,
            _ => Expect::SingleLine,
        }
    }
}

/// One piece of a server response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseEvent {
    /// A whole one-line response (also `-ERR` to a multi-line command).
    Single(StatusLine),
    /// The `+OK` line of a multi-line response; items or body chunks
    /// follow, then [`ResponseEvent::MultiLineEnd`].
    MultiLineBegin(StatusLine),
    /// One line of a listing, unstuffed and typed.
    Item(ListItem),
    /// Message bytes, unstuffed, line ends as sent (CRLF). Chunks follow
    /// the input's arrival, not its lines.
    BodyChunk(Vec<u8>),
    /// The `.` line ending a multi-line response.
    MultiLineEnd,
    /// A SASL challenge during `AUTH`.
    Continuation(Continuation),
}

#[derive(Debug, Clone, Copy)]
enum State {
    Status,
    Listing { kind: ListKind, start: usize },
    Body { at_line_start: bool, start: usize },
}

/// Decodes what a server sends, fed in chunks of any size.
///
/// The client tells the decoder what it sent ([`ResponseDecoder::command_sent`],
/// in order; pipelining works), and the decoder reads each answer as
/// one-line, listing or message accordingly. Message bodies are unstuffed
/// incrementally and come out as [`ResponseEvent::BodyChunk`]s: the
/// decoder never holds a whole message.
///
/// ```
/// use columba_pop3_proto::{Command, ResponseDecoder, ResponseEvent};
///
/// let mut decoder = ResponseDecoder::new();
/// decoder.feed(b"+OK POP3 ready\r\n");
/// assert!(matches!(decoder.next(), Some(Ok(ResponseEvent::Single(_)))));
/// decoder.command_sent(&Command::Retr(1));
/// decoder.feed(b"+OK 9 octets\r\nhi\r\n..x\r\n.\r\n");
/// assert!(matches!(decoder.next(), Some(Ok(ResponseEvent::MultiLineBegin(_)))));
/// let mut body = Vec::new();
/// while let Some(Ok(ResponseEvent::BodyChunk(chunk))) = decoder.next() {
///     body.extend(chunk);
/// }
/// assert_eq!(body, b"hi\r\n.x\r\n");
/// ```
#[derive(Debug)]
pub struct ResponseDecoder {
    input: InputBuffer,
    limits: Limits,
    expected: VecDeque<Expect>,
    state: State,
}

impl Default for ResponseDecoder {
    fn default() -> Self {
        ResponseDecoder::new()
    }
}

impl ResponseDecoder {
    /// A decoder for a new connection: it expects the greeting first.
    pub fn new() -> ResponseDecoder {
        ResponseDecoder::with_limits(Limits::RFC)
    }

    /// Like [`ResponseDecoder::new`], with the given limits.
    pub fn with_limits(limits: Limits) -> ResponseDecoder {
        ResponseDecoder {
            input: InputBuffer::default(),
            limits,
            expected: VecDeque::from([Expect::Greeting]),
            state: State::Status,
        }
    }

    /// Records that the client sent `command`: its answer is expected
    /// after those of the commands sent before it.
    pub fn command_sent(&mut self, command: &Command) {
        self.expect(Expect::for_command(command));
    }

    /// Queues an expected answer directly (e.g. [`Expect::SingleLine`]
    /// for a command this crate does not model).
    pub fn expect(&mut self, expect: Expect) {
        self.expected.push_back(expect);
    }

    /// How many answers are still awaited (the one being read included).
    pub fn awaited(&self) -> usize {
        self.expected.len() + usize::from(!matches!(self.state, State::Status))
    }

    /// Appends received bytes.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.input.feed(bytes);
    }

    /// Stream offset of the next undecoded byte.
    pub fn offset(&self) -> usize {
        self.input.offset()
    }

    /// The next response event, if enough input is buffered.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<Result<ResponseEvent, Error>> {
        match self.state {
            State::Status => self.next_status(),
            State::Listing { kind, .. } => self.next_list_line(kind),
            State::Body { at_line_start, .. } => self.next_body(at_line_start),
        }
    }

    /// Call at end of input: an error if a line or a multi-line response
    /// was left unfinished.
    pub fn finish(&self) -> Result<(), Error> {
        match self.state {
            State::Listing { start, .. } | State::Body { start, .. } => Err(Error::Truncated {
                offset: start,
                what: "a multi-line response",
            }),
            State::Status if self.input.has_partial() => Err(Error::Truncated {
                offset: self.input.offset(),
                what: "a response line",
            }),
            State::Status => Ok(()),
        }
    }

    fn next_status(&mut self) -> Option<Result<ResponseEvent, Error>> {
        let Some(&expect) = self.expected.front() else {
            let line = self.input.next_line(self.limits.response_line)?;
            return Some(line.and_then(|line| {
                Err(Error::UnsolicitedResponse {
                    offset: line.offset,
                })
            }));
        };
        let limit = match expect {
            Expect::Auth => self.limits.response_line.max(self.limits.continuation_line),
            _ => self.limits.response_line,
        };
        let line = match self.input.next_line(limit)? {
            Ok(line) => line,
            Err(error) => {
                self.expected.pop_front();
                return Some(Err(error));
            }
        };
        if expect == Expect::Auth
            && line.bytes.first() == Some(&b'+')
            && !line.bytes[1..].to_ascii_uppercase().starts_with(b"OK")
        {
            let continuation = Continuation::parse(&line.bytes, line.offset);
            if continuation.is_err() {
                self.expected.pop_front();
            }
            return Some(continuation.map(ResponseEvent::Continuation));
        }
        self.expected.pop_front();
        let status = match StatusLine::parse(&line.bytes, line.offset) {
            Ok(status) => status,
            Err(error) => return Some(Err(error)),
        };
        if !status.is_ok() {
            return Some(Ok(ResponseEvent::Single(status)));
        }
        match expect {
            Expect::Listing(kind) => {
                self.state = State::Listing {
                    kind,
                    start: line.offset,
                };
                Some(Ok(ResponseEvent::MultiLineBegin(status)))
            }
            Expect::Message => {
                self.state = State::Body {
                    at_line_start: true,
                    start: line.offset,
                };
                Some(Ok(ResponseEvent::MultiLineBegin(status)))
            }
            Expect::Greeting | Expect::SingleLine | Expect::Auth => {
                Some(Ok(ResponseEvent::Single(status)))
            }
        }
    }

    fn next_list_line(&mut self, kind: ListKind) -> Option<Result<ResponseEvent, Error>> {
        let line = match self.input.next_line(self.limits.response_line)? {
            Ok(line) => line,
            Err(error) => return Some(Err(error)),
        };
        let (offset, bytes) = (line.offset, line.bytes);
        if bytes == b"." {
            self.state = State::Status;
            return Some(Ok(ResponseEvent::MultiLineEnd));
        }
        let bytes = bytes.strip_prefix(b".").unwrap_or(&bytes);
        if let Some((at, byte)) = crate::line::find_forbidden(bytes) {
            return Some(Err(Error::InvalidByte {
                offset: offset + at,
                byte,
            }));
        }
        let item = match kind {
            ListKind::Scan => ScanListing::parse(bytes, offset).map(ListItem::Scan),
            ListKind::UniqueId => UniqueId::parse(bytes, offset).map(ListItem::UniqueId),
            ListKind::Capability => Capability::parse(bytes, offset).map(ListItem::Capability),
            ListKind::Language => Language::parse(bytes, offset).map(ListItem::Language),
            ListKind::Mechanism => {
                if crate::command::is_mechanism(bytes) {
                    Ok(ListItem::Mechanism(
                        String::from_utf8_lossy(bytes).into_owned(),
                    ))
                } else {
                    Err(Error::BadListLine {
                        offset,
                        what: "mechanism",
                        reason: "not 1-20 letters, digits, '-' or '_'".to_string(),
                    })
                }
            }
        };
        Some(item.map(ResponseEvent::Item))
    }

    fn next_body(&mut self, at_line_start: bool) -> Option<Result<ResponseEvent, Error>> {
        let State::Body { start, .. } = self.state else {
            return None;
        };
        let pending = self.input.pending();
        if pending.is_empty() {
            return None;
        }
        let mut skip = 0;
        if at_line_start && pending[0] == b'.' {
            match (pending.get(1), pending.get(2)) {
                (Some(b'\n'), _) | (Some(b'\r'), Some(b'\n')) => {
                    let len = if pending[1] == b'\n' { 2 } else { 3 };
                    self.input.consume(len);
                    self.state = State::Status;
                    return Some(Ok(ResponseEvent::MultiLineEnd));
                }
                // "." or ".\r" so far: the next byte decides.
                (None, _) | (Some(b'\r'), None) => return None,
                // A stuffed dot: drop it.
                _ => skip = 1,
            }
        }
        let rest = &pending[skip..];
        // Take whole lines up to (not including) the next line that starts
        // with '.', or everything buffered; the chunk is never empty.
        let mut end = 0;
        let line_start = loop {
            match rest[end..].iter().position(|&b| b == b'\n') {
                Some(at) => {
                    end += at + 1;
                    if end == rest.len() || rest[end] == b'.' {
                        break true;
                    }
                }
                None => {
                    end = rest.len();
                    break false;
                }
            }
        };
        let chunk = rest[..end].to_vec();
        self.input.consume(skip + end);
        self.state = State::Body {
            at_line_start: line_start,
            start,
        };
        Some(Ok(ResponseEvent::BodyChunk(chunk)))
    }
}

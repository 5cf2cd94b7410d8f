//! The server side: decodes commands, AUTHENTICATE data lines and IDLE's DONE.

use bytes::{Buf, Bytes, BytesMut};

use super::framer::{Frame, Framer};
use super::{rejection_error, Decoded};
use crate::parse::command::{
    append_continuation, append_prefix, authenticate_data, command, idle_done, leading_tag,
};
use crate::types::{AppendHeader, AuthenticateData, Command, CommandBody, Mailbox, Tag};
use crate::{Error, Limits};

/// What the next client line is, as far as the session is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CommandMode {
    /// Tagged commands.
    #[default]
    Command,
    /// AUTHENTICATE data lines (base64 or `*`).
    Authenticate,
    /// `DONE`, ending IDLE.
    Idle,
}

/// A decoded client message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandEvent {
    /// A tagged command.
    Command(Command),
    /// A line sent during AUTHENTICATE.
    AuthenticateData(AuthenticateData),
    /// `DONE` ended IDLE.
    IdleDone,
}

/// What [`CommandDecoder::decode_streaming`] yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent {
    /// A complete message, as [`CommandDecoder::decode`] gives it.
    Command(CommandEvent),
    /// An APPEND whose first message literal is streamed.
    AppendStart {
        /// The command's tag.
        tag: Tag,
        /// The destination.
        mailbox: Mailbox,
        /// The first message.
        message: AppendHeader,
    },
    /// The next message of a MULTIAPPEND.
    AppendNext(AppendHeader),
    /// A chunk of the current message's data.
    AppendData(Bytes),
    /// The APPEND command is complete.
    AppendEnd,
}

/// What the framing step found, before any parsing.
enum Framed {
    Message(Bytes, usize),
    Incomplete,
    NeedsContinuation {
        tag: Option<Tag>,
        size: u64,
        offset: usize,
    },
    AppendStart {
        tag: Tag,
        mailbox: Mailbox,
        message: AppendHeader,
    },
}

/// An APPEND whose literal is being streamed.
#[derive(Debug)]
struct AppendStream {
    tag: Tag,
    remaining: u64,
    utf8: bool,
    /// How far the line after the literal was scanned for LF.
    scanned: usize,
}

/// Streaming command decoder for a server.
///
/// Feed it bytes as they arrive, in chunks of any size, and call
/// [`decode`](CommandDecoder::decode) until it answers
/// [`Decoded::Incomplete`].
///
/// # AUTHENTICATE and IDLE
///
/// After `AUTHENTICATE` the client sends data lines, after `IDLE` it sends
/// `DONE`, but only if the server accepted: a refused IDLE (`tag NO`) or an
/// AUTHENTICATE that completes in one step (SASL-IR) is followed by the next
/// command. Only the server knows which, so a server should build the
/// decoder with [`explicit_modes`](CommandDecoder::explicit_modes): it then
/// stays in [`CommandMode::Command`] until the server calls
/// [`accept_idle`](CommandDecoder::accept_idle) (when it sends `+ idling`)
/// or [`begin_authenticate`](CommandDecoder::begin_authenticate) (when it
/// sends its first challenge), and returns to command mode by itself after
/// `DONE`, after a `*` cancel line or an undecodable line; the server calls
/// [`resume_commands`](CommandDecoder::resume_commands) when it sends the
/// tagged result of an AUTHENTICATE.
///
/// Without `explicit_modes` (an observer such as [`crate::transcript`],
/// which cannot know the server's answer in advance) the decoder enters
/// the mode as soon as it decodes the command, and the caller must call
/// [`resume_commands`](CommandDecoder::resume_commands) when the server
/// refuses IDLE or completes AUTHENTICATE.
///
/// Errors leave the decoder in sync: the offending message is skipped
/// (including literals the client sends anyway), so the server answers
/// `tag BAD` with [`Error::tag`] and goes on decoding.
///
/// ```
/// use columba_imap_proto::{CommandDecoder, CommandEvent, CommandBody, Decoded, Limits};
///
/// let mut dec = CommandDecoder::new(Limits::default());
/// dec.feed(b"a1 LOGIN {5}\r\n");
/// assert!(matches!(dec.decode(), Ok(Decoded::NeedsContinuation { size: 5, .. })));
/// // The server sends "+ Ready", the client continues:
/// dec.feed(b"alice secret\r\n");
/// let Ok(Decoded::Message(CommandEvent::Command(cmd))) = dec.decode() else { panic!() };
/// assert!(matches!(cmd.body, CommandBody::Login { .. }));
/// assert_eq!(dec.decode(), Ok(Decoded::Incomplete));
/// ```
#[derive(Debug)]
pub struct CommandDecoder {
    buf: BytesMut,
    framer: Framer,
    limits: Limits,
    offset: usize,
    mode: CommandMode,
    append: Option<AppendStream>,
    pending_continuation: Option<u64>,
    /// AUTHENTICATE and IDLE switch the mode only when the server confirms.
    explicit_modes: bool,
}

impl CommandDecoder {
    /// A decoder with the given limits, expecting commands.
    pub fn new(limits: Limits) -> Self {
        CommandDecoder {
            buf: BytesMut::new(),
            framer: Framer::new(true),
            limits,
            offset: 0,
            mode: CommandMode::Command,
            append: None,
            pending_continuation: None,
            explicit_modes: false,
        }
    }

    /// The decoder a server wants: decoding `AUTHENTICATE` or `IDLE` does
    /// not change the mode; the server confirms with
    /// [`accept_idle`](CommandDecoder::accept_idle) or
    /// [`begin_authenticate`](CommandDecoder::begin_authenticate). A refused
    /// IDLE or a one-step SASL-IR AUTHENTICATE thus needs no reset.
    ///
    /// ```
    /// use columba_imap_proto::{CommandDecoder, CommandEvent, CommandMode, Decoded, Limits};
    ///
    /// let mut dec = CommandDecoder::new(Limits::default()).explicit_modes();
    /// dec.feed(b"a1 IDLE\r\na2 NOOP\r\n");
    /// assert!(matches!(dec.decode(), Ok(Decoded::Message(CommandEvent::Command(_)))));
    /// // The server answers "a1 NO not now" and does not call accept_idle():
    /// assert_eq!(dec.mode(), CommandMode::Command);
    /// assert!(matches!(dec.decode(), Ok(Decoded::Message(CommandEvent::Command(_)))));
    /// ```
    pub fn explicit_modes(mut self) -> Self {
        self.explicit_modes = true;
        self
    }

    /// The server accepted IDLE (it sends `+ idling`): the next client line
    /// is `DONE`.
    pub fn accept_idle(&mut self) {
        self.set_mode(CommandMode::Idle);
    }

    /// The server sent an AUTHENTICATE challenge (`+ ...`): the next client
    /// line is a data line (base64 or `*`).
    pub fn begin_authenticate(&mut self) {
        self.set_mode(CommandMode::Authenticate);
    }

    /// The server sent the tagged result of AUTHENTICATE, or refused IDLE:
    /// the next client line is a command.
    pub fn resume_commands(&mut self) {
        self.set_mode(CommandMode::Command);
    }

    /// Adds received bytes.
    pub fn feed(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The current mode.
    pub fn mode(&self) -> CommandMode {
        self.mode
    }

    /// Sets what the next client line is. The named forms say why:
    /// [`accept_idle`](CommandDecoder::accept_idle),
    /// [`begin_authenticate`](CommandDecoder::begin_authenticate),
    /// [`resume_commands`](CommandDecoder::resume_commands).
    pub fn set_mode(&mut self, mode: CommandMode) {
        self.mode = mode;
        self.framer.literals = mode == CommandMode::Command;
    }

    /// Offset in the stream of the next undecoded byte.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Bytes received but not yet decoded (part of an incomplete message).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// True when no partial message is buffered or being skipped.
    pub fn is_between_messages(&self) -> bool {
        self.buf.is_empty() && self.framer.idle() && self.append.is_none()
    }

    /// The server answered [`Decoded::NeedsContinuation`] with a tagged
    /// `NO` or `BAD` instead of `+`: the client does not send the literal and
    /// the command is over. Drops the partial command and returns the
    /// stream offset where it started; `None` when no synchronizing literal
    /// was pending.
    pub fn refuse_literal(&mut self) -> Option<usize> {
        let drop = self.framer.abandon_literal()?;
        let start = self.offset;
        self.buf.advance(drop);
        self.offset += drop;
        Some(start)
    }

    /// Decodes the next message, if complete.
    ///
    /// APPEND messages are buffered whole (within [`Limits`]); see
    /// [`decode_streaming`](CommandDecoder::decode_streaming) to receive
    /// large ones in chunks instead. Do not mix the two on one stream
    /// while a streamed APPEND is in progress.
    pub fn decode(&mut self) -> Result<Decoded<CommandEvent>, Error> {
        self.framer.stop_at_literals = false;
        match self.decode_framed(None)? {
            Framed::Message(msg, base) => self.message(&msg).map_err(|e| e.shift(base, None)),
            Framed::Incomplete => Ok(Decoded::Incomplete),
            Framed::NeedsContinuation { tag, size, offset } => {
                Ok(Decoded::NeedsContinuation { tag, size, offset })
            }
            Framed::AppendStart { .. } => Err(Error::Syntax {
                offset: self.offset,
                tag: None,
                expected: "decode_streaming() for a streamed APPEND",
                found: Bytes::new(),
            }),
        }
    }

    /// Like [`decode`](CommandDecoder::decode), but the message literal of
    /// an APPEND of at least `min_size` bytes is not buffered: it comes out
    /// as [`StreamEvent::AppendStart`], then [`StreamEvent::AppendData`]
    /// chunks as they arrive (slices of the received bytes, never copied
    /// twice), then [`StreamEvent::AppendNext`] for each further
    /// MULTIAPPEND message, and [`StreamEvent::AppendEnd`]. A synchronizing
    /// literal still yields [`Decoded::NeedsContinuation`] after its header.
    /// Streamed literals are bounded by [`Limits::max_literal`] but not by
    /// [`Limits::max_message`].
    ///
    /// ```
    /// use columba_imap_proto::{CommandDecoder, Decoded, Limits, StreamEvent};
    ///
    /// let mut dec = CommandDecoder::new(Limits::default());
    /// dec.feed(b"a1 APPEND INBOX (\\Seen) {11+}\r\nHello");
    /// let mut data = Vec::new();
    /// loop {
    ///     match dec.decode_streaming(0).unwrap() {
    ///         Decoded::Message(StreamEvent::AppendStart { message, .. }) => assert_eq!(message.size, 11),
    ///         Decoded::Message(StreamEvent::AppendData(chunk)) => data.extend_from_slice(&chunk),
    ///         Decoded::Message(StreamEvent::AppendEnd) => break,
    ///         Decoded::Incomplete => dec.feed(b" world\r\n"),
    ///         other => panic!("{other:?}"),
    ///     }
    /// }
    /// assert_eq!(data, b"Hello world");
    /// ```
    pub fn decode_streaming(&mut self, min_size: u64) -> Result<Decoded<StreamEvent>, Error> {
        if let Some(size) = self.pending_continuation.take() {
            return Ok(Decoded::NeedsContinuation {
                tag: self.append.as_ref().map(|a| a.tag.clone()),
                size,
                offset: self.offset,
            });
        }
        let Some(append) = &mut self.append else {
            self.framer.stop_at_literals = self.mode == CommandMode::Command;
            return Ok(match self.decode_framed(Some(min_size))? {
                Framed::Message(msg, base) => {
                    match self.message(&msg).map_err(|e| e.shift(base, None))? {
                        Decoded::Message(e) => Decoded::Message(StreamEvent::Command(e)),
                        Decoded::Incomplete => Decoded::Incomplete,
                        Decoded::NeedsContinuation { tag, size, offset } => {
                            Decoded::NeedsContinuation { tag, size, offset }
                        }
                    }
                }
                Framed::Incomplete => Decoded::Incomplete,
                Framed::NeedsContinuation { tag, size, offset } => {
                    Decoded::NeedsContinuation { tag, size, offset }
                }
                Framed::AppendStart {
                    tag,
                    mailbox,
                    message,
                } => Decoded::Message(StreamEvent::AppendStart {
                    tag,
                    mailbox,
                    message,
                }),
            });
        };
        if append.remaining > 0 {
            if self.buf.is_empty() {
                return Ok(Decoded::Incomplete);
            }
            let n = append.remaining.min(self.buf.len() as u64) as usize;
            append.remaining -= n as u64;
            self.offset += n;
            let chunk = self.buf.split_to(n).freeze();
            return Ok(Decoded::Message(StreamEvent::AppendData(chunk)));
        }
        // After the literal: CRLF, or the next message's header.
        let scan_from = append.scanned.min(self.buf.len());
        let Some(i) = memchr::memchr(b'\n', &self.buf[scan_from..]) else {
            append.scanned = self.buf.len();
            if self.buf.len() > self.limits.max_line {
                let tag = append.tag.clone();
                self.append = None;
                self.framer.discard_from_start(0);
                return Err(Error::LineTooLong {
                    offset: self.offset,
                    tag: Some(tag),
                    limit: self.limits.max_line,
                });
            }
            return Ok(Decoded::Incomplete);
        };
        let line_end = scan_from + i + 1;
        let line = Bytes::copy_from_slice(&self.buf[..line_end]);
        let (utf8, tag) = (append.utf8, append.tag.clone());
        match append_continuation(&line, utf8, self.limits.max_depth, &tag) {
            Ok(None) => {
                self.buf.advance(line_end);
                self.offset += line_end;
                self.append = None;
                Ok(Decoded::Message(StreamEvent::AppendEnd))
            }
            Ok(Some(header)) => {
                let base = self.offset;
                self.buf.advance(line_end);
                self.offset += line_end;
                self.start_literal(&tag, &header, base)?;
                Ok(Decoded::Message(StreamEvent::AppendNext(header)))
            }
            Err(e) => {
                let e = e.shift(self.offset, None);
                self.append = None;
                // Skip the rest of the command, with any literal the client sends anyway.
                self.framer.discard_from_start(0);
                Err(e)
            }
        }
    }

    /// Enters the streamed literal announced by `header`; checks its size.
    fn start_literal(
        &mut self,
        tag: &Tag,
        header: &AppendHeader,
        base: usize,
    ) -> Result<(), Error> {
        let limit = if header.non_sync {
            self.limits
                .max_non_sync_literal
                .min(self.limits.max_literal)
        } else {
            self.limits.max_literal
        };
        if header.size > limit as u64 {
            self.append = None;
            if header.non_sync {
                // The client sends it anyway: skip it and the rest of the command.
                self.framer.discard_from_start(header.size);
            }
            return Err(Error::LiteralTooLarge {
                offset: base,
                tag: Some(tag.clone()),
                size: header.size,
                limit,
            });
        }
        self.append = Some(AppendStream {
            tag: tag.clone(),
            remaining: header.size,
            utf8: header.utf8,
            scanned: 0,
        });
        if !header.non_sync {
            self.pending_continuation = Some(header.size);
        }
        Ok(())
    }

    fn decode_framed(&mut self, stream_min: Option<u64>) -> Result<Framed, Error> {
        loop {
            match self.framer.poll(&self.buf, &self.limits) {
                Frame::Incomplete => return Ok(Framed::Incomplete),
                Frame::LiteralAhead {
                    header_end, size, ..
                } => {
                    let start = stream_min
                        .filter(|&min| size >= min && size <= self.limits.max_literal as u64)
                        .and_then(|_| {
                            let head = Bytes::copy_from_slice(&self.buf[..header_end]);
                            append_prefix(&head, self.limits.max_depth)
                        });
                    match start {
                        Some((tag, mailbox, message)) => {
                            let base = self.offset;
                            self.buf.advance(header_end);
                            self.offset += header_end;
                            self.framer.reset();
                            self.start_literal(&tag, &message, base)?;
                            return Ok(Framed::AppendStart {
                                tag,
                                mailbox,
                                message,
                            });
                        }
                        None => self.framer.accept_literal(header_end),
                    }
                }
                Frame::Continue { size, data_start } => {
                    return Ok(Framed::NeedsContinuation {
                        tag: leading_tag(&self.buf),
                        size,
                        offset: self.offset + data_start,
                    })
                }
                Frame::Reject { reason, drop } => {
                    let tag = if self.mode == CommandMode::Command {
                        leading_tag(&self.buf)
                    } else {
                        None
                    };
                    let err = rejection_error(reason, self.offset, tag, &self.limits);
                    self.buf.advance(drop);
                    self.offset += drop;
                    if self.mode != CommandMode::Command {
                        self.set_mode(CommandMode::Command);
                    }
                    return Err(err);
                }
                Frame::Discarded { consumed, done } => {
                    self.buf.advance(consumed);
                    self.offset += consumed;
                    if !done {
                        return Ok(Framed::Incomplete);
                    }
                }
                Frame::Message(n) => {
                    let msg = self.buf.split_to(n).freeze();
                    let base = self.offset;
                    self.offset += n;
                    return Ok(Framed::Message(msg, base));
                }
            }
        }
    }

    fn message(&mut self, msg: &bytes::Bytes) -> Result<Decoded<CommandEvent>, Error> {
        match self.mode {
            CommandMode::Command => {
                let c = command(msg, self.limits.max_depth)?;
                match c.body {
                    _ if self.explicit_modes => {}
                    CommandBody::Idle => self.set_mode(CommandMode::Idle),
                    CommandBody::Authenticate { .. } => self.set_mode(CommandMode::Authenticate),
                    _ => {}
                }
                Ok(Decoded::Message(CommandEvent::Command(c)))
            }
            CommandMode::Authenticate => {
                let d = authenticate_data(msg);
                if matches!(d, Ok(AuthenticateData::Cancel) | Err(_)) {
                    self.set_mode(CommandMode::Command);
                }
                Ok(Decoded::Message(CommandEvent::AuthenticateData(d?)))
            }
            CommandMode::Idle => {
                self.set_mode(CommandMode::Command);
                idle_done(msg)?;
                Ok(Decoded::Message(CommandEvent::IdleDone))
            }
        }
    }
}

//! The server side: decodes commands, AUTHENTICATE data lines and IDLE's DONE.

use bytes::{Buf, BytesMut};

use super::framer::{Frame, Framer};
use super::{rejection_error, Decoded};
use crate::parse::command::{authenticate_data, command, idle_done, leading_tag};
use crate::types::{AuthenticateData, Command, CommandBody};
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

/// Streaming command decoder for a server.
///
/// Feed it bytes as they arrive, in chunks of any size, and call
/// [`decode`](CommandDecoder::decode) until it answers
/// [`Decoded::Incomplete`]. It follows the session itself where the command
/// says what comes next: after `IDLE` it expects `DONE`; after `AUTHENTICATE`
/// it expects data lines until the server calls
/// [`set_mode`](CommandDecoder::set_mode)`(CommandMode::Command)` (when it
/// sends the tagged result) — a `*` line cancels by itself.
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
        }
    }

    /// Adds received bytes.
    pub fn feed(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The current mode.
    pub fn mode(&self) -> CommandMode {
        self.mode
    }

    /// Sets what the next client line is (for example back to
    /// [`CommandMode::Command`] when AUTHENTICATE completes).
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
        self.buf.is_empty() && self.framer.idle()
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
    pub fn decode(&mut self) -> Result<Decoded<CommandEvent>, Error> {
        loop {
            match self.framer.poll(&self.buf, &self.limits) {
                Frame::Incomplete => return Ok(Decoded::Incomplete),
                Frame::Continue { size } => {
                    return Ok(Decoded::NeedsContinuation {
                        tag: leading_tag(&self.buf),
                        size,
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
                        return Ok(Decoded::Incomplete);
                    }
                }
                Frame::Message(n) => {
                    let msg = self.buf.split_to(n).freeze();
                    let base = self.offset;
                    self.offset += n;
                    return self.message(&msg).map_err(|e| e.shift(base, None));
                }
            }
        }
    }

    fn message(&mut self, msg: &bytes::Bytes) -> Result<Decoded<CommandEvent>, Error> {
        match self.mode {
            CommandMode::Command => {
                let c = command(msg, self.limits.max_depth)?;
                match c.body {
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

//! The server side: decoding client commands from a byte stream.

use crate::command::{ClientMessage, Command, SaslResponse};
use crate::line::InputBuffer;
use crate::{Error, Limits};

/// Decodes what a client sends, fed in chunks of any size.
///
/// Feed bytes with [`CommandDecoder::feed`], then call
/// [`CommandDecoder::next`] until it returns `None`. Lines end with CRLF
/// or a bare LF (some clients send that). A bad or oversize line gives an
/// error and decoding resumes at the next line.
///
/// A server that sends an AUTH continuation (`+ ...`) calls
/// [`CommandDecoder::expect_sasl_response`], so that the next line is read
/// as a SASL response (base64 or `*`) under [`Limits::sasl_line`] rather
/// than as a command.
///
/// ```
/// use columba_pop3_proto::{ClientMessage, Command, CommandDecoder};
///
/// let mut decoder = CommandDecoder::new();
/// decoder.feed(b"STAT\r\nRE");
/// decoder.feed(b"TR 1\n");
/// assert_eq!(decoder.next(), Some(Ok(ClientMessage::Command(Command::Stat))));
/// assert_eq!(decoder.next(), Some(Ok(ClientMessage::Command(Command::Retr(1)))));
/// assert_eq!(decoder.next(), None);
/// ```
#[derive(Debug, Default)]
pub struct CommandDecoder {
    input: InputBuffer,
    limits: Limits,
    sasl_pending: bool,
    utf8: bool,
}

impl CommandDecoder {
    /// A decoder with the RFC limits.
    pub fn new() -> CommandDecoder {
        CommandDecoder::with_limits(Limits::RFC)
    }

    /// A decoder with the given limits.
    pub fn with_limits(limits: Limits) -> CommandDecoder {
        CommandDecoder {
            input: InputBuffer::default(),
            limits,
            sasl_pending: false,
            utf8: false,
        }
    }

    /// Appends received bytes.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.input.feed(bytes);
    }

    /// The next client message, if a whole line is buffered.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<Result<ClientMessage, Error>> {
        let limit = if self.sasl_pending {
            self.limits.sasl_line
        } else {
            self.limits.command_line
        };
        let line = match self.input.next_line(limit)? {
            Ok(line) => line,
            Err(error) => {
                self.sasl_pending = false;
                return Some(Err(error));
            }
        };
        if std::mem::take(&mut self.sasl_pending) {
            return Some(
                SaslResponse::parse(&line.bytes, line.offset).map(ClientMessage::SaslResponse),
            );
        }
        Some(Command::parse(&line.bytes, line.offset, self.utf8).map(ClientMessage::Command))
    }

    /// Reads the next line as the answer to an AUTH continuation the
    /// server has just sent.
    pub fn expect_sasl_response(&mut self) {
        self.sasl_pending = true;
    }

    /// Whether the next line will be read as a SASL response.
    pub fn is_expecting_sasl_response(&self) -> bool {
        self.sasl_pending
    }

    /// Switches UTF-8 mode (RFC 6856) on or off: the server calls it after
    /// answering `UTF8` with `+OK`. In UTF-8 mode, user names and
    /// passwords that are not UTF-8 are rejected with [`Error::InvalidUtf8`].
    pub fn set_utf8(&mut self, on: bool) {
        self.utf8 = on;
    }

    /// Stream offset of the next undecoded byte.
    pub fn offset(&self) -> usize {
        self.input.offset()
    }

    /// Call at end of input: an error if a line was left unfinished.
    pub fn finish(&self) -> Result<(), Error> {
        if self.input.has_partial() {
            return Err(Error::Truncated {
                offset: self.input.offset(),
                what: "a command line",
            });
        }
        Ok(())
    }
}

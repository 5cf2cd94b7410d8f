//! The crate's one error type.

/// Everything that can be wrong with POP3 bytes, in either direction.
///
/// Every decoding error carries `offset`: the position, counted from the
/// first byte ever fed to the decoder, of the line (or byte) at fault. The
/// decoder that returned it has already resynchronised (it skipped to the
/// end of the offending line), so decoding can go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A line is longer than the configured limit (terminator included).
    #[error("at byte {offset}: line longer than {limit} octets")]
    LineTooLong {
        /// Where the line starts.
        offset: usize,
        /// The limit it broke.
        limit: usize,
    },
    /// A byte that may not appear there (NUL, a stray CR, ...).
    #[error("at byte {offset}: byte 0x{byte:02x} is not allowed here")]
    InvalidByte {
        /// Where the byte is.
        offset: usize,
        /// The byte.
        byte: u8,
    },
    /// The client sent an empty line.
    #[error("at byte {offset}: empty command line")]
    EmptyCommand {
        /// Where the line starts.
        offset: usize,
    },
    /// The command keyword is not a POP3 command this crate knows.
    #[error("at byte {offset}: unknown command {keyword:?}")]
    UnknownCommand {
        /// Where the line starts.
        offset: usize,
        /// The keyword as sent (lossily decoded, at most 40 characters).
        keyword: String,
    },
    /// A known command with missing, extra or malformed arguments.
    #[error("at byte {offset}: {command}: {reason}")]
    BadArguments {
        /// Where the line starts.
        offset: usize,
        /// The command keyword.
        command: &'static str,
        /// What is wrong with the arguments.
        reason: String,
    },
    /// A response line that starts with neither `+OK` nor `-ERR` (nor `+ `
    /// where an AUTH continuation may come).
    #[error("at byte {offset}: response does not start with +OK or -ERR{detail}")]
    BadStatus {
        /// Where the line starts.
        offset: usize,
        /// Extra detail, empty or starting with a separator.
        detail: String,
    },
    /// A response arrived while no command was waiting for one.
    #[error("at byte {offset}: response without a pending command")]
    UnsolicitedResponse {
        /// Where the line starts.
        offset: usize,
    },
    /// A line inside a multi-line response (scan listing, unique-id
    /// listing, capability, ...) does not have the expected shape.
    #[error("at byte {offset}: bad {what} line: {reason}")]
    BadListLine {
        /// Where the line starts.
        offset: usize,
        /// What kind of line was expected.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Non-UTF-8 bytes where UTF-8 is required (after `UTF8`, in
    /// capability lines).
    #[error("at byte {offset}: invalid UTF-8")]
    InvalidUtf8 {
        /// Where the line starts.
        offset: usize,
    },
    /// The input ended in the middle of a line or a multi-line response.
    #[error("at byte {offset}: input ends inside {what}")]
    Truncated {
        /// Where the unfinished line or response starts.
        offset: usize,
        /// What was unfinished.
        what: &'static str,
    },
    /// A value cannot be encoded: it would break the line structure (CR,
    /// LF or NUL inside an argument, a space inside a single-word argument,
    /// an empty required argument, ...).
    #[error("cannot encode {what}: {reason}")]
    Unencodable {
        /// What was being encoded.
        what: &'static str,
        /// Why it cannot be.
        reason: &'static str,
    },
}

impl Error {
    /// The stream offset the error refers to, if it came from decoding.
    pub fn offset(&self) -> Option<usize> {
        match self {
            Error::LineTooLong { offset, .. }
            | Error::InvalidByte { offset, .. }
            | Error::EmptyCommand { offset }
            | Error::UnknownCommand { offset, .. }
            | Error::BadArguments { offset, .. }
            | Error::BadStatus { offset, .. }
            | Error::UnsolicitedResponse { offset }
            | Error::BadListLine { offset, .. }
            | Error::InvalidUtf8 { offset }
            | Error::Truncated { offset, .. } => Some(*offset),
            Error::Unencodable { .. } => None,
        }
    }

    /// The message without its `at byte N: ` prefix.
    pub fn reason(&self) -> String {
        let text = self.to_string();
        match (self.offset(), text.find(": ")) {
            (Some(_), Some(at)) => text[at + 2..].to_string(),
            _ => text,
        }
    }
}

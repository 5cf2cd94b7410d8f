//! The crate's error type.

use bytes::Bytes;

use crate::escape::Escaped;
use crate::types::Tag;

/// Everything that can go wrong in this crate.
///
/// Decoding errors carry the byte offset in the decoded stream (or in the
/// message given to a one-shot parser), the tag when one was read (so a
/// server can answer `tag BAD ...`) and a short excerpt of the offending
/// bytes, shown escaped by `Display`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The bytes do not follow the IMAP grammar.
    #[error(
        "syntax error at byte {offset}: expected {expected}, found \"{}\"",
        Escaped(found)
    )]
    Syntax {
        /// Offset of the first byte that could not be parsed.
        offset: usize,
        /// The message's tag, when it had a valid one.
        tag: Option<Tag>,
        /// What the grammar expected at that point.
        expected: &'static str,
        /// Up to 32 bytes of input starting at `offset`.
        found: Bytes,
    },
    /// A line (excluding literals) is longer than [`Limits::max_line`](crate::Limits::max_line).
    #[error("line at byte {offset} exceeds {limit} bytes")]
    LineTooLong {
        /// Offset of the start of the message.
        offset: usize,
        /// The message's tag, when it had a valid one.
        tag: Option<Tag>,
        /// The limit.
        limit: usize,
    },
    /// A literal announces more bytes than [`Limits::max_literal`](crate::Limits::max_literal)
    /// (or, for a non-synchronizing literal, [`Limits::max_non_sync_literal`](crate::Limits::max_non_sync_literal)).
    #[error("literal of {size} bytes at byte {offset} exceeds {limit} bytes")]
    LiteralTooLarge {
        /// Offset of the start of the message.
        offset: usize,
        /// The message's tag, when it had a valid one.
        tag: Option<Tag>,
        /// The announced size.
        size: u64,
        /// The limit.
        limit: usize,
    },
    /// The whole message (lines and literals) exceeds
    /// [`Limits::max_message`](crate::Limits::max_message).
    #[error("message at byte {offset} exceeds {limit} bytes")]
    MessageTooLarge {
        /// Offset of the start of the message.
        offset: usize,
        /// The message's tag, when it had a valid one.
        tag: Option<Tag>,
        /// The limit.
        limit: usize,
    },
    /// Parentheses nest deeper than [`Limits::max_depth`](crate::Limits::max_depth).
    #[error("nesting deeper than {limit} at byte {offset}")]
    TooDeep {
        /// Offset of the parenthesis that went too deep.
        offset: usize,
        /// The message's tag, when it had a valid one.
        tag: Option<Tag>,
        /// The limit.
        limit: usize,
    },
    /// The input ended inside a message (one-shot parsers and end of a transcript).
    #[error("incomplete message at byte {offset}")]
    Incomplete {
        /// Offset of the start of the incomplete message.
        offset: usize,
        /// The message's tag, when it had a valid one.
        tag: Option<Tag>,
    },
    /// A value cannot be represented on the wire (for example an atom with a space).
    #[error("invalid {what}: \"{}\"", Escaped(value))]
    InvalidValue {
        /// What kind of value.
        what: &'static str,
        /// The rejected bytes.
        value: Bytes,
    },
    /// A mailbox name is not valid modified UTF-7 (RFC 3501 section 5.1.3).
    #[error("invalid modified UTF-7 in mailbox name at byte {offset}")]
    ModifiedUtf7 {
        /// Offset within the name.
        offset: usize,
    },
}

impl Error {
    /// The byte offset of a decoding error (0 for value errors).
    pub fn offset(&self) -> usize {
        match self {
            Error::Syntax { offset, .. }
            | Error::LineTooLong { offset, .. }
            | Error::LiteralTooLarge { offset, .. }
            | Error::MessageTooLarge { offset, .. }
            | Error::TooDeep { offset, .. }
            | Error::Incomplete { offset, .. }
            | Error::ModifiedUtf7 { offset } => *offset,
            Error::InvalidValue { .. } => 0,
        }
    }

    /// The tag of the message that failed, when one was read.
    pub fn tag(&self) -> Option<&Tag> {
        match self {
            Error::Syntax { tag, .. }
            | Error::LineTooLong { tag, .. }
            | Error::LiteralTooLarge { tag, .. }
            | Error::MessageTooLarge { tag, .. }
            | Error::TooDeep { tag, .. }
            | Error::Incomplete { tag, .. } => tag.as_ref(),
            Error::InvalidValue { .. } | Error::ModifiedUtf7 { .. } => None,
        }
    }

    /// The error's description without its offset (the offset is [`Error::offset`]).
    pub fn reason(&self) -> String {
        match self {
            Error::Syntax {
                expected, found, ..
            } => format!("expected {expected}, found \"{}\"", Escaped(found)),
            Error::LineTooLong { limit, .. } => format!("line exceeds {limit} bytes"),
            Error::LiteralTooLarge { size, limit, .. } => {
                format!("literal of {size} bytes exceeds {limit} bytes")
            }
            Error::MessageTooLarge { limit, .. } => format!("message exceeds {limit} bytes"),
            Error::TooDeep { limit, .. } => format!("nesting deeper than {limit}"),
            Error::Incomplete { .. } => "incomplete message at end of input".to_owned(),
            other => other.to_string(),
        }
    }

    pub(crate) fn shift(mut self, base: usize, new_tag: Option<Tag>) -> Self {
        match &mut self {
            Error::Syntax { offset, tag, .. }
            | Error::LineTooLong { offset, tag, .. }
            | Error::LiteralTooLarge { offset, tag, .. }
            | Error::MessageTooLarge { offset, tag, .. }
            | Error::TooDeep { offset, tag, .. }
            | Error::Incomplete { offset, tag } => {
                *offset += base;
                if tag.is_none() {
                    *tag = new_tag;
                }
            }
            Error::InvalidValue { .. } | Error::ModifiedUtf7 { .. } => {}
        }
        self
    }
}

//! Streaming decoders: bytes in, typed messages out.

mod client;
pub(crate) mod framer;
mod server;

pub use self::client::ResponseDecoder;
pub use self::server::{CommandDecoder, CommandEvent, CommandMode, StreamEvent};

use crate::types::Tag;

/// What a decoder has for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded<T> {
    /// One complete message.
    Message(T),
    /// More input is needed (feed it and call again).
    Incomplete,
    /// The client announced a synchronizing literal and waits: the server
    /// sends a continuation request (`+ ...`), or a tagged `NO`/`BAD`.
    /// Only [`CommandDecoder`] returns this, once per literal.
    NeedsContinuation {
        /// The tag of the command in progress, when it has a valid one.
        tag: Option<Tag>,
        /// The announced literal size.
        size: u64,
        /// Stream offset of the literal's first byte (successive literals
        /// of one command differ here).
        offset: usize,
    },
}

impl<T> Decoded<T> {
    /// The message, if one is complete.
    pub fn message(self) -> Option<T> {
        match self {
            Decoded::Message(m) => Some(m),
            _ => None,
        }
    }
}

use self::framer::Rejection;
use crate::Error;

pub(crate) fn rejection_error(
    reason: Rejection,
    offset: usize,
    tag: Option<Tag>,
    limits: &crate::Limits,
) -> Error {
    match reason {
        Rejection::LineTooLong => Error::LineTooLong {
            offset,
            tag,
            limit: limits.max_line,
        },
        Rejection::LiteralTooLarge { size, limit } => Error::LiteralTooLarge {
            offset,
            tag,
            size,
            limit,
        },
        Rejection::MessageTooLarge => Error::MessageTooLarge {
            offset,
            tag,
            limit: limits.max_message,
        },
    }
}

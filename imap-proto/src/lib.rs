//! IMAP4rev1 (RFC 3501) and IMAP4rev2 (RFC 9051) in both directions, sans-IO:
//! bytes in, typed messages out, and back. No sockets, threads or clocks.
//!
//! ```
//! use columba_imap_proto::{
//!     CommandBody, CommandDecoder, CommandEvent, Decoded, Limits, Response, ResponseDecoder,
//! };
//!
//! // Server side: decode a command that arrives in two chunks.
//! let mut server = CommandDecoder::new(Limits::default());
//! server.feed(b"a1 SELECT ");
//! assert_eq!(server.decode(), Ok(Decoded::Incomplete));
//! server.feed(b"\"Entw&APw-rfe\" (CONDSTORE)\r\n");
//! let Ok(Decoded::Message(CommandEvent::Command(cmd))) = server.decode() else { panic!() };
//! let CommandBody::Select { mailbox, .. } = &cmd.body else { panic!() };
//! assert_eq!(mailbox.to_utf8().unwrap(), "Entwürfe");
//!
//! // Encode a response and decode it on the client side.
//! let ok = columba_imap_proto::parse_response(b"a1 OK [READ-WRITE] SELECT completed\r\n").unwrap();
//! let mut client = ResponseDecoder::new(Limits::default());
//! client.expect_greeting(false);
//! client.feed(&ok.encode());
//! assert_eq!(client.decode(), Ok(Decoded::Message(ok)));
//! ```
//!
//! # Entry points
//!
//! - Server side: [`CommandDecoder`] (streaming: [`feed`](CommandDecoder::feed)
//!   then [`decode`](CommandDecoder::decode) until [`Decoded::Incomplete`];
//!   [`Decoded::NeedsContinuation`] when the client waits for `+`;
//!   [`decode_streaming`](CommandDecoder::decode_streaming) hands out large
//!   APPEND messages in chunks), and
//!   [`Response::encode`] / [`Response::encode_to`]. A server builds the
//!   decoder with [`explicit_modes`](CommandDecoder::explicit_modes) and
//!   confirms AUTHENTICATE and IDLE with
//!   [`begin_authenticate`](CommandDecoder::begin_authenticate) /
//!   [`accept_idle`](CommandDecoder::accept_idle) when it sends its `+`, so
//!   a refused IDLE or a one-step SASL-IR AUTHENTICATE needs no reset.
//! - Client side: [`ClientSession`] follows the session for the client:
//!   [`send`](ClientSession::send) a [`Command`], feed what the server
//!   sends, and each decoded response comes with a [`NextStep`] (send the
//!   next literal part, the next AUTHENTICATE line, IDLE is active so send
//!   [`IDLE_DONE`] when done, or which command a tagged status completes).
//!   Below it: [`ResponseDecoder`] (greeting, responses, continuation
//!   requests) and [`Command::encode`] / [`Command::encode_to`] with a
//!   [`LiteralMode`], [`Command::encode_parts`]; [`AuthenticateData::encode`].
//! - One-shot parsers over one complete message: [`parse_command`],
//!   [`parse_response`] (and the `_bytes` variants, zero-copy from a
//!   [`bytes::Bytes`]).
//! - [`transcript::trace`]: the core of `columba imap-trace` (a
//!   [`CommandDecoder`] for the client stream, a [`ClientSession`] for the
//!   server stream).
//! - [`utf7`]: modified UTF-7 mailbox names; see also [`Mailbox::from_utf8`].
//!
//! # Values and ownership
//!
//! Decoded values hold [`bytes::Bytes`] slices of the received message
//! (zero-copy; a quoted string with escapes is the only copy), so they are
//! owned, `'static` and cheap to clone: there is no borrowed form to convert.
//! [`Secret`] hides passwords and SASL data from `Debug`.
//!
//! # Limits
//!
//! [`Limits`] bounds line length, literal size, non-synchronizing literal
//! size, whole message size and nesting depth. A message over a limit comes
//! out as an [`Error`] carrying its tag and offset, and is skipped without
//! desynchronising the stream.
#![forbid(unsafe_code)]

mod client_session;
mod decode;
mod encode;
mod error;
mod escape;
mod limits;
mod parse;
pub mod transcript;
mod types;
pub mod utf7;

use bytes::Bytes;

pub use crate::client_session::{ClientEvent, ClientSession, NextStep};
pub use crate::decode::{
    CommandDecoder, CommandEvent, CommandMode, Decoded, ResponseDecoder, StreamEvent,
};
pub use crate::encode::LiteralMode;
pub use crate::encode::IDLE_DONE;
pub use crate::error::Error;
pub use crate::escape::Escaped;
pub use crate::limits::Limits;
pub use crate::types::*;

/// Parses one complete command (ending in CRLF, literals inline).
///
/// ```
/// let c = columba_imap_proto::parse_command(b"a2 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER])\r\n").unwrap();
/// assert_eq!(c.body.name(), "UID FETCH");
/// ```
pub fn parse_command(input: &[u8]) -> Result<Command, Error> {
    parse_command_bytes(Bytes::copy_from_slice(input))
}

/// Like [`parse_command`], borrowing slices of `input` instead of copying.
pub fn parse_command_bytes(input: Bytes) -> Result<Command, Error> {
    crate::parse::command::command(&input, Limits::default().max_depth)
}

/// Parses one complete response (ending in CRLF, literals inline).
/// Continuation requests are parsed as text (not base64).
pub fn parse_response(input: &[u8]) -> Result<Response, Error> {
    parse_response_bytes(Bytes::copy_from_slice(input))
}

/// Like [`parse_response`], borrowing slices of `input` instead of copying.
pub fn parse_response_bytes(input: Bytes) -> Result<Response, Error> {
    crate::parse::response::response(&input, Limits::default().max_depth, false)
}

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

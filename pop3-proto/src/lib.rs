//! POP3 in both directions, sans-IO.
//!
//! A server decodes commands with [`CommandDecoder`] and encodes answers
//! with [`StatusLine`], [`Continuation`], [`encode_listing`] and
//! [`BodyEncoder`]; a client encodes [`Command`]s and decodes answers with
//! [`ResponseDecoder`]. Nothing here touches a socket: decoders take bytes
//! in chunks of any size and return typed values, encoders append bytes to
//! a buffer.
//!
//! Covered: RFC 1939 (USER, PASS, APOP, STAT, LIST, RETR, DELE, NOOP,
//! RSET, QUIT, TOP, UIDL), RFC 2449 (CAPA, extended response codes), RFC
//! 2595 (STLS), RFC 5034 (AUTH with initial response, continuations, `*`),
//! RFC 6856 (UTF8, LANG). Multi-line bodies are stuffed and unstuffed as
//! streams; lines are limited ([`Limits`], 255 octets per command line by
//! default) and a bad line costs only that line.
//!
//! ```
//! use columba_pop3_proto::{
//!     BodyEncoder, ClientMessage, Command, CommandDecoder, ResponseDecoder, ResponseEvent,
//!     StatusLine,
//! };
//!
//! // Client: send RETR 1.
//! let mut client = ResponseDecoder::new();
//! let retr = Command::Retr(1);
//! let wire = retr.encode().unwrap();
//! client.command_sent(&retr);
//!
//! // Server: read it, answer with a message that lacks its final newline.
//! let mut server = CommandDecoder::new();
//! server.feed(&wire);
//! assert_eq!(server.next(), Some(Ok(ClientMessage::Command(Command::Retr(1)))));
//! let mut answer = Vec::new();
//! StatusLine::ok("POP3 ready").encode_into(&mut answer).unwrap();
//! StatusLine::ok("message follows").encode_into(&mut answer).unwrap();
//! let mut body = BodyEncoder::new();
//! body.push(b"Subject: dots\n\n.leading dot", &mut answer);
//! body.finish(&mut answer);
//!
//! // Client: decode it one byte at a time.
//! let mut message = Vec::new();
//! for byte in &answer {
//!     client.feed(std::slice::from_ref(byte));
//!     while let Some(event) = client.next() {
//!         if let ResponseEvent::BodyChunk(chunk) = event.unwrap() {
//!             message.extend(chunk);
//!         }
//!     }
//! }
//! assert_eq!(message, b"Subject: dots\r\n\r\n.leading dot\r\n");
//! ```
#![forbid(unsafe_code)]

mod apop;
mod body;
mod command;
mod command_decoder;
mod error;
mod limits;
mod line;
mod response;
mod response_decoder;
mod secret;
pub mod transcript;

pub use apop::{apop_digest, apop_digest_matches};
pub use body::BodyEncoder;
pub use command::{AuthStart, ClientMessage, Command, SaslResponse};
pub use command_decoder::CommandDecoder;
pub use error::Error;
pub use limits::Limits;
pub use response::{
    encode_listing, Capability, Continuation, Language, ListItem, ResponseCode, ScanListing,
    Status, StatusLine, UniqueId,
};
pub use response_decoder::{Expect, ListKind, ResponseDecoder, ResponseEvent};
pub use secret::Secret;

/// The README's example, run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

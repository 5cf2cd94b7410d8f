//! The client side: decodes the greeting, responses and continuation requests.

use bytes::{Buf, BytesMut};

use super::framer::{Frame, Framer};
use super::{rejection_error, Decoded};
use crate::parse::command::leading_tag;
use crate::parse::response::response;
use crate::types::{Response, StatusKind};
use crate::{Error, Limits};

/// Streaming response decoder for a client.
///
/// The first message must be the greeting (untagged `OK`, `PREAUTH` or
/// `BYE`) unless [`ResponseDecoder::expect_greeting`] turned that off. While
/// the client runs AUTHENTICATE, [`ResponseDecoder::set_authenticating`] makes
/// continuation requests decode as base64 challenges.
///
/// ```
/// use columba_imap_proto::{Decoded, Limits, Response, ResponseDecoder, Data};
///
/// let mut dec = ResponseDecoder::new(Limits::default());
/// dec.feed(b"* OK IMAP4rev1 ready\r\n* 12 FETCH (BODY[] {5}\r\nhello)\r\n");
/// assert!(matches!(dec.decode(), Ok(Decoded::Message(Response::Status(_)))));
/// let Ok(Decoded::Message(Response::Data(Data::Fetch { seq, .. }))) = dec.decode() else { panic!() };
/// assert_eq!(seq, 12);
/// ```
#[derive(Debug)]
pub struct ResponseDecoder {
    buf: BytesMut,
    framer: Framer,
    limits: Limits,
    offset: usize,
    greeting: bool,
    authenticating: bool,
}

impl ResponseDecoder {
    /// A decoder with the given limits, expecting the greeting first.
    pub fn new(limits: Limits) -> Self {
        ResponseDecoder {
            buf: BytesMut::new(),
            framer: Framer::new(false),
            limits,
            offset: 0,
            greeting: true,
            authenticating: false,
        }
    }

    /// Whether the next message must be a greeting.
    pub fn expect_greeting(&mut self, expect: bool) {
        self.greeting = expect;
    }

    /// During AUTHENTICATE, continuation requests carry base64 challenges.
    pub fn set_authenticating(&mut self, authenticating: bool) {
        self.authenticating = authenticating;
    }

    /// Adds received bytes.
    pub fn feed(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Offset in the stream of the next undecoded byte.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Bytes received but not yet decoded.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// True when no partial message is buffered or being skipped.
    pub fn is_between_messages(&self) -> bool {
        self.buf.is_empty() && self.framer.idle()
    }

    /// Decodes the next response, if complete. Never returns
    /// [`Decoded::NeedsContinuation`].
    pub fn decode(&mut self) -> Result<Decoded<Response>, Error> {
        loop {
            match self.framer.poll(&self.buf, &self.limits) {
                Frame::Incomplete | Frame::Continue { .. } => return Ok(Decoded::Incomplete),
                Frame::LiteralAhead { header_end, .. } => self.framer.accept_literal(header_end),
                Frame::Reject { reason, drop } => {
                    let tag = leading_tag(&self.buf);
                    let err = rejection_error(reason, self.offset, tag, &self.limits);
                    self.buf.advance(drop);
                    self.offset += drop;
                    self.greeting = false;
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
                    let greeting = std::mem::take(&mut self.greeting);
                    let r = response(&msg, self.limits.max_depth, self.authenticating)
                        .map_err(|e| e.shift(base, None))?;
                    if greeting {
                        let ok = matches!(&r, Response::Status(s) if s.tag.is_none()
                            && matches!(s.kind, StatusKind::Ok | StatusKind::PreAuth | StatusKind::Bye));
                        if !ok {
                            let end = msg.len().min(32);
                            return Err(Error::Syntax {
                                offset: base,
                                tag: None,
                                expected: "greeting (* OK, * PREAUTH or * BYE)",
                                found: msg.slice(..end),
                            });
                        }
                    }
                    return Ok(Decoded::Message(r));
                }
            }
        }
    }
}

//! Message parsing: the MIME part tree of an RFC 5322 message with byte
//! offsets and sizes, header fields, Content-* data and addresses, all read
//! the way Dovecot 2.3 reads them.

pub mod address;
pub mod cached_header;
pub mod content;
pub mod header;
pub mod parser;
pub mod part;
pub mod rfc822;

pub use parser::parse_message;
pub use part::{MessagePart, PartFlags, Size};

/// Deepest MIME nesting split into parts (Dovecot's default).
pub const MAX_NESTED_PARTS: usize = 100;
/// Most MIME parts split out of one message (Dovecot's default).
pub const MAX_TOTAL_PARTS: usize = 10_000;
/// Most header fields remembered per part (bounds memory for hostile mail).
pub const MAX_HEADER_FIELDS: usize = 100_000;
/// Most parameters kept per Content-* field.
pub const MAX_PARAMETERS: usize = 1_000;

/// A message and its parsed MIME structure.
#[derive(Debug, Clone)]
pub struct Message<'a> {
    data: &'a [u8],
    root: MessagePart,
}

impl<'a> Message<'a> {
    /// Parses `data` (a complete message, LF or CRLF line endings).
    pub fn parse(data: &'a [u8]) -> Message<'a> {
        Message {
            data,
            root: parse_message(data),
        }
    }

    /// Reads only the message header (no MIME structure below it): enough
    /// for ENVELOPE and header searches, and cheaper than [`Message::parse`].
    pub fn parse_header(data: &'a [u8]) -> Message<'a> {
        Message {
            data,
            root: parser::parse_header_only(data),
        }
    }

    /// The message bytes.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// The root part (the message itself).
    pub fn root(&self) -> &MessagePart {
        &self.root
    }

    /// RFC822.SIZE: the size with every line ending counted as CRLF.
    pub fn rfc822_size(&self) -> u64 {
        self.root.header_size.virtual_size + self.root.body_size.virtual_size
    }
}

//! The MIME part tree with byte offsets and sizes, as Dovecot's
//! `struct message_part`.

use super::content::ContentData;
use super::header::HeaderField;

/// Part flags, with the values of Dovecot's `MESSAGE_PART_FLAG_*` (they are
/// stored in `mime.parts` in `dovecot.index.cache`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PartFlags(pub u16);

impl PartFlags {
    /// `multipart/*` with children parsed by boundary.
    pub const MULTIPART: u16 = 0x01;
    /// `multipart/digest`: children default to message/rfc822.
    pub const MULTIPART_DIGEST: u16 = 0x02;
    /// `message/rfc822`: one child, the encapsulated message.
    pub const MESSAGE_RFC822: u16 = 0x04;
    /// `text/*` or no Content-Type: BODYSTRUCTURE has a line count.
    pub const TEXT: u16 = 0x08;
    /// The part had MIME-Version or Content-Type (or is a multipart child).
    pub const IS_MIME: u16 = 0x40;
    /// A limit on MIME parts was reached inside this part.
    pub const OVERFLOW: u16 = 0x80;
    /// The part contains NUL bytes.
    pub const HAS_NULS: u16 = 0x20;

    /// True if `flag` is set.
    pub fn has(self, flag: u16) -> bool {
        self.0 & flag != 0
    }
}

/// Size of a header or body: bytes on disk, bytes with every line ending
/// as CRLF (what IMAP counts), and line feeds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Size {
    /// Bytes as stored.
    pub physical: u64,
    /// Bytes with bare LFs counted as CRLF.
    pub virtual_size: u64,
    /// Number of LF bytes.
    pub lines: u32,
}

impl Size {
    /// Measures `bytes`.
    pub fn of(bytes: &[u8]) -> Size {
        let mut lines = 0u32;
        let mut missing_cr = 0u64;
        let mut prev = 0u8;
        for &b in bytes {
            if b == b'\n' {
                lines = lines.saturating_add(1);
                if prev != b'\r' {
                    missing_cr += 1;
                }
            }
            prev = b;
        }
        Size {
            physical: bytes.len() as u64,
            virtual_size: bytes.len() as u64 + missing_cr,
            lines,
        }
    }
}

/// One MIME part.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessagePart {
    /// Offset of the part's first header byte in the message.
    pub offset: usize,
    /// Offset where the header ends (after the blank line, if any).
    pub header_end: usize,
    /// Offset where the body starts (equals `header_end`).
    pub body_start: usize,
    /// Offset where the body ends.
    pub body_end: usize,
    /// Header size.
    pub header_size: Size,
    /// Body size.
    pub body_size: Size,
    /// Flags.
    pub flags: PartFlags,
    /// Header fields of this part.
    pub fields: Vec<HeaderField>,
    /// Content-* data (empty for a part that is not MIME).
    pub content: ContentData,
    /// Children: the parts of a multipart, or the single encapsulated
    /// message of a message/rfc822 part.
    pub children: Vec<MessagePart>,
}

impl MessagePart {
    /// The header bytes (with the blank line).
    pub fn header<'a>(&self, data: &'a [u8]) -> &'a [u8] {
        &data[self.offset..self.header_end]
    }

    /// The body bytes.
    pub fn body<'a>(&self, data: &'a [u8]) -> &'a [u8] {
        &data[self.body_start..self.body_end]
    }

    /// True for a multipart part.
    pub fn is_multipart(&self) -> bool {
        self.flags.has(PartFlags::MULTIPART)
    }

    /// True for a message/rfc822 part.
    pub fn is_message_rfc822(&self) -> bool {
        self.flags.has(PartFlags::MESSAGE_RFC822)
    }

    /// Serializes the tree as Dovecot's `mime.parts` cache field
    /// (`message-part-serialize.c`, little-endian as on x86-64 and arm64).
    pub fn serialize_mime_parts(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.serialize_into(&mut out, true);
        out
    }

    fn serialize_into(&self, out: &mut Vec<u8>, root: bool) {
        out.extend_from_slice(&u32::from(self.flags.0).to_le_bytes());
        if !root {
            out.extend_from_slice(&(self.offset as u64).to_le_bytes());
        }
        out.extend_from_slice(&self.header_size.physical.to_le_bytes());
        out.extend_from_slice(&self.header_size.virtual_size.to_le_bytes());
        out.extend_from_slice(&self.body_size.physical.to_le_bytes());
        out.extend_from_slice(&self.body_size.virtual_size.to_le_bytes());
        if self.flags.has(PartFlags::TEXT | PartFlags::MESSAGE_RFC822) {
            out.extend_from_slice(&self.body_size.lines.to_le_bytes());
        }
        if self
            .flags
            .has(PartFlags::MULTIPART | PartFlags::MESSAGE_RFC822)
        {
            out.extend_from_slice(&(self.children.len() as u32).to_le_bytes());
            for c in &self.children {
                c.serialize_into(out, false);
            }
        }
    }

    /// Number of parts in this subtree, this one included.
    pub fn count(&self) -> usize {
        1 + self.children.iter().map(MessagePart::count).sum::<usize>()
    }
}

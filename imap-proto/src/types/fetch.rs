//! FETCH items (what the client asks for) and message data (what the server sends).

use bytes::Bytes;

use super::body::{BodyStructure, Envelope};
use super::core::{DateTime, Flag};

/// What a FETCH command asks for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FetchItems {
    /// `ALL`: FLAGS INTERNALDATE RFC822.SIZE ENVELOPE.
    All,
    /// `FAST`: FLAGS INTERNALDATE RFC822.SIZE.
    Fast,
    /// `FULL`: FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY.
    Full,
    /// One item or a parenthesized list (non-empty).
    Items(Vec<FetchAttribute>),
}

/// A `fetch-att`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FetchAttribute {
    /// `ENVELOPE`.
    Envelope,
    /// `FLAGS`.
    Flags,
    /// `INTERNALDATE`.
    InternalDate,
    /// `RFC822`.
    Rfc822,
    /// `RFC822.HEADER`.
    Rfc822Header,
    /// `RFC822.SIZE`.
    Rfc822Size,
    /// `RFC822.TEXT`.
    Rfc822Text,
    /// `BODY` (non-extensible structure).
    Body,
    /// `BODYSTRUCTURE`.
    BodyStructure,
    /// `UID`.
    Uid,
    /// `MODSEQ` (CONDSTORE).
    ModSeq,
    /// `SAVEDATE` (RFC 8514).
    SaveDate,
    /// `BODY[section]<partial>` or `BODY.PEEK[...]`.
    BodySection {
        /// `.PEEK`: do not set `\Seen`.
        peek: bool,
        /// The section.
        section: Section,
        /// `<offset.count>`.
        partial: Option<(u32, u32)>,
    },
    /// `BINARY[part]<partial>` or `BINARY.PEEK[...]` (RFC 3516).
    Binary {
        /// `.PEEK`.
        peek: bool,
        /// Part numbers.
        part: Vec<u32>,
        /// `<offset.count>`.
        partial: Option<(u32, u32)>,
    },
    /// `BINARY.SIZE[part]`.
    BinarySize {
        /// Part numbers.
        part: Vec<u32>,
    },
}

/// A `section`: part numbers and an optional text specifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Section {
    /// `1.2.3`; empty for the whole message.
    pub part: Vec<u32>,
    /// `HEADER`, `TEXT`, `MIME`, `HEADER.FIELDS (...)`.
    pub text: Option<SectionText>,
}

/// `section-msgtext` / `MIME`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SectionText {
    /// `HEADER`.
    Header,
    /// `HEADER.FIELDS (names)` (non-empty).
    HeaderFields(Vec<Bytes>),
    /// `HEADER.FIELDS.NOT (names)` (non-empty).
    HeaderFieldsNot(Vec<Bytes>),
    /// `TEXT`.
    Text,
    /// `MIME` (only after part numbers).
    Mime,
}

/// FETCH modifiers (RFC 7162).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FetchModifier {
    /// `CHANGEDSINCE modseq`.
    ChangedSince(u64),
    /// `VANISHED` (QRESYNC, UID FETCH only).
    Vanished,
}

/// A `msg-att` item of a FETCH response.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MessageItem {
    /// `FLAGS (...)`.
    Flags(Vec<Flag>),
    /// `ENVELOPE (...)`.
    Envelope(Box<Envelope>),
    /// `INTERNALDATE "..."`.
    InternalDate(DateTime),
    /// `RFC822 nstring`.
    Rfc822(Option<Bytes>),
    /// `RFC822.HEADER nstring`.
    Rfc822Header(Option<Bytes>),
    /// `RFC822.TEXT nstring`.
    Rfc822Text(Option<Bytes>),
    /// `RFC822.SIZE n`.
    Rfc822Size(u32),
    /// `BODY (...)`: non-extensible structure.
    Body(Box<BodyStructure>),
    /// `BODYSTRUCTURE (...)`.
    BodyStructure(Box<BodyStructure>),
    /// `BODY[section]<origin> nstring`.
    BodySection {
        /// The section.
        section: Section,
        /// `<origin>`: offset of a partial fetch.
        origin: Option<u32>,
        /// The data.
        data: Option<Bytes>,
    },
    /// `BINARY[part]<origin> nstring/literal8`.
    Binary {
        /// Part numbers.
        part: Vec<u32>,
        /// `<origin>`: offset of a partial fetch.
        origin: Option<u32>,
        /// The decoded data.
        data: Option<Bytes>,
    },
    /// `BINARY.SIZE[part] n`.
    BinarySize {
        /// Part numbers.
        part: Vec<u32>,
        /// Decoded size.
        size: u32,
    },
    /// `UID n`.
    Uid(u32),
    /// `MODSEQ (n)`.
    ModSeq(u64),
    /// `SAVEDATE "date-time"` or `SAVEDATE NIL` (RFC 8514): `None` when the
    /// server has no save date for the message.
    SaveDate(Option<DateTime>),
}

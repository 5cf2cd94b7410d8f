//! Basic values: tags, atoms, mailbox names, sequence sets, flags, dates.

use std::fmt;

use bytes::Bytes;

use crate::escape::Escaped;
use crate::Error;

const ATOM: u8 = 1;
const ASTRING: u8 = 2;
const TAG: u8 = 4;
const LIST: u8 = 8;

/// Character classes of every byte, so a scan is one lookup per byte.
static CLASSES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0x21;
    while b < 0x7f {
        let c = b as u8;
        let special = matches!(c, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']');
        let mut class = 0;
        if !special {
            class |= ATOM | ASTRING | LIST;
            if c != b'+' {
                class |= TAG;
            }
        }
        if c == b']' {
            class |= ASTRING | TAG | LIST;
        }
        if c == b'%' || c == b'*' {
            class |= LIST;
        }
        t[b] = class;
        b += 1;
    }
    t
};

/// `ATOM-CHAR`: any 7-bit printable character except atom-specials.
#[inline(always)]
pub(crate) fn is_atom_char(b: u8) -> bool {
    CLASSES[usize::from(b)] & ATOM != 0
}

/// `ASTRING-CHAR`: `ATOM-CHAR` or `]`.
#[inline(always)]
pub(crate) fn is_astring_char(b: u8) -> bool {
    CLASSES[usize::from(b)] & ASTRING != 0
}

/// Tag characters: `ASTRING-CHAR` except `+`.
#[inline(always)]
pub(crate) fn is_tag_char(b: u8) -> bool {
    CLASSES[usize::from(b)] & TAG != 0
}

/// `list-char`: `ATOM-CHAR` or the list wildcards `%`, `*`, or `]`.
#[inline(always)]
pub(crate) fn is_list_char(b: u8) -> bool {
    CLASSES[usize::from(b)] & LIST != 0
}

#[cfg(test)]
mod class_tests {
    use super::*;

    #[test]
    fn table_matches_the_grammar() {
        for b in 0..=255u8 {
            let atom = b > 0x20
                && b < 0x7f
                && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']');
            assert_eq!(is_atom_char(b), atom, "{b}");
            assert_eq!(is_astring_char(b), atom || b == b']', "{b}");
            assert_eq!(is_tag_char(b), (atom || b == b']') && b != b'+', "{b}");
            assert_eq!(
                is_list_char(b),
                atom || matches!(b, b']' | b'%' | b'*'),
                "{b}"
            );
        }
    }
}

/// A command tag (`tag` in RFC 3501): non-empty, `ASTRING-CHAR`s except `+`.
///
/// Short tags (the usual case) are stored inline, without touching the
/// message buffer's reference count.
#[derive(Clone)]
pub struct Tag(TagRepr);

#[derive(Clone)]
enum TagRepr {
    Inline { len: u8, buf: [u8; INLINE_TAG] },
    Shared(Bytes),
}

const INLINE_TAG: usize = 22;

impl Tag {
    /// Checks and wraps a tag.
    pub fn new(tag: impl Into<Bytes>) -> Result<Tag, Error> {
        let tag = tag.into();
        if !tag.is_empty() && tag.iter().all(|&b| is_tag_char(b)) {
            Ok(Tag::from_parsed_slice(&tag, || tag.clone()))
        } else {
            Err(Error::InvalidValue {
                what: "tag",
                value: tag,
            })
        }
    }

    /// Wraps checked tag bytes; `shared` is only called for long tags.
    #[inline]
    pub(crate) fn from_parsed_slice(tag: &[u8], shared: impl FnOnce() -> Bytes) -> Tag {
        if tag.len() <= INLINE_TAG {
            let mut buf = [0u8; INLINE_TAG];
            buf[..tag.len()].copy_from_slice(tag);
            Tag(TagRepr::Inline {
                len: tag.len() as u8,
                buf,
            })
        } else {
            Tag(TagRepr::Shared(shared()))
        }
    }

    /// The tag's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            TagRepr::Inline { len, buf } => &buf[..usize::from(*len)],
            TagRepr::Shared(b) => b,
        }
    }
}

impl PartialEq for Tag {
    fn eq(&self, other: &Tag) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Tag {}

impl std::hash::Hash for Tag {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state)
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tag({:?})", Escaped(self.as_bytes()))
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Escaped(self.as_bytes()).fmt(f)
    }
}

/// An atom: non-empty, 7-bit `ATOM-CHAR`s (capabilities, keywords, SASL
/// mechanism names, extension names).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Atom(Bytes);

impl Atom {
    /// Checks and wraps an atom.
    pub fn new(atom: impl Into<Bytes>) -> Result<Atom, Error> {
        let atom = atom.into();
        if !atom.is_empty() && atom.iter().all(|&b| is_atom_char(b)) {
            Ok(Atom(atom))
        } else {
            Err(Error::InvalidValue {
                what: "atom",
                value: atom,
            })
        }
    }

    /// Wraps a static atom; panics if it is not a valid atom (for constants).
    pub fn from_static(atom: &'static str) -> Atom {
        match Atom::new(Bytes::from_static(atom.as_bytes())) {
            Ok(a) => a,
            Err(_) => panic!("invalid atom constant"),
        }
    }

    pub(crate) fn from_parsed(atom: Bytes) -> Atom {
        Atom(atom)
    }

    /// The atom's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The atom as text (atoms are ASCII).
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("")
    }

    /// Case-insensitive comparison, as IMAP compares atoms.
    pub fn eq_ignore_case(&self, other: &str) -> bool {
        self.0.eq_ignore_ascii_case(other.as_bytes())
    }
}

impl fmt::Debug for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Atom({:?})", Escaped(&self.0))
    }
}

impl fmt::Display for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A secret (password, SASL data): its `Debug` never shows the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub Bytes);

impl Secret {
    /// The secret bytes; keep them out of logs.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<{} bytes redacted>)", self.0.len())
    }
}

/// A mailbox name as sent on the wire: modified UTF-7 (RFC 3501 5.1.3) or,
/// under UTF8=ACCEPT, UTF-8. `INBOX` is case-insensitive and kept apart.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Mailbox {
    /// `INBOX`, in any case.
    Inbox,
    /// Any other name, in its wire form.
    Other(Bytes),
}

impl Mailbox {
    /// A mailbox from its wire bytes (no conversion).
    pub fn from_wire(name: impl Into<Bytes>) -> Mailbox {
        let name = name.into();
        if name.eq_ignore_ascii_case(b"INBOX") {
            Mailbox::Inbox
        } else {
            Mailbox::Other(name)
        }
    }

    /// A mailbox from a Unicode name, encoded as modified UTF-7.
    ///
    /// ```
    /// use columba_imap_proto::Mailbox;
    /// let m = Mailbox::from_utf8("Entwürfe");
    /// assert_eq!(m.as_wire(), b"Entw&APw-rfe");
    /// assert_eq!(m.to_utf8().unwrap(), "Entwürfe");
    /// ```
    pub fn from_utf8(name: &str) -> Mailbox {
        Mailbox::from_wire(crate::utf7::encode(name))
    }

    /// A mailbox from a Unicode name sent as UTF-8 (after `ENABLE UTF8=ACCEPT`).
    pub fn from_utf8_accept(name: &str) -> Mailbox {
        Mailbox::from_wire(Bytes::copy_from_slice(name.as_bytes()))
    }

    /// The wire bytes.
    pub fn as_wire(&self) -> &[u8] {
        match self {
            Mailbox::Inbox => b"INBOX",
            Mailbox::Other(b) => b,
        }
    }

    /// The Unicode name: 8-bit names are taken as UTF-8 (UTF8=ACCEPT), 7-bit
    /// names are decoded from modified UTF-7.
    pub fn to_utf8(&self) -> Result<String, Error> {
        let wire = self.as_wire();
        if wire.iter().any(|&b| b >= 0x80) {
            String::from_utf8(wire.to_vec()).map_err(|e| Error::ModifiedUtf7 {
                offset: e.utf8_error().valid_up_to(),
            })
        } else {
            crate::utf7::decode(wire)
        }
    }
}

impl fmt::Debug for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mailbox::Inbox => f.write_str("Inbox"),
            Mailbox::Other(b) => write!(f, "Mailbox({:?})", Escaped(b)),
        }
    }
}

/// One end of a sequence range: a number or `*` (the largest in use).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeqNumber {
    /// A message sequence number or UID (non-zero).
    Value(u32),
    /// `*`.
    Largest,
}

/// `seq-number` or `seq-range`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SeqRange {
    /// First number (or the only one).
    pub start: SeqNumber,
    /// The other end of a range `start:end`; `None` for a single number.
    pub end: Option<SeqNumber>,
}

/// A `sequence-set`, or `$` (the saved search result, RFC 5182 SEARCHRES).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SequenceSet {
    /// One or more numbers and ranges.
    Ranges(Vec<SeqRange>),
    /// `$`.
    Saved,
}

impl SequenceSet {
    /// A single number.
    pub fn single(n: u32) -> SequenceSet {
        SequenceSet::Ranges(vec![SeqRange {
            start: SeqNumber::Value(n),
            end: None,
        }])
    }

    /// A range `start:end`.
    pub fn range(start: u32, end: u32) -> SequenceSet {
        SequenceSet::Ranges(vec![SeqRange {
            start: SeqNumber::Value(start),
            end: Some(SeqNumber::Value(end)),
        }])
    }
}

/// A message flag (`flag`, `flag-fetch`, `flag-perm`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Flag {
    /// `\Answered`.
    Answered,
    /// `\Flagged`.
    Flagged,
    /// `\Deleted`.
    Deleted,
    /// `\Seen`.
    Seen,
    /// `\Draft`.
    Draft,
    /// `\Recent` (only in FETCH responses and FLAGS).
    Recent,
    /// `\*` (only in PERMANENTFLAGS): new keywords may be created.
    Wildcard,
    /// A keyword such as `$Forwarded` or `Junk`.
    Keyword(Atom),
    /// Another system flag `\Name` (the atom is without the backslash).
    Extension(Atom),
}

impl Flag {
    /// A keyword flag; fails if `name` is not an atom.
    pub fn keyword(name: &str) -> Result<Flag, Error> {
        Atom::new(Bytes::copy_from_slice(name.as_bytes())).map(Flag::Keyword)
    }
}

/// Month names as IMAP writes them.
pub(crate) const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// A `date` (SEARCH BEFORE, SINCE, ...): `1-Feb-1994`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Date {
    /// Four-digit year.
    pub year: u16,
    /// 1 to 12.
    pub month: u8,
    /// 1 to 31.
    pub day: u8,
}

/// A `date-time` (INTERNALDATE, APPEND): `"17-Jul-1996 02:44:25 -0700"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateTime {
    /// Calendar date.
    pub date: Date,
    /// 0 to 23.
    pub hour: u8,
    /// 0 to 59.
    pub minute: u8,
    /// 0 to 60.
    pub second: u8,
    /// Offset from UTC in minutes, -5999 to 5999 (`-0700` is -420).
    pub zone_minutes: i16,
}

//! ENVELOPE and BODYSTRUCTURE.

use bytes::Bytes;

/// An `address` of an ENVELOPE: `(name adl mailbox host)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Address {
    /// Display name.
    pub name: Option<Bytes>,
    /// Source route (obsolete).
    pub adl: Option<Bytes>,
    /// Local part, or group name / end of group when `host` is NIL.
    pub mailbox: Option<Bytes>,
    /// Domain.
    pub host: Option<Bytes>,
}

/// An `envelope`. Empty address lists are sent as NIL.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Envelope {
    /// `Date:`.
    pub date: Option<Bytes>,
    /// `Subject:`.
    pub subject: Option<Bytes>,
    /// `From:`.
    pub from: Vec<Address>,
    /// `Sender:`.
    pub sender: Vec<Address>,
    /// `Reply-To:`.
    pub reply_to: Vec<Address>,
    /// `To:`.
    pub to: Vec<Address>,
    /// `Cc:`.
    pub cc: Vec<Address>,
    /// `Bcc:`.
    pub bcc: Vec<Address>,
    /// `In-Reply-To:`.
    pub in_reply_to: Option<Bytes>,
    /// `Message-ID:`.
    pub message_id: Option<Bytes>,
}

/// A `body` (BODY or BODYSTRUCTURE item).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BodyStructure {
    /// `body-type-1part`.
    Single {
        /// The fields every part has.
        fields: BodyFields,
        /// What depends on the media type.
        specific: SpecificFields,
        /// `body-ext-1part` (BODYSTRUCTURE only).
        extension: Option<SinglePartExtension>,
    },
    /// `body-type-mpart`.
    Multi {
        /// The parts (at least one).
        parts: Vec<BodyStructure>,
        /// `media-subtype`, e.g. `MIXED`.
        subtype: Bytes,
        /// `body-ext-mpart` (BODYSTRUCTURE only).
        extension: Option<MultiPartExtension>,
    },
}

/// `body-fields` with the media type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BodyFields {
    /// Media type, e.g. `TEXT`.
    pub media_type: Bytes,
    /// Media subtype, e.g. `PLAIN`.
    pub subtype: Bytes,
    /// `body-fld-param` (NIL when empty).
    pub params: Vec<(Bytes, Bytes)>,
    /// `body-fld-id`.
    pub id: Option<Bytes>,
    /// `body-fld-desc`.
    pub description: Option<Bytes>,
    /// `body-fld-enc`, e.g. `7BIT`.
    pub encoding: Bytes,
    /// `body-fld-octets`.
    pub octets: u32,
}

/// What a single part carries besides [`BodyFields`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SpecificFields {
    /// `body-type-basic`.
    Basic,
    /// `body-type-msg`: a `MESSAGE/RFC822` (or `GLOBAL`) part.
    Message {
        /// The encapsulated message's envelope.
        envelope: Box<Envelope>,
        /// Its body.
        body: Box<BodyStructure>,
        /// `body-fld-lines`.
        lines: u32,
    },
    /// `body-type-text`.
    Text {
        /// `body-fld-lines`.
        lines: u32,
    },
}

/// `body-ext-1part`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SinglePartExtension {
    /// `body-fld-md5`.
    pub md5: Option<Bytes>,
    /// Disposition and what follows, when present.
    pub tail: Option<DispositionExtension>,
}

/// `body-ext-mpart`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MultiPartExtension {
    /// `body-fld-param` (NIL when empty).
    pub params: Vec<(Bytes, Bytes)>,
    /// Disposition and what follows, when present.
    pub tail: Option<DispositionExtension>,
}

/// `body-fld-dsp` and what follows.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DispositionExtension {
    /// `("attachment" ("filename" "a.pdf"))` or NIL.
    pub disposition: Option<(Bytes, Vec<(Bytes, Bytes)>)>,
    /// Language and what follows, when present.
    pub tail: Option<LanguageExtension>,
}

/// `body-fld-lang` and what follows.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LanguageExtension {
    /// Languages (NIL when empty).
    pub languages: Vec<Bytes>,
    /// Location and further extensions, when present.
    pub tail: Option<LocationExtension>,
}

/// `body-fld-loc` and `body-extension`s.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LocationExtension {
    /// `body-fld-loc`.
    pub location: Option<Bytes>,
    /// Future extensions.
    pub extensions: Vec<BodyExtension>,
}

/// `body-extension`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BodyExtension {
    /// A string or NIL.
    String(Option<Bytes>),
    /// A number.
    Number(u64),
    /// A parenthesized list (non-empty).
    List(Vec<BodyExtension>),
}

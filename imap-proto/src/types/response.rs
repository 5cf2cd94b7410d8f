//! Responses (server to client): status responses, untagged data, continuation requests.

use bytes::Bytes;

use super::command::{IdParams, StatusItem};
use super::core::{Atom, Flag, Mailbox, SequenceSet, Tag};
use super::fetch::MessageItem;
use super::search::ESearch;

/// Anything a server sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// Tagged or untagged `OK`/`NO`/`BAD`, untagged `PREAUTH`/`BYE` (the greeting is one).
    Status(StatusResponse),
    /// Untagged data (`* 3 EXISTS`, `* LIST ...`, `* 1 FETCH ...`).
    Data(Data),
    /// `+ ...`: a continuation request.
    Continuation(Continuation),
}

/// `OK`, `NO`, `BAD`, `PREAUTH`, `BYE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusKind {
    /// `OK`.
    Ok,
    /// `NO`.
    No,
    /// `BAD`.
    Bad,
    /// `PREAUTH` (greeting only).
    PreAuth,
    /// `BYE`.
    Bye,
}

/// A status response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusResponse {
    /// The command's tag; `None` for `*`.
    pub tag: Option<Tag>,
    /// The status.
    pub kind: StatusKind,
    /// `[CODE ...]`.
    pub code: Option<ResponseCode>,
    /// Human-readable text (may be empty).
    pub text: Bytes,
}

/// A continuation request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Continuation {
    /// `+ [code] text` (after a synchronizing literal, IDLE, ...).
    Text {
        /// `[CODE ...]`.
        code: Option<ResponseCode>,
        /// Text (may be empty).
        text: Bytes,
    },
    /// `+ base64` during AUTHENTICATE (possibly empty).
    Base64(Bytes),
}

/// A response code `[...]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseCode {
    /// `ALERT`.
    Alert,
    /// `BADCHARSET [(charsets)]`.
    BadCharset(Vec<Bytes>),
    /// `CAPABILITY ...`.
    Capability(Vec<Atom>),
    /// `PARSE`.
    Parse,
    /// `PERMANENTFLAGS (...)`.
    PermanentFlags(Vec<Flag>),
    /// `READ-ONLY`.
    ReadOnly,
    /// `READ-WRITE`.
    ReadWrite,
    /// `TRYCREATE`.
    TryCreate,
    /// `UIDNEXT n`.
    UidNext(u32),
    /// `UIDVALIDITY n`.
    UidValidity(u32),
    /// `UNSEEN n`.
    Unseen(u32),
    /// `APPENDUID uidvalidity uids` (UIDPLUS).
    AppendUid {
        /// UIDVALIDITY of the destination.
        uid_validity: u32,
        /// Assigned UIDs.
        uids: SequenceSet,
    },
    /// `COPYUID uidvalidity source destination` (UIDPLUS).
    CopyUid {
        /// UIDVALIDITY of the destination.
        uid_validity: u32,
        /// Source UIDs.
        source: SequenceSet,
        /// Destination UIDs.
        destination: SequenceSet,
    },
    /// `UIDNOTSTICKY`.
    UidNotSticky,
    /// `HIGHESTMODSEQ n` (CONDSTORE).
    HighestModSeq(u64),
    /// `NOMODSEQ`.
    NoModSeq,
    /// `MODIFIED set`.
    Modified(SequenceSet),
    /// `CLOSED` (QRESYNC).
    Closed,
    /// `COMPRESSIONACTIVE` (RFC 4978).
    CompressionActive,
    /// `OVERQUOTA` (RFC 9208).
    OverQuota,
    /// `TOOBIG` (RFC 4469 / 7889).
    TooBig,
    /// `UNKNOWN-CTE` (BINARY).
    UnknownCte,
    /// `NOTSAVED` (SEARCHRES).
    NotSaved,
    /// `USEATTR` (CREATE-SPECIAL-USE).
    UseAttr,
    /// `LIMIT`, `NOPERM`, `INUSE`, ... : the response codes of RFC 5530 and
    /// IMAP4rev2 that carry no data.
    Simple(SimpleCode),
    /// Any other code: `[atom [text]]`.
    Other {
        /// The code's name.
        name: Atom,
        /// Its argument, as sent (without the closing bracket).
        data: Option<Bytes>,
    },
}

macro_rules! simple_codes {
    ($($variant:ident => $name:literal,)*) => {
        /// A response code without data (RFC 5530, RFC 9051).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum SimpleCode {
            $(
                #[doc = concat!("`", $name, "`.")]
                $variant,
            )*
        }

        impl SimpleCode {
            /// The code's name as sent.
            pub fn name(self) -> &'static str {
                match self {
                    $(SimpleCode::$variant => $name,)*
                }
            }

            /// Looks a name up, case-insensitively.
            pub fn from_name(name: &[u8]) -> Option<SimpleCode> {
                $(
                    if name.eq_ignore_ascii_case($name.as_bytes()) {
                        return Some(SimpleCode::$variant);
                    }
                )*
                None
            }
        }
    };
}

simple_codes! {
    Unavailable => "UNAVAILABLE",
    AuthenticationFailed => "AUTHENTICATIONFAILED",
    AuthorizationFailed => "AUTHORIZATIONFAILED",
    Expired => "EXPIRED",
    PrivacyRequired => "PRIVACYREQUIRED",
    ContactAdmin => "CONTACTADMIN",
    NoPerm => "NOPERM",
    InUse => "INUSE",
    ExpungeIssued => "EXPUNGEISSUED",
    Corruption => "CORRUPTION",
    ServerBug => "SERVERBUG",
    ClientBug => "CLIENTBUG",
    CanNot => "CANNOT",
    Limit => "LIMIT",
    AlreadyExists => "ALREADYEXISTS",
    NonExistent => "NONEXISTENT",
    HasChildren => "HASCHILDREN",
}

/// Untagged data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    /// `* CAPABILITY ...`.
    Capability(Vec<Atom>),
    /// `* ENABLED ...` (RFC 5161).
    Enabled(Vec<Atom>),
    /// `* LIST ...`.
    List(MailboxListing),
    /// `* LSUB ...`.
    Lsub(MailboxListing),
    /// `* STATUS mailbox (items)`.
    Status {
        /// The mailbox.
        mailbox: Mailbox,
        /// Values.
        items: Vec<StatusValue>,
    },
    /// `* SEARCH n... [(MODSEQ n)]`.
    Search {
        /// Matching numbers.
        numbers: Vec<u32>,
        /// Highest mod-sequence of the matches (CONDSTORE).
        modseq: Option<u64>,
    },
    /// `* ESEARCH ...` (RFC 4731).
    ESearch(ESearch),
    /// `* FLAGS (...)`.
    Flags(Vec<Flag>),
    /// `* n EXISTS`.
    Exists(u32),
    /// `* n RECENT`.
    Recent(u32),
    /// `* n EXPUNGE`.
    Expunge(u32),
    /// `* n FETCH (...)`.
    Fetch {
        /// Message sequence number.
        seq: u32,
        /// Items (non-empty).
        items: Vec<MessageItem>,
    },
    /// `* ID (...)` or `* ID NIL`.
    Id(Option<IdParams>),
    /// `* NAMESPACE personal other shared` (RFC 2342).
    Namespace {
        /// Personal namespaces.
        personal: Vec<NamespaceDescription>,
        /// Other users' namespaces.
        other: Vec<NamespaceDescription>,
        /// Shared namespaces.
        shared: Vec<NamespaceDescription>,
    },
    /// `* QUOTA root (resource usage limit ...)` (RFC 9208).
    Quota {
        /// Quota root.
        root: Bytes,
        /// Resources (non-empty).
        resources: Vec<QuotaResource>,
    },
    /// `* QUOTAROOT mailbox root...`.
    QuotaRoot {
        /// The mailbox.
        mailbox: Mailbox,
        /// Its quota roots.
        roots: Vec<Bytes>,
    },
    /// `* VANISHED [(EARLIER)] uids` (QRESYNC).
    Vanished {
        /// `(EARLIER)`.
        earlier: bool,
        /// Expunged UIDs.
        uids: SequenceSet,
    },
}

/// A `mailbox-list` of LIST / LSUB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxListing {
    /// Attributes.
    pub attributes: Vec<MailboxAttribute>,
    /// Hierarchy delimiter, `None` for NIL.
    pub delimiter: Option<u8>,
    /// The mailbox.
    pub mailbox: Mailbox,
    /// LIST-EXTENDED data: `CHILDINFO`, `OLDNAME`.
    pub extended: Vec<ListExtendedItem>,
}

/// A LIST-EXTENDED item of a LIST response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListExtendedItem {
    /// `"CHILDINFO" ("SUBSCRIBED")`.
    ChildInfo(Vec<Bytes>),
    /// `"OLDNAME" (mailbox)`.
    OldName(Mailbox),
    /// Any other `tag value` pair (RFC 9051 `mbox-list-extended-item`).
    Other {
        /// The item's tag.
        tag: Bytes,
        /// Its value.
        value: ExtensionValue,
    },
}

/// A `tagged-ext-val`: a simple value (number, sequence set, string) or a
/// parenthesized list of values, nested.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ExtensionValue {
    /// A number, sequence set, atom or string.
    Simple(Bytes),
    /// `( ... )`, possibly empty.
    List(Vec<ExtensionValue>),
}

/// Mailbox attributes (`mbx-list-flags`, CHILDREN, SPECIAL-USE).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MailboxAttribute {
    /// `\Noinferiors`.
    NoInferiors,
    /// `\Noselect`.
    NoSelect,
    /// `\Marked`.
    Marked,
    /// `\Unmarked`.
    Unmarked,
    /// `\NonExistent`.
    NonExistent,
    /// `\Subscribed`.
    Subscribed,
    /// `\Remote`.
    Remote,
    /// `\HasChildren`.
    HasChildren,
    /// `\HasNoChildren`.
    HasNoChildren,
    /// `\All`.
    All,
    /// `\Archive`.
    Archive,
    /// `\Drafts`.
    Drafts,
    /// `\Flagged`.
    Flagged,
    /// `\Junk`.
    Junk,
    /// `\Sent`.
    Sent,
    /// `\Trash`.
    Trash,
    /// Another `\Name` (without the backslash).
    Extension(Atom),
}

/// A value of a STATUS response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusValue {
    /// `MESSAGES n`.
    Messages(u32),
    /// `RECENT n`.
    Recent(u32),
    /// `UIDNEXT n`.
    UidNext(u32),
    /// `UIDVALIDITY n`.
    UidValidity(u32),
    /// `UNSEEN n`.
    Unseen(u32),
    /// `DELETED n`.
    Deleted(u32),
    /// `SIZE n`.
    Size(u64),
    /// `HIGHESTMODSEQ n`.
    HighestModSeq(u64),
    /// `APPENDLIMIT n` or `APPENDLIMIT NIL` (`None`).
    AppendLimit(Option<u64>),
    /// `DELETED-STORAGE n` (RFC 9208).
    DeletedStorage(u64),
}

impl StatusValue {
    /// The item this value answers.
    pub fn item(&self) -> StatusItem {
        match self {
            StatusValue::Messages(_) => StatusItem::Messages,
            StatusValue::Recent(_) => StatusItem::Recent,
            StatusValue::UidNext(_) => StatusItem::UidNext,
            StatusValue::UidValidity(_) => StatusItem::UidValidity,
            StatusValue::Unseen(_) => StatusItem::Unseen,
            StatusValue::Deleted(_) => StatusItem::Deleted,
            StatusValue::Size(_) => StatusItem::Size,
            StatusValue::HighestModSeq(_) => StatusItem::HighestModSeq,
            StatusValue::AppendLimit(_) => StatusItem::AppendLimit,
            StatusValue::DeletedStorage(_) => StatusItem::DeletedStorage,
        }
    }
}

/// One namespace of a NAMESPACE response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceDescription {
    /// Prefix, e.g. `""` or `"#shared."`.
    pub prefix: Bytes,
    /// Hierarchy delimiter.
    pub delimiter: Option<u8>,
    /// Extensions: `"TRANSLATION" ("x")`.
    pub extensions: Vec<(Bytes, Vec<Bytes>)>,
}

/// A quota resource: `STORAGE 10 512`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaResource {
    /// `STORAGE`, `MESSAGE`, `MAILBOX`, `ANNOTATION-STORAGE`, ...
    pub name: Atom,
    /// Current usage.
    pub usage: u64,
    /// Limit.
    pub limit: u64,
}

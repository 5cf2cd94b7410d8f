//! Commands (client to server).

use bytes::Bytes;

use super::core::{Atom, DateTime, Flag, Mailbox, Secret, SequenceSet, Tag};
use super::fetch::{FetchItems, FetchModifier};
use super::search::{SearchKey, SearchReturnOption};

/// A tagged command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The tag the server echoes in its completion response.
    pub tag: Tag,
    /// The command and its arguments.
    pub body: CommandBody,
}

/// Every command of IMAP4rev1, IMAP4rev2 and the supported extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandBody {
    /// `CAPABILITY`.
    Capability,
    /// `NOOP`.
    Noop,
    /// `LOGOUT`.
    Logout,
    /// `STARTTLS`.
    StartTls,
    /// `AUTHENTICATE mechanism [initial-response]` (SASL-IR: `=` is an empty response).
    Authenticate {
        /// SASL mechanism name.
        mechanism: Atom,
        /// Initial response, base64 as sent (empty for `=`).
        initial_response: Option<Secret>,
    },
    /// `LOGIN user password`.
    Login {
        /// User name.
        username: Bytes,
        /// Password.
        password: Secret,
    },
    /// `ENABLE capability...` (RFC 5161).
    Enable {
        /// Capabilities to enable (non-empty).
        capabilities: Vec<Atom>,
    },
    /// `SELECT mailbox [(params)]`.
    Select {
        /// The mailbox.
        mailbox: Mailbox,
        /// CONDSTORE / QRESYNC parameters.
        params: Vec<SelectParam>,
    },
    /// `EXAMINE mailbox [(params)]`.
    Examine {
        /// The mailbox.
        mailbox: Mailbox,
        /// CONDSTORE / QRESYNC parameters.
        params: Vec<SelectParam>,
    },
    /// `CREATE mailbox [(USE (\attrs))]` (RFC 6154 CREATE-SPECIAL-USE).
    Create {
        /// The mailbox.
        mailbox: Mailbox,
        /// Special-use attributes for the new mailbox (without backslash).
        special_use: Vec<Atom>,
    },
    /// `DELETE mailbox`.
    Delete {
        /// The mailbox.
        mailbox: Mailbox,
    },
    /// `RENAME from to`.
    Rename {
        /// Existing name.
        from: Mailbox,
        /// New name.
        to: Mailbox,
    },
    /// `SUBSCRIBE mailbox`.
    Subscribe {
        /// The mailbox.
        mailbox: Mailbox,
    },
    /// `UNSUBSCRIBE mailbox`.
    Unsubscribe {
        /// The mailbox.
        mailbox: Mailbox,
    },
    /// `LIST [(selection)] reference patterns [RETURN (options)]` (LIST-EXTENDED).
    List {
        /// Selection options (`SUBSCRIBED`, `REMOTE`, `RECURSIVEMATCH`, `SPECIAL-USE`).
        selection: Vec<ListSelectOption>,
        /// Reference name.
        reference: Mailbox,
        /// One or more patterns (with `%` / `*`); more than one is sent as a list.
        patterns: Vec<Bytes>,
        /// Return options (`CHILDREN`, `SUBSCRIBED`, `SPECIAL-USE`, `STATUS (...)`).
        return_options: Vec<ListReturnOption>,
    },
    /// `LSUB reference pattern`.
    Lsub {
        /// Reference name.
        reference: Mailbox,
        /// Pattern.
        pattern: Bytes,
    },
    /// `NAMESPACE` (RFC 2342).
    Namespace,
    /// `STATUS mailbox (items)`.
    Status {
        /// The mailbox.
        mailbox: Mailbox,
        /// Items asked for (non-empty).
        items: Vec<StatusItem>,
    },
    /// `APPEND mailbox [flags] [date] literal` (MULTIAPPEND: several messages).
    Append {
        /// The mailbox.
        mailbox: Mailbox,
        /// One or more messages.
        messages: Vec<AppendMessage>,
    },
    /// `IDLE` (the client ends it with `DONE`).
    Idle,
    /// `CHECK`.
    Check,
    /// `CLOSE`.
    Close,
    /// `UNSELECT` (RFC 3691).
    Unselect,
    /// `EXPUNGE`.
    Expunge,
    /// `UID EXPUNGE set` (UIDPLUS).
    UidExpunge(SequenceSet),
    /// `[UID] SEARCH [RETURN (...)] [CHARSET x] keys`.
    Search {
        /// `UID SEARCH`.
        uid: bool,
        /// ESEARCH `RETURN (...)`; `Some(vec![])` is `RETURN ()`.
        return_options: Option<Vec<SearchReturnOption>>,
        /// `CHARSET`.
        charset: Option<Bytes>,
        /// Criteria (non-empty, all must match).
        criteria: Vec<SearchKey>,
    },
    /// `[UID] FETCH set items [(modifiers)]`.
    Fetch {
        /// `UID FETCH`.
        uid: bool,
        /// Messages.
        set: SequenceSet,
        /// Items.
        items: FetchItems,
        /// CONDSTORE / QRESYNC modifiers.
        modifiers: Vec<FetchModifier>,
    },
    /// `[UID] STORE set [(UNCHANGEDSINCE n)] [+|-]FLAGS[.SILENT] flags`.
    Store {
        /// `UID STORE`.
        uid: bool,
        /// Messages.
        set: SequenceSet,
        /// `UNCHANGEDSINCE` (CONDSTORE).
        unchanged_since: Option<u64>,
        /// Replace, add or remove.
        kind: StoreKind,
        /// `.SILENT`.
        silent: bool,
        /// The flags (sent as a list).
        flags: Vec<Flag>,
    },
    /// `[UID] COPY set mailbox`.
    Copy {
        /// `UID COPY`.
        uid: bool,
        /// Messages.
        set: SequenceSet,
        /// Destination.
        mailbox: Mailbox,
    },
    /// `[UID] MOVE set mailbox` (RFC 6851).
    Move {
        /// `UID MOVE`.
        uid: bool,
        /// Messages.
        set: SequenceSet,
        /// Destination.
        mailbox: Mailbox,
    },
    /// `ID (fields)` or `ID NIL` (RFC 2971).
    Id(Option<IdParams>),
    /// `GETQUOTA root` (RFC 9208).
    GetQuota {
        /// Quota root.
        root: Bytes,
    },
    /// `GETQUOTAROOT mailbox`.
    GetQuotaRoot {
        /// The mailbox.
        mailbox: Mailbox,
    },
    /// `SETQUOTA root (resource limit ...)`.
    SetQuota {
        /// Quota root.
        root: Bytes,
        /// Resource names and limits.
        limits: Vec<(Atom, u64)>,
    },
    /// `COMPRESS mechanism` (RFC 4978).
    Compress {
        /// `DEFLATE`.
        mechanism: Atom,
    },
}

impl CommandBody {
    /// The command's name as sent (`UID FETCH`, `SELECT`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            CommandBody::Capability => "CAPABILITY",
            CommandBody::Noop => "NOOP",
            CommandBody::Logout => "LOGOUT",
            CommandBody::StartTls => "STARTTLS",
            CommandBody::Authenticate { .. } => "AUTHENTICATE",
            CommandBody::Login { .. } => "LOGIN",
            CommandBody::Enable { .. } => "ENABLE",
            CommandBody::Select { .. } => "SELECT",
            CommandBody::Examine { .. } => "EXAMINE",
            CommandBody::Create { .. } => "CREATE",
            CommandBody::Delete { .. } => "DELETE",
            CommandBody::Rename { .. } => "RENAME",
            CommandBody::Subscribe { .. } => "SUBSCRIBE",
            CommandBody::Unsubscribe { .. } => "UNSUBSCRIBE",
            CommandBody::List { .. } => "LIST",
            CommandBody::Lsub { .. } => "LSUB",
            CommandBody::Namespace => "NAMESPACE",
            CommandBody::Status { .. } => "STATUS",
            CommandBody::Append { .. } => "APPEND",
            CommandBody::Idle => "IDLE",
            CommandBody::Check => "CHECK",
            CommandBody::Close => "CLOSE",
            CommandBody::Unselect => "UNSELECT",
            CommandBody::Expunge => "EXPUNGE",
            CommandBody::UidExpunge(_) => "UID EXPUNGE",
            CommandBody::Search { uid: false, .. } => "SEARCH",
            CommandBody::Search { uid: true, .. } => "UID SEARCH",
            CommandBody::Fetch { uid: false, .. } => "FETCH",
            CommandBody::Fetch { uid: true, .. } => "UID FETCH",
            CommandBody::Store { uid: false, .. } => "STORE",
            CommandBody::Store { uid: true, .. } => "UID STORE",
            CommandBody::Copy { uid: false, .. } => "COPY",
            CommandBody::Copy { uid: true, .. } => "UID COPY",
            CommandBody::Move { uid: false, .. } => "MOVE",
            CommandBody::Move { uid: true, .. } => "UID MOVE",
            CommandBody::Id(_) => "ID",
            CommandBody::GetQuota { .. } => "GETQUOTA",
            CommandBody::GetQuotaRoot { .. } => "GETQUOTAROOT",
            CommandBody::SetQuota { .. } => "SETQUOTA",
            CommandBody::Compress { .. } => "COMPRESS",
        }
    }
}

/// ID fields: names and values (RFC 2971).
pub type IdParams = Vec<(Bytes, Option<Bytes>)>;

/// SELECT / EXAMINE parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectParam {
    /// `CONDSTORE` (RFC 7162).
    CondStore,
    /// `QRESYNC (uidvalidity modseq [known-uids [(seq-match-data)]])`.
    QResync {
        /// Last known UIDVALIDITY.
        uid_validity: u32,
        /// Last known HIGHESTMODSEQ.
        modseq: u64,
        /// Known UIDs.
        known_uids: Option<SequenceSet>,
        /// `(known-sequence-set known-uid-set)`.
        seq_match: Option<(SequenceSet, SequenceSet)>,
    },
}

/// LIST selection options (RFC 5258, 6154).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListSelectOption {
    /// `SUBSCRIBED`.
    Subscribed,
    /// `REMOTE`.
    Remote,
    /// `RECURSIVEMATCH`.
    RecursiveMatch,
    /// `SPECIAL-USE`.
    SpecialUse,
}

/// LIST return options (RFC 5258, 5819, 6154).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListReturnOption {
    /// `SUBSCRIBED`.
    Subscribed,
    /// `CHILDREN`.
    Children,
    /// `SPECIAL-USE`.
    SpecialUse,
    /// `STATUS (items)` (LIST-STATUS).
    Status(Vec<StatusItem>),
}

/// STATUS items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusItem {
    /// `MESSAGES`.
    Messages,
    /// `RECENT`.
    Recent,
    /// `UIDNEXT`.
    UidNext,
    /// `UIDVALIDITY`.
    UidValidity,
    /// `UNSEEN`.
    Unseen,
    /// `DELETED` (IMAP4rev2).
    Deleted,
    /// `SIZE` (STATUS=SIZE).
    Size,
    /// `HIGHESTMODSEQ` (CONDSTORE).
    HighestModSeq,
    /// `APPENDLIMIT` (RFC 7889).
    AppendLimit,
    /// `DELETED-STORAGE` (RFC 9208).
    DeletedStorage,
}

/// One message of an APPEND.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendMessage {
    /// Flags to set.
    pub flags: Vec<Flag>,
    /// INTERNALDATE to set.
    pub date: Option<DateTime>,
    /// The message.
    pub data: Bytes,
    /// Sent as `~{n}` literal8 (BINARY), may contain NUL. Data with NUL
    /// is always sent as literal8, so it decodes with `binary` set.
    pub binary: bool,
    /// Sent as `UTF8 (~{n})` (RFC 6855, UTF8=ACCEPT): a message with UTF-8
    /// headers. The data is a literal8; `binary` is ignored.
    pub utf8: bool,
}

/// How STORE changes flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreKind {
    /// `FLAGS`: replace.
    Replace,
    /// `+FLAGS`: add.
    Add,
    /// `-FLAGS`: remove.
    Remove,
}

/// A streamed APPEND message, announced before its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendHeader {
    /// Flags to set.
    pub flags: Vec<Flag>,
    /// INTERNALDATE to set.
    pub date: Option<DateTime>,
    /// Size of the message literal.
    pub size: u64,
    /// `~{n}` literal8.
    pub binary: bool,
    /// `UTF8 (~{n})` (RFC 6855).
    pub utf8: bool,
    /// `{n+}`: the client sends the data without waiting for `+`.
    pub non_sync: bool,
}

/// A line a client sends during AUTHENTICATE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthenticateData {
    /// Base64 data (possibly empty).
    Data(Secret),
    /// `*`: the client cancels the exchange.
    Cancel,
}

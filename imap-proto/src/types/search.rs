//! SEARCH keys, ESEARCH return options and results.

use bytes::Bytes;

use super::core::{Atom, Date, SequenceSet, Tag};

/// A `search-key`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SearchKey {
    /// `ALL`.
    All,
    /// `ANSWERED`.
    Answered,
    /// `BCC string`.
    Bcc(Bytes),
    /// `BEFORE date`.
    Before(Date),
    /// `BODY string`.
    Body(Bytes),
    /// `CC string`.
    Cc(Bytes),
    /// `DELETED`.
    Deleted,
    /// `DRAFT`.
    Draft,
    /// `FLAGGED`.
    Flagged,
    /// `FROM string`.
    From(Bytes),
    /// `HEADER field-name string`.
    Header(Bytes, Bytes),
    /// `KEYWORD flag-keyword`.
    Keyword(Atom),
    /// `LARGER n`.
    Larger(u32),
    /// `NEW`.
    New,
    /// `NOT key`.
    Not(Box<SearchKey>),
    /// `OLD`.
    Old,
    /// `ON date`.
    On(Date),
    /// `OR key key`.
    Or(Box<SearchKey>, Box<SearchKey>),
    /// `RECENT`.
    Recent,
    /// `SEEN`.
    Seen,
    /// `SAVEDBEFORE date` (RFC 8514).
    SavedBefore(Date),
    /// `SAVEDON date` (RFC 8514).
    SavedOn(Date),
    /// `SAVEDSINCE date` (RFC 8514).
    SavedSince(Date),
    /// `SAVEDATESUPPORTED` (RFC 8514).
    SaveDateSupported,
    /// `SENTBEFORE date`.
    SentBefore(Date),
    /// `SENTON date`.
    SentOn(Date),
    /// `SENTSINCE date`.
    SentSince(Date),
    /// `SINCE date`.
    Since(Date),
    /// `SMALLER n`.
    Smaller(u32),
    /// `SUBJECT string`.
    Subject(Bytes),
    /// `TEXT string`.
    Text(Bytes),
    /// `TO string`.
    To(Bytes),
    /// `UID sequence-set`.
    Uid(SequenceSet),
    /// `UNANSWERED`.
    Unanswered,
    /// `UNDELETED`.
    Undeleted,
    /// `UNDRAFT`.
    Undraft,
    /// `UNFLAGGED`.
    Unflagged,
    /// `UNKEYWORD flag-keyword`.
    Unkeyword(Atom),
    /// `UNSEEN`.
    Unseen,
    /// A bare sequence set (or `$`).
    SequenceSet(SequenceSet),
    /// `( key key ... )` (non-empty).
    And(Vec<SearchKey>),
    /// `MODSEQ ["entry-name" entry-type] n` (CONDSTORE).
    ModSeq {
        /// `("/flags/\\seen", "priv"|"shared"|"all")`.
        entry: Option<(Bytes, EntryType)>,
        /// The mod-sequence.
        modseq: u64,
    },
}

/// `entry-type-req` of a MODSEQ search key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryType {
    /// `priv`.
    Private,
    /// `shared`.
    Shared,
    /// `all`.
    All,
}

/// ESEARCH `RETURN` options (RFC 4731, 5182).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SearchReturnOption {
    /// `MIN`.
    Min,
    /// `MAX`.
    Max,
    /// `ALL`.
    All,
    /// `COUNT`.
    Count,
    /// `SAVE` (SEARCHRES).
    Save,
}

/// An `* ESEARCH` response.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ESearch {
    /// `(TAG "a1")`: the command it answers.
    pub tag: Option<Tag>,
    /// `UID`: numbers are UIDs.
    pub uid: bool,
    /// The results.
    pub data: Vec<ESearchData>,
}

/// One `search-return-data`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ESearchData {
    /// `MIN n`.
    Min(u32),
    /// `MAX n`.
    Max(u32),
    /// `ALL sequence-set`.
    All(SequenceSet),
    /// `COUNT n`.
    Count(u32),
    /// `MODSEQ n`.
    ModSeq(u64),
}

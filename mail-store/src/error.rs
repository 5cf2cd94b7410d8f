//! The crate's error type.

/// What went wrong in a mail-store operation. Parsing a message never fails
/// (malformed mail is parsed the way Dovecot parses it); errors come from
/// requests that cannot be answered.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A FETCH item or section specifier that is not valid IMAP syntax.
    #[error("BAD invalid fetch item at byte {offset}: {reason}")]
    BadFetchItem {
        /// Byte offset inside the item text.
        offset: usize,
        /// What was wrong.
        reason: &'static str,
    },
    /// BINARY asked for a part whose Content-Transfer-Encoding is unknown
    /// (IMAP response code `UNKNOWN-CTE`).
    #[error("NO [UNKNOWN-CTE] Unknown Content-Transfer-Encoding")]
    UnknownCte {
        /// The encoding named by the part.
        encoding: String,
    },
    /// BINARY asked for a part whose encoded data is invalid (Dovecot answers
    /// `NO [PARSE]`).
    #[error("NO [PARSE] Invalid data in MIME part")]
    InvalidEncodedData {
        /// Byte offset of the part's body in the message.
        offset: usize,
    },
    /// A search program that is not valid.
    #[error("BAD invalid search key at argument {position}: {reason}")]
    BadSearch {
        /// Index of the offending argument.
        position: usize,
        /// What was wrong.
        reason: &'static str,
    },
    /// The Maildir could not be read.
    #[error("maildir: {0}")]
    Maildir(#[from] columba_maildir::Error),
    /// The index could not be read.
    #[error("index: {0}")]
    Index(#[from] columba_mail_index::Error),
    /// A message file could not be read.
    #[error("reading {path}: {reason}")]
    MessageFile {
        /// The file.
        path: std::path::PathBuf,
        /// The OS error.
        reason: String,
    },
    /// An append stored the file but could not give it a UID.
    #[error("append: {reason}")]
    Append {
        /// Why.
        reason: String,
    },
    /// APPEND of a message larger than APPENDLIMIT (`[TOOBIG]`).
    #[error("NO [TOOBIG] message of {size} bytes exceeds APPENDLIMIT {limit}")]
    TooBig {
        /// Size of the message.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A LIST pattern or mailbox name that cannot be used.
    #[error("BAD invalid mailbox name or pattern: {reason}")]
    BadMailboxName {
        /// What was wrong.
        reason: &'static str,
    },
    /// A mailbox operation that Dovecot refuses for this mailbox (deleting
    /// or renaming INBOX, creating a name that exists).
    #[error("NO mailbox {name:?}: {reason}")]
    MailboxRefused {
        /// The mailbox name.
        name: String,
        /// Why.
        reason: &'static str,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

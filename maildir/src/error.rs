//! The crate's one error type.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in this crate.
///
/// Parse errors name the file (or input) and the line or byte offset that was
/// wrong; I/O errors name the path and what was being done with it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A system call on `path` failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done (`open`, `rename`, `fsync`, ...).
        op: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// `dovecot-uidlist` is malformed.
    #[error("broken dovecot-uidlist at line {line}: {reason}")]
    Uidlist {
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        reason: String,
    },
    /// `dovecot-keywords` is malformed beyond what Dovecot tolerates.
    #[error("broken dovecot-keywords at line {line}: {reason}")]
    Keywords {
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        reason: String,
    },
    /// `subscriptions` is malformed.
    #[error("broken subscriptions file at line {line}: {reason}")]
    Subscriptions {
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        reason: String,
    },
    /// A message file name that cannot be a Maildir message.
    #[error("invalid Maildir file name {name:?}: {reason}")]
    Filename {
        /// The offending name (lossy UTF-8).
        name: String,
        /// What was wrong.
        reason: &'static str,
    },
    /// A folder name that cannot be stored as a Maildir++ folder.
    #[error("invalid folder name {name:?}: {reason}")]
    FolderName {
        /// The offending name.
        name: String,
        /// What was wrong.
        reason: &'static str,
    },
    /// Modified UTF-7 that does not decode.
    #[error("invalid modified UTF-7 at byte {offset} of {name:?}")]
    Utf7 {
        /// The offending name.
        name: String,
        /// Byte offset of the problem.
        offset: usize,
    },
    /// The folder does not exist.
    #[error("no such folder: {0}")]
    NoSuchFolder(String),
    /// The folder already exists.
    #[error("folder already exists: {0}")]
    FolderExists(String),
    /// The directory is not a Maildir (no `cur/`, `new/`, `tmp/`).
    #[error("not a Maildir: {0}")]
    NotMaildir(PathBuf),
    /// A dotlock could not be taken before its timeout.
    #[error("timed out waiting for lock {0}")]
    LockTimeout(PathBuf),
    /// Our dotlock was deleted or replaced by someone else while we held it.
    #[error("our dotlock {0} was overridden by another process")]
    LockOverridden(PathBuf),
    /// More than 26 keywords: `dovecot-keywords` has no letter left.
    #[error("no keyword letter left for {0:?} (Maildir file names hold at most 26 keywords)")]
    KeywordsFull(String),
    /// A keyword name that cannot be stored.
    #[error("invalid keyword {0:?}")]
    InvalidKeyword(String),
    /// A file is larger than this crate is willing to read into memory.
    #[error("{path} is {size} bytes, more than the {limit}-byte limit")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The mailbox ran out of UIDs (next UID would reach 2^32 - 1).
    #[error("UID space exhausted")]
    UidsExhausted,
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) trait IoContext<T> {
    fn ctx(self, op: &'static str, path: &std::path::Path) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn ctx(self, op: &'static str, path: &std::path::Path) -> Result<T> {
        self.map_err(|source| Error::Io {
            op,
            path: path.to_path_buf(),
            source,
        })
    }
}

impl Error {
    /// The underlying I/O error kind, when this is an I/O error.
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        match self {
            Error::Io { source, .. } => Some(source.kind()),
            _ => None,
        }
    }
}

//! The crate's one error type.

use std::fmt;
use std::path::PathBuf;

/// Which of the index files an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// `dovecot.index`, the main index snapshot.
    Index,
    /// `dovecot.index.log`, the head transaction log.
    Log,
    /// `dovecot.index.log.2`, the previous (rotated) transaction log.
    Log2,
    /// `dovecot.index.cache`, the message metadata cache.
    Cache,
}

impl FileKind {
    /// The file's name inside the index directory.
    pub fn file_name(self) -> &'static str {
        match self {
            FileKind::Index => "dovecot.index",
            FileKind::Log => "dovecot.index.log",
            FileKind::Log2 => "dovecot.index.log.2",
            FileKind::Cache => "dovecot.index.cache",
        }
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.file_name())
    }
}

/// Everything that can go wrong reading, syncing or writing the index files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file's bytes are not what Dovecot would have written.
    #[error("{file}: corrupt at byte offset {offset}: {reason}")]
    Corrupt {
        /// Which file.
        file: FileKind,
        /// Byte offset in that file where the problem was found.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
    /// An operating-system error on a path.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The transaction-log lock could not be taken in time.
    #[error("{path}: timed out waiting for the fcntl write lock")]
    LockTimeout {
        /// The log file that stayed locked.
        path: PathBuf,
    },
    /// The index points into a transaction log that no longer exists.
    #[error("transaction log lost: {0}")]
    LogLost(String),
    /// A write request that Dovecot would refuse (bad UID order, unknown keyword, ...).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The Maildir's own files (uidlist, keywords) could not be read.
    #[cfg(feature = "maildir")]
    #[error("maildir: {0}")]
    Maildir(#[from] columba_maildir::Error),
}

impl Error {
    pub(crate) fn corrupt(
        file: FileKind,
        offset: impl TryInto<u64>,
        reason: impl Into<String>,
    ) -> Error {
        Error::Corrupt {
            file,
            offset: offset.try_into().unwrap_or(u64::MAX),
            reason: reason.into(),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// True for [`Error::Corrupt`].
    pub fn is_corruption(&self) -> bool {
        matches!(self, Error::Corrupt { .. })
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

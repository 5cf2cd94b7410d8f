//! The crate's single error type.

use std::path::PathBuf;

/// Everything that can go wrong in this crate, with where it went wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A `{SCHEME}` name that this crate does not know.
    #[error("unknown password scheme {0:?}")]
    UnknownScheme(String),
    /// A stored password whose encoded part is malformed for its scheme.
    #[error("malformed {scheme} password: {reason}")]
    MalformedPassword {
        /// The scheme name.
        scheme: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// A scheme that can verify but not generate (or the reverse).
    #[error("{0}")]
    Unsupported(String),
    /// A protocol line that cannot be parsed.
    #[error("protocol error at byte {offset} of the line: {reason}")]
    Protocol {
        /// Byte offset inside the line.
        offset: usize,
        /// What was wrong.
        reason: String,
    },
    /// A line longer than the protocol allows.
    #[error("line longer than {limit} bytes")]
    LineTooLong {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// A passwd-file line that cannot be used.
    #[error("{}:{line}: {reason}", path.display())]
    PasswdFile {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        reason: String,
    },
    /// A SASL exchange that went wrong on the client's side.
    #[error("SASL: {0}")]
    Sasl(String),
    /// The peer answered something that this side did not expect.
    #[error("unexpected reply from the auth server: {0}")]
    UnexpectedReply(String),
    /// An I/O error, with what was being done.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn malformed(scheme: &'static str, reason: impl Into<String>) -> Error {
        Error::MalformedPassword {
            scheme,
            reason: reason.into(),
        }
    }

    pub(crate) fn protocol(offset: usize, reason: impl Into<String>) -> Error {
        Error::Protocol {
            offset,
            reason: reason.into(),
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

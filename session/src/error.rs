//! The crate's error type.

/// What went wrong in a storage or authentication call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The mailbox does not exist.
    #[error("mailbox doesn't exist: {0}")]
    NoSuchMailbox(String),
    /// The mailbox already exists.
    #[error("mailbox already exists: {0}")]
    MailboxExists(String),
    /// The request cannot be served (bad name, unsupported operation).
    #[error("{0}")]
    Refused(String),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] columba_mail_store::Error),
    /// The Maildir layer failed.
    #[error("maildir: {0}")]
    Maildir(#[from] columba_maildir::Error),
    /// A streamed APPEND's spool file failed, or the literal did not
    /// match its announced size.
    #[error("append spool: {0}")]
    Spool(String),
    /// The auth layer failed (temporary failure).
    #[error("auth: {0}")]
    Auth(#[from] columba_auth_sasl::Error),
}

/// Result with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

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
    /// A login handoff (from the unprivileged login process) is malformed.
    #[error("login handoff at byte {offset}, {field}: {problem}")]
    Handoff {
        /// Byte offset of the bad field in the handoff data.
        offset: usize,
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The auth layer failed (temporary failure).
    #[error("auth: {0}")]
    Auth(#[from] columba_auth_sasl::Error),
}

/// Result with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

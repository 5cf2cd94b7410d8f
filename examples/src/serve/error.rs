//! The server's one error type.

/// What went wrong in `columba serve` or one of its roles.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The configuration file is wrong; the text says where and why.
    #[error("configuration: {0}")]
    Config(String),
    /// An I/O operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
    /// A control message between the master and a role was malformed.
    #[error("control message: {0}")]
    Control(String),
    /// Privilege separation failed.
    #[error("privileges: {0}")]
    Privsep(#[from] columba_privsep::PrivsepError),
    /// The auth process or its protocol failed.
    #[error("auth: {0}")]
    Auth(String),
    /// TLS setup failed.
    #[error("TLS: {0}")]
    Tls(String),
    /// The mail store failed.
    #[error("mail storage: {0}")]
    Storage(String),
    /// A user's environment (uid, gid, home, mail location) cannot be
    /// set up; the text is worded as Dovecot words it.
    #[error("{0}")]
    User(String),
    /// A service's `process_limit` left no room for a client in time.
    #[error("process_limit ({limit}) reached for {waited_secs}s, the client is dropped")]
    ProcessLimit {
        /// The configured limit.
        limit: usize,
        /// How long the client waited.
        waited_secs: u64,
    },
}

impl ServeError {
    /// An I/O error with what was being done.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> ServeError {
        ServeError::Io {
            what: what.into(),
            source,
        }
    }
}

//! A byte string that never shows up in `Debug` output.

/// Credentials (a password, an APOP digest, SASL data): the bytes are
/// available through [`Secret::expose`], but `Debug` prints only
/// `Secret(<redacted>)`, so a logged command never leaks them.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Wraps the bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Secret {
        Secret(bytes.into())
    }

    /// The secret bytes themselves.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Whether it holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

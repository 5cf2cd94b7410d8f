//! Configurable limits of the streaming decoders.

/// Limits the decoders enforce on untrusted input.
///
/// A message over a limit is rejected with an error carrying its tag, and the
/// decoder skips the rest of it (including non-synchronizing literals the peer
/// sends anyway), so the next message decodes correctly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest line, literals excluded, CRLF included.
    pub max_line: usize,
    /// Largest literal.
    pub max_literal: usize,
    /// Largest non-synchronizing literal `{n+}` (RFC 7888: 4096 for LITERAL-).
    pub max_non_sync_literal: usize,
    /// Largest whole message: all lines and literals.
    pub max_message: usize,
    /// Deepest nesting of parenthesized lists (BODYSTRUCTURE, search keys).
    pub max_depth: usize,
}

impl Default for Limits {
    /// 64 KiB lines, 64 MiB literals and messages, nesting depth 64.
    fn default() -> Self {
        Limits {
            max_line: 64 * 1024,
            max_literal: 64 * 1024 * 1024,
            max_non_sync_literal: 64 * 1024 * 1024,
            max_message: 64 * 1024 * 1024 + 64 * 1024,
            max_depth: 64,
        }
    }
}

impl Limits {
    /// The limits of a server announcing LITERAL- (non-synchronizing literals
    /// of at most 4096 bytes), otherwise the defaults.
    pub fn literal_minus() -> Self {
        Limits {
            max_non_sync_literal: 4096,
            ..Limits::default()
        }
    }
}

//! APPENDLIMIT (RFC 7889): the largest message a store accepts, enforced
//! by APPEND (before and while the message streams in), COPY and MOVE, and
//! announced in CAPABILITY and STATUS.

use crate::error::{Error, Result};

/// The store's maximum message size (`None`: no limit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AppendLimit {
    /// The largest message accepted, in bytes as the client sends it
    /// (CRLF line endings, the APPEND literal's size).
    pub max_message_size: Option<u64>,
}

impl AppendLimit {
    /// No limit.
    pub const NONE: AppendLimit = AppendLimit {
        max_message_size: None,
    };

    /// A limit of `bytes`.
    pub fn bytes(bytes: u64) -> AppendLimit {
        AppendLimit {
            max_message_size: Some(bytes),
        }
    }

    /// Refuses a message of `size` bytes when it is over the limit
    /// ([`Error::TooBig`], answered `NO [TOOBIG]`).
    pub fn check(&self, size: u64) -> Result<()> {
        match self.max_message_size {
            Some(limit) if size > limit => Err(Error::TooBig { size, limit }),
            _ => Ok(()),
        }
    }

    /// The CAPABILITY word: `APPENDLIMIT=<n>`, or `None` without a limit.
    pub fn capability(&self) -> Option<String> {
        self.max_message_size.map(|n| format!("APPENDLIMIT={n}"))
    }

    /// The STATUS `APPENDLIMIT` value: the number, or `NIL` without a limit.
    pub fn status_value(&self) -> String {
        match self.max_message_size {
            Some(n) => n.to_string(),
            None => "NIL".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_words() {
        let limit = AppendLimit::bytes(1000);
        assert!(limit.check(1000).is_ok());
        assert!(matches!(
            limit.check(1001),
            Err(Error::TooBig {
                size: 1001,
                limit: 1000
            })
        ));
        assert_eq!(limit.capability().as_deref(), Some("APPENDLIMIT=1000"));
        assert_eq!(limit.status_value(), "1000");
        assert_eq!(AppendLimit::NONE.status_value(), "NIL");
        assert!(AppendLimit::NONE.check(u64::MAX).is_ok());
    }
}

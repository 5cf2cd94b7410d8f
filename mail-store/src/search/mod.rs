//! SEARCH: every RFC 9051 search key evaluated against a message, split so
//! that a store answers from the index first ([`match_index`]) and opens
//! the message only when the answer depends on its content
//! ([`match_message`]).
//!
//! ```
//! use columba_mail_store::search::{match_index, match_message, MessageInfo, SearchContext, SearchKey};
//! use columba_mail_store::Message;
//!
//! let key = SearchKey::parse("UNSEEN OR FROM ann SUBJECT \"=?x?\"")?;
//! let info = MessageInfo { seq: 1, uid: 7, rfc822_size: 40, ..MessageInfo::default() };
//! let ctx = SearchContext { max_seq: 1, max_uid: 7, ..SearchContext::default() };
//! assert_eq!(match_index(&key, &info, &ctx), None); // FROM needs the message
//! let msg = Message::parse(b"From: =?utf-8?q?Ann_B?= <a@example.com>\n\nhi\n");
//! assert!(match_message(&key, &info, &ctx, &msg));
//! # Ok::<(), columba_mail_store::Error>(())
//! ```

pub mod date;
pub mod decode;
pub mod eval;
pub mod key;
pub mod sequence;

pub use eval::{
    match_index, match_message, needs_body, needs_message, MessageFlags, MessageInfo, SearchContext,
};
pub use key::{DateCmp, SearchKey};
pub use sequence::SequenceSet;

//! IMAP4rev1 and IMAP4rev2 grammar in both directions, with streaming literals, sans-IO.
#![forbid(unsafe_code)]

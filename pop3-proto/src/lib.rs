//! POP3 in both directions, sans-IO.
#![forbid(unsafe_code)]

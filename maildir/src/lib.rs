//! Maildir++ storage laid out as Dovecot 2.3 does it, with dovecot-uidlist, dovecot-keywords and durable delivery.
#![forbid(unsafe_code)]

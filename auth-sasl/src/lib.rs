//! SASL mechanisms, Dovecot password schemes, passdb/userdb backends and Dovecot's auth protocols.
#![forbid(unsafe_code)]

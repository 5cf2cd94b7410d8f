//! Dovecot 2.3's dovecot.index, dovecot.index.log and dovecot.index.cache: read, write, sync, lock, detect corruption, rebuild.
#![deny(unsafe_code)]

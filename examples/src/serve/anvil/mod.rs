//! The anvil role: counts sessions per user and client address (for
//! `mail_max_userip_connections`) and keeps penalties, speaking Dovecot
//! 2.3's anvil protocol on `base_dir/anvil` ([`protocol`]).
//!
//! Post-login processes check `LOOKUP\t<service>/<ip>/<user>` against the
//! limit and then register with `CONNECT\t<pid>\t<ident>` through an
//! [`AnvilClient`] they keep for the session's lifetime. Where Dovecot has
//! the master send `KILL\t<pid>` when a process dies, here every session
//! a connection registered ends when that connection closes, which a
//! dying process does by itself.
//!
//! The auth penalty (the delay after failed logins per client address)
//! is kept by the auth role's own `AuthServer` penalty, in the one auth
//! process; anvil's `PENALTY-*` commands are served for clients that use
//! them as Dovecot's auth process does.

pub mod client;
pub mod protocol;
pub mod role;
pub mod state;

pub use client::AnvilClient;
pub use role::run;

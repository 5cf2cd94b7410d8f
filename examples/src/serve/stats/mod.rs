//! The stats role: counters of connections, logins, failed logins,
//! commands and deliveries, written by every process through a
//! [`StatsClient`] and read by `columba stats` (as `doveadm stats dump`
//! reads Dovecot's stats process).

pub mod client;
pub mod protocol;
pub mod role;
pub mod state;

pub use client::StatsClient;
pub use role::{dump, run};

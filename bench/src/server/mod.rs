//! The server benchmark's parts: Columba's `columba serve` and a private
//! Dovecot 2.3 started side by side on the same mail, a blocking IMAP load
//! generator, and the process-tree sampler that measures memory and CPU of
//! each server however many processes it runs.
//!
//! `examples/server_bench.rs` puts them together; see the crate README.

pub mod big_mailbox;
pub mod imap_client;
pub mod messages;
pub mod process_tree;
pub mod servers;
pub mod workload;

#[cfg(test)]
mod dovecot_smoke;

//! One module per subcommand; each exposes `Args` (its clap arguments) and
//! `run(Args) -> ExitCode`.

pub mod auth;
pub mod config;
pub mod deliver;
pub mod dump;
pub mod imap_trace;
pub mod maildir_list;
pub mod pop3_trace;
pub mod privsep_status;
pub mod pw;
pub mod serve;
pub mod stats;

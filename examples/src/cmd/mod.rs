//! One module per subcommand; each exposes `Args` (its clap arguments) and
//! `run(Args) -> ExitCode`.

pub mod imap_trace;
pub mod pop3_trace;
pub mod deliver;
pub mod maildir_list;

//! Which code a role process runs: `columba serve --role <name>`.
//!
//! The master starts every role as a process of the same binary; this is
//! the one place that maps a [`Role`] to its module's `run`.

use std::path::Path;
use std::process::ExitCode;

use super::error::ServeError;
use super::role::{Role, RoleContext};

/// Runs `role` in this process, with the configuration at `config_path`
/// and the control channel on standard input; returns the process's exit
/// status. Errors are logged as the role's own `Fatal:` line.
pub fn run_role(role: Role, config_path: &Path) -> ExitCode {
    let ctx = match RoleContext::from_stdin(role, config_path) {
        Ok(ctx) => ctx,
        Err(e) => {
            super::log::fatal(role.name(), &e.to_string());
            return ExitCode::FAILURE;
        }
    };
    let result: Result<(), ServeError> = match role {
        Role::Log => super::log::run(ctx),
        Role::Anvil => super::anvil::run(ctx),
        Role::Auth => super::auth::run(ctx),
        Role::Stats => super::stats::run(ctx),
        Role::Indexer => super::indexer::run(ctx),
        Role::IndexerWorker => super::indexer::worker::run(ctx),
        Role::ImapLogin | Role::Pop3Login => super::login::run(ctx),
        Role::Imap => super::post_login::imap::run(ctx),
        Role::Pop3 => super::post_login::pop3::run(ctx),
        Role::Lmtp => super::lmtp::run(ctx),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            super::log::fatal(role.name(), &e.to_string());
            ExitCode::FAILURE
        }
    }
}

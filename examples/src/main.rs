//! `columba`: the Columba mail server and its admin subcommands, in the manner of `doveadm`.
//!
//! Each subcommand lives in its own module under `cmd/` and is a thin wrapper
//! over the library crates.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;
mod serve;

/// Columba: a memory-safe, Dovecot-compatible mail server toolkit.
#[derive(Parser)]
#[command(name = "columba", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate or verify a password hash in Dovecot's {SCHEME} syntax, like `doveadm pw`.
    Pw(cmd::pw::Args),
    /// Authenticate (`auth test`) or look up a user (`auth lookup`) through an auth socket, like `doveadm auth test` / `doveadm user`.
    Auth(cmd::auth::Args),
    /// Deliver a message from stdin into a Maildir (like dovecot-lda, without Sieve; sysexits exit codes).
    Deliver(cmd::deliver::Args),
    /// Show dovecot.index, dovecot.index.log[.2] or dovecot.index.cache like `doveadm dump` (or --json).
    Dump(cmd::dump::Args),
    /// List a Maildir's messages: uid, flags, keywords, size, virtual size, base name.
    MaildirList(cmd::maildir_list::Args),
    /// Decode an IMAP transcript (`C: `/`S: ` lines) as real peers would, one line per message.
    ImapTrace(cmd::imap_trace::Args),
    /// Decode a POP3 transcript (`C: `/`S: ` lines) as real peers would, one line per message.
    Pop3Trace(cmd::pop3_trace::Args),
    /// Show processes' privileges (ids, groups, no_new_privs, seccomp, capabilities, root), or the login seccomp allow-list.
    PrivsepStatus(cmd::privsep_status::Args),
    /// Run the IMAP, POP3 and LMTP server (`--demo`: loopback, a demo user, a self-signed certificate).
    Serve(cmd::serve::Args),
    /// Read a columba.toml and print its settings like `doveconf -n` (`--check` validates, `--all` prints every setting).
    Config(cmd::config::Args),
    /// Show the running server's counters (connections, logins, failures, commands, deliveries), like `doveadm stats dump`.
    Stats(cmd::stats::Args),
}

/// Exit status for a command line that does not parse (sysexits' EX_USAGE),
/// as doveadm and dovecot-lda use it; MTAs treat it as a permanent failure.
const EX_USAGE: u8 = 64;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // `--help` and `--version` also arrive here, on stdout, with success.
            let _ = error.print();
            return if error.use_stderr() {
                ExitCode::from(EX_USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match cli.command {
        Command::Pw(args) => cmd::pw::run(args),
        Command::Auth(args) => cmd::auth::run(args),
        Command::Deliver(args) => cmd::deliver::run(args),
        Command::Dump(args) => cmd::dump::run(args),
        Command::MaildirList(args) => cmd::maildir_list::run(args),
        Command::ImapTrace(args) => cmd::imap_trace::run(args),
        Command::Pop3Trace(args) => cmd::pop3_trace::run(args),
        Command::PrivsepStatus(args) => cmd::privsep_status::run(args),
        Command::Serve(args) => cmd::serve::run(args),
        Command::Config(args) => cmd::config::run(args),
        Command::Stats(args) => cmd::stats::run(args),
    }
}

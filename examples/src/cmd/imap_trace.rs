//! `columba imap-trace FILE`: decode both directions of an IMAP transcript.

use std::path::PathBuf;
use std::process::ExitCode;

use columba_imap_proto::transcript::trace;

/// Arguments of `columba imap-trace`.
#[derive(clap::Args)]
pub struct Args {
    /// Transcript file: lines starting with `C: ` or `S: `.
    pub file: PathBuf,
}

/// Runs the subcommand: one line per message, exit status 1 if any failed.
pub fn run(args: Args) -> ExitCode {
    let transcript = match std::fs::read(&args.file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("columba imap-trace: {}: {e}", args.file.display());
            return ExitCode::FAILURE;
        }
    };
    let entries = trace(&transcript);
    let mut failed = false;
    for entry in &entries {
        failed |= entry.result.is_err();
        println!("{entry}");
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

//! `columba pop3-trace FILE`: decode both directions of a POP3 transcript.

use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `columba pop3-trace`.
#[derive(clap::Args)]
pub struct Args {
    /// Transcript file: lines starting with `C: ` or `S: `.
    pub file: PathBuf,
}

/// Runs the subcommand: one `ok`/`error` line per message; exit status 1
/// if any message failed to decode.
pub fn run(args: Args) -> ExitCode {
    let transcript = match std::fs::read(&args.file) {
        Ok(bytes) => bytes,
        Err(error) => {
            eprintln!("columba pop3-trace: {}: {error}", args.file.display());
            return ExitCode::FAILURE;
        }
    };
    let entries = columba_pop3_proto::transcript::trace(&transcript);
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

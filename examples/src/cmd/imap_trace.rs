//! `columba imap-trace FILE`: decode both directions of an IMAP transcript.

use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `columba imap-trace`.
#[derive(clap::Args)]
pub struct Args {
    /// Transcript file: lines starting with `C: ` or `S: `.
    pub file: PathBuf,
}

/// Runs the subcommand.
pub fn run(args: Args) -> ExitCode {
    eprintln!(
        "columba imap-trace {}: the IMAP decoder is not built yet",
        args.file.display()
    );
    ExitCode::FAILURE
}

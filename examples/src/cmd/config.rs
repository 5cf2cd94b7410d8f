//! `columba config [--check] [--all] FILE`: reads a `columba.toml` and
//! prints its settings in `doveconf`'s shape, by default only those that
//! differ from the defaults (`doveconf -n`); `--check` also validates it,
//! printing each problem with its setting's name.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::serve::Config;

/// sysexits' EX_CONFIG: the configuration is wrong.
const EX_CONFIG: u8 = 78;

/// Arguments of `columba config`.
#[derive(clap::Args)]
pub struct Args {
    /// The configuration file.
    pub file: PathBuf,
    /// Validate the file: files present, names known, listeners unique...
    #[arg(long)]
    pub check: bool,
    /// Print every setting, not only those that differ from the defaults.
    #[arg(long, short = 'a')]
    pub all: bool,
}

/// Runs the subcommand: exit status 78 (EX_CONFIG) for a file that does
/// not parse or, with `--check`, does not validate.
pub fn run(args: Args) -> ExitCode {
    let config = match Config::load(&args.file) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("columba config: {e}");
            return ExitCode::from(EX_CONFIG);
        }
    };
    if args.check {
        if let Err(e) = config.validate() {
            let text = e.to_string();
            let problems = text.strip_prefix("configuration: ").unwrap_or(&text);
            for line in problems.lines() {
                eprintln!("columba config: {}: {line}", args.file.display());
            }
            return ExitCode::from(EX_CONFIG);
        }
    }
    print!("{}", config.render(!args.all));
    ExitCode::SUCCESS
}

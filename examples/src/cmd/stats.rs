//! `columba stats [--config FILE] [--json]`: the running server's
//! counters (connections, logins, failed logins, commands, deliveries),
//! read from the stats process, like `doveadm stats dump`.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::serve::Config;

/// Arguments of `columba stats`.
#[derive(clap::Args)]
pub struct Args {
    /// The server's configuration (for base_dir).
    #[arg(long, default_value = "/etc/columba/columba.toml")]
    pub config: PathBuf,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Runs the subcommand: exit status 1 when the server cannot be reached.
pub fn run(args: Args) -> ExitCode {
    let config = match Config::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("columba stats: {e}");
            return ExitCode::FAILURE;
        }
    };
    let counters = match crate::serve::stats::dump(&config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("columba stats: is the server running? {e}");
            return ExitCode::FAILURE;
        }
    };
    if args.json {
        let map: serde_json::Map<String, serde_json::Value> = counters
            .into_iter()
            .map(|(k, v)| (k, serde_json::Value::from(v)))
            .collect();
        println!("{}", serde_json::Value::Object(map));
    } else {
        println!("{:<32} {:>12}", "counter", "value");
        for (k, v) in counters {
            println!("{k:<32} {v:>12}");
        }
    }
    ExitCode::SUCCESS
}

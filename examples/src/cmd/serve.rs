//! `columba serve`: the Columba server in Dovecot's process model (see
//! `serve::master`). `--config FILE` runs a `columba.toml`; `--demo`
//! writes one for loopback (a demo user, a self-signed certificate,
//! non-privileged ports) and runs it the same way. The hidden `--role`
//! entry is how the master starts each of its role processes.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::serve::demo::{self, DemoOptions};
use crate::serve::master::{self, Bound};
use crate::serve::role::Role;

/// Arguments of `columba serve`.
#[derive(clap::Args)]
pub struct Args {
    /// Create (or reuse) a demo data directory with a demo user and a
    /// self-signed certificate, and serve it.
    #[arg(long)]
    pub demo: bool,
    /// The demo's data directory.
    #[arg(long, default_value = "columba-demo")]
    pub data: PathBuf,
    /// Address the demo listens on.
    #[arg(long, default_value = "127.0.0.1")]
    pub listen: IpAddr,
    /// Demo IMAP port (STARTTLS); 0 picks a free port.
    #[arg(long, default_value_t = 1143)]
    pub imap_port: u16,
    /// Demo IMAP port with implicit TLS.
    #[arg(long, default_value_t = 1993)]
    pub imaps_port: u16,
    /// Demo POP3 port (STLS).
    #[arg(long, default_value_t = 1110)]
    pub pop3_port: u16,
    /// Demo POP3 port with implicit TLS.
    #[arg(long, default_value_t = 1995)]
    pub pop3s_port: u16,
    /// Demo LMTP port.
    #[arg(long, default_value_t = 2424)]
    pub lmtp_port: u16,
    /// Refuse plaintext authentication without TLS even from loopback
    /// (the demo's configuration gets `ssl = required`).
    #[arg(long)]
    pub require_tls: bool,
    /// The configuration file (`columba.toml`, Dovecot's setting names).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Internal: run as this role of the process model (the master starts
    /// roles with it; not for use by hand).
    #[arg(long, hide = true, requires = "config")]
    pub role: Option<String>,
}

/// Runs `columba serve`.
pub fn run(args: Args) -> ExitCode {
    if let Some(name) = &args.role {
        let Some(role) = Role::from_name(name) else {
            eprintln!("columba serve: unknown role {name:?}");
            return ExitCode::from(64);
        };
        let config = args.config.clone().unwrap_or_default();
        return crate::serve::dispatch::run_role(role, &config);
    }
    if args.demo {
        return run_demo(&args);
    }
    let Some(config) = &args.config else {
        eprintln!("columba serve: give --config FILE (columba.toml) or --demo");
        return ExitCode::from(64);
    };
    let mut on_ready = |bound: &Bound| {
        for l in &bound.inet {
            println!("  {} {} ({})", l.spec.name, l.addr, l.spec.role.name());
        }
        for l in &bound.unix {
            println!(
                "  {} {} ({})",
                l.spec.name,
                l.path.display(),
                l.spec.role.name()
            );
        }
        println!("ready");
        let _ = std::io::stdout().flush();
    };
    run_master(config, &mut on_ready)
}

/// `--demo`: writes the demo's configuration, then runs it; the banner
/// names the bound ports and ends with `ready`.
fn run_demo(args: &Args) -> ExitCode {
    let options = DemoOptions {
        listen: args.listen,
        imap_port: args.imap_port,
        imaps_port: args.imaps_port,
        pop3_port: args.pop3_port,
        pop3s_port: args.pop3s_port,
        lmtp_port: args.lmtp_port,
        require_tls: args.require_tls,
    };
    let prepared = match demo::prepare(&args.data, &options) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("columba serve: {}: {e}", args.data.display());
            return ExitCode::FAILURE;
        }
    };
    let mut on_ready = |bound: &Bound| {
        let listeners: Vec<(String, std::net::SocketAddr)> = bound
            .inet
            .iter()
            .map(|l| (l.spec.name.clone(), l.addr))
            .collect();
        print!("{}", prepared.banner(&listeners));
        println!("ready");
        let _ = std::io::stdout().flush();
    };
    run_master(&prepared.config_path, &mut on_ready)
}

fn run_master(config: &Path, on_ready: &mut dyn FnMut(&Bound)) -> ExitCode {
    match master::run(config, on_ready) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            crate::serve::log::fatal("master", &e.to_string());
            ExitCode::FAILURE
        }
    }
}

//! `columba privsep-status [PID...]`: the privileges of running processes
//! (uid, gid, groups, no_new_privs, seccomp, capabilities, root), to audit a
//! login or post-login process, Columba's or Dovecot's. `--allow-list`
//! prints the login process's seccomp allow-list with the reason for each.

use std::process::ExitCode;

use columba_privsep::seccomp::login_allow_list;
use columba_privsep::ProcessPrivileges;

/// Arguments of `columba privsep-status`.
#[derive(clap::Args)]
pub struct Args {
    /// Process ids to inspect (default: this process).
    pub pids: Vec<u32>,
    /// Print the login seccomp allow-list instead.
    #[arg(long)]
    pub allow_list: bool,
}

/// Runs the subcommand: one line per process; exit status 1 if any could
/// not be read.
pub fn run(args: Args) -> ExitCode {
    if args.allow_list {
        for syscall in login_allow_list() {
            println!(
                "{:<16} {:>4}  {}",
                syscall.name, syscall.number, syscall.why
            );
        }
        return ExitCode::SUCCESS;
    }
    let pids = if args.pids.is_empty() {
        vec![std::process::id()]
    } else {
        args.pids
    };
    let mut failed = false;
    for pid in pids {
        match ProcessPrivileges::of_pid(pid) {
            Ok(p) => println!("{p}"),
            Err(e) => {
                eprintln!("columba privsep-status: {pid}: {e}");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

//! The master process: reads the configuration, prepares `base_dir`,
//! starts the singleton roles in order (log, anvil, auth, stats, indexer),
//! binds the listeners, starts a process per client connection, passes
//! authenticated clients from login to post-login processes, reaps and
//! restarts children, and shuts everything down on SIGTERM/SIGINT.

pub mod children;
pub mod connections;
pub mod exit_status;
pub mod listeners;
pub mod say;
pub mod session_id;
pub mod singletons;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::serve::config::Config;
use crate::serve::error::ServeError;
use crate::serve::role::Role;

pub use listeners::Bound;

/// How long children get to finish after `Shutdown` before they are killed.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// A login role's chroot directory: its service's `chroot` (Dovecot's
/// default `login`) under `base_dir`; `None` when set empty (no chroot).
pub fn login_chroot(config: &Config, role: Role) -> Option<PathBuf> {
    let chroot = config
        .service(role.name())
        .chroot
        .unwrap_or_else(|| "login".into());
    if chroot.is_empty() {
        return None;
    }
    Some(config.base_dir.join(chroot))
}

/// Creates `base_dir` (0755) and the login roles' empty chroot
/// directories (0755).
fn prepare_base_dir(config: &Config) -> Result<(), ServeError> {
    let chroots: Vec<PathBuf> = [Role::ImapLogin, Role::Pop3Login]
        .into_iter()
        .filter_map(|role| login_chroot(config, role))
        .collect();
    for dir in std::iter::once(&config.base_dir).chain(&chroots) {
        std::fs::create_dir_all(dir)
            .map_err(|e| ServeError::io(format!("mkdir({})", dir.display()), e))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| ServeError::io(format!("chmod({})", dir.display()), e))?;
    }
    for chroot in &chroots {
        let mut entries = std::fs::read_dir(chroot)
            .map_err(|e| ServeError::io(format!("opendir({})", chroot.display()), e))?;
        if entries.next().is_some() {
            return Err(ServeError::Config(format!(
                "the login chroot {} is not empty",
                chroot.display()
            )));
        }
    }
    Ok(())
}

/// What the master cannot do when it does not run as root, said once.
fn report_skipped_privileges(config: &Config) {
    if columba_privsep::ids::is_root() {
        return;
    }
    let uid = columba_privsep::ids::effective_uid();
    say::warning(&format!(
        "not running as root (uid {uid}): login processes keep uid {uid} instead of \
         default_login_user={} and are not chrooted to {}; post-login and lmtp processes \
         keep uid {uid} instead of the users' uids; no_new_privs, seccomp and rlimits \
         still apply to login processes",
        config.default_login_user,
        login_chroot(config, Role::ImapLogin)
            .map_or_else(|| "-".into(), |d| d.display().to_string())
    ));
}

/// Runs the master until SIGTERM or SIGINT. `on_ready` is called once
/// every listener accepts (the demo prints its banner there).
pub fn run(config_path: &Path, on_ready: &mut dyn FnMut(&Bound)) -> Result<(), ServeError> {
    let config_path = std::fs::canonicalize(config_path)
        .map_err(|e| ServeError::io(format!("{}", config_path.display()), e))?;
    let config = Config::load(&config_path)?;
    config.validate()?;
    let term = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, term.clone())
            .map_err(|e| ServeError::io("install a signal handler", e))?;
    }
    // Dovecot's words: `Dovecot v2.3.19.1 starting up for imap, pop3, lmtp`.
    let protocols: Vec<&str> = config
        .protocols
        .iter()
        .map(|p| match p {
            crate::serve::config::Protocol::Imap => "imap",
            crate::serve::config::Protocol::Pop3 => "pop3",
            crate::serve::config::Protocol::Lmtp => "lmtp",
        })
        .collect();
    say::info(&format!(
        "Columba v{} starting up for {}",
        env!("CARGO_PKG_VERSION"),
        protocols.join(", ")
    ));
    report_skipped_privileges(&config);
    prepare_base_dir(&config)?;

    let mut min_avail = std::collections::HashMap::new();
    for (role, protocol) in [
        (Role::ImapLogin, crate::serve::config::Protocol::Imap),
        (Role::Pop3Login, crate::serve::config::Protocol::Pop3),
    ] {
        if config.serves(protocol) {
            let n = config.service(role.name()).process_min_avail.unwrap_or(0);
            min_avail.insert(role, n as usize);
        }
    }
    // Only a process_limit the configuration sets for a login or
    // post-login service is enforced (Dovecot's default of 100 would
    // refuse what the demo serves).
    let mut process_limit = std::collections::HashMap::new();
    for role in [Role::ImapLogin, Role::Pop3Login, Role::Imap, Role::Pop3] {
        if let Some(limit) = config.service(role.name()).process_limit {
            process_limit.insert(role, limit.max(1) as usize);
        }
    }
    let shared = children::Shared::new(
        &config_path,
        config.socket("log"),
        min_avail,
        process_limit,
        term.clone(),
    );
    let singletons = match singletons::start_all(&shared) {
        Ok(s) => s,
        Err(e) => {
            shared.shutting_down.store(true, Ordering::SeqCst);
            return Err(e);
        }
    };
    let bound = match listeners::bind(&config) {
        Ok(b) => b,
        Err(e) => {
            stop(&shared, &singletons);
            return Err(e);
        }
    };
    for role in [Role::ImapLogin, Role::Pop3Login, Role::Imap, Role::Pop3] {
        connections::refill(&shared, role);
    }
    on_ready(&bound);
    let Bound { inet, unix } = bound;
    for listener in inet {
        let shared = shared.clone();
        std::thread::Builder::new()
            .name(format!("accept-{}", listener.spec.name))
            .spawn(move || connections::accept_inet(shared, listener))
            .map_err(|e| ServeError::io("start an accept thread", e))?;
    }
    for listener in unix {
        let shared = shared.clone();
        std::thread::Builder::new()
            .name(format!("accept-{}", listener.spec.name))
            .spawn(move || connections::accept_unix(shared, listener))
            .map_err(|e| ServeError::io("start an accept thread", e))?;
    }
    // SIGHUP (logrotate's usual signal): the log role reopens its files.
    // Reloading the configuration is not supported; the master says so
    // instead of ending, which SIGHUP's default would do.
    let hup = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, hup.clone())
        .map_err(|e| ServeError::io("install a signal handler", e))?;
    while !term.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(100));
        if hup.swap(false, Ordering::SeqCst) {
            let log = singletons.iter().find(|s| s.role == Role::Log);
            if let Some(pid) = log.and_then(|s| singletons::pid(s)) {
                signal(pid, rustix::process::Signal::HUP);
            }
            say::warning(
                "SIGHUP: log files reopened; the configuration is not reloaded (restart to apply changes)",
            );
        }
    }
    say::info("Shutting down: stopping every process");
    stop(&shared, &singletons);
    Ok(())
}

/// Sends `Shutdown` to the per-connection processes, then to the
/// singletons (the log role last), and kills what is left after the grace.
fn stop(shared: &Arc<children::Shared>, singletons: &[Arc<singletons::Singleton>]) {
    shared.shutting_down.store(true, Ordering::SeqCst);
    let mut pids = shared.shutdown_running();
    wait_gone(&mut pids, SHUTDOWN_GRACE);
    for pid in pids {
        kill(pid);
    }
    let mut pids: Vec<u32> = singletons
        .iter()
        .rev()
        .filter(|s| s.role != Role::Log)
        .filter_map(|s| singletons::shutdown(s))
        .collect();
    wait_gone(&mut pids, SHUTDOWN_GRACE);
    for pid in pids {
        kill(pid);
    }
    let mut pids: Vec<u32> = singletons
        .iter()
        .filter(|s| s.role == Role::Log)
        .filter_map(|s| singletons::shutdown(s))
        .collect();
    wait_gone(&mut pids, Duration::from_secs(1));
    for pid in pids {
        kill(pid);
    }
}

/// Waits until none of `pids` exists any more (their reaper threads have
/// waited for them), or `grace` passed; leaves the survivors in `pids`.
fn wait_gone(pids: &mut Vec<u32>, grace: Duration) {
    let deadline = Instant::now() + grace;
    loop {
        pids.retain(|pid| exists(*pid));
        if pids.is_empty() || Instant::now() >= deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn exists(pid: u32) -> bool {
    let Some(pid) = rustix::process::Pid::from_raw(pid as i32) else {
        return false;
    };
    // A zombie still "exists" until its reaper thread waits for it; the
    // /proc state tells a zombie apart.
    if rustix::process::test_kill_process(pid).is_err() {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{}/stat", pid.as_raw_nonzero())) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

fn kill(pid: u32) {
    signal(pid, rustix::process::Signal::KILL);
}

fn signal(pid: u32, signal: rustix::process::Signal) {
    if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
        let _ = rustix::process::kill_process(pid, signal);
    }
}

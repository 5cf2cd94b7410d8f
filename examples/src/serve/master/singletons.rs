//! The singleton roles (log, anvil, auth, stats, indexer): started in
//! order, each awaited until it reports `Ready`, restarted when it dies.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use columba_privsep::FdChannel;

use crate::serve::control::Control;
use crate::serve::error::ServeError;
use crate::serve::role::{Role, Spawned};

use super::children::Shared;
use super::{exit_status, say};

/// The singletons, in start order.
pub const SINGLETONS: [Role; 5] = [
    Role::Log,
    Role::Anvil,
    Role::Auth,
    Role::Stats,
    Role::Indexer,
];

/// How long a singleton may take to report `Ready`.
const READY_TIMEOUT: Duration = Duration::from_secs(15);
/// A singleton that dies sooner than this after its start is restarted
/// only after this delay (Dovecot throttles crashing services too).
const RESTART_THROTTLE: Duration = Duration::from_secs(1);

/// A running singleton: its pid and control channel, replaced on restart.
pub struct Singleton {
    /// Which role.
    pub role: Role,
    /// The current process's pid and control channel.
    pub current: Mutex<Option<(u32, FdChannel)>>,
}

/// Starts `role` and waits for its `Ready`.
fn start(shared: &Shared, role: Role) -> Result<(std::process::Child, FdChannel), ServeError> {
    let Spawned {
        mut child,
        mut control,
    } = shared.spawn(role)?;
    let _ = control.stream().set_read_timeout(Some(READY_TIMEOUT));
    let outcome = Control::recv(&mut control);
    let _ = control.stream().set_read_timeout(None);
    let failure = match outcome {
        Ok(Some((Control::Ready, _))) => return Ok((child, control)),
        Ok(Some((other, _))) => format!("sent {other:?} instead of READY"),
        Ok(None) => match child.wait() {
            Ok(status) => match exit_status::describe(role.name(), child.id(), status) {
                Some(text) => format!("ended before it was ready: {text}"),
                None => "exited before it was ready".into(),
            },
            Err(e) => format!("ended before it was ready ({e})"),
        },
        Err(e) => format!("not ready within {}s: {e}", READY_TIMEOUT.as_secs()),
    };
    let _ = child.kill();
    let _ = child.wait();
    Err(ServeError::Control(format!(
        "service({}): {failure}",
        role.name()
    )))
}

/// Starts every singleton in order, each after the one before is ready,
/// and keeps each running: a supervisor thread per singleton restarts it
/// when it dies (unless the master is shutting down).
pub fn start_all(shared: &Arc<Shared>) -> Result<Vec<Arc<Singleton>>, ServeError> {
    let mut out = Vec::new();
    for role in SINGLETONS {
        let (child, control) = start(shared, role)?;
        if role == Role::Log {
            shared.log_ready.store(true, Ordering::SeqCst);
            shared.master_logs_to_log_role();
        }
        let singleton = Arc::new(Singleton {
            role,
            current: Mutex::new(Some((child.id(), control))),
        });
        let supervised = singleton.clone();
        let shared = shared.clone();
        std::thread::Builder::new()
            .name(format!("supervise-{}", role.name()))
            .spawn(move || supervise(&shared, &supervised, child))
            .map_err(|e| ServeError::io("start a supervisor thread", e))?;
        out.push(singleton);
    }
    Ok(out)
}

fn supervise(shared: &Arc<Shared>, singleton: &Singleton, mut child: std::process::Child) {
    let role = singleton.role;
    loop {
        let started = Instant::now();
        let status = child.wait();
        if role == Role::Log {
            // Until a new log role runs (or for the rest of a shutdown),
            // the master and new children log to the master's own
            // standard error.
            shared.log_ready.store(false, Ordering::SeqCst);
            shared.master_logs_to_own_stderr();
        }
        if shared.stopping() {
            return;
        }
        match status {
            Ok(status) => {
                let text =
                    exit_status::describe(role.name(), child.id(), status).unwrap_or_else(|| {
                        format!("service({}): child {} exited", role.name(), child.id())
                    });
                say::error(&text);
            }
            Err(e) => say::error(&format!("service({}): waitpid: {e}", role.name())),
        }
        if let Ok(mut current) = singleton.current.lock() {
            *current = None;
        }
        if started.elapsed() < RESTART_THROTTLE {
            std::thread::sleep(RESTART_THROTTLE);
        }
        loop {
            if shared.stopping() {
                return;
            }
            match start(shared, role) {
                Ok((new_child, control)) => {
                    if let Ok(mut current) = singleton.current.lock() {
                        *current = Some((new_child.id(), control));
                    }
                    child = new_child;
                    if role == Role::Log {
                        shared.log_ready.store(true, Ordering::SeqCst);
                        shared.master_logs_to_log_role();
                    }
                    if role == Role::Auth || role == Role::Log {
                        // Pre-started login processes hold a connection to
                        // the auth (or log) process that died: replace them.
                        renew_idle(shared);
                    }
                    break;
                }
                Err(e) => {
                    say::error(&format!("{e}; retrying"));
                    std::thread::sleep(RESTART_THROTTLE);
                }
            }
        }
    }
}

/// Ends every idle pre-started login process and starts fresh ones.
fn renew_idle(shared: &Arc<Shared>) {
    for role in [Role::ImapLogin, Role::Pop3Login] {
        while let Some(Spawned {
            mut child,
            mut control,
        }) = shared.take_idle(role)
        {
            let _ = Control::Shutdown.send(&mut control, None);
            let _ = child.kill();
            let _ = child.wait();
            shared.unregister(child.id());
        }
        super::connections::refill(shared, role);
    }
}

/// The singleton's current pid, if it runs.
pub fn pid(singleton: &Singleton) -> Option<u32> {
    singleton.current.lock().ok()?.as_ref().map(|(pid, _)| *pid)
}

/// Sends `Shutdown` to a singleton; returns its pid.
pub fn shutdown(singleton: &Singleton) -> Option<u32> {
    let mut current = singleton.current.lock().ok()?;
    let (pid, control) = current.as_mut()?;
    let _ = Control::Shutdown.send(control, None);
    Some(*pid)
}

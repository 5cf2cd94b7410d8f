//! The master's view of its children: starting a role with its stderr on
//! the log role, and the registry of running per-connection processes
//! that shutdown walks.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use columba_privsep::{FdChannel, PeerPolicy};

use crate::serve::control::Control;
use crate::serve::error::ServeError;
use crate::serve::role::{self, Role, Spawned};

use super::say;

/// What every master thread shares.
pub struct Shared {
    /// The configuration file every role reads.
    pub config_path: PathBuf,
    /// The log role's socket (`base_dir/log`).
    pub log_socket: PathBuf,
    /// Set once the log role is ready: children then log through it.
    pub log_ready: AtomicBool,
    /// Set when the master shuts down.
    pub shutting_down: AtomicBool,
    /// Set by SIGTERM/SIGINT.
    pub signalled: Arc<AtomicBool>,
    /// Running per-connection processes: pid to a sending end of their
    /// control channel (for `Shutdown`).
    pub running: Mutex<HashMap<u32, (Role, UnixStream)>>,
    /// Pre-started processes waiting for a client, per role.
    pub idle: Mutex<HashMap<Role, Vec<Spawned>>>,
    /// How many idle processes to keep per role (`process_min_avail`).
    pub min_avail: HashMap<Role, usize>,
    /// Most processes per login role, where the service block sets
    /// `process_limit`.
    pub process_limit: HashMap<Role, usize>,
    /// Clients being served, per role of their first process.
    pub serving: Mutex<HashMap<Role, usize>>,
    /// The master's own standard error as it started, for its lines while
    /// the log role is not there.
    pub original_stderr: Option<OwnedFd>,
}

impl Shared {
    /// A new shared state.
    pub fn new(
        config_path: &Path,
        log_socket: PathBuf,
        min_avail: HashMap<Role, usize>,
        process_limit: HashMap<Role, usize>,
        signalled: Arc<AtomicBool>,
    ) -> Arc<Shared> {
        Arc::new(Shared {
            config_path: config_path.to_path_buf(),
            log_socket,
            log_ready: AtomicBool::new(false),
            shutting_down: AtomicBool::new(false),
            signalled,
            running: Mutex::new(HashMap::new()),
            idle: Mutex::new(HashMap::new()),
            min_avail,
            process_limit,
            serving: Mutex::new(HashMap::new()),
            original_stderr: rustix::io::dup(std::io::stderr()).ok(),
        })
    }

    /// Counts a client of `role` from its accept until its process ended.
    pub fn client_started(&self, role: Role) {
        if let Ok(mut serving) = self.serving.lock() {
            *serving.entry(role).or_default() += 1;
        }
    }

    /// The client's process ended.
    pub fn client_ended(&self, role: Role) {
        if let Ok(mut serving) = self.serving.lock() {
            let n = serving.entry(role).or_default();
            *n = n.saturating_sub(1);
        }
    }

    /// How many clients processes of `role` serve.
    pub fn count(&self, role: Role) -> usize {
        self.serving
            .lock()
            .map(|s| s.get(&role).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// Waits while `role` is at its `process_limit`, as Dovecot's master
    /// stops accepting then (clients wait in the listen queue); warns once
    /// per time the limit is reached.
    pub fn wait_for_room(&self, role: Role) {
        let Some(&limit) = self.process_limit.get(&role) else {
            return;
        };
        let mut warned = false;
        while self.count(role) >= limit && !self.stopping() {
            if !warned {
                say::warning(&format!(
                    "service({}): process_limit ({limit}) reached, client connections are being dropped",
                    role.name()
                ));
                warned = true;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// Counts a client of the post-login `role` if its `process_limit`
    /// leaves room, waiting until `deadline` for a process to end (the
    /// client waits at its login meanwhile); warns once as Dovecot does.
    /// False if there was no room in time. A role without a configured
    /// limit always has room. Checking and counting are one step, so
    /// handoffs arriving together cannot overshoot the limit.
    pub fn reserve_room(&self, role: Role, deadline: std::time::Instant) -> bool {
        let limit = self.process_limit.get(&role).copied();
        let mut warned = false;
        loop {
            if let Ok(mut serving) = self.serving.lock() {
                let n = serving.entry(role).or_default();
                if limit.is_none_or(|l| *n < l) {
                    *n += 1;
                    return true;
                }
            }
            if !warned {
                say::warning(&format!(
                    "service({}): process_limit ({}) reached, client connections are being dropped",
                    role.name(),
                    limit.unwrap_or(0)
                ));
                warned = true;
            }
            if self.stopping() || std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// An idle pre-started process of `role`, if any.
    pub fn take_idle(&self, role: Role) -> Option<Spawned> {
        self.idle.lock().ok()?.get_mut(&role)?.pop()
    }

    /// Keeps a pre-started process of `role` for the next client.
    pub fn put_idle(&self, role: Role, spawned: Spawned) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.entry(role).or_default().push(spawned);
        }
    }

    /// How many more idle processes `role` wants.
    pub fn idle_wanted(&self, role: Role) -> usize {
        let want = self.min_avail.get(&role).copied().unwrap_or(0);
        let have = self
            .idle
            .lock()
            .map(|idle| idle.get(&role).map_or(0, Vec::len))
            .unwrap_or(want);
        want.saturating_sub(have)
    }

    /// Whether the master is shutting down.
    pub fn stopping(&self) -> bool {
        // A service manager may signal every process of the server at
        // once: a child that died of it is part of the shutdown too.
        self.shutting_down.load(Ordering::SeqCst) || self.signalled.load(Ordering::SeqCst)
    }

    /// A connection to the log role for a child's standard error, or
    /// `None` (the master's own standard error) while the log role is not
    /// there.
    pub fn log_stream(&self) -> Option<OwnedFd> {
        if !self.log_ready.load(Ordering::SeqCst) {
            return None;
        }
        match UnixStream::connect(&self.log_socket) {
            Ok(s) => Some(OwnedFd::from(s)),
            Err(e) => {
                say::error(&format!(
                    "connect({}) failed: {e}; the child logs to the master's stderr",
                    self.log_socket.display()
                ));
                None
            }
        }
    }

    /// The master's own lines go to the log role from now on (with its
    /// timestamps, to `log_path`), as Dovecot's master logs through its
    /// log process.
    pub fn master_logs_to_log_role(&self) {
        if let Some(fd) = self.log_stream() {
            let _ = rustix::stdio::dup2_stderr(&fd);
        }
    }

    /// The master's own lines go to its original standard error again
    /// (the log role died).
    pub fn master_logs_to_own_stderr(&self) {
        if let Some(fd) = &self.original_stderr {
            let _ = rustix::stdio::dup2_stderr(fd);
        }
    }

    /// Starts `role` with its standard error on the log role.
    pub fn spawn(&self, role: Role) -> Result<Spawned, ServeError> {
        let stderr = if role == Role::Log {
            None
        } else {
            self.log_stream()
        };
        role::spawn(role, &self.config_path, stderr)
    }

    /// Records a running per-connection process.
    pub fn register(&self, pid: u32, role: Role, control: &FdChannel) {
        if let Ok(stream) = control.stream().try_clone() {
            if let Ok(mut running) = self.running.lock() {
                running.insert(pid, (role, stream));
            }
        }
    }

    /// Forgets a per-connection process that ended.
    pub fn unregister(&self, pid: u32) {
        if let Ok(mut running) = self.running.lock() {
            running.remove(&pid);
        }
    }

    /// Sends `Shutdown` to every running per-connection process; returns
    /// their pids.
    pub fn shutdown_running(&self) -> Vec<u32> {
        let Ok(running) = self.running.lock() else {
            return Vec::new();
        };
        let mut pids = Vec::new();
        for (pid, (_, stream)) in running.iter() {
            if let Ok(s) = stream.try_clone() {
                let mut channel = FdChannel::new(s, PeerPolicy::any());
                let _ = Control::Shutdown.send(&mut channel, None);
            }
            pids.push(*pid);
        }
        pids
    }
}

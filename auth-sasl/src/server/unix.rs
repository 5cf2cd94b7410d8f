//! Serving an [`AuthServer`] on Unix sockets the way Dovecot's auth process
//! does: one thread per connection, password checks on a [`WorkerPool`],
//! failure delays and the per-IP penalty applied by the connection's thread.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{AuthServer, WorkerPool};
use crate::password::random::random_hex;
use crate::protocol::master_conn::{MasterAction, MasterConnection};
use crate::protocol::server_conn::{
    Action, BackendJob, BackendReply, ClientConnection, ConnectionInfo, REQUEST_TIMEOUT,
};
use crate::sasl::ServerOptions;
use crate::{Error, Result};

/// Which protocol a socket speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketKind {
    /// auth-client (Postfix, Exim): authentication only.
    Client,
    /// auth-client, login variant: results can be picked up by `REQUEST`.
    Login,
    /// auth-master: USER, PASS, LIST, REQUEST, CACHE-FLUSH.
    Master,
    /// auth-userdb: USER, PASS, LIST.
    Userdb,
}

/// Running listeners; dropping it (or [`shutdown`](Self::shutdown)) stops
/// accepting and removes the socket files.
pub struct AuthService {
    stop: Arc<AtomicBool>,
    listeners: Vec<(PathBuf, std::thread::JoinHandle<()>)>,
}

impl std::fmt::Debug for AuthService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthService")
            .field(
                "sockets",
                &self.listeners.iter().map(|(p, _)| p).collect::<Vec<_>>(),
            )
            .finish()
    }
}

static NEXT_CUID: AtomicU32 = AtomicU32::new(1);

impl AuthService {
    /// Binds the sockets (mode 0666, replacing stale files) and starts serving.
    pub fn start(
        server: Arc<AuthServer>,
        sockets: &[(PathBuf, SocketKind)],
    ) -> Result<AuthService> {
        let with_modes: Vec<(PathBuf, SocketKind, u32)> = sockets
            .iter()
            .map(|(path, kind)| (path.clone(), *kind, 0o666))
            .collect();
        AuthService::start_with_modes(server, &with_modes)
    }

    /// Binds each socket with its file mode (replacing stale files) and
    /// starts serving. A socket is bound in a directory only this user can
    /// enter, given its mode there and renamed into place, so it is never
    /// more open than configured, not even for an instant (the
    /// process-wide umask is left alone).
    ///
    /// On an `auth-userdb` socket of mode 0666, a peer that is not the
    /// socket's owner (user and group) may look up only its own uid's
    /// users, as in Dovecot; the owner and mode are read when the peer
    /// connects, so a later `chown` or `chmod` counts.
    pub fn start_with_modes(
        server: Arc<AuthServer>,
        sockets: &[(PathBuf, SocketKind, u32)],
    ) -> Result<AuthService> {
        let stop = Arc::new(AtomicBool::new(false));
        let workers = Arc::new(WorkerPool::new(server.config().worker_threads));
        let mut listeners = Vec::new();
        for (path, kind, mode) in sockets {
            let listener = super::bind::bind_socket(path, *mode)?;
            let (server, stop, workers, kind, socket_path) = (
                Arc::clone(&server),
                Arc::clone(&stop),
                Arc::clone(&workers),
                *kind,
                path.clone(),
            );
            let handle = std::thread::Builder::new()
                .name("auth-listener".into())
                .spawn(move || {
                    for stream in listener.incoming() {
                        if stop.load(Ordering::SeqCst) {
                            return;
                        }
                        let Ok(stream) = stream else { continue };
                        let (server, workers) = (Arc::clone(&server), Arc::clone(&workers));
                        let socket_path = socket_path.clone();
                        let _ =
                            std::thread::Builder::new()
                                .name("auth-conn".into())
                                .spawn(move || match kind {
                                    SocketKind::Client | SocketKind::Login => serve_client(
                                        stream,
                                        server,
                                        workers,
                                        kind == SocketKind::Login,
                                    ),
                                    SocketKind::Master | SocketKind::Userdb => serve_master(
                                        stream,
                                        &server,
                                        kind == SocketKind::Userdb,
                                        &socket_path,
                                    ),
                                });
                    }
                })
                .map_err(|e| Error::io("spawn listener thread", e))?;
            listeners.push((path.clone(), handle));
        }
        Ok(AuthService { stop, listeners })
    }

    /// Stops accepting and removes the sockets.
    pub fn shutdown(mut self) {
        self.stop_all();
    }

    fn stop_all(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for (path, handle) in self.listeners.drain(..) {
            // Wake accept(); if the socket file is already gone the thread
            // cannot be woken and is left to end with the process.
            if UnixStream::connect(&path).is_ok() {
                let _ = handle.join();
            }
            let _ = std::fs::remove_file(&path);
        }
    }
}

impl Drop for AuthService {
    fn drop(&mut self) {
        self.stop_all();
    }
}

enum Input {
    Data(Vec<u8>),
    Closed,
    Backend(u32, BackendReply),
}

/// Bound on remembered per-request penalty values (cancelled requests
/// leave theirs behind).
const LOOKED_UP_MAX: usize = 4096;

enum Delayed {
    Write(String),
    Job(u32, BackendJob),
}

fn serve_client(
    stream: UnixStream,
    server: Arc<AuthServer>,
    workers: Arc<WorkerPool>,
    login: bool,
) {
    let config = server.config().clone();
    let info = ConnectionInfo {
        server_pid: std::process::id(),
        connection_id: NEXT_CUID.fetch_add(1, Ordering::Relaxed),
        cookie: random_hex(16),
        login,
    };
    let cookie = info.cookie.clone();
    let options = ServerOptions {
        hostname: config.hostname.clone(),
        channel_binding: None,
        anonymous_username: config.anonymous_username.clone(),
    };
    let (mut conn, hello) = ClientConnection::new(info, &config.mechanisms, options);
    let mut writer = match stream.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    if writer.write_all(hello.as_bytes()).is_err() {
        return;
    }
    let (tx, rx) = channel::<Input>();
    let reader_tx = tx.clone();
    let mut reader = stream;
    let reader_thread = std::thread::spawn(move || {
        let mut buf = vec![0u8; 16384];
        loop {
            match reader.read(&mut buf) {
                Ok(0) | Err(_) => {
                    let _ = reader_tx.send(Input::Closed);
                    return;
                }
                Ok(n) => {
                    if reader_tx.send(Input::Data(buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
            }
        }
    });
    let mut delayed: Vec<(Instant, Delayed)> = Vec::new();
    // Each request's penalty value, looked up as of its arrival.
    let mut looked_up: HashMap<u32, u32> = HashMap::new();
    let mut last_expire = Instant::now();
    let mut input_closed = false;
    let dispatch = |id: u32, job: BackendJob, tx: &Sender<Input>| {
        let (server, tx) = (Arc::clone(&server), tx.clone());
        workers.run(move || {
            let reply = job.run(&server);
            let _ = tx.send(Input::Backend(id, reply));
        });
    };
    loop {
        let now = Instant::now();
        // Release what is due.
        let mut i = 0;
        while i < delayed.len() {
            if delayed[i].0 <= now {
                match delayed.swap_remove(i).1 {
                    Delayed::Write(line) => {
                        if writer.write_all(line.as_bytes()).is_err() {
                            input_closed = true;
                        }
                    }
                    Delayed::Job(id, job) => dispatch(id, job, &tx),
                }
            } else {
                i += 1;
            }
        }
        if input_closed || conn.is_closed() {
            break;
        }
        if now.duration_since(last_expire) > Duration::from_secs(5) {
            last_expire = now;
            let mut actions = conn.expire(now, REQUEST_TIMEOUT);
            while !actions.is_empty() {
                let inline = perform(
                    actions,
                    &server,
                    &config,
                    now,
                    &mut writer,
                    &mut delayed,
                    &mut looked_up,
                    &dispatch,
                    &tx,
                );
                actions = inline
                    .into_iter()
                    .flat_map(|(id, reply)| conn.backend_done(id, reply))
                    .collect();
            }
        }
        let wait = delayed
            .iter()
            .map(|(t, _)| t.saturating_duration_since(now))
            .min()
            .unwrap_or(Duration::from_secs(5))
            .min(Duration::from_secs(5));
        let actions = match rx.recv_timeout(wait) {
            Ok(Input::Data(d)) => conn.feed(&d, Instant::now()),
            Ok(Input::Backend(id, reply)) => conn.backend_done(id, reply),
            Ok(Input::Closed) => {
                input_closed = true;
                Vec::new()
            }
            Err(RecvTimeoutError::Timeout) => Vec::new(),
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let mut actions = actions;
        while !actions.is_empty() {
            let inline = perform(
                actions,
                &server,
                &config,
                Instant::now(),
                &mut writer,
                &mut delayed,
                &mut looked_up,
                &dispatch,
                &tx,
            );
            actions = inline
                .into_iter()
                .flat_map(|(id, reply)| conn.backend_done(id, reply))
                .collect();
        }
        if input_closed {
            break;
        }
    }
    let _ = writer.shutdown(std::net::Shutdown::Both);
    let _ = reader_thread.join();
    if let Some(pid) = conn.client_pid().filter(|_| login) {
        // Like Dovecot: finished logins go with the login connection.
        server.forget_logins(pid, &cookie);
    }
}

#[allow(clippy::too_many_arguments)]
fn perform(
    actions: Vec<Action>,
    server: &AuthServer,
    config: &super::AuthConfig,
    now: Instant,
    writer: &mut UnixStream,
    delayed: &mut Vec<(Instant, Delayed)>,
    looked_up: &mut HashMap<u32, u32>,
    dispatch: &dyn Fn(u32, BackendJob, &Sender<Input>),
    tx: &Sender<Input>,
) -> Vec<(u32, BackendReply)> {
    let mut inline = Vec::new();
    for action in actions {
        match action {
            Action::Send(line) => {
                let _ = writer.write_all(line.as_bytes());
            }
            Action::SendSuccess {
                id,
                line,
                remote_ip,
                event,
            } => {
                if let Some(log) = &config.event_log {
                    log(&event);
                }
                // Like Dovecot, a success clears a penalty the request had.
                if let (Some(ip), Some(1..)) = (remote_ip, looked_up.remove(&id)) {
                    server.penalty().success(ip);
                }
                let _ = writer.write_all(line.as_bytes());
            }
            Action::SendFailure {
                id,
                attempt,
                line,
                remote_ip,
                nodelay,
                penalize,
                event,
            } => {
                if let Some(log) = &config.event_log {
                    log(&event);
                }
                let before = looked_up.remove(&id);
                // Like Dovecot, only a delayed failure raises the penalty.
                if let (Some(ip), true, true, false) =
                    (remote_ip, penalize, config.penalty, nodelay)
                {
                    let mut penalty = server.penalty();
                    let before = before.unwrap_or_else(|| penalty.lookup(ip, now));
                    penalty.failure_after(ip, before, attempt, now);
                }
                if nodelay || config.failure_delay.is_zero() {
                    let _ = writer.write_all(line.as_bytes());
                } else {
                    delayed.push((now + config.failure_delay, Delayed::Write(line)));
                }
            }
            Action::Backend {
                id,
                no_penalty,
                arrived,
                job,
            } => {
                let wait = match job.remote_ip() {
                    Some(ip) if config.penalty && !no_penalty => {
                        let penalty = server.penalty();
                        let value = penalty.lookup(ip, arrived);
                        if looked_up.len() >= LOOKED_UP_MAX {
                            // Left over by cancelled requests.
                            looked_up.clear();
                        }
                        looked_up.insert(id, value);
                        penalty
                            .delay_for(value)
                            .saturating_sub(now.saturating_duration_since(arrived))
                    }
                    _ => Duration::ZERO,
                };
                if wait.is_zero() && !job.needs_worker(server) {
                    // Lookups and fast hashes: answer on this thread.
                    inline.push((id, job.run(server)));
                } else if wait.is_zero() {
                    dispatch(id, job, tx);
                } else {
                    delayed.push((now + wait, Delayed::Job(id, job)));
                }
            }
            Action::LoginFinished {
                client_pid,
                id,
                login,
            } => server.record_login(client_pid, id, login),
            Action::Disconnect(_) => {
                let _ = writer.shutdown(std::net::Shutdown::Both);
            }
        }
    }
    inline
}

fn serve_master(
    stream: UnixStream,
    server: &AuthServer,
    userdb_only: bool,
    socket_path: &std::path::Path,
) {
    let (mut conn, hello) = MasterConnection::new(std::process::id(), userdb_only);
    if let Ok(cred) = rustix::net::sockopt::socket_peercred(&stream) {
        conn.set_peer_pid(cred.pid.as_raw_nonzero().get() as u32);
    }
    // the socket's owner and mode now, after any chown/chmod since bind
    let owner = {
        use std::os::unix::fs::MetadataExt;
        match std::fs::metadata(socket_path) {
            Ok(m) => (m.uid(), m.gid(), m.mode() & 0o777),
            // gone or unreadable: treat it as open to all, the narrow case
            Err(_) => (u32::MAX, u32::MAX, 0o666),
        }
    };
    if userdb_only && owner.2 == 0o666 {
        match rustix::net::sockopt::socket_peercred(&stream) {
            Ok(cred) => {
                let (uid, gid) = (cred.uid.as_raw(), cred.gid.as_raw());
                if uid != owner.0 || gid != owner.1 {
                    conn.restrict_to_uid(uid);
                }
            }
            Err(_) => return,
        }
    }
    let mut writer = match stream.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    if writer.write_all(hello.as_bytes()).is_err() {
        return;
    }
    let mut reader = stream;
    let mut buf = vec![0u8; 4096];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        for action in conn.feed(&buf[..n], server) {
            match action {
                MasterAction::Send(text) => {
                    if writer.write_all(text.as_bytes()).is_err() {
                        return;
                    }
                }
                MasterAction::Disconnect(_) => return,
            }
        }
        if conn.is_closed() {
            return;
        }
    }
}

/// The socket paths Dovecot uses under a `base_dir`.
pub fn dovecot_sockets(base_dir: &Path) -> Vec<(PathBuf, SocketKind)> {
    vec![
        (base_dir.join("auth-client"), SocketKind::Client),
        (base_dir.join("auth-login"), SocketKind::Login),
        (base_dir.join("auth-master"), SocketKind::Master),
        (base_dir.join("auth-userdb"), SocketKind::Userdb),
    ]
}

//! Per-connection processes: for each accepted client the master starts a
//! login (or lmtp) process and hands it the socket; a login process that
//! authenticated hands the client back (`Handoff`), and the master starts
//! the post-login process with it. What a login process sends is
//! untrusted: the handoff must name the very connection the master gave
//! that process, come from that process, and carry one socket of the
//! expected kind.

use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

use columba_privsep::{FdChannel, FrameLimits};
use rustix::net::{getpeername, getsockname, AddressFamily};

use crate::serve::control::{ConnectionInfo, Control, Handoff, Service, MAX_SESSION_STATE};
use crate::serve::error::ServeError;
use crate::serve::role::{Role, Spawned};

use super::children::Shared;
use super::listeners::{BoundInet, BoundUnix, ListenerSpec};
use super::session_id::new_session_id;
use super::{exit_status, say};

/// Frame limits on a login process's channel: one socket, a handoff's
/// hex-encoded session state and its fields.
fn login_limits() -> FrameLimits {
    FrameLimits::new((2 * MAX_SESSION_STATE + 8192) as u32, 1)
}

/// Accepts clients on a TCP listener until shutdown, each in its own thread.
pub fn accept_inet(shared: Arc<Shared>, bound: BoundInet) {
    loop {
        shared.wait_for_room(bound.spec.role);
        let stream = bound.listener.accept().map(|(s, _)| s);
        if shared.stopping() {
            return;
        }
        let stream = match stream {
            Ok(s) => s,
            Err(e) => {
                say::error(&format!("accept({}) failed: {e}", bound.addr));
                std::thread::sleep(std::time::Duration::from_millis(50));
                continue;
            }
        };
        let unspecified = SocketAddr::new(IpAddr::from([0, 0, 0, 0]), 0);
        let info = ConnectionInfo {
            service: bound.spec.service,
            listener: bound.spec.name.clone(),
            implicit_tls: bound.spec.implicit_tls,
            local: stream.local_addr().unwrap_or(unspecified),
            remote: stream.peer_addr().unwrap_or(unspecified),
            session_id: new_session_id(bound.spec.service),
        };
        let _ = stream.set_nodelay(true);
        start_connection(&shared, &bound.spec, info, OwnedFd::from(stream));
    }
}

/// Accepts clients on a Unix listener (LMTP) until shutdown. Their
/// addresses are given as `0.0.0.0:0`.
pub fn accept_unix(shared: Arc<Shared>, bound: BoundUnix) {
    for stream in bound.listener.incoming() {
        if shared.stopping() {
            return;
        }
        let stream = match stream {
            Ok(s) => s,
            Err(e) => {
                say::error(&format!("accept({}) failed: {e}", bound.path.display()));
                std::thread::sleep(std::time::Duration::from_millis(50));
                continue;
            }
        };
        let unspecified = SocketAddr::new(IpAddr::from([0, 0, 0, 0]), 0);
        let info = ConnectionInfo {
            service: bound.spec.service,
            listener: bound.spec.name.clone(),
            implicit_tls: false,
            local: unspecified,
            remote: unspecified,
            session_id: new_session_id(bound.spec.service),
        };
        start_connection(&shared, &bound.spec, info, OwnedFd::from(stream));
    }
}
fn start_connection(shared: &Arc<Shared>, spec: &ListenerSpec, info: ConnectionInfo, fd: OwnedFd) {
    let shared = shared.clone();
    let role = spec.role;
    shared.client_started(role);
    let ended = shared.clone();
    let spawned = std::thread::Builder::new()
        .name("connection".into())
        .spawn(move || {
            if let Err(e) = run_connection(&shared, role, info, fd) {
                say::error(&format!("service({}): {e}", role.name()));
            }
            shared.client_ended(role);
        });
    if let Err(e) = spawned {
        ended.client_ended(role);
        say::error(&format!(
            "service({}): no thread for a connection: {e}",
            role.name()
        ));
    }
}

/// Starts the connection's process, gives it the client, then serves its
/// handoff (login roles) and reaps it.
fn run_connection(
    shared: &Arc<Shared>,
    role: Role,
    info: ConnectionInfo,
    fd: OwnedFd,
) -> Result<(), ServeError> {
    // A pre-started process (process_min_avail) if one is idle and still
    // takes the client, otherwise a new one.
    let mut taken = None;
    while let Some(Spawned { mut child, control }) = shared.take_idle(role) {
        let mut control = control.with_limits(login_limits());
        match Control::Connection(info.clone()).send(&mut control, Some(fd.as_fd())) {
            Ok(()) => {
                taken = Some((child, control, Ok(())));
                break;
            }
            Err(_) => {
                // It died while idle: reap it and try the next.
                let _ = child.kill();
                let _ = child.wait();
                shared.unregister(child.id());
            }
        }
    }
    refill(shared, role);
    let (mut child, mut control, sent) = match taken {
        Some(t) => t,
        None => {
            let Spawned { child, control } = shared.spawn(role)?;
            let mut control = control.with_limits(login_limits());
            shared.register(child.id(), role, &control);
            let sent = Control::Connection(info.clone()).send(&mut control, Some(fd.as_fd()));
            (child, control, sent)
        }
    };
    let pid = child.id();
    drop(fd);
    if let Err(e) = sent {
        say::error(&format!(
            "service({}): could not hand the client to child {pid}: {e}",
            role.name()
        ));
        let _ = child.kill();
    } else if role != Role::Lmtp {
        serve_handoffs(shared, role, pid, &info, &mut control, &mut child);
    }
    let status = child.wait();
    shared.unregister(pid);
    if let Ok(status) = status {
        if !shared.stopping() {
            if let Some(text) = exit_status::describe(role.name(), pid, status) {
                say::error(&text);
            }
        }
    }
    Ok(())
}

/// Reads the login process's messages until it closes its channel: at
/// most one valid `Handoff`, which starts the post-login process. Anything
/// else ends the login process.
fn serve_handoffs(
    shared: &Arc<Shared>,
    role: Role,
    pid: u32,
    info: &ConnectionInfo,
    control: &mut FdChannel,
    child: &mut std::process::Child,
) {
    let mut handed_off = false;
    loop {
        let refusal = match Control::recv(control) {
            Ok(None) => return,
            Ok(Some((Control::Handoff(handoff), frame))) if !handed_off => {
                let fd = frame.fds.into_iter().next();
                match check_handoff(&handoff, info, pid, fd.as_ref()) {
                    Ok(()) => {
                        handed_off = true;
                        let Some(fd) = fd else { return };
                        match start_post_login(shared, handoff, fd) {
                            // The login process logs `mpid=` with it. A
                            // post-login process that ended before READY
                            // refused the client after the login, which
                            // Dovecot's login process logs as a login too.
                            Ok(PostLogin::Running(mpid) | PostLogin::Ended(mpid)) => {
                                let _ = Control::Started { pid: mpid }.send(control, None);
                            }
                            Err(e) => {
                                say::error(&format!(
                                    "service({}): {e}",
                                    post_login_role(info.service).name()
                                ));
                                // The client cannot be served: end its login process.
                                let _ = child.kill();
                                return;
                            }
                        }
                        continue;
                    }
                    Err(reason) => reason,
                }
            }
            Ok(Some((Control::Handoff(_), _))) => "a second handoff".to_string(),
            Ok(Some((other, _))) => format!("unexpected {other:?}"),
            Err(e) => e.to_string(),
        };
        say::error(&format!(
            "service({}): child {pid} sent an invalid handoff ({refusal}); killing it",
            role.name()
        ));
        let _ = child.kill();
        return;
    }
}

/// Tops up the idle processes of `role` to its `process_min_avail`, in
/// the background.
pub fn refill(shared: &Arc<Shared>, role: Role) {
    if shared.idle_wanted(role) == 0 {
        return;
    }
    let shared = shared.clone();
    let _ = std::thread::Builder::new()
        .name("prestart".into())
        .spawn(move || {
            while shared.idle_wanted(role) > 0 && !shared.stopping() {
                match shared.spawn(role) {
                    Ok(spawned) => {
                        shared.register(spawned.child.id(), role, &spawned.control);
                        shared.put_idle(role, spawned);
                    }
                    Err(e) => {
                        say::error(&format!("service({}): {e}", role.name()));
                        return;
                    }
                }
            }
        });
}

/// The checks on a login process's `Handoff`; the text says what failed.
pub fn check_handoff(
    handoff: &Handoff,
    info: &ConnectionInfo,
    pid: u32,
    fd: Option<&OwnedFd>,
) -> Result<(), String> {
    if handoff.connection != *info {
        return Err("it names another connection".into());
    }
    if handoff.login_pid != pid {
        return Err(format!(
            "login pid {} is not the sender's {pid}",
            handoff.login_pid
        ));
    }
    if info.implicit_tls && !handoff.tls {
        return Err("a TLS listener's client handed off as plain".into());
    }
    let Some(fd) = fd else {
        return Err("no socket attached".into());
    };
    if handoff.tls {
        // The plain end of the login process's TLS proxy: a Unix socket.
        match getsockname(fd) {
            Ok(addr) if addr.address_family() == AddressFamily::UNIX => Ok(()),
            Ok(_) => Err("the TLS proxy's socket is not a Unix socket".into()),
            Err(e) => Err(format!("the attached descriptor is not a socket ({e})")),
        }
    } else {
        // The client's own socket: the peer must be the client.
        match getpeername(fd) {
            Ok(Some(addr)) if SocketAddr::try_from(addr.clone()).ok() == Some(info.remote) => {
                Ok(())
            }
            Ok(_) => Err("the attached socket is not the client's".into()),
            Err(e) => Err(format!("the attached descriptor is not a socket ({e})")),
        }
    }
}

/// The post-login role of a service.
fn post_login_role(service: Service) -> Role {
    match service {
        Service::Imap => Role::Imap,
        Service::Pop3 => Role::Pop3,
        Service::Lmtp => Role::Lmtp,
    }
}

/// How long a client that logged in waits for room under the post-login
/// service's `process_limit` before it is dropped.
const POST_LOGIN_ROOM_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the master waits for a post-login process's `READY` (its
/// auth-master `REQUEST` done) before it lets the login process go anyway.
const POST_LOGIN_READY_TIMEOUT: Duration = Duration::from_secs(10);

/// What became of a post-login process the master started.
pub enum PostLogin {
    /// It sent `READY` (the login's cookie is used up; the login process
    /// may close its auth connection), or did not say within the timeout
    /// and still runs.
    Running(u32),
    /// It ended before it was ready (it refused the client, who has its
    /// answer).
    Ended(u32),
}

/// Starts the post-login process with the handoff and the client's socket
/// and waits until it reports `READY`: its auth-master `REQUEST` must
/// reach the auth process while the login process's auth connection is
/// still open (Dovecot's auth forgets a login's cookie when that
/// connection closes), so the login process only ends after this. A
/// thread reaps the post-login process.
fn start_post_login(
    shared: &Arc<Shared>,
    handoff: Handoff,
    fd: OwnedFd,
) -> Result<PostLogin, ServeError> {
    let role = post_login_role(handoff.connection.service);
    if !shared.reserve_room(role, std::time::Instant::now() + POST_LOGIN_ROOM_TIMEOUT) {
        return Err(ServeError::ProcessLimit {
            limit: shared.process_limit.get(&role).copied().unwrap_or(0),
            waited_secs: POST_LOGIN_ROOM_TIMEOUT.as_secs(),
        });
    }
    let Spawned { mut child, control } = match shared.spawn(role) {
        Ok(s) => s,
        Err(e) => {
            shared.client_ended(role);
            return Err(e);
        }
    };
    let pid = child.id();
    let mut control = control.with_limits(login_limits());
    shared.register(pid, role, &control);
    if let Err(e) = Control::Handoff(handoff).send(&mut control, Some(fd.as_fd())) {
        let _ = child.kill();
        let _ = child.wait();
        shared.unregister(pid);
        shared.client_ended(role);
        return Err(e);
    }
    drop(fd);
    let _ = control
        .stream()
        .set_read_timeout(Some(POST_LOGIN_READY_TIMEOUT));
    let outcome = match Control::recv(&mut control) {
        Ok(Some((Control::Ready, _))) => PostLogin::Running(pid),
        Ok(None) => PostLogin::Ended(pid),
        Ok(Some((other, _))) => {
            say::error(&format!(
                "service({}): child {pid} sent {other:?} instead of READY",
                role.name()
            ));
            PostLogin::Running(pid)
        }
        // No word in time: it still runs (or its channel broke).
        Err(_) => PostLogin::Running(pid),
    };
    let _ = control.stream().set_read_timeout(None);
    let shared = shared.clone();
    std::thread::Builder::new()
        .name("post-login".into())
        .spawn(move || {
            // Keep the channel open for Shutdown while the process runs.
            let _control = control;
            let status = child.wait();
            shared.unregister(pid);
            shared.client_ended(role);
            if let Ok(status) = status {
                if !shared.stopping() {
                    if let Some(text) = exit_status::describe(role.name(), pid, status) {
                        say::error(&text);
                    }
                }
            }
        })
        .map_err(|e| ServeError::io("start a reaper thread", e))?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};
    use std::os::unix::net::UnixStream;

    fn handoff(info: &ConnectionInfo, pid: u32, tls: bool) -> Handoff {
        Handoff {
            connection: info.clone(),
            user: "alice".into(),
            login_pid: pid,
            auth_id: 1,
            cookie: "0123456789abcdef0123456789abcdef".into(),
            tls,
            session_state: Vec::new(),
        }
    }

    #[test]
    fn a_handoff_must_match_its_connection_process_and_socket() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, remote) = listener.accept().unwrap();
        let info = ConnectionInfo {
            service: Service::Imap,
            listener: "imap".into(),
            implicit_tls: false,
            local: listener.local_addr().unwrap(),
            remote,
            session_id: "AAAAAAAAAAAAAAAA".into(),
        };
        let own = OwnedFd::from(server);
        // The client's own socket, from the process that got it.
        assert_eq!(
            check_handoff(&handoff(&info, 7, false), &info, 7, Some(&own)),
            Ok(())
        );
        // Another process's pid, another connection, no socket.
        assert!(
            check_handoff(&handoff(&info, 8, false), &info, 7, Some(&own))
                .unwrap_err()
                .contains("login pid")
        );
        let mut other = info.clone();
        other.session_id = "BBBBBBBBBBBBBBBB".into();
        assert!(
            check_handoff(&handoff(&other, 7, false), &info, 7, Some(&own))
                .unwrap_err()
                .contains("another connection")
        );
        assert!(check_handoff(&handoff(&info, 7, false), &info, 7, None).is_err());
        // A socket that is not this client's.
        let elsewhere = OwnedFd::from(client);
        assert!(
            check_handoff(&handoff(&info, 7, false), &info, 7, Some(&elsewhere))
                .unwrap_err()
                .contains("not the client's")
        );
        // Under TLS: the proxy's Unix socket, not a TCP one.
        let (pair, _) = UnixStream::pair().unwrap();
        let pair = OwnedFd::from(pair);
        assert_eq!(
            check_handoff(&handoff(&info, 7, true), &info, 7, Some(&pair)),
            Ok(())
        );
        assert!(check_handoff(&handoff(&info, 7, true), &info, 7, Some(&own)).is_err());
        // An implicit-TLS client may not come back as plain.
        let mut tls_info = info.clone();
        tls_info.implicit_tls = true;
        assert!(check_handoff(&handoff(&tls_info, 7, false), &tls_info, 7, Some(&own)).is_err());
        // A file is no socket.
        let file = OwnedFd::from(std::fs::File::open("/dev/null").unwrap());
        assert!(check_handoff(&handoff(&info, 7, true), &info, 7, Some(&file)).is_err());
    }
}

//! The anvil role process: the socket, one thread per client connection,
//! one shared [`AnvilState`]. As root it runs as `default_internal_user`
//! once the socket is bound, as Dovecot's anvil does.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::protocol::{is_version_line, parse_request, MAX_LINE};
use super::state::{AnvilState, ConnectionId};
use crate::serve::error::ServeError;
use crate::serve::log;
use crate::serve::role::RoleContext;
use crate::serve::singleton::{bind_unix, drop_to_internal_user, ensure_base_dir, ready_then_wait};

static NEXT_CONNECTION: AtomicU64 = AtomicU64::new(1);

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Whether the peer runs as root or with our own uid (the master, which
/// starts as root, or everything when the server does not run as root):
/// such a peer may send KILL.
fn peer_is_master(stream: &UnixStream) -> bool {
    rustix::net::sockopt::socket_peercred(stream.as_fd())
        .map(|c| c.uid.is_root() || c.uid == rustix::process::geteuid())
        .unwrap_or(false)
}

/// Serves one client connection until it closes or errs.
pub fn serve_connection(stream: UnixStream, state: Arc<Mutex<AnvilState>>) {
    let id: ConnectionId = NEXT_CONNECTION.fetch_add(1, Ordering::Relaxed);
    let master = peer_is_master(&stream);
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut version_received = false;
    let mut line = Vec::with_capacity(128);
    loop {
        line.clear();
        let n = match (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
        {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if line.last() != Some(&b'\n') {
            if n > MAX_LINE {
                log::error("anvil", "BUG: Anvil client connection sent too much data");
            }
            break;
        }
        line.pop();
        if !version_received {
            if !is_version_line(&line) {
                log::error(
                    "anvil",
                    &format!(
                        "Anvil client not compatible with this server (mixed old and new binaries?) {}",
                        String::from_utf8_lossy(&line[..line.len().min(80)])
                    ),
                );
                break;
            }
            version_received = true;
            continue;
        }
        let reply = match parse_request(&line) {
            Ok(None) => continue,
            Ok(Some(request)) => {
                let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
                s.apply(id, master, request, unix_now())
            }
            Err(e) => Err(e),
        };
        match reply {
            Ok(Some(text)) => {
                if writer.write_all(text.as_bytes()).is_err() {
                    break;
                }
            }
            Ok(None) => {}
            Err(e) => {
                log::error("anvil", &format!("Anvil client input error: {e}"));
                break;
            }
        }
    }
    state
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .connection_closed(id);
}

/// Accepts connections on `listener` forever, one thread each.
pub fn accept_loop(listener: UnixListener, state: Arc<Mutex<AnvilState>>) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let state = Arc::clone(&state);
        let _ = std::thread::Builder::new()
            .name("anvil-conn".into())
            .stack_size(64 * 1024)
            .spawn(move || serve_connection(stream, state));
    }
}

/// Runs the anvil role.
pub fn run(mut ctx: RoleContext) -> Result<(), ServeError> {
    ensure_base_dir(&ctx.config.base_dir)?;
    let path = ctx.config.socket("anvil");
    let mode = ctx.config.unix_listener_mode("anvil", "anvil", 0o600);
    let listener = bind_unix(&path, mode)?;
    // The socket is bound: the rest needs no privilege.
    drop_to_internal_user(&ctx.config)?;
    let state = Arc::new(Mutex::new(AnvilState::default()));
    std::thread::Builder::new()
        .name("anvil-accept".into())
        .spawn(move || accept_loop(listener, state))
        .map_err(|e| ServeError::io("start the anvil accept thread", e))?;
    let result = ready_then_wait(&mut ctx.control);
    let _ = std::fs::remove_file(&path);
    result
}

#[cfg(test)]
mod tests {
    use super::super::AnvilClient;
    use super::*;

    #[test]
    fn a_client_and_the_role_agree() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("anvil");
        let listener = bind_unix(&path, 0o600).unwrap();
        let state = Arc::new(Mutex::new(AnvilState::default()));
        {
            let state = Arc::clone(&state);
            std::thread::spawn(move || accept_loop(listener, state));
        }
        let ident = "imap/127.0.0.1/alice";
        let mut a = AnvilClient::connect(&path).unwrap();
        let mut b = AnvilClient::connect(&path).unwrap();
        a.connect_session(11, ident).unwrap();
        b.connect_session(12, ident).unwrap();
        // requests on two connections are served by two threads: wait
        // until the other connection's request was applied
        let eventually = |a: &mut AnvilClient, n: u32| {
            for _ in 0..200 {
                if a.lookup(ident).unwrap() == n {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            panic!("lookup never reached {n}");
        };
        eventually(&mut a, 2);
        b.disconnect_session(12, ident).unwrap();
        eventually(&mut a, 1);
        b.connect_session(13, ident).unwrap();
        eventually(&mut a, 2);
        drop(b);
        // the closed connection's session ends with it
        eventually(&mut a, 1);
        a.penalty_inc("127.0.0.1", 0, 3).unwrap();
        let (value, stamp) = a.penalty_get("127.0.0.1").unwrap();
        assert_eq!(value, 3);
        assert!(stamp > 1_600_000_000);

        // Dovecot's wire text, without the client
        let mut raw = UnixStream::connect(&path).unwrap();
        raw.write_all(b"VERSION\tanvil\t1\t0\nLOOKUP\timap/127.0.0.1/alice\nPENALTY-GET\tnone\n")
            .unwrap();
        let mut reply = BufReader::new(raw);
        let mut l = String::new();
        reply.read_line(&mut l).unwrap();
        assert_eq!(l, "1\n");
        l.clear();
        reply.read_line(&mut l).unwrap();
        assert_eq!(l, "0 0\n");
    }
}

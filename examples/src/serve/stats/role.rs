//! The stats role process: `stats-writer` (mode 0666: every process
//! counts, whatever user it runs as) and `stats-reader` (mode 0600, for
//! `columba stats`). As root it runs as `default_internal_user` once the
//! sockets are bound, as Dovecot's stats process does.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::{Arc, Mutex};

use super::protocol::{parse, StatsRequest, MAX_LINE};
use super::state::Counters;
use crate::serve::error::ServeError;
use crate::serve::log;
use crate::serve::role::RoleContext;
use crate::serve::singleton::{bind_unix, drop_to_internal_user, ensure_base_dir, ready_then_wait};

/// Serves one connection: writers may only INC, readers only DUMP.
pub fn serve_connection(stream: UnixStream, counters: Arc<Mutex<Counters>>, reader: bool) {
    let Ok(mut out) = stream.try_clone() else {
        return;
    };
    let mut input = BufReader::new(stream);
    let mut line = Vec::with_capacity(64);
    loop {
        line.clear();
        match (&mut input)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
        {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if line.pop() != Some(b'\n') {
            log::error("stats", "client sent an overlong line, disconnecting it");
            return;
        }
        let request = match parse(&line) {
            Ok(r) => r,
            Err(e) => {
                log::error("stats", &format!("{e}, disconnecting the client"));
                return;
            }
        };
        let mut c = counters.lock().unwrap_or_else(|e| e.into_inner());
        match (request, reader) {
            (StatsRequest::Version, false) => {}
            (StatsRequest::Inc { counter, n }, false) => {
                c.inc(&counter, n);
            }
            (StatsRequest::Dump, true) => {
                let text = c.dump();
                drop(c);
                if out.write_all(text.as_bytes()).is_err() {
                    return;
                }
            }
            _ => {
                log::error(
                    "stats",
                    "request not allowed on this socket, disconnecting the client",
                );
                return;
            }
        }
    }
}

/// Accepts connections forever, one thread each.
pub fn accept_loop(listener: UnixListener, counters: Arc<Mutex<Counters>>, reader: bool) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let counters = Arc::clone(&counters);
        let _ = std::thread::Builder::new()
            .name("stats-conn".into())
            .stack_size(64 * 1024)
            .spawn(move || serve_connection(stream, counters, reader));
    }
}

/// Runs the stats role.
pub fn run(mut ctx: RoleContext) -> Result<(), ServeError> {
    ensure_base_dir(&ctx.config.base_dir)?;
    let counters = Arc::new(Mutex::new(Counters::default()));
    let mut paths = Vec::new();
    let mut listeners = Vec::new();
    for (name, mode, reader) in [
        ("stats-writer", 0o666, false),
        ("stats-reader", 0o600, true),
    ] {
        let path = ctx.config.socket(name);
        let mode = ctx.config.unix_listener_mode("stats", name, mode);
        listeners.push((bind_unix(&path, mode)?, reader));
        paths.push(path);
    }
    // The sockets are bound: the rest needs no privilege.
    drop_to_internal_user(&ctx.config)?;
    for (listener, reader) in listeners {
        let counters = Arc::clone(&counters);
        std::thread::Builder::new()
            .name("stats-accept".into())
            .spawn(move || accept_loop(listener, counters, reader))
            .map_err(|e| ServeError::io("start the stats accept thread", e))?;
    }
    let result = ready_then_wait(&mut ctx.control);
    for p in paths {
        let _ = std::fs::remove_file(p);
    }
    result
}

/// Reads every counter from a running stats role (`columba stats`).
pub fn dump(config: &crate::serve::Config) -> Result<Vec<(String, u64)>, ServeError> {
    let path = config.socket("stats-reader");
    let what = || format!("connect to {}", path.display());
    let mut stream = UnixStream::connect(&path).map_err(|e| ServeError::io(what(), e))?;
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .map_err(|e| ServeError::io(what(), e))?;
    stream
        .write_all(b"DUMP\n")
        .map_err(|e| ServeError::io("write DUMP", e))?;
    let mut text = String::new();
    let mut reader = BufReader::new(stream).take(1 << 20);
    loop {
        let mut line = String::new();
        let n = reader
            .read_line(&mut line)
            .map_err(|e| ServeError::io("read the stats dump", e))?;
        if n == 0 || line == "\n" {
            break;
        }
        text.push_str(&line);
    }
    Ok(super::state::parse_dump(&text))
}

#[cfg(test)]
mod tests {
    use super::super::StatsClient;
    use super::*;

    #[test]
    fn counts_from_clients_reach_the_dump() {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::serve::Config {
            base_dir: dir.path().to_path_buf(),
            ..Default::default()
        };
        // no stats role: counting is silently off
        let mut off = StatsClient::connect(&config);
        assert!(!off.is_connected());
        off.inc("imap.logins", 1);

        let counters = Arc::new(Mutex::new(Counters::default()));
        for (name, reader) in [("stats-writer", false), ("stats-reader", true)] {
            let l = bind_unix(&config.socket(name), 0o600).unwrap();
            let c = Arc::clone(&counters);
            std::thread::spawn(move || accept_loop(l, c, reader));
        }
        let mut a = StatsClient::connect(&config);
        assert!(a.is_connected());
        a.inc("imap.logins", 2);
        a.inc("imap.login_failures", 1);
        a.inc("Bad Name", 1);
        a.inc("imap.logins", 1);
        let mut got = Vec::new();
        for _ in 0..200 {
            got = dump(&config).unwrap();
            if got.iter().any(|(k, v)| k == "imap.logins" && *v == 3) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(
            got,
            vec![
                ("imap.login_failures".to_string(), 1),
                ("imap.logins".to_string(), 3)
            ]
        );
    }
}

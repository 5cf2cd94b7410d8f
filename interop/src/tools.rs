//! Finding installed peers, and the skip-or-fail policy for missing ones.

use std::net::TcpListener;
use std::path::PathBuf;

/// True when `COLUMBA_REQUIRE_INTEROP=1`: a missing peer is then a failure, not a skip.
pub fn interop_required() -> bool {
    std::env::var("COLUMBA_REQUIRE_INTEROP").is_ok_and(|v| v == "1")
}

/// Looks for an executable on `PATH` and in the places Debian installs mail
/// software (`/usr/sbin`, `/usr/lib/dovecot`, `/usr/lib/postfix/sbin`).
pub fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(
            [
                "/usr/sbin",
                "/usr/bin",
                "/usr/lib/dovecot",
                "/usr/lib/postfix/sbin",
                "/sbin",
            ]
            .into_iter()
            .map(PathBuf::from),
        )
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Returns the tool's path; if it is missing, prints `SKIPPED <test>: <tool> is not
/// installed` and returns `None`, or panics when [`interop_required`] is true.
pub fn tool_or_skip(name: &str, test: &str) -> Option<PathBuf> {
    match find_tool(name) {
        Some(path) => Some(path),
        None if interop_required() => {
            panic!("{test}: {name} is not installed and COLUMBA_REQUIRE_INTEROP=1")
        }
        None => {
            eprintln!("SKIPPED {test}: {name} is not installed (set COLUMBA_REQUIRE_INTEROP=1 to fail instead)");
            None
        }
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
///
/// The kernel may hand the same ephemeral port out again once its
/// listener is closed, so a port is never returned twice by one process:
/// a test that asks for three ports (IMAP, POP3, LMTP) gets three
/// different ones, and so do tests running at the same time.
pub fn free_port() -> u16 {
    static HANDED_OUT: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("binding an ephemeral port on 127.0.0.1");
        let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
        if !handed_out.contains(&port) {
            handed_out.push(port);
            return port;
        }
    }
}

//! The stats role as a process and `columba stats` reading it.

use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct RoleProcess {
    child: Child,
    _control: UnixStream,
}

impl Drop for RoleProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The real uid of process `pid`.
fn uid_of(pid: u32) -> u32 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// As root with a `dovecot` user: that user's uid, which the role must
/// have switched to (Dovecot's default_internal_user).
fn internal_uid() -> Option<u32> {
    if uid_of(std::process::id()) != 0 {
        println!("SKIPPED: the privilege drop is checked only as root");
        return None;
    }
    std::fs::read_to_string("/etc/passwd")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("dovecot:")?.split(':').nth(1)?.parse().ok())
}

fn columba_stats(config: &str, json: bool) -> String {
    let mut c = Command::new(env!("CARGO_BIN_EXE_columba"));
    c.args(["stats", "--config", config]);
    if json {
        c.arg("--json");
    }
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn counts_written_by_processes_are_shown_by_columba_stats() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("columba.toml");
    std::fs::write(&config, "base_dir = \"run\"\n").unwrap();
    let config_arg = config.to_str().unwrap();

    // no server: a clear failure
    let out = Command::new(env!("CARGO_BIN_EXE_columba"))
        .args(["stats", "--config", config_arg])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is the server running?"));

    let (ours, theirs) = UnixStream::pair().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_columba"))
        .args(["serve", "--role", "stats", "--config", config_arg])
        .stdin(Stdio::from(OwnedFd::from(theirs)))
        .spawn()
        .unwrap();
    let stats = RoleProcess {
        child,
        _control: ours,
    };
    let writer = dir.path().join("run/stats-writer");
    let deadline = Instant::now() + Duration::from_secs(20);
    while UnixStream::connect(dir.path().join("run/stats-reader")).is_err() {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
    let mode = |n: &str| {
        std::fs::metadata(dir.path().join("run").join(n))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("stats-writer"), 0o666);
    assert_eq!(mode("stats-reader"), 0o600);
    if let Some(uid) = internal_uid() {
        assert_eq!(
            uid_of(stats.child.id()),
            uid,
            "stats runs as default_internal_user"
        );
    }

    let mut imap = UnixStream::connect(&writer).unwrap();
    imap.write_all(b"VERSION\tcolumba-stats\t1\t0\nINC\timap.connections\t2\nINC\timap.logins\t1\nINC\timap.login_failures\t1\n")
        .unwrap();
    let mut lmtp = UnixStream::connect(&writer).unwrap();
    lmtp.write_all(b"VERSION\tcolumba-stats\t1\t0\nINC\tlmtp.deliveries\t5\n")
        .unwrap();
    // a misbehaving writer is cut off without harm to the counts
    let mut bad = UnixStream::connect(&writer).unwrap();
    bad.write_all(b"VERSION\tcolumba-stats\t1\t0\nDUMP\nINC\tlmtp.deliveries\t1000\n")
        .unwrap();

    let deadline = Instant::now() + Duration::from_secs(20);
    let mut table = String::new();
    while !table.contains("lmtp.deliveries") || !table.contains("imap.login_failures") {
        assert!(Instant::now() < deadline, "{table}");
        std::thread::sleep(Duration::from_millis(20));
        table = columba_stats(config_arg, false);
    }
    let row = |name: &str| {
        table
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("{name} not in {table}"))
            .split_whitespace()
            .nth(1)
            .unwrap()
            .to_string()
    };
    assert_eq!(row("imap.connections"), "2");
    assert_eq!(row("imap.logins"), "1");
    assert_eq!(row("imap.login_failures"), "1");
    assert_eq!(row("lmtp.deliveries"), "5");
    let json: serde_json::Value = serde_json::from_str(&columba_stats(config_arg, true)).unwrap();
    assert_eq!(json["lmtp.deliveries"], 5);
    assert_eq!(json["imap.connections"], 2);
}

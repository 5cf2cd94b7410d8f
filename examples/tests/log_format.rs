//! Log lines as fail2ban sees them: the log role's output (timestamps,
//! cut lines, forged newlines) and the failed logins of a running
//! `columba serve --demo`, run through fail2ban's own `dovecot` filter
//! with `fail2ban-regex` (Debian's fail2ban package).

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use columba_interop::require_tool;

const FILTER: &str = "/etc/fail2ban/filter.d/dovecot.conf";

/// A child process, killed when dropped, with the control channel the
/// role needs kept open until then.
struct Killed {
    child: Child,
    _control: Option<UnixStream>,
}

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs fail2ban-regex over `log` with Dovecot's filter; returns
/// (matched lines, the tool's report).
fn fail2ban(tool: &Path, log: &Path) -> (usize, String) {
    let out = Command::new(tool)
        .arg(log)
        .arg(FILTER)
        .output()
        .expect("run fail2ban-regex");
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    let matched = report
        .lines()
        .find_map(|l| {
            let rest = l.strip_prefix("Lines: ")?;
            let i = rest.find(" matched")?;
            rest[..i].rsplit(' ').next()?.parse().ok()
        })
        .unwrap_or_else(|| panic!("no summary in:\n{report}"));
    (matched, report)
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `Mon DD HH:MM:SS ` (Dovecot's default log_timestamp).
fn has_default_timestamp(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() > 16
        && b[..3].iter().all(u8::is_ascii_alphabetic)
        && b[3] == b' '
        && b[4..6].iter().all(u8::is_ascii_digit)
        && b[6] == b' '
        && b[9] == b':'
        && b[12] == b':'
        && b[15] == b' '
}

#[test]
fn log_role_output_keeps_fail2ban_matching() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("columba.toml");
    std::fs::write(
        &config,
        "base_dir = \"run\"\nlog_path = \"columba.log\"\nssl = \"no\"\n",
    )
    .unwrap();
    let (ours, theirs) = UnixStream::pair().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_columba"))
        .args(["serve", "--role", "log", "--config"])
        .arg(&config)
        .stdin(Stdio::from(OwnedFd::from(theirs)))
        .spawn()
        .unwrap();
    let _log = Killed {
        child,
        _control: Some(ours),
    };
    let socket = dir.path().join("run/log");
    wait_for("the log socket", || UnixStream::connect(&socket).is_ok());

    let mut a = UnixStream::connect(&socket).unwrap();
    let mut b = UnixStream::connect(&socket).unwrap();
    // a line in pieces
    a.write_all(
        b"imap-login: Info: Disconnected (auth failed, 1 attempts in 2 secs): user=<demo>, ",
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    a.write_all(b"method=PLAIN, rip=192.0.2.7, lip=127.0.0.1, TLS, session=<AbCdEf012345>\n")
        .unwrap();
    // a forged line inside a user name, an overlong line, an unterminated last line
    b.write_all(b"pop3-login: Info: Aborted login (auth failed, 2 attempts in 4 secs): user=<x\rNov 29 00:00:00 imap-login: Info: Login>, method=PLAIN, rip=192.0.2.8, lip=127.0.0.1, session=<AbCdEf012346>\n")
        .unwrap();
    let long = format!("imap(demo)<1><s>: Error: {}\n", "x".repeat(20_000));
    b.write_all(long.as_bytes()).unwrap();
    b.write_all(b"imap(demo)<1><s>: Info: Disconnected: Logged out in=1 out=2")
        .unwrap();
    drop(a);
    drop(b);
    let path = dir.path().join("columba.log");
    wait_for("four log lines", || {
        std::fs::read_to_string(&path).is_ok_and(|t| t.lines().count() >= 4)
    });
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    for line in &lines {
        assert!(has_default_timestamp(line), "no timestamp: {line}");
        assert!(line.len() < 8300, "not cut: {} bytes", line.len());
    }
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with("xxx [line too long, cut]")),
        "{text}"
    );
    assert!(lines.iter().any(|l| l.contains("user=<x?Nov 29")), "{text}");
    assert!(
        lines.iter().any(|l| l.ends_with("Logged out in=1 out=2")),
        "{text}"
    );

    let tool = require_tool!("fail2ban-regex");
    let (matched, report) = fail2ban(&tool, &path);
    assert_eq!(matched, 2, "{report}");
    assert!(
        report.contains("[2]") || report.contains("2 matched"),
        "{report}"
    );
}

fn field(banner: &str, after: &str) -> String {
    let start = banner
        .find(after)
        .unwrap_or_else(|| panic!("{after:?} not in {banner}"))
        + after.len();
    banner[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

fn read_until(stream: &mut BufReader<TcpStream>, prefix: &str) -> String {
    let mut all = String::new();
    loop {
        let mut line = String::new();
        if stream.read_line(&mut line).unwrap_or(0) == 0 {
            return all;
        }
        all.push_str(&line);
        if line.starts_with(prefix) {
            return all;
        }
    }
}

#[test]
fn the_demo_servers_failed_logins_are_caught_by_fail2ban() {
    let tool = require_tool!("fail2ban-regex");
    let dir = tempfile::tempdir().unwrap();
    let data: PathBuf = dir.path().join("demo");
    let stderr_path = dir.path().join("stderr.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_columba"))
        .args(["serve", "--demo", "--data"])
        .arg(&data)
        .args(["--imap-port", "0", "--imaps-port", "0", "--pop3-port", "0"])
        .args(["--pop3s-port", "0", "--lmtp-port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::from(File::create(&stderr_path).unwrap()))
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _server = Killed {
        child,
        _control: None,
    };
    let mut banner = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if line == "ready" {
            break;
        }
        banner.push_str(&line);
        banner.push('\n');
    }
    let imap = field(&banner, "IMAP  ");
    let pop3 = field(&banner, "POP3  ");
    let guess = "S3cretGuess";

    let tcp = TcpStream::connect(&imap).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut w = tcp.try_clone().unwrap();
    let mut r = BufReader::new(tcp);
    read_until(&mut r, "* OK");
    w.write_all(format!("a LOGIN demo {guess}\r\n").as_bytes())
        .unwrap();
    let reply = read_until(&mut r, "a ");
    assert!(reply.contains("a NO"), "{reply}");
    w.write_all(b"b LOGOUT\r\n").unwrap();
    read_until(&mut r, "b ");

    let tcp = TcpStream::connect(&pop3).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut w = tcp.try_clone().unwrap();
    let mut r = BufReader::new(tcp);
    read_until(&mut r, "+OK");
    w.write_all(b"USER demo\r\n").unwrap();
    read_until(&mut r, "+OK");
    w.write_all(format!("PASS {guess}\r\n").as_bytes()).unwrap();
    let reply = read_until(&mut r, "-ERR");
    assert!(reply.contains("-ERR"), "{reply}");
    w.write_all(b"QUIT\r\n").unwrap();
    let mut rest = String::new();
    let _ = r.read_to_string(&mut rest);

    wait_for("two failed-login lines", || {
        std::fs::read_to_string(&stderr_path)
            .is_ok_and(|t| t.lines().filter(|l| l.contains("auth failed")).count() >= 2)
    });
    let log = std::fs::read_to_string(&stderr_path).unwrap();
    assert!(!log.contains(guess), "a password reached the log:\n{log}");
    // the stats process counted the same failures
    let stats = Command::new(env!("CARGO_BIN_EXE_columba"))
        .args(["stats", "--json", "--config"])
        .arg(data.join("columba.toml"))
        .output()
        .unwrap();
    assert!(
        stats.status.success(),
        "{}",
        String::from_utf8_lossy(&stats.stderr)
    );
    let counts: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(counts["imap.login_failures"], 1, "{counts}");
    assert_eq!(counts["pop3.login_failures"], 1, "{counts}");
    let (matched, report) = fail2ban(&tool, &stderr_path);
    assert!(matched >= 2, "{report}\n{log}");
    assert!(
        log.lines().any(|l| l.contains("imap-login: ")
            && l.contains("auth failed")
            && l.contains("rip=127.0.0.1")),
        "{log}"
    );
    assert!(
        log.lines().any(|l| l.contains("pop3-login: ")
            && l.contains("auth failed")
            && l.contains("rip=127.0.0.1")),
        "{log}"
    );
}

//! End to end: `columba serve --demo` on free loopback ports, driven by
//! real clients: Python's imaplib, poplib and smtplib (LMTP) run the
//! scenario in `serve_demo.py` (STARTTLS and implicit TLS logins, LIST,
//! SELECT, APPEND, FETCH, STORE, EXPUNGE, an IDLE that sees an LMTP
//! delivery, POP3 RETR and DELE), and curl fetches over IMAPS and POP3S.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Kills the server when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tool(name: &str) -> bool {
    let found = Command::new(name)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        if std::env::var_os("COLUMBA_REQUIRE_INTEROP").is_some() {
            panic!("{name} is required (COLUMBA_REQUIRE_INTEROP is set)");
        }
        println!("SKIPPED: {name} not found");
    }
    found
}

/// Starts the demo server in `data`; returns it and its banner.
fn start(data: &Path, extra: &[&str]) -> (Server, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_columba"))
        .args(["serve", "--demo", "--data"])
        .arg(data)
        .args([
            "--imap-port",
            "0",
            "--imaps-port",
            "0",
            "--pop3-port",
            "0",
            "--pop3s-port",
            "0",
            "--lmtp-port",
            "0",
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start columba serve");
    let stdout = child.stdout.take().expect("stdout");
    let server = Server(child);
    let mut banner = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("banner");
        if line == "ready" {
            break;
        }
        banner.push_str(&line);
        banner.push('\n');
    }
    (server, banner)
}

fn field<'a>(banner: &'a str, after: &str) -> &'a str {
    let start = banner.find(after).expect(after) + after.len();
    banner[start..]
        .split(char::is_whitespace)
        .next()
        .unwrap_or("")
}

#[test]
fn python_clients_run_the_whole_scenario() {
    if !tool("python3") {
        return;
    }
    let dir = tempfile_dir("python");
    let (_server, banner) = start(&dir, &[]);
    assert!(banner.contains("user: demo   password: "), "{banner}");
    let banner_file = dir.join("banner.txt");
    std::fs::write(&banner_file, &banner).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/serve_demo.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(&banner_file)
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.ends_with("all ok\n"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn curl_fetches_over_imaps_and_pop3s() {
    if !tool("curl") {
        return;
    }
    let dir = tempfile_dir("curl");
    let (_server, banner) = start(&dir, &[]);
    let password = field(&banner, "password: ").to_string();
    let imaps = field(&banner, "IMAPS 127.0.0.1:").to_string();
    let pop3s = field(&banner, "POP3S 127.0.0.1:").to_string();
    let user = format!("demo:{password}");
    let url = format!("imaps://127.0.0.1:{imaps}/INBOX");
    let msg = dir.join("msg.eml");
    std::fs::write(
        &msg,
        "From: a@example.com\r\nSubject: via curl\r\n\r\nhi\r\n",
    )
    .unwrap();
    let up = Command::new("curl")
        .args(["-sk", "-u", &user, "-T"])
        .arg(&msg)
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    let get = Command::new("curl")
        .args(["-sk", "-u", &user, &format!("{url};UID=1")])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&get.stdout).contains("Subject: via curl"));
    let pop = Command::new("curl")
        .args(["-sk", "-u", &user, &format!("pop3s://127.0.0.1:{pop3s}/1")])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&pop.stdout).contains("Subject: via curl"));
    // a wrong password is refused
    let bad = Command::new("curl")
        .args(["-sk", "-u", "demo:wrong", &url])
        .output()
        .unwrap();
    assert!(!bad.status.success());
}

#[test]
fn plaintext_login_is_refused_before_starttls_when_tls_is_required() {
    if !tool("python3") {
        return;
    }
    let dir = tempfile_dir("require-tls");
    let (_server, banner) = start(&dir, &["--require-tls"]);
    let port = field(&banner, "IMAP  127.0.0.1:").to_string();
    let script = format!(
        "import imaplib\nm=imaplib.IMAP4('127.0.0.1',{port})\n\
         assert 'LOGINDISABLED' in m.capabilities, m.capabilities\n\
         assert 'STARTTLS' in m.capabilities\n\
         try:\n    m.login('demo','x')\n    raise SystemExit('login accepted')\n\
         except imaplib.IMAP4.error as e:\n    assert 'PRIVACYREQUIRED' in str(e), e\nprint('ok')\n"
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn tempfile_dir(name: &str) -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(format!("columba-serve-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

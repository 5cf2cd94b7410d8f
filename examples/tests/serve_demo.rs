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

/// Reads what the server sends within `ms` milliseconds.
fn read_for(stream: &mut std::net::TcpStream, ms: u64) -> String {
    use std::io::Read;
    stream
        .set_read_timeout(Some(std::time::Duration::from_millis(ms)))
        .unwrap();
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        all.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&all).into_owned()
}

/// Reads until the text ends with `end` (or `ms` milliseconds pass).
fn read_until(stream: &mut std::net::TcpStream, end: &str, ms: u64) -> String {
    use std::io::Read;
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(ms);
    stream
        .set_read_timeout(Some(std::time::Duration::from_millis(50)))
        .unwrap();
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    while !all.ends_with(end.as_bytes()) && std::time::Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => all.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    String::from_utf8_lossy(&all).into_owned()
}

#[test]
fn bad_input_gets_bad_and_the_server_keeps_serving() {
    use std::io::Write;
    let dir = tempfile_dir("bad-input");
    let (_server, banner) = start(&dir, &[]);
    let port: u16 = field(&banner, "IMAP  127.0.0.1:").parse().unwrap();
    let password = field(&banner, "password: ").to_string();
    let mut a = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    assert!(read_for(&mut a, 300).starts_with("* OK "));
    // garbage before login, a literal announced as 10 GB, 10,000 parentheses
    a.write_all(b"\x00\xff\x01 garbage\r\nb APPEND INBOX {10737418240}\r\n")
        .unwrap();
    let o = read_for(&mut a, 300);
    assert_eq!(o.matches(" BAD ").count(), 2, "{o}");
    let mut deep = b"c SEARCH ".to_vec();
    deep.extend(std::iter::repeat_n(b'(', 10_000));
    deep.extend(b"\r\n");
    a.write_all(&deep).unwrap();
    assert!(read_for(&mut a, 300).contains(" BAD "));
    // a client that stops in the middle of a literal
    let mut stuck = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    read_for(&mut stuck, 200);
    stuck.write_all(b"s LOGIN {5}\r\nab").unwrap();
    // everyone else is still served
    let mut b = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    read_for(&mut b, 200);
    b.write_all(format!("l LOGIN demo {password}\r\nm NOOP\r\n").as_bytes())
        .unwrap();
    let o = read_for(&mut b, 500);
    assert!(
        o.contains("l OK ") && o.contains("m OK NOOP completed."),
        "{o}"
    );
    a.write_all(b"d NOOP\r\n").unwrap();
    assert!(read_for(&mut a, 300).contains("d OK NOOP completed."));
}

#[test]
fn five_hundred_concurrent_connections_are_served() {
    use std::io::Write;
    let dir = tempfile_dir("concurrent");
    let (_server, banner) = start(&dir, &[]);
    let port: u16 = field(&banner, "IMAP  127.0.0.1:").parse().unwrap();
    let mut conns = Vec::new();
    for _ in 0..500 {
        conns.push(std::net::TcpStream::connect(("127.0.0.1", port)).unwrap());
    }
    for (i, c) in conns.iter_mut().enumerate() {
        c.write_all(format!("t{i} NOOP\r\n").as_bytes()).unwrap();
    }
    let mut answered = 0;
    for (i, c) in conns.iter_mut().enumerate() {
        let o = read_until(c, &format!("t{i} OK NOOP completed.\r\n"), 5000);
        if o.starts_with("* OK ") && o.ends_with(&format!("t{i} OK NOOP completed.\r\n")) {
            answered += 1;
        }
    }
    assert_eq!(answered, 500);
}

/// Delivers one message over LMTP with a bare-bones client.
fn lmtp_deliver(port: u16, subject: &str) {
    use std::io::Write;
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    read_until(&mut c, "\r\n", 2000);
    let script = format!(
        "LHLO test\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<demo@localhost>\r\nDATA\r\n\
         Subject: {subject}\r\n\r\nbody\r\n.\r\nQUIT\r\n"
    );
    c.write_all(script.as_bytes()).unwrap();
    let o = read_until(&mut c, "221 2.0.0 Bye\r\n", 5000);
    // Dovecot's wording: the delivery's session id before "Saved"
    let saved = o
        .lines()
        .find(|l| l.starts_with("250 2.0.0 <demo@localhost> "))
        .unwrap_or_else(|| panic!("{o}"));
    let id = saved.split(' ').nth(3).unwrap();
    assert_eq!(
        (id.len(), saved.split(' ').nth(4)),
        (22, Some("Saved")),
        "{o}"
    );
}

#[test]
fn mbsync_and_fetchmail_fetch_a_delivered_message() {
    if !tool("mbsync") || !tool("fetchmail") {
        return;
    }
    let dir = tempfile_dir("mbsync");
    let (_server, banner) = start(&dir, &[]);
    let password = field(&banner, "password: ").to_string();
    let imaps = field(&banner, "IMAPS 127.0.0.1:").to_string();
    let pop3: String = field(&banner, "POP3  127.0.0.1:").to_string();
    let lmtp: u16 = field(&banner, "LMTP  127.0.0.1:").parse().unwrap();
    lmtp_deliver(lmtp, "for mbsync");
    let local = dir.join("local");
    std::fs::create_dir_all(&local).unwrap();
    let rc = dir.join("mbsyncrc");
    std::fs::write(
        &rc,
        format!(
            "IMAPAccount demo\nHost 127.0.0.1\nPort {imaps}\nUser demo\nPass {password}\n\
             SSLType IMAPS\nCertificateFile {}\nAuthMechs LOGIN\n\n\
             IMAPStore remote\nAccount demo\n\n\
             MaildirStore local\nPath {}/\nInbox {}/INBOX\n\n\
             Channel c\nFar :remote:\nNear :local:\nPatterns INBOX\nCreate Both\nSyncState *\n",
            dir.join("cert.pem").display(),
            local.display(),
            local.display()
        ),
    )
    .unwrap();
    let out = Command::new("mbsync")
        .arg("-c")
        .arg(&rc)
        .arg("-a")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let new = std::fs::read_dir(local.join("INBOX/new")).unwrap();
    let files: Vec<_> = new.map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 1);
    assert!(std::fs::read_to_string(&files[0])
        .unwrap()
        .contains("Subject: for mbsync"));

    let fetched = dir.join("fetched.eml");
    let rc = dir.join("fetchmailrc");
    std::fs::write(
        &rc,
        format!(
            "poll 127.0.0.1 protocol pop3 port {pop3} user demo password \"{password}\" \
             sslproto tls1.2+ no sslcertck keep mda \"cat > {}\"\n",
            fetched.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&rc, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let out = Command::new("fetchmail")
        .arg("-f")
        .arg(&rc)
        .args(["--nosyslog", "--pidfile"])
        .arg(dir.join("fetchmail.pid"))
        .env("HOME", &dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::read_to_string(&fetched)
        .unwrap()
        .contains("Subject: for mbsync"));
}

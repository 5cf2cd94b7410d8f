//! The harness itself: a private Dovecot starts, accepts a login, stores mail
//! for its user, and `doveadm` sees it.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

use columba_interop::{require_tool, DovecotConfig, PrivateDovecot};

#[test]
fn private_dovecot_serves_imap_and_doveadm() {
    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();

    let mut imap = TcpStream::connect(("127.0.0.1", dovecot.imap_port)).unwrap();
    let mut reader = BufReader::new(imap.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(line.starts_with("* OK"), "greeting: {line}");
    imap.write_all(b"a LOGIN alice alicepw\r\n").unwrap();
    line.clear();
    reader.read_line(&mut line).unwrap();
    assert!(line.starts_with("a OK"), "login answer: {line}");

    let save = std::process::Command::new(columba_interop::find_tool("doveadm").unwrap())
        .arg("-c")
        .arg(dovecot.config_path())
        .args(["save", "-u", "alice", "-m", "INBOX"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(b"Subject: hi\r\n\r\nbody\r\n")?;
            child.wait()
        })
        .unwrap();
    assert!(save.success());
    let status = dovecot.doveadm(&["mailbox", "status", "-u", "alice", "messages", "INBOX"]);
    assert_eq!(
        String::from_utf8_lossy(&status.stdout).trim(),
        "INBOX messages=1"
    );
    assert!(
        dovecot.log_problems().is_empty(),
        "{:?}",
        dovecot.log_problems()
    );
}

#[test]
fn fixture_installs_with_mtimes() {
    let dir = tempfile::tempdir().unwrap();
    columba_interop::install_fixture_maildir("01-alice-shapes-flags", dir.path()).unwrap();
    assert!(dir.path().join("tmp").is_dir());
    let meta = std::fs::metadata(dir.path().join("cur/1705331715.M1P1.external-mda:2,Si")).unwrap();
    let mtime = meta
        .modified()
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    assert_eq!(mtime.as_secs(), 1705331715);
}

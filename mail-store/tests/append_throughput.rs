//! Side-by-side timing of APPEND with a live Dovecot (ignored by default;
//! run with `cargo test --release -p columba-mail-store --test
//! append_throughput -- --ignored --nocapture`):
//!
//! - one 256 MiB message: Columba's `append_from_reader` from a file
//!   against `doveadm save` of the same file;
//! - a MULTIAPPEND of 200 small messages: `commit_appends` against one
//!   IMAP `APPEND` command carrying the 200 literals.

mod common;

use std::io::Write;
use std::time::Instant;

use columba_interop::{require_tool, DovecotConfig, PrivateDovecot};
use columba_mail_store::store::{
    append_from_reader, commit_appends, sync, AppendLimit, AppendMeta, MailboxSnapshot,
    MessageWriter,
};
use columba_maildir::Mailbox;
use common::*;

fn small(i: usize) -> String {
    format!(
        "From: a@example.com\r\nTo: b@example.com\r\nSubject: message {i}\r\n\r\n{}",
        "a line of text in the body of a small message\r\n".repeat(40)
    )
}

#[test]
#[ignore]
fn append_throughput_against_dovecot() {
    let doveadm = require_tool!("doveadm");
    let dovecot = PrivateDovecot::start(
        DovecotConfig::default()
            .user("alice", "alicepw")
            .user("bob", "bobpw"),
    )
    .unwrap();
    let columba_dir = dovecot.maildir("alice");
    for d in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(columba_dir.join(d)).unwrap();
    }
    let inbox = Mailbox::at(&columba_dir, &columba_dir, "INBOX");
    sync(&inbox).unwrap();

    // one large message, from a file on both sides
    let big = tempfile::NamedTempFile::new().unwrap();
    {
        let mut w = std::io::BufWriter::new(big.as_file());
        w.write_all(b"Subject: big\r\n\r\n").unwrap();
        let line = "0123456789".repeat(7) + "\r\n";
        for _ in 0..(256 << 20) / line.len() {
            w.write_all(line.as_bytes()).unwrap();
        }
    }
    let t = Instant::now();
    append_from_reader(
        &inbox,
        std::fs::File::open(big.path()).unwrap(),
        AppendMeta::default(),
        AppendLimit::NONE,
    )
    .unwrap();
    let ours = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let status = std::process::Command::new(&doveadm)
        .args(["-c"])
        .arg(dovecot.config_path())
        .args(["save", "-u", "bob", "-m", "INBOX"])
        .stdin(std::fs::File::open(big.path()).unwrap())
        .status()
        .unwrap();
    assert!(status.success());
    let theirs = t.elapsed().as_secs_f64();
    eprintln!(
        "256 MiB message: Columba {ours:.2} s, doveadm save {theirs:.2} s, ratio {:.2}",
        ours / theirs
    );

    // MULTIAPPEND of 200 small messages
    let t = Instant::now();
    let mut staged = Vec::new();
    for i in 0..200 {
        let mut w = MessageWriter::new(&inbox, AppendMeta::default(), AppendLimit::NONE).unwrap();
        w.write(small(i).as_bytes()).unwrap();
        staged.push(w.finish().unwrap());
    }
    commit_appends(&inbox, staged).unwrap();
    let ours = t.elapsed().as_secs_f64();
    let mut imap = ImapClient::connect(dovecot.imap_port);
    assert!(imap.command("LOGIN bob bobpw").1.starts_with("OK"));
    let mut cmd = String::from("APPEND INBOX");
    for i in 0..200 {
        let m = small(i);
        cmd.push_str(&format!(" {{{}+}}\r\n{m}", m.len()));
    }
    let t = Instant::now();
    let (_, ok) = imap.command(&cmd);
    let theirs = t.elapsed().as_secs_f64();
    assert!(ok.starts_with("OK"), "{ok}");
    eprintln!(
        "MULTIAPPEND of 200 messages: Columba {:.1} ms, Dovecot IMAP {:.1} ms, ratio {:.2}",
        ours * 1e3,
        theirs * 1e3,
        ours / theirs
    );
    assert_eq!(MailboxSnapshot::open(&inbox).unwrap().messages.len(), 201);
}

//! Invalid mailbox names (`../x`, `a/../b`, `/abs`, `a//b`, `~x`, ...) sent
//! to a live private Dovecot 2.3 (namespace separator `/` over Maildir++)
//! and to the Columba IMAP session: both refuse them with the same
//! `NO [CANNOT] ...` words, command by command, once Dovecot's timings are
//! masked. Names Dovecot accepts (`a%b`, `a*b`) are created by both.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

use columba_interop::{require_tool, DovecotConfig, PrivateDovecot};
use columba_session::{ImapConfig, ImapSession, MaildirStorage};

/// Drops Dovecot's ` (0.001 + 0.000 secs)` before the final `.`.
fn without_timing(line: &str) -> String {
    match (line.find(" (0."), line.find("secs)")) {
        (Some(i), Some(j)) if j > i => format!("{}{}", &line[..i], &line[j + 5..]),
        _ => line.to_string(),
    }
}

fn dovecot_imap(port: u16, script: &[String]) -> Vec<String> {
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut w = stream;
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    w.write_all(b"l LOGIN alice alicepw\r\n").unwrap();
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        if line.starts_with("l ") {
            break;
        }
    }
    let mut all = Vec::new();
    for cmd in script {
        w.write_all(format!("{cmd}\r\n").as_bytes()).unwrap();
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            all.push(without_timing(&line));
            if line.starts_with("t ") {
                break;
            }
        }
    }
    all
}

fn columba_imap(script: &[String]) -> Vec<String> {
    let home = tempfile::tempdir().unwrap();
    let maildir = home.path().join("Maildir");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    let mut s = ImapSession::new(ImapConfig {
        plaintext_without_tls: true,
        ..ImapConfig::default()
    });
    s.take_output();
    s.feed(b"l LOGIN u p\r\n");
    s.poll_event();
    s.login_succeeded("u", Box::new(MaildirStorage::open(&maildir).unwrap()));
    s.take_output();
    let mut all = Vec::new();
    for cmd in script {
        s.feed(format!("{cmd}\r\n").as_bytes());
        let out = String::from_utf8(s.take_output()).unwrap();
        all.extend(out.split_inclusive("\r\n").map(str::to_string));
    }
    all
}

#[test]
fn invalid_mailbox_names_are_refused_as_dovecot_refuses_them() {
    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(
        DovecotConfig::default()
            .user("alice", "alicepw")
            .extra("namespace inbox {\n  inbox = yes\n  separator = /\n}\n"),
    )
    .unwrap();
    let names = [
        "../x", "a/../b", "a/./b", "..", ".x", "a.b", "/abs", "a//b", "a/", "~x", "",
    ];
    let mut script = Vec::new();
    for n in names {
        for cmd in ["SELECT", "EXAMINE", "CREATE", "DELETE", "UNSUBSCRIBE"] {
            script.push(format!("t {cmd} \"{n}\""));
        }
        script.push(format!("t STATUS \"{n}\" (MESSAGES)"));
        script.push(format!("t RENAME INBOX \"{n}\""));
        script.push(format!("t RENAME \"{n}\" y"));
    }
    // '%' and '*' are valid mailbox name characters to Dovecot
    for n in ["a%b", "a*b"] {
        script.push(format!("t CREATE \"{n}\""));
        script.push(format!("t DELETE \"{n}\""));
    }
    let theirs = dovecot_imap(dovecot.imap_port, &script);
    let ours = columba_imap(&script);
    let pairs: Vec<String> = script
        .iter()
        .zip(theirs.iter().zip(ours.iter()))
        .map(|(c, (t, o))| format!("{c}\n  Dovecot: {t}  Columba: {o}"))
        .collect();
    for (i, (t, o)) in theirs.iter().zip(ours.iter()).enumerate() {
        assert_eq!(t, o, "answer {i} differs:\n{}", pairs.join("\n"));
    }
    assert_eq!(theirs.len(), ours.len(), "{}", pairs.join("\n"));
    assert!(
        theirs.iter().any(|l| l.contains("[CANNOT]")),
        "{}",
        pairs.join("\n")
    );
}

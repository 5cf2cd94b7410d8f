//! What a sync sends about other sessions' changes (flag changes,
//! expunges, new messages), in Dovecot's order and form: the flag changes
//! as `FETCH (FLAGS ...)` numbered as the client knows the messages, with
//! the UID only after UID STORE (or with QRESYNC) and `MODSEQ` first once
//! CONDSTORE is on, then the expunges, then EXISTS and RECENT. The same
//! two-session script goes to a live Dovecot and to Columba.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

use columba_interop::{require_tool, DovecotConfig, PrivateDovecot};
use columba_session::{ImapConfig, ImapSession, MaildirStorage};

const MESSAGE: &str = "From: a@example.com\r\nSubject: m\r\n\r\nbody\r\n";

/// (session, command): `a` is watched, `b` makes the changes.
const SCRIPT: &[(char, &str)] = &[
    ('a', "a1 SELECT INBOX"),
    ('b', "b1 SELECT INBOX"),
    ('b', "b2 STORE 2 +FLAGS.SILENT (\\Flagged)"),
    ('b', "b3 STORE 3 +FLAGS.SILENT (\\Deleted)"),
    ('b', "b4 EXPUNGE"),
    ('b', "APPEND"),
    ('a', "a2 NOOP"),
    ('b', "b5 STORE 1 +FLAGS.SILENT (\\Answered)"),
    ('a', "a3 UID STORE 2 -FLAGS (\\Flagged)"),
    ('b', "b6 STORE 3 +FLAGS.SILENT (\\Draft)"),
    ('a', "a4 STORE 2 +FLAGS (\\Seen)"),
    ('a', "a5 ENABLE CONDSTORE"),
    ('b', "b7 STORE 1 +FLAGS.SILENT (\\Seen)"),
    ('b', "b8 STORE 2 +FLAGS.SILENT ($Label1)"),
    ('a', "a6 NOOP"),
    ('b', "b9 STORE 2 +FLAGS.SILENT (\\Deleted)"),
    ('b', "b10 EXPUNGE"),
    ('a', "a7 CHECK"),
];

/// Modseqs may differ (what Dovecot counted before), UIDVALIDITY is the
/// second each mailbox was made in, and Dovecot's tagged answers carry
/// timings: masked.
fn normalize(text: &str) -> String {
    let mut untimed = String::new();
    for line in text.split_inclusive("\r\n") {
        if let Some(i) = line.find("[UIDVALIDITY ") {
            untimed.push_str(&line[..i]);
            untimed.push_str("[UIDVALIDITY N]");
            untimed.push_str(line[i..].split_once(']').map_or("", |(_, t)| t));
            continue;
        }
        match (line.find(" (0."), line.find("secs)")) {
            (Some(i), Some(j)) => {
                untimed.push_str(&line[..i]);
                untimed.push_str(&line[j + 5..]);
            }
            _ => untimed.push_str(line),
        }
    }
    let mut out = String::new();
    let mut rest = untimed.as_str();
    while let Some(i) = rest.find("MODSEQ ") {
        let (head, tail) = rest.split_at(i + "MODSEQ ".len());
        out.push_str(head);
        let digits = tail
            .trim_start_matches('(')
            .chars()
            .take_while(char::is_ascii_digit)
            .count();
        let skip = digits + usize::from(tail.starts_with('('));
        out.push_str(if tail.starts_with('(') { "(N" } else { "N" });
        rest = &tail[skip..];
    }
    out.push_str(rest);
    out
}

struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    fn login(port: u16) -> Client {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let mut c = Client {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
        };
        let mut greeting = String::new();
        c.reader.read_line(&mut greeting).unwrap();
        c.run("l LOGIN alice alicepw");
        c
    }

    fn run(&mut self, cmd: &str) -> String {
        let (tag, line) = if cmd == "APPEND" {
            (
                "p".to_string(),
                format!("p APPEND INBOX {{{}+}}\r\n{MESSAGE}", MESSAGE.len()),
            )
        } else {
            (cmd.split(' ').next().unwrap().to_string(), cmd.to_string())
        };
        self.writer.write_all(line.as_bytes()).unwrap();
        self.writer.write_all(b"\r\n").unwrap();
        let mut all = String::new();
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).unwrap();
            assert!(!line.is_empty(), "connection closed after {all}");
            all.push_str(&line);
            if line.starts_with(&format!("{tag} ")) {
                return all;
            }
        }
    }
}

fn dovecot_transcript(port: u16) -> String {
    let mut a = Client::login(port);
    let mut b = Client::login(port);
    for _ in 0..3 {
        a.run("APPEND");
    }
    let mut out = String::new();
    for &(who, cmd) in SCRIPT {
        let answer = if who == 'a' { a.run(cmd) } else { b.run(cmd) };
        if who == 'a' {
            out.push_str(&answer);
        }
    }
    out
}

fn session(root: &std::path::Path) -> ImapSession {
    let mut s = ImapSession::new(ImapConfig {
        plaintext_without_tls: true,
        ..ImapConfig::default()
    });
    s.take_output();
    s.feed(b"l LOGIN alice alicepw\r\n");
    s.poll_event();
    s.login_succeeded("alice", Box::new(MaildirStorage::open(root).unwrap()));
    s.take_output();
    s
}

fn run(s: &mut ImapSession, cmd: &str) -> String {
    if cmd == "APPEND" {
        s.feed(format!("p APPEND INBOX {{{}+}}\r\n{MESSAGE}\r\n", MESSAGE.len()).as_bytes());
    } else {
        s.feed(cmd.as_bytes());
        s.feed(b"\r\n");
    }
    String::from_utf8(s.take_output()).unwrap()
}

fn columba_transcript() -> String {
    let home = tempfile::tempdir().unwrap();
    let root = home.path().join("Maildir");
    let mut a = session(&root);
    let mut b = session(&root);
    for _ in 0..3 {
        run(&mut a, "APPEND");
    }
    let mut out = String::new();
    for &(who, cmd) in SCRIPT {
        let answer = if who == 'a' {
            run(&mut a, cmd)
        } else {
            run(&mut b, cmd)
        };
        if who == 'a' {
            out.push_str(&answer);
        }
    }
    out
}

#[test]
fn other_sessions_changes_are_reported_as_dovecot_reports_them() {
    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    let theirs = normalize(&dovecot_transcript(dovecot.imap_port));
    let ours = normalize(&columba_transcript());
    assert_eq!(theirs, ours, "Dovecot:\n{theirs}\nColumba:\n{ours}");
}

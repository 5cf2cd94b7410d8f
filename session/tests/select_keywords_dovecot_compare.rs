//! SELECT's FLAGS and PERMANENTFLAGS answers list every keyword the
//! mailbox's index knows, as Dovecot's do: one set on no message any more
//! is still listed, in the order the keywords were first used. The same
//! commands go to a live Dovecot and to Columba, each in a new session.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

use columba_interop::{require_tool, DovecotConfig, PrivateDovecot};
use columba_session::{ImapConfig, ImapSession, MaildirStorage};

const MESSAGE: &str = "From: a@example.com\r\nSubject: m\r\n\r\nbody\r\n";

/// Run in a first session; a second one then SELECTs.
const SETUP: &[&str] = &[
    "APPEND",
    "APPEND",
    "s1 SELECT INBOX",
    "s2 STORE 1 +FLAGS ($Zeta)",
    "s3 STORE 2 +FLAGS ($Alpha $Mid)",
    "s4 STORE 1 -FLAGS ($Zeta)",
    "s5 LOGOUT",
];

fn flags_lines(answer: &str) -> String {
    answer
        .split_inclusive("\r\n")
        .filter(|l| l.starts_with("* FLAGS") || l.contains("[PERMANENTFLAGS"))
        .collect()
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
        let (tag, line) = command(cmd);
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

fn command(cmd: &str) -> (String, String) {
    if cmd == "APPEND" {
        (
            "p".to_string(),
            format!("p APPEND INBOX {{{}+}}\r\n{MESSAGE}", MESSAGE.len()),
        )
    } else {
        (cmd.split(' ').next().unwrap().to_string(), cmd.to_string())
    }
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
    let (_, line) = command(cmd);
    s.feed(line.as_bytes());
    s.feed(b"\r\n");
    String::from_utf8(s.take_output()).unwrap()
}

#[test]
fn select_lists_the_keywords_the_index_knows_as_dovecot_does() {
    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    let mut first = Client::login(dovecot.imap_port);
    for cmd in SETUP {
        first.run(cmd);
    }
    let theirs = flags_lines(&Client::login(dovecot.imap_port).run("x SELECT INBOX"));

    let home = tempfile::tempdir().unwrap();
    let root = home.path().join("Maildir");
    let mut first = session(&root);
    for cmd in SETUP {
        run(&mut first, cmd);
    }
    let ours = flags_lines(&run(&mut session(&root), "x SELECT INBOX"));
    assert!(theirs.contains("$Zeta"), "Dovecot:\n{theirs}");
    assert_eq!(theirs, ours, "Dovecot:\n{theirs}\nColumba:\n{ours}");
}

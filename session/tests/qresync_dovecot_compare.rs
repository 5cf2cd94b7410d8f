//! SELECT (QRESYNC (uidvalidity modseq [known-uids [seq-match]])) against a
//! live private Dovecot: after flag changes and expunges, a client that
//! remembers the mailbox's state gets the same `VANISHED (EARLIER)` set
//! and the same changed FETCHes from both (the expunges come from the
//! transaction log, so only the UIDs really expunged since are named).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

use columba_interop::{require_tool, DovecotConfig, PrivateDovecot};
use columba_session::{ImapConfig, ImapSession, MaildirStorage};

const MESSAGE: &str = "From: Ann <ann@example.com>\r\nSubject: hello\r\n\r\nbody line\r\n";

/// One IMAP connection, to Dovecot or to a Columba session.
trait Imap {
    /// Sends one tagged command, returns everything up to its tagged answer.
    fn send(&mut self, cmd: &str) -> String;
}

struct Dovecot {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Dovecot {
    fn login(port: u16) -> Dovecot {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let mut d = Dovecot {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
        };
        let mut greeting = String::new();
        d.reader.read_line(&mut greeting).unwrap();
        d.send("l LOGIN alice alicepw");
        d
    }
}

impl Imap for Dovecot {
    fn send(&mut self, cmd: &str) -> String {
        self.writer.write_all(cmd.as_bytes()).unwrap();
        self.writer.write_all(b"\r\n").unwrap();
        let tag = cmd.split(' ').next().unwrap();
        let mut all = String::new();
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).unwrap();
            if let Some(n) = line
                .trim_end()
                .strip_suffix('}')
                .and_then(|s| s.rsplit_once('{'))
                .and_then(|(_, n)| n.parse::<usize>().ok())
            {
                let mut buf = vec![0; n];
                self.reader.read_exact(&mut buf).unwrap();
                line.push_str(&String::from_utf8_lossy(&buf));
                self.reader.read_line(&mut line).unwrap();
            }
            all.push_str(&line);
            if line.starts_with(&format!("{tag} ")) {
                return all;
            }
        }
    }
}

struct Columba {
    session: ImapSession,
    _home: tempfile::TempDir,
}

impl Columba {
    fn login() -> Columba {
        let home = tempfile::tempdir().unwrap();
        let mut s = ImapSession::new(ImapConfig {
            plaintext_without_tls: true,
            ..ImapConfig::default()
        });
        s.feed(b"l LOGIN u p\r\n");
        s.poll_event();
        let storage = MaildirStorage::open(&home.path().join("Maildir")).unwrap();
        s.login_succeeded("u", Box::new(storage));
        s.take_output();
        Columba {
            session: s,
            _home: home,
        }
    }
}

impl Imap for Columba {
    fn send(&mut self, cmd: &str) -> String {
        self.session.feed(cmd.as_bytes());
        self.session.feed(b"\r\n");
        String::from_utf8(self.session.take_output()).unwrap()
    }
}

/// The number after `key` in `text`.
fn number_after(text: &str, key: &str) -> u64 {
    let i = text.find(key).unwrap_or_else(|| panic!("{key} in {text}")) + key.len();
    let digits: String = text[i..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap()
}

/// Runs the scenario; returns the QRESYNC SELECT answers, UIDVALIDITY
/// masked and timings dropped.
fn scenario(imap: &mut dyn Imap) -> Vec<String> {
    let append = format!("a APPEND INBOX {{{}+}}\r\n{MESSAGE}", MESSAGE.len());
    for _ in 0..6 {
        imap.send(&append);
    }
    imap.send("b ENABLE QRESYNC");
    let selected = imap.send("c SELECT INBOX");
    let validity = number_after(&selected, "[UIDVALIDITY ");
    // the client remembers this state
    let modseq = number_after(&selected, "[HIGHESTMODSEQ ");
    imap.send("d STORE 2 +FLAGS.SILENT (\\Seen)");
    imap.send("e STORE 3,5 +FLAGS.SILENT (\\Deleted)");
    imap.send("f EXPUNGE");
    imap.send("g UNSELECT");
    let queries = [
        format!("h SELECT INBOX (QRESYNC ({validity} {modseq}))"),
        format!("i SELECT INBOX (QRESYNC ({validity} {modseq} 1:4))"),
        format!("j EXAMINE INBOX (QRESYNC ({validity} {modseq} 1:6 (1:6 1:6)))"),
        format!("k SELECT INBOX (QRESYNC ({validity} 1 2:6))"),
        format!("n SELECT INBOX (QRESYNC ({validity} 1 2:*))"),
        format!("m SELECT INBOX (QRESYNC ({} {modseq}))", validity + 1),
    ];
    queries
        .iter()
        .map(|q| {
            let answer = imap.send(q);
            answer
                .replace(&validity.to_string(), "V")
                .split_inclusive("\r\n")
                .map(|l| match (l.find(" (0."), l.find("secs)")) {
                    (Some(i), Some(j)) => format!("{}{}", &l[..i], &l[j + 5..]),
                    _ => l.to_string(),
                })
                .collect()
        })
        .collect()
}

#[test]
fn qresync_select_answers_as_dovecot_does() {
    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    let theirs = scenario(&mut Dovecot::login(dovecot.imap_port));
    let ours = scenario(&mut Columba::login());
    for (t, o) in theirs.iter().zip(&ours) {
        assert_eq!(o, t, "\nColumba:\n{o}\nDovecot:\n{t}");
    }
    // the log-based answer names only what was expunged since
    assert!(
        ours[0].contains("* VANISHED (EARLIER) 3,5\r\n"),
        "{}",
        ours[0]
    );
}

//! Shared by the session's Dovecot comparisons: an IMAP client for a live
//! Dovecot and an in-process Columba session, both logged in as `alice`.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

use columba_session::{ImapConfig, ImapSession, MailStorage, MaildirStorage};

/// `tag APPEND INBOX` of `message` as a non-synchronizing literal, whole.
pub fn append_command(tag: &str, message: &str) -> String {
    format!("{tag} APPEND INBOX {{{}+}}\r\n{message}", message.len())
}

/// A client of a live Dovecot on 127.0.0.1.
pub struct DovecotClient {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl DovecotClient {
    /// Connects to `port` and logs in as alice (password `alicepw`).
    pub fn login(port: u16) -> DovecotClient {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let mut c = DovecotClient {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
        };
        let mut greeting = String::new();
        c.reader.read_line(&mut greeting).unwrap();
        c.run("l LOGIN alice alicepw");
        c
    }

    /// Sends one command (its tag is its first word), returns every line
    /// up to its tagged answer.
    pub fn run(&mut self, cmd: &str) -> String {
        let tag = cmd.split(' ').next().unwrap().to_string();
        self.writer.write_all(cmd.as_bytes()).unwrap();
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

/// A Columba session over the Maildir++ root `root`, logged in as alice.
pub fn columba_session(root: &std::path::Path) -> ImapSession {
    session_over(Box::new(MaildirStorage::open(root).unwrap()))
}

/// A Columba session over `storage`, logged in as alice.
pub fn session_over(storage: Box<dyn MailStorage>) -> ImapSession {
    let mut s = ImapSession::new(ImapConfig {
        plaintext_without_tls: true,
        ..ImapConfig::default()
    });
    s.take_output();
    s.feed(b"l LOGIN alice alicepw\r\n");
    s.poll_event();
    s.login_succeeded("alice", storage);
    s.take_output();
    s
}

/// Feeds one command line to `s` and returns what it answered.
pub fn run_in(s: &mut ImapSession, cmd: &str) -> String {
    s.feed(cmd.as_bytes());
    s.feed(b"\r\n");
    String::from_utf8(s.take_output()).unwrap()
}

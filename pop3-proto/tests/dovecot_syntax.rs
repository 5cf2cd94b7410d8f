//! Which command lines are well-formed: this crate's server-side decoder
//! against Dovecot 2.3's POP3 server, line by line.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

use columba_interop::require_tool;
use columba_pop3_proto::Command;

/// Lines whose answer from Dovecot depends only on their syntax (the
/// mailbox has 4 messages), and whether the decoder accepts them.
const AGREED: &[(&str, bool)] = &[
    ("list 2", true),
    ("LiSt 2", true),
    ("LIST  2", true),
    ("LIST 4294967296", false),
    ("LIST two", false),
    ("UIDL 2", true),
    ("RETR", false),
    ("RETR abc", false),
    ("TOP 1", false),
    ("TOP x 1", false),
    ("DELE", false),
    ("NOOP", true),
    ("NOOP with arguments", true),
    ("XYZZY", false),
    ("", false),
    ("STAT", true),
];

/// Where the decoder is deliberately more lenient than Dovecot: a trailing
/// space after a message number ("Noise after message number" there).
const LENIENT: &[&str] = &["LIST 2 ", "UIDL 2 "];

fn dovecot_answers(port: u16, lines: &[&str]) -> Vec<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut answer = String::new();
    reader.read_line(&mut answer).unwrap();
    stream.write_all(b"USER alice\r\nPASS alicepw\r\n").unwrap();
    for _ in 0..2 {
        answer.clear();
        reader.read_line(&mut answer).unwrap();
        assert!(answer.starts_with("+OK"), "{answer}");
    }
    lines
        .iter()
        .map(|line| {
            stream.write_all(format!("{line}\r\n").as_bytes()).unwrap();
            let mut answer = String::new();
            reader.read_line(&mut answer).unwrap();
            answer
        })
        .collect()
}

#[test]
fn decoder_accepts_the_command_lines_dovecot_accepts() {
    require_tool!("dovecot");
    let dovecot = support::dovecot_with_mail();
    let lines: Vec<&str> = AGREED
        .iter()
        .map(|(line, _)| *line)
        .chain(LENIENT.iter().copied())
        .collect();
    let answers = dovecot_answers(dovecot.pop3_port, &lines);
    for ((line, accepted), answer) in AGREED.iter().zip(&answers) {
        assert_eq!(
            answer.starts_with("+OK"),
            *accepted,
            "Dovecot on {line:?}: {answer}"
        );
        let ours = Command::parse(line.as_bytes(), 0, false);
        assert_eq!(ours.is_ok(), *accepted, "decoder on {line:?}: {ours:?}");
    }
    for (line, answer) in LENIENT.iter().zip(&answers[AGREED.len()..]) {
        assert!(
            answer.starts_with("-ERR Noise"),
            "Dovecot on {line:?}: {answer}"
        );
        assert!(
            Command::parse(line.as_bytes(), 0, false).is_ok(),
            "{line:?}"
        );
    }
}

//! Plaintext authentication on a connection that is not secured, against
//! a live Dovecot with `disable_plaintext_auth = yes`: the client connects
//! from 127.0.0.2 (Dovecot treats a connection from its own address as
//! secured), which the standard library cannot do, so a tiny Python client
//! talks to Dovecot. The greeting, CAPABILITY/CAPA and every refusal must
//! be the same from the Columba sessions.

use std::process::Command;

use columba_interop::{require_tool, DovecotConfig, PrivateDovecot};
use columba_session::{ImapConfig, ImapSession, Pop3Config, Pop3Session};

const MECHS: [&str; 5] = ["PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256"];

const IMAP: [&str; 4] = [
    "a CAPABILITY",
    "b LOGIN alice alicepw",
    "c AUTHENTICATE PLAIN",
    "d AUTHENTICATE LOGIN YWxpY2U=",
];

const POP3: [&str; 5] = ["CAPA", "USER alice", "PASS alicepw", "AUTH PLAIN", "AUTH"];

/// Dovecot's answers (greeting first), one string per line sent.
fn dovecot(python: &std::path::Path, port: u16, lines: &[&str]) -> Vec<String> {
    let script = r#"
import socket, sys
port = int(sys.argv[1])
s = socket.socket()
s.bind(("127.0.0.2", 0))
s.connect(("127.0.0.1", port))
s.settimeout(0.7)
def read():
    out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
    except socket.timeout:
        pass
    return out.decode()
answers = [read()]
for line in sys.argv[2:]:
    s.sendall(line.encode() + b"\r\n")
    answers.append(read())
print("\x1e".join(answers), end="")
"#;
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .arg(port.to_string())
        .args(lines)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .split('\x1e')
        .map(str::to_string)
        .collect()
}

#[test]
fn plaintext_refusals_match_dovecot() {
    require_tool!("dovecot");
    let python = require_tool!("python3");
    let d = PrivateDovecot::start(
        DovecotConfig::default()
            .user("alice", "alicepw")
            .extra("disable_plaintext_auth = yes"),
    )
    .unwrap();
    let mechs: Vec<String> = MECHS.iter().map(|m| m.to_string()).collect();

    let theirs = dovecot(&python, d.imap_port, &IMAP);
    let mut s = ImapSession::new(ImapConfig {
        starttls: false,
        plaintext_without_tls: false,
        imap4rev2: false,
        sasl_mechanisms: mechs.clone(),
        sasl_passthrough: true,
        greeting: "Dovecot (Debian) ready.".into(),
        ..ImapConfig::default()
    });
    let mut ours = vec![String::from_utf8(s.take_output()).unwrap()];
    for line in IMAP {
        s.feed(format!("{line}\r\n").as_bytes());
        assert!(s.poll_event().is_none());
        ours.push(String::from_utf8(s.take_output()).unwrap());
    }
    assert_eq!(ours, theirs);

    let theirs = dovecot(&python, d.pop3_port, &POP3);
    let mut s = Pop3Session::new(Pop3Config {
        stls: false,
        plaintext_without_tls: false,
        sasl_mechanisms: mechs,
        sasl_passthrough: true,
        greeting: "Dovecot (Debian) ready.".into(),
        ..Pop3Config::default()
    });
    let mut ours = vec![String::from_utf8(s.take_output()).unwrap()];
    for line in POP3 {
        s.feed(format!("{line}\r\n").as_bytes());
        assert!(s.poll_event().is_none());
        ours.push(String::from_utf8(s.take_output()).unwrap());
    }
    assert_eq!(ours, theirs);
}

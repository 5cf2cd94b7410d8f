//! SASL passthrough against a live private Dovecot 2.3: the same IMAP and
//! POP3 authentication scripts go to Dovecot's login processes and to a
//! Columba session whose adapter relays every exchange to the same
//! Dovecot's auth server over the auth-client socket, as a Columba login
//! process does. The answers must be equal line for line.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use columba_auth_sasl::protocol::client::{AuthClient, ClientEvent};
use columba_interop::{require_tool, DovecotConfig, PrivateDovecot, TestUser};
use columba_session::{
    ImapConfig, ImapEvent, ImapSession, LoginFailure, MaildirStorage, Pop3Config, Pop3Event,
    Pop3Session,
};

const MECHS: [&str; 5] = ["PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256"];

fn dovecot() -> PrivateDovecot {
    let mut config = DovecotConfig::default()
        .user("alice", "alicepw")
        .extra("auth_failure_delay = 0");
    config.users.push(TestUser {
        name: "bob".into(),
        password: "bobpw".into(),
        extra_fields: "nologin reason=Go_away".into(),
    });
    PrivateDovecot::start(config).unwrap()
}

/// A blocking relay to Dovecot's auth server, as a login process has.
struct AuthRelay {
    stream: UnixStream,
    client: AuthClient,
    queued: Vec<ClientEvent>,
    id: u32,
}

/// What the auth server said about the current request.
enum Verdict {
    Continue(Vec<u8>),
    Ok(String),
    Fail(LoginFailure, Option<String>),
}

impl AuthRelay {
    fn connect(path: &Path) -> AuthRelay {
        let stream = UnixStream::connect(path).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let (client, hello) = AuthClient::new(std::process::id());
        let mut relay = AuthRelay {
            stream,
            client,
            queued: Vec::new(),
            id: 0,
        };
        relay.stream.write_all(hello.as_bytes()).unwrap();
        while !relay.client.is_ready() {
            let events = relay.read();
            relay.queued.extend(events);
        }
        relay.queued.retain(|e| *e != ClientEvent::Ready);
        relay
    }

    fn read(&mut self) -> Vec<ClientEvent> {
        let mut buf = [0u8; 8192];
        let n = self.stream.read(&mut buf).unwrap();
        assert!(n > 0, "auth server closed");
        self.client.feed(&buf[..n]).unwrap()
    }

    fn start(&mut self, service: &str, mech: &str, ir: Option<&[u8]>) -> Verdict {
        let params = [
            format!("service={service}"),
            "secured".into(),
            "lip=127.0.0.1".into(),
            "rip=127.0.0.1".into(),
        ];
        let (id, line) = self.client.auth_line(mech, &params, ir);
        self.id = id;
        self.stream.write_all(line.as_bytes()).unwrap();
        self.verdict()
    }

    fn answer(&mut self, data: &[u8]) -> Verdict {
        let line = AuthClient::cont_line(self.id, data);
        self.stream.write_all(line.as_bytes()).unwrap();
        self.verdict()
    }

    fn verdict(&mut self) -> Verdict {
        loop {
            if self.queued.is_empty() {
                let events = self.read();
                self.queued.extend(events);
                continue;
            }
            match self.queued.remove(0) {
                ClientEvent::Continue { id, data } if id == self.id => {
                    return Verdict::Continue(data)
                }
                // `nologin` in an OK still refuses the login, as Dovecot's
                // login processes do
                ClientEvent::Ok { id, fields } if id == self.id && fields.contains("nologin") => {
                    let failure = LoginFailure::from_auth_fail(fields.get("code"), true);
                    return Verdict::Fail(failure, fields.get("reason").map(str::to_string));
                }
                ClientEvent::Ok { id, fields } if id == self.id => {
                    return Verdict::Ok(fields.get("user").unwrap_or_default().to_string())
                }
                ClientEvent::Fail { id, fields } if id == self.id => {
                    let failure = LoginFailure::from_auth_fail(
                        fields.get("code"),
                        fields.contains("nologin"),
                    );
                    return Verdict::Fail(failure, fields.get("reason").map(str::to_string));
                }
                _ => {}
            }
        }
    }
}

/// Sends `script` to Dovecot line by line; after each line reads until a
/// tagged answer or a `+` continuation (IMAP) or any whole answer (POP3).
fn talk_dovecot(port: u16, script: &[&str], pop3: bool) -> String {
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut w = stream;
    let mut line = String::new();
    reader.read_line(&mut line).unwrap(); // greeting
    let mut all = String::new();
    let mut tag = String::new();
    for cmd in script {
        w.write_all(format!("{cmd}\r\n").as_bytes()).unwrap();
        // a continuation line (no space) answers the last command
        if let Some((t, _)) = cmd.split_once(' ') {
            tag = t.to_string();
        }
        let multi = pop3 && (*cmd == "AUTH" || *cmd == "CAPA");
        loop {
            line.clear();
            if let Err(e) = reader.read_line(&mut line) {
                panic!("{e} after {cmd:?}; so far:\n{all}");
            }
            all.push_str(&line);
            let done = if pop3 {
                !multi || line == ".\r\n"
            } else {
                line.starts_with("+ ") || line.starts_with(&format!("{tag} "))
            };
            if done {
                break;
            }
        }
    }
    all
}

fn talk_imap(d: &PrivateDovecot, script: &[&str]) -> String {
    let home = tempfile::tempdir().unwrap();
    let mut relay = AuthRelay::connect(&d.socket("auth-client"));
    let mut s = ImapSession::new(ImapConfig {
        // the private Dovecot has ssl = no and no IMAP4rev2
        starttls: false,
        imap4rev2: false,
        plaintext_without_tls: true,
        sasl_passthrough: true,
        sasl_mechanisms: MECHS.iter().map(|m| m.to_string()).collect(),
        ..ImapConfig::default()
    });
    s.take_output();
    let mut all = Vec::new();
    for cmd in script {
        s.feed(format!("{cmd}\r\n").as_bytes());
        while let Some(event) = s.poll_event() {
            let verdict = match event {
                ImapEvent::SaslStart {
                    mechanism,
                    initial_response,
                } => relay.start("imap", &mechanism, initial_response.as_deref()),
                ImapEvent::SaslResponse(data) => relay.answer(&data),
                // LOGIN goes to the auth server as PLAIN, as imap-login does
                ImapEvent::Authenticate { credentials, .. } => {
                    let mut plain = vec![0];
                    plain.extend_from_slice(credentials.user.as_bytes());
                    plain.push(0);
                    plain.extend_from_slice(&credentials.password);
                    relay.start("imap", "PLAIN", Some(&plain))
                }
                _ => continue,
            };
            match verdict {
                Verdict::Continue(c) => s.sasl_challenge(&c),
                Verdict::Ok(user) => {
                    let storage = MaildirStorage::open(&home.path().join("Maildir")).unwrap();
                    s.login_succeeded(&user, Box::new(storage));
                }
                Verdict::Fail(f, reason) => s.login_failed_with(f, reason.as_deref()),
            }
        }
        all.extend(s.take_output());
    }
    String::from_utf8(all).unwrap()
}

fn talk_pop3(d: &PrivateDovecot, script: &[&str]) -> String {
    let home = tempfile::tempdir().unwrap();
    let mut relay = AuthRelay::connect(&d.socket("auth-client"));
    let mut s = Pop3Session::new(Pop3Config {
        stls: false,
        plaintext_without_tls: true,
        sasl_passthrough: true,
        sasl_mechanisms: MECHS.iter().map(|m| m.to_string()).collect(),
        ..Pop3Config::default()
    });
    s.take_output();
    let mut all = Vec::new();
    for cmd in script {
        s.feed(format!("{cmd}\r\n").as_bytes());
        while let Some(event) = s.poll_event() {
            let verdict = match event {
                Pop3Event::SaslStart {
                    mechanism,
                    initial_response,
                } => relay.start("pop3", &mechanism, initial_response.as_deref()),
                Pop3Event::SaslResponse(data) => relay.answer(&data),
                Pop3Event::Authenticate { credentials, .. } => {
                    let mut plain = vec![0];
                    plain.extend_from_slice(credentials.user.as_bytes());
                    plain.push(0);
                    plain.extend_from_slice(&credentials.password);
                    relay.start("pop3", "PLAIN", Some(&plain))
                }
                _ => continue,
            };
            match verdict {
                Verdict::Continue(c) => s.sasl_challenge(&c),
                Verdict::Ok(user) => {
                    let storage = MaildirStorage::open(&home.path().join("Maildir")).unwrap();
                    s.login_succeeded(&user, Box::new(storage));
                }
                Verdict::Fail(f, reason) => s.login_failed_with(f, reason.as_deref()),
            }
        }
        all.extend(s.take_output());
    }
    String::from_utf8(all).unwrap()
}

// "\0alice\0wrong", "\0alice\0alicepw", "\0bob\0bobpw", "alice", "wrong"
const ALICE_WRONG: &str = "AGFsaWNlAHdyb25n";
const ALICE_RIGHT: &str = "AGFsaWNlAGFsaWNlcHc=";
const BOB: &str = "AGJvYgBib2Jwdw==";

#[test]
fn imap_authentication_answers_match_dovecot() {
    require_tool!("dovecot");
    let d = dovecot();
    let script = [
        "a CAPABILITY",
        "a2 ENABLE CONDSTORE",
        "b AUTHENTICATE FOO",
        "c AUTHENTICATE PLAIN",
        "!!!notb64",
        "d AUTHENTICATE PLAIN",
        "*",
        &format!("e AUTHENTICATE PLAIN {ALICE_WRONG}"),
        "f AUTHENTICATE PLAIN =",
        "g AUTHENTICATE LOGIN",
        "YWxpY2U=",
        "d3Jvbmc=",
        "h LOGIN alice wrong",
        "i AUTHENTICATE PLAIN",
        BOB,
        "j LOGIN bob bobpw",
        "k AUTHENTICATE XOAUTH2 dGVzdA==",
        &format!("l AUTHENTICATE PLAIN {ALICE_RIGHT}"),
    ];
    let theirs = talk_dovecot(d.imap_port, &script, false);
    let ours = talk_imap(&d, &script);
    // the client asked CAPABILITY first, so the login answer is an
    // untagged CAPABILITY (post-login capabilities differ) and a plain OK
    let cut = |t: &str| {
        assert!(t.ends_with("\r\nl OK Logged in\r\n"), "{t}");
        let i = t.rfind("* CAPABILITY ").expect(t);
        t[..i].to_string()
    };
    assert_eq!(
        cut(&ours),
        cut(&theirs),
        "\nours:\n{ours}\ndovecot:\n{theirs}"
    );
}

#[test]
fn pop3_authentication_answers_match_dovecot() {
    require_tool!("dovecot");
    let d = dovecot();
    let script = [
        "AUTH FOO",
        "AUTH PLAIN",
        "!!!",
        "AUTH PLAIN",
        "*",
        &format!("AUTH PLAIN {ALICE_WRONG}"),
        "AUTH PLAIN =",
        "AUTH LOGIN",
        "YWxpY2U=",
        "d3Jvbmc=",
        "USER alice",
        "PASS wrong",
        "USER bob",
        "PASS bobpw",
        &format!("AUTH PLAIN {BOB}"),
        &format!("AUTH PLAIN {ALICE_RIGHT}"),
        "QUIT",
    ];
    let theirs = talk_dovecot(d.pop3_port, &script, true);
    let ours = talk_pop3(&d, &script);
    assert_eq!(ours, theirs, "\nours:\n{ours}\ndovecot:\n{theirs}");
}

//! The server direction with real clients: a small blocking POP3 server
//! built from `CommandDecoder` and the encoders serves a fixed mailbox to
//! curl and Python's poplib, which fetch the messages byte for byte.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command as Process, Stdio};
use std::thread::JoinHandle;
use std::time::Duration;

use columba_interop::require_tool;
use columba_pop3_proto::{
    encode_listing, BodyEncoder, Capability, ClientMessage, Command, CommandDecoder, Continuation,
    ListItem, ResponseCode, SaslResponse, ScanListing, StatusLine, UniqueId,
};
use support::RecordingProxy;

const PLAIN_ALICE: &[u8] = b"AGFsaWNlAGFsaWNlcHc=";

/// Serves one connection; the thread ends after QUIT or EOF.
fn serve_one(messages: Vec<Vec<u8>>) -> (u16, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        session(stream, &messages);
    });
    (port, handle)
}

fn session(mut stream: TcpStream, messages: &[Vec<u8>]) {
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let sizes: Vec<u64> = messages
        .iter()
        .map(|m| support::as_sent(m).len() as u64)
        .collect();
    let mut deleted = vec![false; messages.len()];
    let mut decoder = CommandDecoder::new();
    let mut out = Vec::new();
    StatusLine::ok("columba test server ready")
        .encode_into(&mut out)
        .unwrap();
    stream.write_all(&out).unwrap();
    let mut buf = [0; 4096];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        decoder.feed(&buf[..n]);
        while let Some(message) = decoder.next() {
            out.clear();
            let ok = |text: &str, out: &mut Vec<u8>| StatusLine::ok(text).encode_into(out).unwrap();
            let err =
                |text: &str, out: &mut Vec<u8>| StatusLine::err(text).encode_into(out).unwrap();
            let exists = |msg: u32| {
                msg >= 1 && (msg as usize) <= messages.len() && !deleted[msg as usize - 1]
            };
            let mut quit = false;
            match message {
                Err(error) => err(&error.reason(), &mut out),
                Ok(ClientMessage::SaslResponse(SaslResponse::Cancel)) => err("cancelled", &mut out),
                Ok(ClientMessage::SaslResponse(SaslResponse::Data(data))) => {
                    if data.expose() == PLAIN_ALICE {
                        ok("Logged in.", &mut out)
                    } else {
                        StatusLine::err("Authentication failed.")
                            .with_code(ResponseCode::Auth)
                            .encode_into(&mut out)
                            .unwrap()
                    }
                }
                Ok(ClientMessage::Command(command)) => match command {
                    Command::Capa => {
                        let mut sasl = Capability::new("SASL");
                        sasl.params.push("PLAIN".into());
                        let items: Vec<ListItem> =
                            ["TOP", "UIDL", "USER", "RESP-CODES", "PIPELINING"]
                                .iter()
                                .map(|name| ListItem::Capability(Capability::new(name)))
                                .chain([ListItem::Capability(sasl)])
                                .collect();
                        encode_listing(&StatusLine::ok(""), &items, &mut out).unwrap();
                    }
                    Command::Auth(None) => encode_listing(
                        &StatusLine::ok(""),
                        &[ListItem::Mechanism("PLAIN".into())],
                        &mut out,
                    )
                    .unwrap(),
                    Command::Auth(Some(start)) if start.mechanism.eq_ignore_ascii_case("PLAIN") => {
                        match start.initial_response {
                            Some(data) if data.expose() == PLAIN_ALICE => {
                                ok("Logged in.", &mut out)
                            }
                            Some(_) => err("[AUTH] Authentication failed.", &mut out),
                            None => {
                                Continuation { data: Vec::new() }
                                    .encode_into(&mut out)
                                    .unwrap();
                                decoder.expect_sasl_response();
                            }
                        }
                    }
                    Command::User(_) => ok("", &mut out),
                    Command::Pass(password) if password.expose() == b"alicepw" => {
                        ok("Logged in.", &mut out)
                    }
                    Command::Stat => {
                        let live = (0..messages.len()).filter(|&i| !deleted[i]);
                        let total: u64 = live.clone().map(|i| sizes[i]).sum();
                        ok(&format!("{} {total}", live.count()), &mut out)
                    }
                    Command::List(None) | Command::Uidl(None) => {
                        let uidl = matches!(command, Command::Uidl(_));
                        let items: Vec<ListItem> = (0..messages.len())
                            .filter(|&i| !deleted[i])
                            .map(|i| {
                                let msg = i as u32 + 1;
                                if uidl {
                                    ListItem::UniqueId(UniqueId {
                                        msg,
                                        uid: format!("uid-{msg}"),
                                    })
                                } else {
                                    ListItem::Scan(ScanListing {
                                        msg,
                                        size: sizes[i],
                                    })
                                }
                            })
                            .collect();
                        encode_listing(&StatusLine::ok(""), &items, &mut out).unwrap();
                    }
                    Command::List(Some(msg)) if exists(msg) => {
                        ok(&format!("{msg} {}", sizes[msg as usize - 1]), &mut out)
                    }
                    Command::Uidl(Some(msg)) if exists(msg) => {
                        ok(&format!("{msg} uid-{msg}"), &mut out)
                    }
                    Command::Retr(msg) if exists(msg) => {
                        let message = &messages[msg as usize - 1];
                        ok(&format!("{} octets", sizes[msg as usize - 1]), &mut out);
                        let mut body = BodyEncoder::new();
                        for chunk in message.chunks(7) {
                            body.push(chunk, &mut out);
                        }
                        body.finish(&mut out);
                    }
                    Command::Top { msg, lines } if exists(msg) => {
                        let message = &messages[msg as usize - 1];
                        let mut part = Vec::new();
                        let mut in_body = false;
                        let mut body_lines = 0;
                        for line in message.split_inclusive(|&b| b == b'\n') {
                            if in_body {
                                if body_lines == lines {
                                    break;
                                }
                                body_lines += 1;
                            } else if line == b"\n" || line == b"\r\n" {
                                in_body = true;
                            }
                            part.extend_from_slice(line);
                        }
                        ok("", &mut out);
                        let mut body = BodyEncoder::new();
                        body.push(&part, &mut out);
                        body.finish(&mut out);
                    }
                    Command::Dele(msg) if exists(msg) => {
                        deleted[msg as usize - 1] = true;
                        ok("Marked to be deleted.", &mut out)
                    }
                    Command::Rset => {
                        deleted.iter_mut().for_each(|d| *d = false);
                        ok("", &mut out)
                    }
                    Command::Noop => ok("", &mut out),
                    Command::Quit => {
                        ok("Logging out.", &mut out);
                        quit = true;
                    }
                    Command::Retr(_)
                    | Command::Top { .. }
                    | Command::Dele(_)
                    | Command::List(_)
                    | Command::Uidl(_) => err("There's no such message.", &mut out),
                    _ => err("Not supported here.", &mut out),
                },
            }
            stream.write_all(&out).unwrap();
            if quit {
                return;
            }
        }
    }
}

#[test]
fn curl_fetches_from_the_crate_as_server() {
    let curl = require_tool!("curl");
    let messages = support::messages();
    for (msg, url_path) in [(2usize, "2"), (3, "3"), (4, "4")] {
        let (port, server) = serve_one(messages.clone());
        let proxy = RecordingProxy::start(port);
        let output = Process::new(&curl)
            .args(["-sS", "--max-time", "30", "-u", "alice:alicepw"])
            .arg(format!("pop3://127.0.0.1:{}/{url_path}", proxy.port))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&support::as_sent(&messages[msg - 1]))
        );
        server.join().unwrap();
        support::assert_all_ok(&proxy.transcript());
    }
}

#[test]
fn python_poplib_fetches_from_the_crate_as_server() {
    let python = require_tool!("python3");
    let messages = support::messages();
    let (port, server) = serve_one(messages.clone());
    let proxy = RecordingProxy::start(port);
    let script = r#"
import poplib, sys
p = poplib.POP3('127.0.0.1', int(sys.argv[1]), timeout=30)
p.capa()
p.user('alice')
p.pass_('alicepw')
count, size = p.stat()
out = sys.stdout.buffer
out.write(b'%d %d\n' % (count, size))
for n in range(1, count + 1):
    resp, lines, octets = p.retr(n)
    out.write(b'\r\n'.join(lines) + b'\r\n=====\n')
resp, lines, octets = p.top(2, 1)
out.write(b'\r\n'.join(lines) + b'\r\n=====\n')
p.uidl()
p.dele(1)
p.rset()
p.quit()
"#;
    let output = Process::new(python)
        .args(["-c", script])
        .arg(proxy.port.to_string())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    server.join().unwrap();
    let mut expected = Vec::new();
    let total: usize = messages.iter().map(|m| support::as_sent(m).len()).sum();
    expected.extend_from_slice(format!("{} {total}\n", messages.len()).as_bytes());
    for message in &messages {
        expected.extend_from_slice(&support::as_sent(message));
        expected.extend_from_slice(b"=====\n");
    }
    expected.extend_from_slice(b"From: bob@example.org\r\nSubject: dots\r\n\r\n.\r\n=====\n");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&expected)
    );
    support::assert_all_ok(&proxy.transcript());
}

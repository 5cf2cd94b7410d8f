//! Shared helpers for the live tests: a private Dovecot with messages, a
//! recording proxy that turns a real session into a transcript, and a
//! blocking client built on the crate's sans-IO decoder.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use columba_interop::{find_tool, DovecotConfig, PrivateDovecot};
use columba_pop3_proto::{Command, ListItem, ResponseDecoder, ResponseEvent, StatusLine};

/// Messages stored for alice, in order (as handed to `doveadm save`).
pub const MESSAGES: [&[u8]; 3] = [
    b"From: bob@example.org\r\nSubject: plain\r\n\r\nHello.\r\n",
    b"From: bob@example.org\nSubject: dots\n\n.\n..\n.hidden\n...three\nend\n",
    b"From: bob@example.org\nSubject: no final newline\n\nlast line without newline",
];

/// The fourth message: 300 lines, every seventh starting with a dot.
pub fn big_message() -> Vec<u8> {
    let mut out = b"From: bob@example.org\r\nSubject: big\r\n\r\n".to_vec();
    for i in 0..300 {
        if i % 7 == 0 {
            out.push(b'.');
        }
        out.extend_from_slice(
            format!("line {i} of the big message, padded to be long enough\r\n").as_bytes(),
        );
    }
    out
}

pub fn messages() -> Vec<Vec<u8>> {
    let mut all: Vec<Vec<u8>> = MESSAGES.iter().map(|m| m.to_vec()).collect();
    all.push(big_message());
    all
}

/// What Dovecot sends for a stored message: CRLF line ends, and a final
/// CRLF if the message lacked one.
pub fn as_sent(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, &b) in message.iter().enumerate() {
        if b == b'\n' && (i == 0 || message[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A running private Dovecot with alice's messages saved.
pub fn dovecot_with_mail() -> PrivateDovecot {
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    for message in messages() {
        let mut child = std::process::Command::new(find_tool("doveadm").unwrap())
            .arg("-c")
            .arg(dovecot.config_path())
            .args(["save", "-u", "alice", "-m", "INBOX"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&message).unwrap();
        assert!(child.wait().unwrap().success());
    }
    dovecot
}

/// A one-connection TCP proxy in front of `upstream` that records both
/// directions, in arrival order, as a `C: `/`S: ` transcript.
pub struct RecordingProxy {
    pub port: u16,
    handle: JoinHandle<Vec<u8>>,
}

impl RecordingProxy {
    pub fn start(upstream: u16) -> RecordingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let handle = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(60);
            let client = loop {
                match listener.accept() {
                    Ok((stream, _)) => break stream,
                    Err(_) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(10))
                    }
                    Err(e) => panic!("no client connected to the proxy: {e}"),
                }
            };
            client.set_nonblocking(false).unwrap();
            let server = TcpStream::connect(("127.0.0.1", upstream)).unwrap();
            for stream in [&client, &server] {
                stream
                    .set_read_timeout(Some(Duration::from_secs(60)))
                    .unwrap();
            }
            let log = Arc::new(Mutex::new(Vec::<(bool, Vec<u8>)>::new()));
            let pump = |mut from: TcpStream, mut to: TcpStream, from_client: bool| {
                let log = Arc::clone(&log);
                std::thread::spawn(move || {
                    let mut buf = vec![0; 16 * 1024];
                    loop {
                        let n = match from.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        log.lock().unwrap().push((from_client, buf[..n].to_vec()));
                        if to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = to.shutdown(Shutdown::Write);
                })
            };
            let up = pump(
                client.try_clone().unwrap(),
                server.try_clone().unwrap(),
                true,
            );
            let down = pump(server, client, false);
            up.join().unwrap();
            down.join().unwrap();
            let log = log.lock().unwrap();
            to_transcript(&log)
        });
        RecordingProxy { port, handle }
    }

    /// Waits for the session to end and returns its transcript.
    pub fn transcript(self) -> Vec<u8> {
        self.handle.join().unwrap()
    }
}

fn to_transcript(chunks: &[(bool, Vec<u8>)]) -> Vec<u8> {
    let mut partial = [Vec::new(), Vec::new()];
    let mut out = Vec::new();
    for (from_client, bytes) in chunks {
        let side = usize::from(*from_client);
        partial[side].extend_from_slice(bytes);
        while let Some(lf) = partial[side].iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = partial[side].drain(..=lf).collect();
            let content = line.strip_suffix(b"\n").unwrap();
            let content = content.strip_suffix(b"\r").unwrap_or(content);
            out.extend_from_slice(if *from_client { b"C: " } else { b"S: " });
            out.extend_from_slice(content);
            out.push(b'\n');
        }
    }
    assert!(
        partial.iter().all(Vec::is_empty),
        "session ended inside a line: {partial:?}"
    );
    out
}

/// A complete server answer.
#[derive(Debug, PartialEq)]
pub enum Reply {
    Single(StatusLine),
    Continuation(Vec<u8>),
    Multi(StatusLine, Vec<ListItem>, Vec<u8>),
}

impl Reply {
    pub fn status(&self) -> &StatusLine {
        match self {
            Reply::Single(s) | Reply::Multi(s, ..) => s,
            Reply::Continuation(_) => panic!("continuation, not a status"),
        }
    }
}

/// A blocking POP3 client: the crate's encoder and decoder over a socket.
pub struct Client {
    stream: TcpStream,
    pub decoder: ResponseDecoder,
    /// Size of each read, to vary how the decoder is fed.
    pub read_size: usize,
    /// Raw bytes of the last reply, as the server sent them.
    pub raw: Vec<u8>,
}

impl Client {
    pub fn connect(port: u16) -> (Client, StatusLine) {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut client = Client {
            stream,
            decoder: ResponseDecoder::new(),
            read_size: 7,
            raw: Vec::new(),
        };
        let greeting = client.reply();
        (client, greeting.status().clone())
    }

    pub fn reply(&mut self) -> Reply {
        self.raw.clear();
        let mut status = None;
        let mut items = Vec::new();
        let mut body = Vec::new();
        loop {
            while let Some(event) = self.decoder.next() {
                match event.unwrap_or_else(|e| panic!("Dovecot sent something undecodable: {e}")) {
                    ResponseEvent::Single(line) => return Reply::Single(line),
                    ResponseEvent::Continuation(c) => return Reply::Continuation(c.data),
                    ResponseEvent::MultiLineBegin(line) => status = Some(line),
                    ResponseEvent::Item(item) => items.push(item),
                    ResponseEvent::BodyChunk(chunk) => body.extend(chunk),
                    ResponseEvent::MultiLineEnd => {
                        return Reply::Multi(status.take().unwrap(), items, body)
                    }
                }
            }
            let mut buf = vec![0; self.read_size];
            let n = self.stream.read(&mut buf).unwrap();
            assert!(n > 0, "server closed the connection mid-response");
            self.decoder.feed(&buf[..n]);
            self.raw.extend_from_slice(&buf[..n]);
        }
    }

    pub fn send(&mut self, command: &Command) -> Reply {
        self.stream.write_all(&command.encode().unwrap()).unwrap();
        self.decoder.command_sent(command);
        self.reply()
    }

    pub fn write_all(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    pub fn send_line(&mut self, line: &[u8]) -> Reply {
        let mut bytes = line.to_vec();
        bytes.extend_from_slice(b"\r\n");
        self.stream.write_all(&bytes).unwrap();
        self.reply()
    }
}

/// Writes a captured transcript to `$COLUMBA_WRITE_TRANSCRIPTS/<name>` if
/// that variable is set (how the committed examples were made).
pub fn maybe_write(name: &str, transcript: &[u8]) {
    if let Some(dir) = std::env::var_os("COLUMBA_WRITE_TRANSCRIPTS") {
        std::fs::write(std::path::Path::new(&dir).join(name), transcript).unwrap();
    }
}

/// Asserts that every message of a transcript decodes.
pub fn assert_all_ok(transcript: &[u8]) -> Vec<columba_pop3_proto::transcript::TraceEntry> {
    let entries = columba_pop3_proto::transcript::trace(transcript);
    let errors: Vec<String> = entries
        .iter()
        .filter(|e| e.result.is_err())
        .map(ToString::to_string)
        .collect();
    assert!(
        errors.is_empty(),
        "{errors:#?}\n{}",
        String::from_utf8_lossy(transcript)
    );
    entries
}

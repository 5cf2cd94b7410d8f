//! Shared by the Dovecot comparison tests: the recorded-truth file format and
//! a minimal IMAP client that reads literals.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};

/// The FETCH items asked of Dovecot for every message, one command each.
pub const FETCH_ITEMS: &[&str] = &[
    "RFC822.SIZE",
    "ENVELOPE",
    "BODYSTRUCTURE",
    "BODY",
    "BODY.PEEK[]",
    "BODY.PEEK[HEADER]",
    "BODY.PEEK[TEXT]",
    "BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT)]",
    "BODY.PEEK[HEADER.FIELDS.NOT (FROM TO SUBJECT RECEIVED)]",
    "BODY.PEEK[1]",
    "BODY.PEEK[1.MIME]",
    "BODY.PEEK[1.HEADER]",
    "BODY.PEEK[2]",
    "BODY.PEEK[2.MIME]",
    "BODY.PEEK[2.HEADER]",
    "BODY.PEEK[2.TEXT]",
    "BODY.PEEK[2.HEADER.FIELDS (SUBJECT CONTENT-TYPE)]",
    "BODY.PEEK[1.1]",
    "BODY.PEEK[2.1]",
    "BODY.PEEK[2.2]",
    "BODY.PEEK[2.1.1]",
    "BODY.PEEK[3]",
    "BODY.PEEK[]<10.25>",
    "BODY.PEEK[TEXT]<0.5>",
    "BODY.PEEK[1]<3.1000>",
    "BODY.PEEK[]<100000.10>",
    "BINARY.SIZE[1]",
    "BINARY.PEEK[1]",
    "BINARY.SIZE[2]",
    "BINARY.PEEK[2]",
    "BINARY.PEEK[3]",
    "BINARY.SIZE[3]",
    "BINARY.PEEK[2]<2.10>",
];

/// One recorded answer: the item asked for and Dovecot's bytes, either the
/// FETCH data after `UID n ` (without the closing paren) or `NO ...`/`BAD ...`.
#[derive(Debug, Clone, PartialEq)]
pub struct TruthEntry {
    pub item: String,
    pub answer: Vec<u8>,
}

pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn messages() -> Vec<(String, Vec<u8>)> {
    let dir = crate_dir().join("tests/messages");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".eml"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| {
            let data = std::fs::read(dir.join(&n)).unwrap();
            (n.trim_end_matches(".eml").to_string(), data)
        })
        .collect()
}

pub fn truth_path(name: &str) -> PathBuf {
    crate_dir()
        .join("tests/truth")
        .join(format!("{name}.fetch"))
}

/// Format: per entry `=== <item>\n<len>\n<answer bytes>\n`.
pub fn write_truth(path: &Path, entries: &[TruthEntry]) {
    let mut out = Vec::new();
    for e in entries {
        out.extend_from_slice(format!("=== {}\n{}\n", e.item, e.answer.len()).as_bytes());
        out.extend_from_slice(&e.answer);
        out.push(b'\n');
    }
    std::fs::write(path, out).unwrap();
}

pub fn read_truth(path: &Path) -> Vec<TruthEntry> {
    let data = std::fs::read(path).unwrap();
    let mut entries = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let line_end = pos + data[pos..].iter().position(|&b| b == b'\n').unwrap();
        let item = std::str::from_utf8(&data[pos + 4..line_end])
            .unwrap()
            .to_string();
        pos = line_end + 1;
        let len_end = pos + data[pos..].iter().position(|&b| b == b'\n').unwrap();
        let len: usize = std::str::from_utf8(&data[pos..len_end])
            .unwrap()
            .parse()
            .unwrap();
        pos = len_end + 1;
        entries.push(TruthEntry {
            item,
            answer: data[pos..pos + len].to_vec(),
        });
        pos += len + 1;
    }
    entries
}

/// A blocking IMAP client for tests: sends a tagged command, returns the
/// untagged responses (literals included verbatim) and the tagged line.
pub struct ImapClient {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
    next_tag: u32,
}

impl ImapClient {
    pub fn connect(port: u16) -> ImapClient {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        let mut client = ImapClient {
            stream,
            reader,
            next_tag: 1,
        };
        let greeting = client.read_response();
        assert!(
            greeting.starts_with(b"* OK"),
            "{}",
            String::from_utf8_lossy(&greeting)
        );
        client
    }

    /// Reads one response: a line, plus any literal it announces and the rest.
    fn read_response(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let mut line = Vec::new();
            self.reader.read_until(b'\n', &mut line).unwrap();
            assert!(!line.is_empty(), "connection closed");
            out.extend_from_slice(&line);
            if let Some(n) = literal_len(&line) {
                let mut buf = vec![0; n];
                self.reader.read_exact(&mut buf).unwrap();
                out.extend_from_slice(&buf);
            } else {
                return out;
            }
        }
    }

    /// Runs a command; returns (untagged responses, tagged response line).
    pub fn command(&mut self, cmd: &str) -> (Vec<Vec<u8>>, String) {
        let tag = format!("t{}", self.next_tag);
        self.next_tag += 1;
        self.stream
            .write_all(format!("{tag} {cmd}\r\n").as_bytes())
            .unwrap();
        let mut untagged = Vec::new();
        loop {
            let resp = self.read_response();
            if resp.starts_with(tag.as_bytes()) && resp.get(tag.len()) == Some(&b' ') {
                let text = String::from_utf8_lossy(&resp[tag.len() + 1..])
                    .trim_end()
                    .to_string();
                return (untagged, text);
            }
            untagged.push(resp);
        }
    }
}

fn literal_len(line: &[u8]) -> Option<usize> {
    let line = line.strip_suffix(b"\r\n")?;
    let line = line.strip_suffix(b"}")?;
    let open = line.iter().rposition(|&b| b == b'{')?;
    std::str::from_utf8(&line[open + 1..]).ok()?.parse().ok()
}

/// Extracts the FETCH data after `UID <uid> ` from `* n FETCH (UID u ...)\r\n`.
pub fn fetch_data(untagged: &[Vec<u8>], uid: u32) -> Option<Vec<u8>> {
    let marker = format!("FETCH (UID {uid} ");
    for resp in untagged {
        if let Some(p) = find(resp, marker.as_bytes()) {
            let rest = &resp[p + marker.len()..];
            let rest = rest.strip_suffix(b")\r\n")?;
            return Some(rest.to_vec());
        }
    }
    None
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

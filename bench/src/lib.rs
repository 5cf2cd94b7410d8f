//! Corpora for the criterion benchmarks that compare `columba-imap-proto`
//! with imap-codec.
//!
//! Both libraries are measured on the same bytes: the messages are cut out of
//! the transcripts in `imap-proto/tests/transcripts/` (RFC examples, captured
//! Dovecot and client sessions, documented client sessions), so the corpus is
//! what real peers send rather than synthetic text.
//!
//! ```
//! let commands = columba_bench::command_corpus();
//! assert!(commands.iter().all(|c| c.ends_with(b"\r\n")));
//! ```
#![forbid(unsafe_code)]

pub mod server;

use std::path::{Path, PathBuf};

/// Which side of a transcript to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Lines starting with `C: `.
    Client,
    /// Lines starting with `S: `.
    Server,
}

/// The folder holding the transcripts.
pub fn transcripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../imap-proto/tests/transcripts")
}

/// The byte stream of one direction of a transcript: each line without its
/// prefix, followed by CRLF.
pub fn stream(transcript: &[u8], direction: Direction) -> Vec<u8> {
    let prefix: &[u8] = match direction {
        Direction::Client => b"C: ",
        Direction::Server => b"S: ",
    };
    let mut out = Vec::new();
    for line in transcript.split(|&b| b == b'\n') {
        if let Some(rest) = line.strip_prefix(prefix) {
            out.extend_from_slice(rest);
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

/// Splits a stream into messages: a message is a line, and when the line ends
/// with a literal announcement (`{N}`, `{N+}`, `~{N}`) the literal's bytes and
/// the line that continues after it. Trailing bytes that do not form a whole
/// message are dropped.
pub fn split_messages(stream: &[u8]) -> Vec<&[u8]> {
    let mut messages = Vec::new();
    let mut start = 0;
    let mut pos = 0;
    while pos < stream.len() {
        let Some(eol) = find_crlf(&stream[pos..]) else {
            break;
        };
        let line_end = pos + eol;
        match literal_size(&stream[pos..line_end]) {
            Some(size) if line_end + 2 + size <= stream.len() => pos = line_end + 2 + size,
            Some(_) => break,
            None => {
                messages.push(&stream[start..line_end + 2]);
                pos = line_end + 2;
                start = pos;
            }
        }
    }
    messages
}

fn find_crlf(bytes: &[u8]) -> Option<usize> {
    bytes.windows(2).position(|w| w == b"\r\n")
}

/// The size announced by a literal at the end of `line`, if any.
fn literal_size(line: &[u8]) -> Option<usize> {
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&b| b == b'{')?;
    let digits = inner[open + 1..]
        .strip_suffix(b"+")
        .unwrap_or(&inner[open + 1..]);
    if digits.is_empty() || digits.len() > 9 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

fn transcript_files(folders: &[&str]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for folder in folders {
        let dir = transcripts_dir().join(folder);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "imap") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Rewrites synchronizing literals (`{N}`) as non-synchronizing (`{N+}`), so
/// a command stream decodes without a peer answering `+`.
fn non_synchronizing(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 4);
    let mut pos = 0;
    while pos < message.len() {
        let eol = find_crlf(&message[pos..]).map_or(message.len(), |e| pos + e);
        let line = &message[pos..eol];
        match literal_size(line) {
            Some(size) if !line.ends_with(b"+}") => {
                out.extend_from_slice(&line[..line.len() - 1]);
                out.extend_from_slice(b"+}\r\n");
                let end = (eol + 2 + size).min(message.len());
                out.extend_from_slice(&message[(eol + 2).min(message.len())..end]);
                pos = end;
            }
            Some(size) => {
                let end = (eol + 2 + size).min(message.len());
                out.extend_from_slice(&message[pos..end]);
                pos = end;
            }
            None => {
                let end = (eol + 2).min(message.len());
                out.extend_from_slice(&message[pos..end]);
                pos = end;
            }
        }
    }
    out
}

/// Commands as clients send them: every command of the client and server
/// sessions except AUTHENTICATE and IDLE (a session decoder expects SASL
/// lines or `DONE` after them), with synchronizing literals made
/// non-synchronizing.
pub fn command_corpus() -> Vec<Vec<u8>> {
    let mut corpus = Vec::new();
    for file in transcript_files(&["clients", "servers"]) {
        let Ok(text) = std::fs::read(&file) else {
            continue;
        };
        let client = stream(&text, Direction::Client);
        let mut in_authenticate = false;
        for message in split_messages(&client) {
            let line = message.strip_suffix(b"\r\n").unwrap_or(message);
            let words: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
            if in_authenticate {
                // SASL data lines (base64, `=`, `*` or empty) have no space;
                // the next command ends the exchange.
                if words.len() < 2 {
                    continue;
                }
                in_authenticate = false;
            }
            if words.len() < 2 {
                continue; // IDLE's DONE
            }
            if words[1].eq_ignore_ascii_case(b"AUTHENTICATE") {
                // Without an initial response, data lines follow.
                in_authenticate = words.len() == 3;
            }
            // AUTHENTICATE and IDLE switch a session decoder to SASL lines
            // or DONE; the corpus is a plain sequence of commands.
            if words[1].eq_ignore_ascii_case(b"AUTHENTICATE")
                || words[1].eq_ignore_ascii_case(b"IDLE")
            {
                continue;
            }
            corpus.push(non_synchronizing(message));
        }
    }
    corpus
}

/// FETCH responses of the server and client sessions (ENVELOPE,
/// BODYSTRUCTURE, FLAGS, header and body literals), as servers send them.
pub fn fetch_response_corpus() -> Vec<Vec<u8>> {
    let mut corpus = Vec::new();
    for file in transcript_files(&["servers", "clients"]) {
        let Ok(text) = std::fs::read(&file) else {
            continue;
        };
        let server = stream(&text, Direction::Server);
        for message in split_messages(&server) {
            let mut words = message.splitn(4, |&b| b == b' ');
            let star = words.next();
            let number = words.next();
            let keyword = words.next();
            if star == Some(b"*")
                && number.is_some_and(|n| !n.is_empty() && n.iter().all(u8::is_ascii_digit))
                && keyword.is_some_and(|k| k.eq_ignore_ascii_case(b"FETCH"))
            {
                corpus.push(without_modseq(message));
            }
        }
    }
    corpus
}

/// Removes CONDSTORE `MODSEQ (n)` items from a FETCH response: imap-codec
/// 1.0 does not decode them, and both libraries must see the same bytes.
fn without_modseq(message: &[u8]) -> Vec<u8> {
    let mut out = message.to_vec();
    while let Some(at) = out.windows(8).position(|w| w == b"MODSEQ (") {
        let Some(close) = out[at..].iter().position(|&b| b == b')') else {
            break;
        };
        let mut end = at + close + 1;
        let mut start = at;
        if out.get(end) == Some(&b' ') {
            end += 1;
        } else if start > 0 && out[start - 1] == b' ' {
            start -= 1;
        }
        out.drain(start..end);
    }
    out
}

/// Concatenates messages, repeating the list until at least `min_len` bytes.
pub fn repeat_to(messages: &[Vec<u8>], min_len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    if messages.is_empty() {
        return out;
    }
    while out.len() < min_len {
        for m in messages {
            out.extend_from_slice(m);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_literals_with_their_message() {
        let s = b"* 1 FETCH (BODY[] {5}\r\nab\r\nc)\r\n* 2 EXISTS\r\n";
        let m = split_messages(s);
        assert_eq!(m, vec![&s[..31], &s[31..]]);
    }

    #[test]
    fn makes_literals_non_synchronizing() {
        let out = non_synchronizing(b"a LOGIN {5}\r\nalice {2}\r\npw\r\n");
        assert_eq!(out, b"a LOGIN {5+}\r\nalice {2+}\r\npw\r\n");
    }

    #[test]
    fn removes_modseq_items() {
        assert_eq!(
            without_modseq(b"* 1 FETCH (UID 1 MODSEQ (4) FLAGS ())\r\n"),
            b"* 1 FETCH (UID 1 FLAGS ())\r\n"
        );
        assert_eq!(
            without_modseq(b"* 1 FETCH (UID 1 MODSEQ (4))\r\n"),
            b"* 1 FETCH (UID 1)\r\n"
        );
    }

    #[test]
    fn corpora_are_not_empty() {
        assert!(command_corpus().len() > 100);
        assert!(fetch_response_corpus().len() > 30);
    }
}

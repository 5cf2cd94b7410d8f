//! A small blocking IMAP client for load generation: one TCP connection,
//! tagged commands, responses read with their literals. It does only what
//! the workloads need and checks only what tells success from failure.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// How long a read may wait before the connection counts as stuck.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The answer to one command.
#[derive(Debug, Clone, Default)]
pub struct Response {
    /// The tagged completion: `OK`, `NO` or `BAD` and its text.
    pub tagged: String,
    /// Untagged lines (literal contents left out), without CRLF.
    pub untagged: Vec<String>,
    /// Bytes of literals in the untagged data (e.g. message bodies).
    pub literal_bytes: usize,
}

impl Response {
    /// True when the command completed with `OK`.
    pub fn is_ok(&self) -> bool {
        self.tagged.starts_with("OK")
    }

    /// The number in `* N <word>` untagged lines, e.g. `EXISTS`.
    pub fn untagged_number(&self, word: &str) -> Option<u32> {
        self.untagged.iter().find_map(|line| {
            let mut parts = line.split(' ');
            let (Some("*"), Some(n), Some(w)) = (parts.next(), parts.next(), parts.next()) else {
                return None;
            };
            if w.eq_ignore_ascii_case(word) {
                n.parse().ok()
            } else {
                None
            }
        })
    }

    /// How many untagged lines have `word` as their third token
    /// (`* 3 EXPUNGE`, `* 1 FETCH ...`).
    pub fn count(&self, word: &str) -> usize {
        self.untagged
            .iter()
            .filter(|l| {
                l.split(' ')
                    .nth(2)
                    .is_some_and(|w| w.eq_ignore_ascii_case(word))
            })
            .count()
    }
}

/// A failed exchange: the connection broke or the server said something
/// the client cannot follow.
pub type Error = io::Error;

/// An IMAP connection.
pub struct ImapClient {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    next_tag: u64,
    line: Vec<u8>,
}

impl ImapClient {
    /// Connects and reads the greeting, which must be `* OK`.
    pub fn connect(addr: SocketAddr) -> Result<ImapClient, Error> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(READ_TIMEOUT))?;
        let writer = stream.try_clone()?;
        let mut client = ImapClient {
            reader: BufReader::with_capacity(64 * 1024, stream),
            writer,
            next_tag: 1,
            line: Vec::with_capacity(1024),
        };
        let greeting = client.read_line()?;
        if !greeting.starts_with("* OK") {
            return Err(io::Error::other(format!("greeting: {greeting}")));
        }
        Ok(client)
    }

    /// Sends `tag <command>` and reads the whole response.
    pub fn command(&mut self, command: &str) -> Result<Response, Error> {
        let tag = self.tag();
        self.writer
            .write_all(format!("{tag} {command}\r\n").as_bytes())?;
        self.read_response(&tag)
    }

    /// `LOGIN user password` (quoted); the completion must be `OK`.
    pub fn login(&mut self, user: &str, password: &str) -> Result<Response, Error> {
        let r = self.command(&format!("LOGIN {} {}", quote(user), quote(password)))?;
        if !r.is_ok() {
            return Err(io::Error::other(format!("LOGIN: {}", r.tagged)));
        }
        Ok(r)
    }

    /// `LOGOUT`, then waits for the server to close the connection.
    pub fn logout(mut self) -> Result<(), Error> {
        let r = self.command("LOGOUT")?;
        if !r.is_ok() {
            return Err(io::Error::other(format!("LOGOUT: {}", r.tagged)));
        }
        let mut rest = Vec::new();
        let _ = self.reader.read_to_end(&mut rest);
        Ok(())
    }

    /// `APPEND mailbox (flags) {n}` with a synchronizing literal: waits for
    /// the server's `+` before sending the message.
    pub fn append(
        &mut self,
        mailbox: &str,
        flags: &str,
        message: &[u8],
    ) -> Result<Response, Error> {
        let tag = self.tag();
        self.writer.write_all(
            format!(
                "{tag} APPEND {} ({flags}) {{{}}}\r\n",
                quote(mailbox),
                message.len()
            )
            .as_bytes(),
        )?;
        let line = self.read_line()?;
        if !line.starts_with('+') {
            // The server refused the literal; this line is its completion.
            return Ok(Response {
                tagged: line
                    .strip_prefix(&format!("{tag} "))
                    .unwrap_or(&line)
                    .to_string(),
                ..Response::default()
            });
        }
        self.writer.write_all(message)?;
        self.writer.write_all(b"\r\n")?;
        self.read_response(&tag)
    }

    fn tag(&mut self) -> String {
        let tag = format!("b{}", self.next_tag);
        self.next_tag += 1;
        tag
    }

    /// Reads one line (without CRLF) as text.
    fn read_line(&mut self) -> Result<String, Error> {
        self.line.clear();
        let n = self.reader.read_until(b'\n', &mut self.line)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        while matches!(self.line.last(), Some(b'\n' | b'\r')) {
            self.line.pop();
        }
        Ok(String::from_utf8_lossy(&self.line).into_owned())
    }

    fn read_response(&mut self, tag: &str) -> Result<Response, Error> {
        let mut response = Response::default();
        let tagged_prefix = format!("{tag} ");
        loop {
            let mut line = self.read_line()?;
            // A line ending in a literal announcement continues after the
            // literal's bytes.
            while let Some(size) = literal_size(&line) {
                self.skip(size)?;
                response.literal_bytes += size;
                let more = self.read_line()?;
                line.push(' ');
                line.push_str(&more);
            }
            if let Some(rest) = line.strip_prefix(&tagged_prefix) {
                response.tagged = rest.to_string();
                return Ok(response);
            }
            if line.starts_with('+') {
                return Err(io::Error::other(format!(
                    "unexpected continuation request: {line}"
                )));
            }
            response.untagged.push(line);
        }
    }

    fn skip(&mut self, mut size: usize) -> Result<(), Error> {
        let mut buf = [0u8; 16 * 1024];
        while size > 0 {
            let want = size.min(buf.len());
            let n = self.reader.read(&mut buf[..want])?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            size -= n;
        }
        Ok(())
    }
}

/// The size in `{N}` (or `~{N}`) at the end of a response line.
fn literal_size(line: &str) -> Option<usize> {
    let inner = line.strip_suffix('}')?;
    let open = inner.rfind('{')?;
    let digits = &inner[open + 1..];
    if digits.is_empty() || digits.len() > 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// An IMAP quoted string.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_announcements_are_recognised() {
        assert_eq!(literal_size("* 1 FETCH (BODY[] {123}"), Some(123));
        assert_eq!(literal_size("* 1 FETCH (BODY[] ~{7}"), Some(7));
        assert_eq!(literal_size("* OK {x}"), None);
        assert_eq!(literal_size("* OK done"), None);
    }

    #[test]
    fn untagged_numbers_and_counts() {
        let r = Response {
            tagged: "OK done".into(),
            untagged: vec![
                "* 12 EXISTS".into(),
                "* 3 EXPUNGE".into(),
                "* 4 EXPUNGE".into(),
            ],
            literal_bytes: 0,
        };
        assert!(r.is_ok());
        assert_eq!(r.untagged_number("exists"), Some(12));
        assert_eq!(r.count("EXPUNGE"), 2);
    }

    #[test]
    fn quoting_escapes_quotes_and_backslashes() {
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
    }
}

//! Byte-stuffing a message body into a multi-line response, chunk by
//! chunk, without ever holding the whole message.

use std::io::{self, Read, Write};

/// Streams a message (or any multi-line payload) into the wire form of a
/// multi-line response body (RFC 1939 section 3): a `.` is doubled at the
/// start of every line, bare LF line ends become CRLF (Maildir files use
/// LF; POP3 wants CRLF), and [`BodyEncoder::finish`] adds the final
/// CRLF if the message lacks one, then the `.` line.
///
/// The encoder keeps two bits of state across chunks, so a message may be
/// pushed in slices of any size, split anywhere (even between CR and LF).
///
/// ```
/// use columba_pop3_proto::BodyEncoder;
///
/// let mut out = Vec::new();
/// let mut body = BodyEncoder::new();
/// body.push(b"Subject: hi\n\n.signature\nno final newline", &mut out);
/// body.finish(&mut out);
/// assert_eq!(out, b"Subject: hi\r\n\r\n..signature\r\nno final newline\r\n.\r\n");
/// ```
#[derive(Debug, Clone)]
pub struct BodyEncoder {
    at_line_start: bool,
    after_cr: bool,
}

impl Default for BodyEncoder {
    fn default() -> Self {
        BodyEncoder::new()
    }
}

impl BodyEncoder {
    /// An encoder at the start of a message.
    pub fn new() -> BodyEncoder {
        BodyEncoder {
            at_line_start: true,
            after_cr: false,
        }
    }

    /// Appends the stuffed form of `chunk` to `out`.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        out.reserve(chunk.len() + chunk.len() / 64 + 2);
        let mut rest = chunk;
        while let Some(&first) = rest.first() {
            if self.at_line_start && first == b'.' {
                out.push(b'.');
            }
            match rest.iter().position(|&b| b == b'\n') {
                Some(lf) => {
                    // The CR of a CRLF may have ended the previous chunk.
                    let has_cr = match lf {
                        0 => self.after_cr,
                        _ => rest[lf - 1] == b'\r',
                    };
                    out.extend_from_slice(&rest[..lf]);
                    if !has_cr {
                        out.push(b'\r');
                    }
                    out.push(b'\n');
                    self.at_line_start = true;
                    self.after_cr = false;
                    rest = &rest[lf + 1..];
                }
                None => {
                    out.extend_from_slice(rest);
                    self.at_line_start = false;
                    self.after_cr = rest.last() == Some(&b'\r');
                    rest = &[];
                }
            }
        }
    }

    /// Ends the body: CRLF if the last line was not terminated (a lone CR
    /// at the very end gets its LF), then `.` CRLF.
    pub fn finish(self, out: &mut Vec<u8>) {
        if self.after_cr {
            out.push(b'\n');
        } else if !self.at_line_start {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
    }

    /// Copies a whole message from `reader` to `writer` in stuffed form,
    /// terminator included, through a fixed 64 KiB buffer (a thin adapter
    /// over [`BodyEncoder::push`] for blocking code). Returns the number
    /// of bytes written.
    pub fn copy(mut reader: impl Read, mut writer: impl Write) -> io::Result<u64> {
        let mut encoder = BodyEncoder::new();
        let mut buf = vec![0; 64 * 1024];
        let mut out = Vec::with_capacity(buf.len() + 1024);
        let mut written = 0u64;
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            out.clear();
            encoder.push(&buf[..n], &mut out);
            writer.write_all(&out)?;
            written += out.len() as u64;
        }
        out.clear();
        encoder.finish(&mut out);
        writer.write_all(&out)?;
        Ok(written + out.len() as u64)
    }
}

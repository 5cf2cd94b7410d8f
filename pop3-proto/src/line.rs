//! Splitting a byte stream fed in arbitrary chunks into lines, with a
//! length limit and resynchronisation after an oversize line.

use crate::Error;

/// One complete line: its stream offset and its bytes without CRLF / LF.
#[derive(Debug)]
pub(crate) struct Line {
    pub(crate) offset: usize,
    pub(crate) bytes: Vec<u8>,
}

/// Input buffer shared by both decoders. Bytes are appended by `feed` and
/// taken either as lines (`next_line`) or raw (`peek` / `consume`, used by
/// the streaming body decoder).
#[derive(Debug, Default)]
pub(crate) struct InputBuffer {
    buf: Vec<u8>,
    /// First unconsumed byte in `buf`.
    pos: usize,
    /// Stream offset of `buf[0]`.
    base: usize,
    /// `buf[pos..scanned]` is known to contain no LF.
    scanned: usize,
    /// Set while skipping the rest of an oversize line.
    discarding: bool,
}

impl InputBuffer {
    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.base += self.pos;
            self.scanned -= self.pos;
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Stream offset of the next unconsumed byte.
    pub(crate) fn offset(&self) -> usize {
        self.base + self.pos
    }

    /// Unconsumed bytes.
    pub(crate) fn pending(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// Whether part of a line has been fed but not its terminator (also
    /// true while skipping an oversize line).
    pub(crate) fn has_partial(&self) -> bool {
        self.discarding || self.pos < self.buf.len()
    }

    /// Consumes `n` raw bytes.
    pub(crate) fn consume(&mut self, n: usize) {
        self.pos += n;
        debug_assert!(self.pos <= self.buf.len());
        if self.scanned < self.pos {
            self.scanned = self.pos;
        }
    }

    /// The next complete line, if one is buffered. A line (content plus
    /// CRLF, a bare LF counted as CRLF) longer than `limit` gives
    /// `LineTooLong` as soon as that is certain; the rest of it up to the
    /// next LF is then dropped unbuffered.
    pub(crate) fn next_line(&mut self, limit: usize) -> Option<Result<Line, Error>> {
        let max_content = limit.saturating_sub(2);
        if self.discarding {
            match find_lf(&self.buf[self.scanned..]) {
                Some(at) => {
                    self.pos = self.scanned + at + 1;
                    self.scanned = self.pos;
                    self.discarding = false;
                }
                None => {
                    self.pos = self.buf.len();
                    self.scanned = self.pos;
                    return None;
                }
            }
        }
        let offset = self.offset();
        let start = self.scanned.max(self.pos);
        match find_lf(&self.buf[start..]) {
            Some(at) => {
                let lf = start + at;
                let mut end = lf;
                if end > self.pos && self.buf[end - 1] == b'\r' {
                    end -= 1;
                }
                let line = &self.buf[self.pos..end];
                let result = if line.len() > max_content {
                    Err(Error::LineTooLong { offset, limit })
                } else {
                    Ok(Line {
                        offset,
                        bytes: line.to_vec(),
                    })
                };
                self.pos = lf + 1;
                self.scanned = self.pos;
                Some(result)
            }
            None => {
                self.scanned = self.buf.len();
                // Content so far, plus a CR that may still be the start of
                // the terminator.
                let pending = self.buf.len() - self.pos;
                if pending > max_content + 1 {
                    self.discarding = true;
                    self.pos = self.buf.len();
                    self.scanned = self.pos;
                    Some(Err(Error::LineTooLong { offset, limit }))
                } else {
                    None
                }
            }
        }
    }
}

fn find_lf(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

/// Returns the offset of the first stray CR or NUL in `line` (a line
/// already stripped of its terminator).
pub(crate) fn find_forbidden(line: &[u8]) -> Option<(usize, u8)> {
    line.iter()
        .position(|&b| b == b'\r' || b == 0)
        .map(|at| (at, line[at]))
}

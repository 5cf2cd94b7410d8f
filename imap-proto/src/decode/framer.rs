//! Framing: splits a byte stream into complete messages (lines plus
//! `{n}` / `{n+}` / `~{n}` literals), enforcing limits, and skips rejected
//! messages without losing sync.
//!
//! The framer remembers where its last scan stopped, so feeding a message one
//! byte at a time costs linear time.

use crate::Limits;

/// What the framer found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Frame {
    /// `buf[..n]` is one complete message.
    Message(usize),
    /// More bytes are needed.
    Incomplete,
    /// A synchronizing literal of `size` bytes was announced: a server sends `+` now.
    Continue { size: u64, data_start: usize },
    /// The current message breaks a limit. `buf[..drop]` may be dropped now;
    /// the framer skips the rest of the message as it arrives.
    Reject { reason: Rejection, drop: usize },
    /// `buf[..consumed]` belonged to a rejected message and may be dropped;
    /// `done` when the rejected message has ended.
    Discarded { consumed: usize, done: bool },
    /// With `stop_at_literals`: `buf[..header_end]` ends with a literal
    /// header. The caller streams the literal itself (and calls
    /// [`Framer::reset`] after dropping the header) or calls
    /// [`Framer::accept_literal`] and polls again.
    LiteralAhead {
        header_end: usize,
        size: u64,
        non_sync: bool,
    },
}

/// Which limit a message broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rejection {
    LineTooLong,
    LiteralTooLarge { size: u64, limit: usize },
    MessageTooLarge,
}

#[derive(Debug)]
enum State {
    Line,
    Literal {
        end: usize,
    },
    Discard {
        skip: u64,
        tail: Vec<u8>,
        /// The next line is a server's status or continuation line: text.
        text_line: bool,
    },
}

/// The literal announced at the end of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LiteralMarker {
    pub(crate) size: u64,
    pub(crate) non_sync: bool,
}

/// Finds `{n}`, `{n+}` or `~{n}` at the end of `line` (CR and LF removed or not).
pub(crate) fn literal_marker(line: &[u8]) -> Option<LiteralMarker> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&b| b == b'{')?;
    let mut digits = &inner[open + 1..];
    let non_sync = if let Some(d) = digits.strip_suffix(b"+") {
        digits = d;
        true
    } else {
        false
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let size = digits.iter().fold(0u64, |n, &d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    });
    Some(LiteralMarker { size, non_sync })
}

/// True for a response line that is all text after its keyword: `+ ...`,
/// and tagged or untagged `OK`, `NO`, `BAD`, `PREAUTH`, `BYE`.
fn is_text_line(line: &[u8]) -> bool {
    if line.first() == Some(&b'+') {
        return true;
    }
    // The tag runs to the first space and is bounded only by the line limit,
    // so the search is not capped; it runs once per complete line.
    let Some(sp) = memchr::memchr(b' ', line) else {
        return false;
    };
    let rest = &line[sp + 1..];
    let rest = &rest[..rest.len().min(8)];
    let word_end = rest
        .iter()
        .position(|b| !b.is_ascii_alphabetic())
        .unwrap_or(rest.len());
    let word = &rest[..word_end];
    [&b"OK"[..], b"NO", b"BAD", b"PREAUTH", b"BYE"]
        .iter()
        .any(|k| word.eq_ignore_ascii_case(k))
}

#[derive(Debug)]
pub(crate) struct Framer {
    pos: usize,
    line_start: usize,
    state: State,
    /// Interpret literal markers (off for AUTHENTICATE data lines and IDLE).
    pub(crate) literals: bool,
    /// `{n}` waits for a continuation request (the command direction).
    sync: bool,
    /// Report literal headers before taking them (APPEND streaming).
    pub(crate) stop_at_literals: bool,
    /// The literal header ending here was accepted by the caller.
    accepted: usize,
}

const TAIL: usize = 32;

impl Framer {
    pub(crate) fn new(sync: bool) -> Self {
        Framer {
            pos: 0,
            line_start: 0,
            state: State::Line,
            literals: true,
            sync,
            stop_at_literals: false,
            accepted: 0,
        }
    }

    /// Takes the literal reported by [`Frame::LiteralAhead`] the usual way.
    pub(crate) fn accept_literal(&mut self, header_end: usize) {
        self.accepted = header_end;
    }

    /// Starts afresh at the start of the buffer (the caller dropped what
    /// the framer had scanned).
    pub(crate) fn reset(&mut self) {
        self.state = State::Line;
        self.pos = 0;
        self.line_start = 0;
        self.accepted = 0;
    }

    /// Skips `skip` bytes, then the rest of a rejected message, from the
    /// start of the buffer.
    pub(crate) fn discard_from_start(&mut self, skip: u64) {
        self.reset();
        self.state = State::Discard {
            skip,
            tail: Vec::new(),
            text_line: false,
        };
    }

    /// True between messages (nothing of a message has been scanned).
    pub(crate) fn idle(&self) -> bool {
        matches!(self.state, State::Line) && self.pos == 0
    }

    /// The server refused a synchronizing literal the framer waits for:
    /// the client will not send it, so the message ends before it. Returns
    /// how many buffered bytes belonged to the abandoned message.
    pub(crate) fn abandon_literal(&mut self) -> Option<usize> {
        match self.state {
            State::Literal { .. } if self.sync => {
                let drop = self.pos;
                self.state = State::Line;
                self.pos = 0;
                self.line_start = 0;
                Some(drop)
            }
            _ => None,
        }
    }

    fn reject(&mut self, reason: Rejection, buf: &[u8]) -> Frame {
        let drop = self.line_start;
        self.accepted = 0;
        let text_line = !self.sync && self.line_start == 0 && is_text_line(buf);
        self.state = State::Discard {
            skip: 0,
            tail: Vec::new(),
            text_line,
        };
        self.pos = 0;
        self.line_start = 0;
        Frame::Reject { reason, drop }
    }

    pub(crate) fn poll(&mut self, buf: &[u8], limits: &Limits) -> Frame {
        loop {
            match self.state {
                State::Literal { end } => {
                    if buf.len() < end {
                        return Frame::Incomplete;
                    }
                    self.pos = end;
                    self.line_start = end;
                    self.state = State::Line;
                }
                State::Discard { .. } => return self.discard(buf),
                State::Line => {
                    let Some(i) = memchr::memchr(b'\n', &buf[self.pos..]) else {
                        self.pos = buf.len();
                        if buf.len() - self.line_start > limits.max_line {
                            return self.reject(Rejection::LineTooLong, buf);
                        }
                        if buf.len() > limits.max_message {
                            return self.reject(Rejection::MessageTooLarge, buf);
                        }
                        return Frame::Incomplete;
                    };
                    let line_end = self.pos + i + 1;
                    if line_end - self.line_start > limits.max_line {
                        self.pos = line_end;
                        return self.reject(Rejection::LineTooLong, buf);
                    }
                    if line_end > limits.max_message {
                        return self.reject(Rejection::MessageTooLarge, buf);
                    }
                    // A server's status and continuation lines end in free
                    // text, which may look like a literal header but is not.
                    let text_line =
                        !self.sync && self.line_start == 0 && is_text_line(&buf[..line_end]);
                    if self.literals && !text_line {
                        if let Some(lit) = literal_marker(&buf[self.line_start..line_end]) {
                            if self.stop_at_literals && self.accepted != line_end {
                                return Frame::LiteralAhead {
                                    header_end: line_end,
                                    size: lit.size,
                                    non_sync: lit.non_sync,
                                };
                            }
                            self.accepted = 0;
                            let limit = if lit.non_sync {
                                limits.max_non_sync_literal.min(limits.max_literal)
                            } else {
                                limits.max_literal
                            };
                            if lit.size > limit as u64 {
                                return self.reject(
                                    Rejection::LiteralTooLarge {
                                        size: lit.size,
                                        limit,
                                    },
                                    buf,
                                );
                            }
                            if line_end as u64 + lit.size > limits.max_message as u64 {
                                return self.reject(Rejection::MessageTooLarge, buf);
                            }
                            self.state = State::Literal {
                                end: line_end + lit.size as usize,
                            };
                            self.pos = line_end;
                            if self.sync && !lit.non_sync {
                                return Frame::Continue {
                                    size: lit.size,
                                    data_start: line_end,
                                };
                            }
                            continue;
                        }
                    }
                    self.pos = 0;
                    self.line_start = 0;
                    return Frame::Message(line_end);
                }
            }
        }
    }

    fn discard(&mut self, buf: &[u8]) -> Frame {
        let literals = self.literals;
        let sync = self.sync;
        let State::Discard {
            skip,
            tail,
            text_line,
        } = &mut self.state
        else {
            return Frame::Incomplete;
        };
        let mut i = 0;
        loop {
            if *skip > 0 {
                let take = (*skip).min((buf.len() - i) as u64);
                i += take as usize;
                *skip -= take;
                if *skip > 0 {
                    return Frame::Discarded {
                        consumed: i,
                        done: false,
                    };
                }
            }
            match memchr::memchr(b'\n', &buf[i..]) {
                None => {
                    tail.extend_from_slice(&buf[buf.len().saturating_sub(TAIL).max(i)..]);
                    if tail.len() > TAIL {
                        tail.drain(..tail.len() - TAIL);
                    }
                    return Frame::Discarded {
                        consumed: buf.len(),
                        done: false,
                    };
                }
                Some(j) => {
                    let line = &buf[i..i + j];
                    tail.extend_from_slice(&line[line.len().saturating_sub(TAIL)..]);
                    let marker = if std::mem::take(text_line) {
                        None
                    } else {
                        literal_marker(tail)
                    };
                    tail.clear();
                    i += j + 1;
                    match marker {
                        // The peer sends a non-synchronizing literal without
                        // waiting (and a server's literals never wait): skip it
                        // and keep discarding the rest of the message.
                        Some(lit) if literals && (lit.non_sync || !sync) => *skip = lit.size,
                        // A synchronizing literal is never sent before `+`,
                        // which a rejected command does not get: it ends here.
                        _ => {
                            self.state = State::Line;
                            self.pos = 0;
                            self.line_start = 0;
                            return Frame::Discarded {
                                consumed: i,
                                done: true,
                            };
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers() {
        assert_eq!(
            literal_marker(b"a LOGIN {5}\r\n"),
            Some(LiteralMarker {
                size: 5,
                non_sync: false
            })
        );
        assert_eq!(
            literal_marker(b"a APPEND x ~{12+}"),
            Some(LiteralMarker {
                size: 12,
                non_sync: true
            })
        );
        assert_eq!(literal_marker(b"a LOGIN {}\r\n"), None);
        assert_eq!(literal_marker(b"a LOGIN {x}\r\n"), None);
        assert_eq!(
            literal_marker(b"{99999999999999999999999}").map(|m| m.size),
            Some(u64::MAX)
        );
    }

    #[test]
    fn frames_byte_by_byte_without_rescanning() {
        let input = b"a1 LOGIN {3}\r\nabc def\r\nb2 NOOP\r\n";
        let mut f = Framer::new(true);
        let limits = Limits::default();
        let mut buf = Vec::new();
        let mut out = Vec::new();
        for &b in input.iter() {
            buf.push(b);
            loop {
                match f.poll(&buf, &limits) {
                    Frame::Message(n) => out.push(buf.drain(..n).collect::<Vec<u8>>()),
                    Frame::Continue { size, .. } => out.push(format!("+{size}").into_bytes()),
                    Frame::Incomplete => break,
                    other => panic!("{other:?}"),
                }
            }
        }
        assert_eq!(
            out,
            vec![
                b"+3".to_vec(),
                b"a1 LOGIN {3}\r\nabc def\r\n".to_vec(),
                b"b2 NOOP\r\n".to_vec()
            ]
        );
    }
}

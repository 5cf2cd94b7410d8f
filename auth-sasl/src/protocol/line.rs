//! Splitting a byte stream into LF-terminated lines with a length limit.

/// One unit of input from a [`LineBuffer`].
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A complete line, without the LF (and without a trailing CR).
    Complete(Vec<u8>),
    /// A line that exceeded the limit; holds its first bytes (enough to read a
    /// command and request id). The rest of the line is skipped.
    TooLong(Vec<u8>),
}

/// Accumulates bytes and yields lines; never buffers more than `limit` bytes.
#[derive(Debug)]
pub struct LineBuffer {
    buf: Vec<u8>,
    limit: usize,
    skipping: bool,
}

const TOO_LONG_PREFIX: usize = 64;

impl LineBuffer {
    /// A buffer for lines of at most `limit` bytes.
    pub fn new(limit: usize) -> LineBuffer {
        LineBuffer {
            buf: Vec::new(),
            limit,
            skipping: false,
        }
    }

    /// Feeds bytes; returns the lines they completed.
    pub fn push(&mut self, mut data: &[u8]) -> Vec<Line> {
        let mut out = Vec::new();
        while !data.is_empty() {
            match data.iter().position(|&b| b == b'\n') {
                Some(nl) => {
                    let (head, rest) = (&data[..nl], &data[nl + 1..]);
                    data = rest;
                    if self.skipping {
                        self.skipping = false;
                        self.buf.clear();
                        continue;
                    }
                    if self.buf.len() + head.len() > self.limit {
                        self.buf
                            .extend_from_slice(&head[..head.len().min(TOO_LONG_PREFIX)]);
                        self.buf.truncate(TOO_LONG_PREFIX);
                        out.push(Line::TooLong(std::mem::take(&mut self.buf)));
                        continue;
                    }
                    self.buf.extend_from_slice(head);
                    let mut line = std::mem::take(&mut self.buf);
                    if line.last() == Some(&b'\r') {
                        line.pop();
                    }
                    out.push(Line::Complete(line));
                }
                None => {
                    if !self.skipping {
                        if self.buf.len() + data.len() > self.limit {
                            let take = TOO_LONG_PREFIX
                                .saturating_sub(self.buf.len())
                                .min(data.len());
                            self.buf.extend_from_slice(&data[..take]);
                            self.buf.truncate(TOO_LONG_PREFIX);
                            out.push(Line::TooLong(std::mem::take(&mut self.buf)));
                            self.skipping = true;
                        } else {
                            self.buf.extend_from_slice(data);
                        }
                    }
                    data = &[];
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_limits() {
        let mut b = LineBuffer::new(10);
        assert_eq!(b.push(b"ab"), vec![]);
        assert_eq!(
            b.push(b"c\nd\r\n"),
            vec![
                Line::Complete(b"abc".to_vec()),
                Line::Complete(b"d".to_vec())
            ]
        );
        let out = b.push(b"0123456789abc");
        assert!(matches!(&out[..], [Line::TooLong(_)]));
        assert_eq!(b.push(b"more\nok\n"), vec![Line::Complete(b"ok".to_vec())]);
        assert!(matches!(
            &b.push(b"0123456789abc\nx\n")[..],
            [Line::TooLong(_), Line::Complete(_)]
        ));
    }
}

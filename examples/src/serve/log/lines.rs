//! Splitting a byte stream into bounded lines: what the log role does
//! with each child's standard error. Memory per connection is bounded by
//! [`MAX_LINE`] whatever the child writes.

/// Longest log line kept, bytes (without the newline); longer lines are
/// cut with [`CUT_MARKER`](super::CUT_MARKER) and the rest dropped up to
/// the next newline.
pub const MAX_LINE: usize = 8192;

/// Turns chunks of bytes into complete lines of at most `max` bytes.
#[derive(Debug)]
pub struct LineSplitter {
    max: usize,
    buf: Vec<u8>,
    /// The current line was already emitted cut: drop bytes until `\n`.
    skipping: bool,
}

/// One line out of a [`LineSplitter`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The bytes, without the newline.
    pub bytes: Vec<u8>,
    /// The line was longer than the bound and cut.
    pub cut: bool,
}

impl Default for LineSplitter {
    fn default() -> Self {
        LineSplitter::new(MAX_LINE)
    }
}

impl LineSplitter {
    /// A splitter keeping lines up to `max` bytes (at least 1).
    pub fn new(max: usize) -> LineSplitter {
        LineSplitter {
            max: max.max(1),
            buf: Vec::new(),
            skipping: false,
        }
    }

    /// Feeds `data`; calls `emit` for every complete (or cut) line.
    pub fn feed(&mut self, mut data: &[u8], mut emit: impl FnMut(Line)) {
        while !data.is_empty() {
            let newline = data.iter().position(|&b| b == b'\n');
            let (chunk, rest, ends) = match newline {
                Some(i) => (&data[..i], &data[i + 1..], true),
                None => (data, &[][..], false),
            };
            data = rest;
            if self.skipping {
                if ends {
                    self.skipping = false;
                }
                continue;
            }
            let room = self.max - self.buf.len();
            if chunk.len() > room {
                self.buf.extend_from_slice(&chunk[..room]);
                emit(Line {
                    bytes: std::mem::take(&mut self.buf),
                    cut: true,
                });
                self.skipping = !ends;
                continue;
            }
            self.buf.extend_from_slice(chunk);
            if ends {
                emit(Line {
                    bytes: std::mem::take(&mut self.buf),
                    cut: false,
                });
            }
        }
    }

    /// At end of stream: the unterminated last line, if any.
    pub fn finish(&mut self) -> Option<Line> {
        if self.buf.is_empty() {
            return None;
        }
        Some(Line {
            bytes: std::mem::take(&mut self.buf),
            cut: false,
        })
    }

    /// Bytes held for the current line (never more than the bound).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

/// Splits arbitrary bytes as the fuzz target and the corpus replay do:
/// the first two bytes give the bound and the chunk size; panics if a line
/// exceeds the bound, holds a newline, or if chunking changed the result.
#[doc(hidden)]
#[allow(dead_code)] // the fuzz target compiles this file on its own and calls it
pub fn fuzz_split(data: &[u8]) {
    let [a, b, rest @ ..] = data else {
        return;
    };
    let max = 1 + usize::from(*a) * 4;
    let chunk = 1 + usize::from(*b);
    let collect = |chunks: &mut dyn Iterator<Item = &[u8]>| {
        let mut s = LineSplitter::new(max);
        let mut out = Vec::new();
        for c in chunks {
            s.feed(c, |l| out.push(l));
            assert!(s.buffered() <= max);
        }
        out.extend(s.finish());
        out
    };
    let whole = collect(&mut std::iter::once(rest));
    let pieces = collect(&mut rest.chunks(chunk));
    assert_eq!(whole, pieces);
    for l in &whole {
        assert!(l.bytes.len() <= max && !l.bytes.contains(&b'\n'));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(max: usize, chunks: &[&[u8]]) -> Vec<Line> {
        let mut s = LineSplitter::new(max);
        let mut out = Vec::new();
        for c in chunks {
            s.feed(c, |l| out.push(l));
            assert!(s.buffered() <= max);
        }
        out.extend(s.finish());
        out
    }

    /// Replays every file of the fuzz target's corpus.
    #[test]
    fn fuzz_corpus_replays() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fuzz/corpus/serve_log_lines"
        );
        let mut n = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            fuzz_split(&std::fs::read(entry.unwrap().path()).unwrap());
            n += 1;
        }
        assert!(n > 0);
    }

    #[test]
    fn lines_across_chunks() {
        let out = split(100, &[b"a: Info: x", b"y\nb: Er", b"ror: z\n", b"tail"]);
        let texts: Vec<&[u8]> = out.iter().map(|l| l.bytes.as_slice()).collect();
        assert_eq!(
            texts,
            vec![&b"a: Info: xy"[..], &b"b: Error: z"[..], &b"tail"[..]]
        );
    }

    #[test]
    fn overlong_lines_are_cut_once_and_the_rest_dropped() {
        let long = vec![b'x'; 50];
        let out = split(10, &[&long, &long, b"\nnext\n"]);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].bytes, vec![b'x'; 10]);
        assert!(out[0].cut);
        assert_eq!(out[1].bytes, b"next");
    }

    /// Property test over pseudo-random streams (in place of a cargo-fuzz
    /// target, the `columba` crate being a binary): never more than the
    /// bound buffered, every emitted line within the bound, newlines
    /// never inside a line, and chunking never changes the result.
    #[test]
    fn random_streams_stay_bounded_and_chunking_does_not_matter() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..300 {
            let len = (next() % 3000) as usize;
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    if next() % 20 == 0 {
                        b'\n'
                    } else {
                        next() as u8
                    }
                })
                .collect();
            let max = 1 + (next() % 200) as usize;
            let whole = split(max, &[&data]);
            let mut chunks = Vec::new();
            let mut rest = &data[..];
            while !rest.is_empty() {
                let n = 1 + (next() as usize % rest.len().min(97));
                chunks.push(&rest[..n]);
                rest = &rest[n..];
            }
            let pieces = split(max, &chunks);
            assert_eq!(whole, pieces);
            for l in &whole {
                assert!(l.bytes.len() <= max);
                assert!(!l.bytes.contains(&b'\n'));
            }
        }
    }
}

//! The stats sockets' line protocol.
//!
//! `stats-writer` (processes counting): a `VERSION\tcolumba-stats\t1\t0`
//! line, then `INC\t<counter>\t<n>` lines; nothing is answered.
//! `stats-reader` (`columba stats`): `DUMP` is answered by
//! `<counter>\t<value>` lines and an empty line.
//!
//! Counter names are short (at most [`MAX_NAME`] bytes of `a-z 0-9 . _ -`),
//! so what a process sends can neither forge dump lines nor grow the
//! table without bound ([`MAX_COUNTERS`]).

/// Handshake of a writer.
pub const VERSION_LINE: &str = "VERSION\tcolumba-stats\t1\t0";
/// Longest line accepted.
pub const MAX_LINE: usize = 256;
/// Longest counter name.
pub const MAX_NAME: usize = 64;
/// Most distinct counters kept.
pub const MAX_COUNTERS: usize = 1024;

/// A request on either socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatsRequest {
    /// The writer's handshake.
    Version,
    /// Add `n` to `counter`.
    Inc {
        /// The counter (`imap.logins`, ...).
        counter: String,
        /// How much.
        n: u64,
    },
    /// Send every counter.
    Dump,
}

/// What was wrong with a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsProtocolError(pub String);

// Written out rather than derived, so that the fuzz target can compile
// this file on its own.
impl std::fmt::Display for StatsProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "stats: {}", self.0)
    }
}

impl std::error::Error for StatsProtocolError {}

/// Whether `name` is an acceptable counter name.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

/// Parses one line (without its newline).
pub fn parse(line: &[u8]) -> Result<StatsRequest, StatsProtocolError> {
    let err = |s: String| Err(StatsProtocolError(s));
    if line.len() > MAX_LINE {
        return err(format!("line of {} bytes, at most {MAX_LINE}", line.len()));
    }
    let Ok(text) = std::str::from_utf8(line) else {
        return err("line is not UTF-8".into());
    };
    let fields: Vec<&str> = text.split('\t').collect();
    match fields.as_slice() {
        ["VERSION", "columba-stats", "1", _] => Ok(StatsRequest::Version),
        ["VERSION", ..] => err(format!("unsupported version line {text:?}")),
        ["INC", counter, count] => {
            if !valid_name(counter) {
                return err(format!("bad counter name {counter:?}"));
            }
            let digits = !count.is_empty() && count.bytes().all(|b| b.is_ascii_digit());
            match count.parse::<u64>() {
                Ok(n) if digits => Ok(StatsRequest::Inc {
                    counter: counter.to_string(),
                    n,
                }),
                _ => err(format!("INC: bad count {count:?}")),
            }
        }
        ["INC", ..] => err("INC: wants a counter and a count".into()),
        ["DUMP"] => Ok(StatsRequest::Dump),
        [cmd, ..] => err(format!("unknown command {:?}", &cmd[..cmd.len().min(32)])),
        [] => err("empty line".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests() {
        assert_eq!(parse(VERSION_LINE.as_bytes()), Ok(StatsRequest::Version));
        assert_eq!(
            parse(b"INC\timap.logins\t3"),
            Ok(StatsRequest::Inc {
                counter: "imap.logins".into(),
                n: 3
            })
        );
        assert_eq!(parse(b"DUMP"), Ok(StatsRequest::Dump));
        for bad in [
            &b"INC\tImap\t1"[..],
            b"INC\tx\t-1",
            b"INC\tx\t+1",
            b"INC\tx\n\t1",
            b"INC\tx",
            b"VERSION\tcolumba-stats\t2\t0",
            b"FROB",
            b"INC\tx\t99999999999999999999999",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert!(parse(&vec![b'a'; MAX_LINE + 1]).is_err());
    }

    /// Property test over pseudo-random lines (standing in for a cargo-fuzz
    /// target): never a panic; every accepted counter name is valid.
    #[test]
    fn random_lines_never_panic() {
        let mut seed = 0x1234_5678_9abc_def1u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20_000 {
            let mut line: Vec<u8> = match next() % 3 {
                0 => b"INC\t".to_vec(),
                1 => b"VERSION\t".to_vec(),
                _ => Vec::new(),
            };
            for _ in 0..(next() % 40) {
                line.push(match next() % 4 {
                    0 => b'\t',
                    1 => b"0123456789"[(next() % 10) as usize],
                    _ => next() as u8,
                });
            }
            if let Ok(StatsRequest::Inc { counter, .. }) = parse(&line) {
                assert!(valid_name(&counter));
            }
        }
    }
}

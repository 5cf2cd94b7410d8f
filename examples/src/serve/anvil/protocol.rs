//! Dovecot 2.3's anvil protocol (`src/anvil/anvil-connection.c`): the
//! client first sends `VERSION\tanvil\t1\t0`, then one request per line,
//! fields tab-separated and tab-escaped. Only LOOKUP, PENALTY-GET and the
//! dumps are answered.

use columba_auth_sasl::escape::split_tabescaped;

/// The handshake line a client sends first (without the newline).
pub const VERSION_LINE: &str = "VERSION\tanvil\t1\t0";
/// Longest request line accepted (Dovecot's `MAX_INBUF_SIZE`).
pub const MAX_LINE: usize = 1024;
/// Largest penalty value (Dovecot's `PENALTY_MAX_VALUE`).
pub const PENALTY_MAX_VALUE: u32 = (1 << 16) - 1;

/// One request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `CONNECT\t<pid>\t<ident>`: a session of process `pid` started.
    Connect {
        /// The session's process.
        pid: u32,
        /// `<service>/<ip>/<user>`.
        ident: String,
    },
    /// `DISCONNECT\t<pid>\t<ident>`: that session ended.
    Disconnect {
        /// The session's process.
        pid: u32,
        /// The ident it connected with.
        ident: String,
    },
    /// `CONNECT-DUMP`: every (ident, pid, count), then an empty line.
    ConnectDump,
    /// `KILL\t<pid>`: process `pid` is gone; drop its sessions (master only).
    Kill {
        /// The process.
        pid: u32,
    },
    /// `LOOKUP\t<ident>`: how many sessions have this ident (reply `<n>`).
    Lookup {
        /// The ident.
        ident: String,
    },
    /// `PENALTY-GET\t<ident>`: reply `<penalty> <last penalty time>`.
    PenaltyGet {
        /// The ident (a client address).
        ident: String,
    },
    /// `PENALTY-INC\t<ident>\t<checksum>\t<value>`.
    PenaltyInc {
        /// The ident.
        ident: String,
        /// Checksum of the failed credentials (0: none); the same one
        /// again does not raise the penalty.
        checksum: u32,
        /// The new penalty value.
        value: u32,
    },
    /// `PENALTY-SET-EXPIRE-SECS\t<secs>`.
    PenaltySetExpireSecs {
        /// Seconds after the last update an entry is forgotten.
        secs: u32,
    },
    /// `PENALTY-DUMP`: every entry, then an empty line.
    PenaltyDump,
}

/// A request line that is wrong, worded as Dovecot's anvil words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

// Written out rather than derived, so that the fuzz target can compile
// this file on its own.
impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProtocolError {}

/// Whether `line` is an acceptable handshake (`VERSION\tanvil\t1\t<minor>`).
pub fn is_version_line(line: &[u8]) -> bool {
    let fields = split_tabescaped(line);
    fields.len() >= 4 && fields[0] == b"VERSION" && fields[1] == b"anvil" && fields[2] == b"1"
}

fn text(field: &[u8]) -> String {
    String::from_utf8_lossy(field).into_owned()
}

fn number(field: &[u8]) -> Option<u32> {
    if field.is_empty() || field.len() > 10 || !field.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(field).ok()?.parse().ok()
}

/// Parses one request line (without the newline). `Ok(None)` for an empty
/// line, which Dovecot ignores.
pub fn parse_request(line: &[u8]) -> Result<Option<Request>, ProtocolError> {
    if line.len() > MAX_LINE {
        return Err(ProtocolError(
            "Anvil client connection sent too much data".into(),
        ));
    }
    let fields = split_tabescaped(line);
    let Some(cmd) = fields.first() else {
        return Ok(None);
    };
    if cmd.is_empty() && fields.len() == 1 {
        return Ok(None);
    }
    let args = &fields[1..];
    let err = |s: &str| Err(ProtocolError(s.to_string()));
    let pid = |f: &[u8], cmd: &str| {
        number(f)
            .filter(|&p| p > 0)
            .ok_or_else(|| ProtocolError(format!("{cmd}: Invalid pid")))
    };
    let request = match cmd.as_slice() {
        b"CONNECT" | b"DISCONNECT" => {
            let name = if cmd == b"CONNECT" {
                "CONNECT"
            } else {
                "DISCONNECT"
            };
            if args.len() < 2 {
                return err(&format!("{name}: Not enough parameters"));
            }
            let pid = pid(&args[0], name)?;
            let ident = text(&args[1]);
            if name == "CONNECT" {
                Request::Connect { pid, ident }
            } else {
                Request::Disconnect { pid, ident }
            }
        }
        b"CONNECT-DUMP" => Request::ConnectDump,
        b"KILL" => {
            let Some(a) = args.first() else {
                return err("KILL: Not enough parameters");
            };
            Request::Kill {
                pid: pid(a, "KILL")?,
            }
        }
        b"LOOKUP" => {
            let Some(a) = args.first() else {
                return err("LOOKUP: Not enough parameters");
            };
            Request::Lookup { ident: text(a) }
        }
        b"PENALTY-GET" => {
            let Some(a) = args.first() else {
                return err("PENALTY-GET: Not enough parameters");
            };
            Request::PenaltyGet { ident: text(a) }
        }
        b"PENALTY-INC" => {
            if args.len() < 3 {
                return err("PENALTY-INC: Not enough parameters");
            }
            match (number(&args[1]), number(&args[2])) {
                (Some(checksum), Some(value))
                    if value <= PENALTY_MAX_VALUE && !(value == 0 && checksum != 0) =>
                {
                    Request::PenaltyInc {
                        ident: text(&args[0]),
                        checksum,
                        value,
                    }
                }
                _ => return err("PENALTY-INC: Invalid parameters"),
            }
        }
        b"PENALTY-SET-EXPIRE-SECS" => match args.first().and_then(|a| number(a)) {
            Some(secs) => Request::PenaltySetExpireSecs { secs },
            None => return err("PENALTY-SET-EXPIRE-SECS: Invalid parameters"),
        },
        b"PENALTY-DUMP" => Request::PenaltyDump,
        other => {
            return Err(ProtocolError(format!(
                "Unknown command: {}",
                String::from_utf8_lossy(&other[..other.len().min(64)])
            )))
        }
    };
    Ok(Some(request))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The request texts and error wordings of Dovecot 2.3.19's
    /// `anvil-connection.c`.
    #[test]
    fn dovecot_requests_and_errors() {
        assert!(is_version_line(b"VERSION\tanvil\t1\t0"));
        assert!(!is_version_line(b"VERSION\tanvil\t2\t0"));
        assert!(!is_version_line(b"LOOKUP\tx"));
        assert_eq!(
            parse_request(b"CONNECT\t1234\timap/192.0.2.1/alice").unwrap(),
            Some(Request::Connect {
                pid: 1234,
                ident: "imap/192.0.2.1/alice".into()
            })
        );
        assert_eq!(
            parse_request(b"LOOKUP\tpop3/::1/b\x01tob").unwrap(),
            Some(Request::Lookup {
                ident: "pop3/::1/b\tob".into()
            })
        );
        assert_eq!(
            parse_request(b"PENALTY-INC\t192.0.2.1\t0\t2").unwrap(),
            Some(Request::PenaltyInc {
                ident: "192.0.2.1".into(),
                checksum: 0,
                value: 2
            })
        );
        assert_eq!(parse_request(b"").unwrap(), None);
        for (line, error) in [
            (&b"CONNECT\t12"[..], "CONNECT: Not enough parameters"),
            (b"CONNECT\tx\ty", "CONNECT: Invalid pid"),
            (b"DISCONNECT\t1", "DISCONNECT: Not enough parameters"),
            (b"KILL", "KILL: Not enough parameters"),
            (b"KILL\t-1", "KILL: Invalid pid"),
            (b"LOOKUP", "LOOKUP: Not enough parameters"),
            (b"PENALTY-GET", "PENALTY-GET: Not enough parameters"),
            (b"PENALTY-INC\tip\t1", "PENALTY-INC: Not enough parameters"),
            (b"PENALTY-INC\tip\t1\t0", "PENALTY-INC: Invalid parameters"),
            (
                b"PENALTY-INC\tip\t0\t65536",
                "PENALTY-INC: Invalid parameters",
            ),
            (
                b"PENALTY-SET-EXPIRE-SECS\tsoon",
                "PENALTY-SET-EXPIRE-SECS: Invalid parameters",
            ),
            (b"FROB\tx", "Unknown command: FROB"),
        ] {
            assert_eq!(parse_request(line).unwrap_err().0, error, "{line:?}");
        }
        let long = vec![b'a'; MAX_LINE + 1];
        assert!(parse_request(&long).is_err());
    }

    /// Property test over pseudo-random lines (the `columba` crate is a
    /// binary, so this stands in for a cargo-fuzz target): never a panic,
    /// and what parses keeps its ident intact.
    #[test]
    fn random_lines_never_panic() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let words: [&[u8]; 10] = [
            b"CONNECT",
            b"DISCONNECT",
            b"KILL",
            b"LOOKUP",
            b"PENALTY-GET",
            b"PENALTY-INC",
            b"PENALTY-DUMP",
            b"CONNECT-DUMP",
            b"PENALTY-SET-EXPIRE-SECS",
            b"VERSION",
        ];
        for _ in 0..20_000 {
            let mut line = words[(next() % 10) as usize].to_vec();
            for _ in 0..(next() % 5) {
                line.extend_from_slice(b"\t");
                for _ in 0..(next() % 12) {
                    let b = match next() % 4 {
                        0 => b"0123456789"[(next() % 10) as usize],
                        1 => b'\\',
                        _ => next() as u8,
                    };
                    line.push(b);
                }
            }
            let _ = parse_request(&line);
            let _ = is_version_line(&line);
        }
    }
}

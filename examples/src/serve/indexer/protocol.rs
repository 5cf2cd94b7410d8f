//! The indexer socket's protocol, in the manner of Dovecot's indexer:
//! tab-separated lines. The client starts with `VERSION\tindexer\t1\t0`
//! (answered likewise), then sends `<tag>\tAPPEND\t<user>\t<mailbox>`
//! ("index what is new in this mailbox") and gets `<tag>\tOK` once the
//! request is queued or `<tag>\t-1` when it is refused. Everything a client
//! sends is untrusted: lines are bounded and every field is checked.

use columba_auth_sasl::escape::{tab_escape, tab_unescape};

/// The handshake line, both ways.
pub const VERSION_LINE: &str = "VERSION\tindexer\t1\t0";
/// Longest line accepted.
pub const MAX_LINE: usize = 1024;
/// Longest user or mailbox name.
const MAX_NAME: usize = 255;

/// A request line, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The client's tag, echoed in the reply.
    pub tag: u32,
    /// The user whose mailbox it is.
    pub user: String,
    /// The mailbox (`INBOX`).
    pub mailbox: String,
}

/// What is wrong with a line, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

/// Formats a request line (with its LF).
pub fn request_line(tag: u32, user: &str, mailbox: &str) -> String {
    format!(
        "{tag}\tAPPEND\t{}\t{}\n",
        tab_escape(user),
        tab_escape(mailbox)
    )
}

/// Parses one line (without its LF).
pub fn parse_request(line: &[u8]) -> Result<Request, ProtocolError> {
    if line.len() > MAX_LINE {
        return Err(ProtocolError(format!(
            "line of {} bytes, more than {MAX_LINE}",
            line.len()
        )));
    }
    let fields: Vec<&[u8]> = line.split(|&b| b == b'\t').collect();
    if fields.len() != 4 {
        return Err(ProtocolError(format!(
            "{} fields, expected 4 (tag, APPEND, user, mailbox)",
            fields.len()
        )));
    }
    let tag = std::str::from_utf8(fields[0])
        .ok()
        .and_then(|t| t.parse::<u32>().ok())
        .ok_or_else(|| ProtocolError("field 1: the tag is not a number".into()))?;
    if fields[1] != b"APPEND" {
        return Err(ProtocolError(format!(
            "field 2: unknown command {:?}",
            String::from_utf8_lossy(fields[1])
        )));
    }
    let name = |i: usize, what: &str| -> Result<String, ProtocolError> {
        let s = String::from_utf8(tab_unescape(fields[i]))
            .map_err(|_| ProtocolError(format!("field {}: {what} is not UTF-8", i + 1)))?;
        if s.is_empty() || s.len() > MAX_NAME || s.chars().any(char::is_control) {
            return Err(ProtocolError(format!("field {}: bad {what}", i + 1)));
        }
        Ok(s)
    };
    Ok(Request {
        tag,
        user: name(2, "user")?,
        mailbox: name(3, "mailbox")?,
    })
}

/// What the `serve_indexer` fuzz target and its corpus replay run: every
/// line of `data` parses to a request or a typed error, and a request
/// formats back to itself.
#[doc(hidden)]
#[cfg_attr(not(test), allow(dead_code))] // called by the fuzz target
pub fn fuzz_lines(data: &[u8]) {
    for line in data.split(|&b| b == b'\n') {
        if let Ok(r) = parse_request(line) {
            let again = request_line(r.tag, &r.user, &r.mailbox);
            assert_eq!(
                parse_request(again.trim_end_matches('\n').as_bytes()).as_ref(),
                Ok(&r),
                "a parsed request must format back to itself"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip() {
        let line = request_line(7, "alice@example.com", "INBOX");
        let r = parse_request(line.trim_end_matches('\n').as_bytes()).unwrap();
        assert_eq!(
            r,
            Request {
                tag: 7,
                user: "alice@example.com".into(),
                mailbox: "INBOX".into()
            }
        );
    }

    #[test]
    fn bad_lines_say_what_is_wrong() {
        for (line, expect) in [
            (&b"1\tAPPEND\tu"[..], "3 fields"),
            (b"x\tAPPEND\tu\tINBOX", "field 1"),
            (b"1\tOPTIMIZE\tu\tINBOX", "unknown command"),
            (b"1\tAPPEND\t\tINBOX", "field 3: bad user"),
            (b"1\tAPPEND\tu\t\xff", "field 4"),
        ] {
            let e = parse_request(line).unwrap_err();
            assert!(e.0.contains(expect), "{e:?}");
        }
        assert!(parse_request(&vec![b'1'; 2000])
            .unwrap_err()
            .0
            .contains("2000 bytes"));
    }

    /// A small deterministic generator (xorshift) for property tests.
    fn bytes(seed: &mut u64, len: usize, alphabet: &[u8]) -> Vec<u8> {
        (0..len)
            .map(|_| {
                *seed ^= *seed << 13;
                *seed ^= *seed >> 7;
                *seed ^= *seed << 17;
                alphabet[(*seed % alphabet.len() as u64) as usize]
            })
            .collect()
    }

    /// Property test standing in for a fuzz target: random lines parse or
    /// fail with a reason; what parses formats back to the same request.
    #[test]
    fn random_lines_never_panic_and_round_trip() {
        let alphabet = b"0123\tAPPEND\\\xffu\x01t";
        let mut seed = 0x5851_f42d_4c95_7f2du64;
        for n in 0..20_000 {
            let line = bytes(&mut seed, n % 64, alphabet);
            if let Ok(r) = parse_request(&line) {
                let again = request_line(r.tag, &r.user, &r.mailbox);
                assert_eq!(
                    parse_request(again.trim_end_matches('\n').as_bytes()).unwrap(),
                    r
                );
            }
        }
    }

    /// Replays every file of the fuzz target's corpus.
    #[test]
    fn fuzz_corpus_replays() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/serve_indexer");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            fuzz_lines(&std::fs::read(entry.unwrap().path()).unwrap());
            n += 1;
        }
        assert!(n > 0, "no corpus in {}", dir.display());
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // a cheap stand-in for a fuzz target: every prefix and byte flip
        let base = request_line(42, "bob", "Archive/2024");
        let bytes = base.trim_end_matches('\n').as_bytes();
        for i in 0..bytes.len() {
            let _ = parse_request(&bytes[..i]);
            for flip in [0u8, b'\t', 0xff, b'\\', b'\n'] {
                let mut b = bytes.to_vec();
                b[i] = flip;
                let _ = parse_request(&b);
            }
        }
    }
}

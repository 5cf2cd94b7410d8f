//! What a login process hands to the post-login process once the client
//! authenticated: [`ImapHandoff`] and [`Pop3Handoff`], and their compact
//! framed encoding.
//!
//! The bytes come from the unprivileged login process, so
//! [`ImapHandoff::decode`] and [`Pop3Handoff::decode`] treat them as
//! untrusted: every length is checked against a fixed bound and against the
//! bytes that are really there before anything is allocated, every field is
//! validated (a tag that could smuggle a CRLF into the output is refused),
//! and a problem is reported as [`Error::Handoff`] with its byte offset.
//!
//! The format: a 4-byte magic (`CLHI` for IMAP, `CLHP` for POP3), a
//! version byte (1), then the fields in a fixed order (IMAP: tag, user,
//! mechanism, a flags byte with bit 0 TLS and bit 1 "untagged
//! CAPABILITY", client input, ID parameters; POP3: user, mechanism, TLS
//! byte, client input), each string as a
//! 4-byte big-endian length followed by its bytes; nothing may follow the
//! last field.
//!
//! ```
//! use columba_session::ImapHandoff;
//!
//! let handoff = ImapHandoff {
//!     tag: "a1".into(),
//!     user: "alice".into(),
//!     method: "PLAIN".into(),
//!     tls: true,
//!     client_input: b"a2 SELECT INBOX\r\n".to_vec(),
//!     client_id: vec![("name".into(), Some("Thunderbird".into()))],
//!     untagged_capability: false,
//! };
//! let bytes = handoff.encode();
//! assert_eq!(ImapHandoff::decode(&bytes)?, handoff);
//! assert!(ImapHandoff::decode(&bytes[..bytes.len() - 1]).is_err());
//! # Ok::<(), columba_session::Error>(())
//! ```

use crate::error::{Error, Result};

/// The longest IMAP tag a handoff carries.
pub const MAX_TAG: usize = 1024;
/// The longest user name a handoff carries.
pub const MAX_USER: usize = 1024;
/// The longest SASL mechanism (or `LOGIN`/`USER`) name.
pub const MAX_METHOD: usize = 64;
/// The most unprocessed client input a handoff carries. A login process
/// stops reading from the client while it waits for the auth process, so
/// only what was pipelined before that is here.
pub const MAX_CLIENT_INPUT: usize = 1024 * 1024;
/// The most ID parameters kept (RFC 2971 allows 30).
pub const MAX_ID_PARAMS: usize = 30;
/// The longest ID field name kept.
pub const MAX_ID_KEY: usize = 64;
/// The longest ID value kept (RFC 2971's limit).
pub const MAX_ID_VALUE: usize = 1024;

const VERSION: u8 = 1;
const IMAP_MAGIC: &[u8; 4] = b"CLHI";
const POP3_MAGIC: &[u8; 4] = b"CLHP";

/// An authenticated IMAP connection on its way from the login process to
/// the post-login process ([`crate::ImapSession::login_handoff`], then
/// [`crate::ImapSession::resume`]).
#[derive(Clone, PartialEq, Eq)]
pub struct ImapHandoff {
    /// The tag of the LOGIN or AUTHENTICATE command, answered by the
    /// post-login process.
    pub tag: String,
    /// The authenticated (canonical) user name.
    pub user: String,
    /// `LOGIN` or the SASL mechanism used.
    pub method: String,
    /// The connection is under TLS.
    pub tls: bool,
    /// Bytes the client sent after the login command that were not
    /// processed yet (pipelined commands), in order.
    pub client_input: Vec<u8>,
    /// The parameters of the client's ID command before login, if any
    /// (field, value), for logging.
    pub client_id: Vec<(String, Option<String>)>,
    /// The client asked CAPABILITY before login (and not after STARTTLS):
    /// the login answer sends `* CAPABILITY` untagged, as Dovecot does.
    pub untagged_capability: bool,
}

/// An authenticated POP3 connection on its way from the login process to
/// the post-login process ([`crate::Pop3Session::login_handoff`], then
/// [`crate::Pop3Session::resume`]).
#[derive(Clone, PartialEq, Eq)]
pub struct Pop3Handoff {
    /// The authenticated (canonical) user name.
    pub user: String,
    /// `USER` or the SASL mechanism used.
    pub method: String,
    /// The connection is under TLS.
    pub tls: bool,
    /// Bytes the client sent after the login command that were not
    /// processed yet (pipelined commands), in order.
    pub client_input: Vec<u8>,
}

// Client input may hold anything the client pipelined (even another
// password): Debug shows only its length.
impl std::fmt::Debug for ImapHandoff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImapHandoff")
            .field("tag", &self.tag)
            .field("user", &self.user)
            .field("method", &self.method)
            .field("tls", &self.tls)
            .field("client_input_len", &self.client_input.len())
            .field("client_id", &self.client_id)
            .field("untagged_capability", &self.untagged_capability)
            .finish()
    }
}

impl std::fmt::Debug for Pop3Handoff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pop3Handoff")
            .field("user", &self.user)
            .field("method", &self.method)
            .field("tls", &self.tls)
            .field("client_input_len", &self.client_input.len())
            .finish()
    }
}

impl ImapHandoff {
    /// The framed bytes for the post-login process.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.client_input.len());
        out.extend_from_slice(IMAP_MAGIC);
        out.push(VERSION);
        put(&mut out, self.tag.as_bytes());
        put(&mut out, self.user.as_bytes());
        put(&mut out, self.method.as_bytes());
        out.push(u8::from(self.tls) | (u8::from(self.untagged_capability) << 1));
        put(&mut out, &self.client_input);
        out.push(self.client_id.len().min(u8::MAX as usize) as u8);
        for (key, value) in self.client_id.iter().take(u8::MAX as usize) {
            put(&mut out, key.as_bytes());
            match value {
                Some(v) => {
                    out.push(1);
                    put(&mut out, v.as_bytes());
                }
                None => out.push(0),
            }
        }
        out
    }

    /// Parses and checks bytes from [`ImapHandoff::encode`].
    pub fn decode(data: &[u8]) -> Result<ImapHandoff> {
        let mut r = Reader::new(data);
        r.header(IMAP_MAGIC)?;
        let tag = r.text("tag", MAX_TAG, check_tag)?;
        let user = r.text("user", MAX_USER, check_user)?;
        let method = r.text("method", MAX_METHOD, check_method)?;
        let at = r.pos;
        let flags = r.byte("flags")?;
        if flags > 0b11 {
            return Err(fail(at, "flags", "unknown flag bits"));
        }
        let (tls, untagged_capability) = (flags & 1 != 0, flags & 2 != 0);
        let client_input = r.bytes("client input", MAX_CLIENT_INPUT)?.to_vec();
        let at = r.pos;
        let count = r.byte("ID parameter count")? as usize;
        if count > MAX_ID_PARAMS {
            return Err(fail(at, "ID parameter count", "more than 30 parameters"));
        }
        let mut client_id = Vec::with_capacity(count);
        for _ in 0..count {
            let key = r.text("ID field", MAX_ID_KEY, check_printable)?;
            let value = if r.flag("ID value presence")? {
                Some(r.text("ID value", MAX_ID_VALUE, check_printable)?)
            } else {
                None
            };
            client_id.push((key, value));
        }
        r.end()?;
        Ok(ImapHandoff {
            tag,
            user,
            method,
            tls,
            client_input,
            client_id,
            untagged_capability,
        })
    }
}

impl Pop3Handoff {
    /// The framed bytes for the post-login process.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + self.client_input.len());
        out.extend_from_slice(POP3_MAGIC);
        out.push(VERSION);
        put(&mut out, self.user.as_bytes());
        put(&mut out, self.method.as_bytes());
        out.push(u8::from(self.tls));
        put(&mut out, &self.client_input);
        out
    }

    /// Parses and checks bytes from [`Pop3Handoff::encode`].
    pub fn decode(data: &[u8]) -> Result<Pop3Handoff> {
        let mut r = Reader::new(data);
        r.header(POP3_MAGIC)?;
        let user = r.text("user", MAX_USER, check_user)?;
        let method = r.text("method", MAX_METHOD, check_method)?;
        let tls = r.flag("tls")?;
        let client_input = r.bytes("client input", MAX_CLIENT_INPUT)?.to_vec();
        r.end()?;
        Ok(Pop3Handoff {
            user,
            method,
            tls,
            client_input,
        })
    }
}

fn put(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(data);
}

fn fail(offset: usize, field: &'static str, problem: &'static str) -> Error {
    Error::Handoff {
        offset,
        field,
        problem,
    }
}

/// A tag is what the post-login process writes at the start of its first
/// line: only IMAP tag characters (no space, CR, LF, `+`, ...).
fn check_tag(s: &str) -> std::result::Result<(), &'static str> {
    if s.is_empty() {
        return Err("empty");
    }
    if columba_imap_proto::Tag::new(s.as_bytes().to_vec()).is_err() {
        return Err("not a valid IMAP tag");
    }
    Ok(())
}

fn check_user(s: &str) -> std::result::Result<(), &'static str> {
    if s.is_empty() {
        return Err("empty");
    }
    if s.chars().any(char::is_control) {
        return Err("has a control character");
    }
    Ok(())
}

fn check_method(s: &str) -> std::result::Result<(), &'static str> {
    if s.is_empty() {
        return Err("empty");
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err("not a mechanism name");
    }
    Ok(())
}

fn check_printable(s: &str) -> std::result::Result<(), &'static str> {
    if s.chars().any(char::is_control) {
        return Err("has a control character");
    }
    Ok(())
}

/// A bounds-checked cursor over untrusted bytes.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(data: &'a [u8]) -> Reader<'a> {
        Reader { data, pos: 0 }
    }

    fn header(&mut self, magic: &[u8; 4]) -> Result<()> {
        if self.data.len() < 4 || &self.data[..4] != magic {
            return Err(fail(0, "magic", "not a handoff of this protocol"));
        }
        self.pos = 4;
        let version = self.byte("version")?;
        if version != VERSION {
            return Err(fail(4, "version", "unknown version"));
        }
        Ok(())
    }

    fn byte(&mut self, field: &'static str) -> Result<u8> {
        let b = *self
            .data
            .get(self.pos)
            .ok_or_else(|| fail(self.pos, field, "truncated"))?;
        self.pos += 1;
        Ok(b)
    }

    fn flag(&mut self, field: &'static str) -> Result<bool> {
        let at = self.pos;
        match self.byte(field)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(fail(at, field, "neither 0 nor 1")),
        }
    }

    fn bytes(&mut self, field: &'static str, max: usize) -> Result<&'a [u8]> {
        let at = self.pos;
        let len_bytes: [u8; 4] = self
            .data
            .get(at..at + 4)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| fail(at, field, "truncated length"))?;
        let len = u32::from_be_bytes(len_bytes) as usize;
        if len > max {
            return Err(fail(at, field, "longer than its limit"));
        }
        let start = at + 4;
        let value = self
            .data
            .get(start..start + len)
            .ok_or_else(|| fail(at, field, "length runs past the end"))?;
        self.pos = start + len;
        Ok(value)
    }

    fn text(
        &mut self,
        field: &'static str,
        max: usize,
        check: fn(&str) -> std::result::Result<(), &'static str>,
    ) -> Result<String> {
        let at = self.pos;
        let raw = self.bytes(field, max)?;
        let s = std::str::from_utf8(raw).map_err(|_| fail(at + 4, field, "not UTF-8"))?;
        check(s).map_err(|problem| fail(at + 4, field, problem))?;
        Ok(s.to_string())
    }

    fn end(&self) -> Result<()> {
        if self.pos != self.data.len() {
            return Err(fail(self.pos, "end", "bytes after the last field"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ImapHandoff {
        ImapHandoff {
            tag: "x1".into(),
            user: "bob@example.org".into(),
            method: "SCRAM-SHA-256".into(),
            tls: false,
            client_input: b"x2 NOOP\r\n".to_vec(),
            client_id: vec![("name".into(), None)],
            untagged_capability: true,
        }
    }

    #[test]
    fn round_trip_both() {
        let h = sample();
        assert_eq!(ImapHandoff::decode(&h.encode()).unwrap(), h);
        let p = Pop3Handoff {
            user: "bob".into(),
            method: "USER".into(),
            tls: true,
            client_input: b"STAT\r\n".to_vec(),
        };
        assert_eq!(Pop3Handoff::decode(&p.encode()).unwrap(), p);
        // one protocol's bytes are not the other's
        assert!(Pop3Handoff::decode(&h.encode()).is_err());
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = sample().encode();
        for n in 0..bytes.len() {
            assert!(ImapHandoff::decode(&bytes[..n]).is_err(), "cut at {n}");
        }
    }

    #[test]
    fn a_tag_with_crlf_is_refused_with_its_offset() {
        let mut h = sample();
        h.tag = "a\r\n* BYE".into();
        let err = ImapHandoff::decode(&h.encode()).unwrap_err();
        assert!(matches!(
            err,
            Error::Handoff {
                offset: 9,
                field: "tag",
                ..
            }
        ));
        assert!(err.to_string().contains("byte 9"), "{err}");
    }

    #[test]
    fn a_huge_length_is_refused_without_allocating() {
        let mut bytes = IMAP_MAGIC.to_vec();
        bytes.push(VERSION);
        bytes.extend_from_slice(&u32::MAX.to_be_bytes());
        let err = ImapHandoff::decode(&bytes).unwrap_err();
        assert!(err.to_string().contains("longer than its limit"), "{err}");
    }

    #[test]
    fn debug_hides_the_client_input() {
        let mut h = sample();
        h.client_input = b"a3 LOGIN other secretpw\r\n".to_vec();
        assert!(!format!("{h:?}").contains("secretpw"));
    }
}

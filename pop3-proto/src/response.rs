//! Server responses: status lines, extended response codes, AUTH
//! continuations and the lines of multi-line listings.

use crate::Error;

/// `+OK` or `-ERR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// `+OK`
    Ok,
    /// `-ERR`
    Err,
}

/// An extended response code (RFC 2449 section 8, RFC 3206, RFC 6856),
/// the bracketed word right after the status indicator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseCode {
    /// `[IN-USE]`: the maildrop is locked by another session.
    InUse,
    /// `[LOGIN-DELAY]`: logged in too soon after the last login.
    LoginDelay,
    /// `[SYS/TEMP]`: temporary system problem.
    SysTemp,
    /// `[SYS/PERM]`: permanent system problem.
    SysPerm,
    /// `[AUTH]`: the credentials were wrong.
    Auth,
    /// `[UTF8]`: the operation needs UTF-8 mode (RFC 6856).
    Utf8,
    /// Any other code, as sent, without brackets.
    Other(String),
}

impl ResponseCode {
    /// Recognises a code (the text between the brackets); the known ones
    /// case-insensitively.
    pub fn from_text(text: &str) -> ResponseCode {
        match text.to_ascii_uppercase().as_str() {
            "IN-USE" => ResponseCode::InUse,
            "LOGIN-DELAY" => ResponseCode::LoginDelay,
            "SYS/TEMP" => ResponseCode::SysTemp,
            "SYS/PERM" => ResponseCode::SysPerm,
            "AUTH" => ResponseCode::Auth,
            "UTF8" => ResponseCode::Utf8,
            _ => ResponseCode::Other(text.to_string()),
        }
    }

    /// The code's text, without brackets.
    pub fn as_str(&self) -> &str {
        match self {
            ResponseCode::InUse => "IN-USE",
            ResponseCode::LoginDelay => "LOGIN-DELAY",
            ResponseCode::SysTemp => "SYS/TEMP",
            ResponseCode::SysPerm => "SYS/PERM",
            ResponseCode::Auth => "AUTH",
            ResponseCode::Utf8 => "UTF8",
            ResponseCode::Other(text) => text,
        }
    }
}

/// A status line: `+OK` / `-ERR`, an optional response code, free text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusLine {
    /// `+OK` or `-ERR`.
    pub status: Status,
    /// The extended response code, if the text starts with one.
    pub code: Option<ResponseCode>,
    /// The text after the indicator (and code), without the separating
    /// space. Bytes: after `UTF8` it may be UTF-8 (RFC 6856), and old
    /// servers send Latin-1.
    pub text: Vec<u8>,
}

impl StatusLine {
    /// `+OK text`.
    pub fn ok(text: impl Into<Vec<u8>>) -> StatusLine {
        StatusLine {
            status: Status::Ok,
            code: None,
            text: text.into(),
        }
    }

    /// `-ERR text`.
    pub fn err(text: impl Into<Vec<u8>>) -> StatusLine {
        StatusLine {
            status: Status::Err,
            code: None,
            text: text.into(),
        }
    }

    /// The same line with a response code.
    pub fn with_code(mut self, code: ResponseCode) -> StatusLine {
        self.code = Some(code);
        self
    }

    /// Whether it is `+OK`.
    pub fn is_ok(&self) -> bool {
        self.status == Status::Ok
    }

    /// Parses a status line (without CRLF). The indicator is matched
    /// case-insensitively; a `[` that has no `]` is plain text.
    pub fn parse(line: &[u8], offset: usize) -> Result<StatusLine, Error> {
        if let Some((at, byte)) = crate::line::find_forbidden(line) {
            return Err(Error::InvalidByte {
                offset: offset + at,
                byte,
            });
        }
        let (status, rest) = if starts_with_ignore_case(line, b"+OK") {
            (Status::Ok, &line[3..])
        } else if starts_with_ignore_case(line, b"-ERR") {
            (Status::Err, &line[4..])
        } else {
            return Err(Error::BadStatus {
                offset,
                detail: String::new(),
            });
        };
        let text = match rest.first() {
            None => rest,
            Some(b' ') => &rest[1..],
            Some(_) => {
                return Err(Error::BadStatus {
                    offset,
                    detail: ": no space after the status indicator".to_string(),
                })
            }
        };
        let (code, text) = split_code(text);
        Ok(StatusLine {
            status,
            code,
            text: text.to_vec(),
        })
    }

    /// Appends the line, CRLF included.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        if self
            .text
            .iter()
            .any(|&b| b == b'\r' || b == b'\n' || b == 0)
        {
            return Err(Error::Unencodable {
                what: "status text",
                reason: "contains CR, LF or NUL",
            });
        }
        if let Some(code) = &self.code {
            let code = code.as_str();
            if code.is_empty()
                || code
                    .bytes()
                    .any(|b| !(0x20..0x7f).contains(&b) || b == b']')
            {
                return Err(Error::Unencodable {
                    what: "response code",
                    reason: "empty, or contains ']' or a non-printable byte",
                });
            }
        } else if split_code(&self.text).0.is_some() {
            return Err(Error::Unencodable {
                what: "status text",
                reason: "starts with '[' but has no response code; it would read as one",
            });
        }
        out.extend_from_slice(match self.status {
            Status::Ok => b"+OK",
            Status::Err => b"-ERR",
        });
        if let Some(code) = &self.code {
            out.extend_from_slice(b" [");
            out.extend_from_slice(code.as_str().as_bytes());
            out.push(b']');
        }
        if !self.text.is_empty() {
            out.push(b' ');
            out.extend_from_slice(&self.text);
        }
        out.extend_from_slice(b"\r\n");
        Ok(())
    }

    /// The APOP timestamp of a greeting (`<...@...>` included), if any
    /// (RFC 1939 section 7).
    pub fn apop_timestamp(&self) -> Option<&[u8]> {
        let start = self.text.iter().position(|&b| b == b'<')?;
        let len = self.text[start..].iter().position(|&b| b == b'>')?;
        let stamp = &self.text[start..=start + len];
        stamp.contains(&b'@').then_some(stamp)
    }

    /// The `+OK nn mm` answer to STAT: message count and maildrop size.
    pub fn maildrop_stat(&self) -> Option<(u32, u64)> {
        let mut words = self.text.split(|&b| b == b' ');
        let count = parse_decimal(words.next()?)?;
        let size = parse_decimal(words.next()?)?;
        Some((u32::try_from(count).ok()?, size))
    }

    /// The `+OK msg size` answer to `LIST msg`.
    pub fn scan_listing(&self) -> Option<ScanListing> {
        ScanListing::parse(first_two_words(&self.text)?, 0).ok()
    }

    /// The `+OK msg uid` answer to `UIDL msg`.
    pub fn unique_id(&self) -> Option<UniqueId> {
        UniqueId::parse(first_two_words(&self.text)?, 0).ok()
    }
}

/// `+ data`: a SASL challenge from the server (RFC 5034). The data is
/// base64 as sent (empty for `+` or `+ `); it is not decoded here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Continuation {
    /// The base64 text as sent.
    pub data: Vec<u8>,
}

impl Continuation {
    /// Parses `+ data` or a bare `+` (without CRLF).
    pub fn parse(line: &[u8], offset: usize) -> Result<Continuation, Error> {
        let data = match line {
            [b'+'] => &line[1..],
            [b'+', b' ', data @ ..] => data,
            _ => {
                return Err(Error::BadStatus {
                    offset,
                    detail: " or '+ '".to_string(),
                })
            }
        };
        if !crate::command::is_base64(data) {
            return Err(Error::BadStatus {
                offset,
                detail: ": continuation data is not base64".to_string(),
            });
        }
        Ok(Continuation {
            data: data.to_vec(),
        })
    }

    /// Appends `+ data` and CRLF (Dovecot's form: the space is always
    /// there, even with no data).
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        if !crate::command::is_base64(&self.data) {
            return Err(Error::Unencodable {
                what: "continuation",
                reason: "data is not base64",
            });
        }
        out.extend_from_slice(b"+ ");
        out.extend_from_slice(&self.data);
        out.extend_from_slice(b"\r\n");
        Ok(())
    }
}

/// A scan listing, `msg size` (RFC 1939): one line of the `LIST` answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanListing {
    /// The message number.
    pub msg: u32,
    /// The size in octets, as the server counts it (CRLF line ends).
    pub size: u64,
}

impl ScanListing {
    /// Parses `msg SP size`.
    pub fn parse(line: &[u8], offset: usize) -> Result<ScanListing, Error> {
        let bad = |reason: &str| Error::BadListLine {
            offset,
            what: "scan listing",
            reason: reason.to_string(),
        };
        let (msg, size) = split_two(line).ok_or_else(|| bad("expected 'msg size'"))?;
        let msg = parse_decimal(msg)
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| bad("message number is not a 32-bit decimal number"))?;
        let size = parse_decimal(size).ok_or_else(|| bad("size is not a decimal number"))?;
        Ok(ScanListing { msg, size })
    }

    /// Appends the line, CRLF included.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(format!("{} {}\r\n", self.msg, self.size).as_bytes());
    }
}

/// A unique-id listing, `msg uid` (RFC 1939): one line of the `UIDL`
/// answer. The uid is 1 or more printable ASCII characters (RFC 1939 says
/// at most 70; longer ones are accepted, as servers can be configured so).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UniqueId {
    /// The message number.
    pub msg: u32,
    /// The unique id.
    pub uid: String,
}

impl UniqueId {
    /// Parses `msg SP uid`.
    pub fn parse(line: &[u8], offset: usize) -> Result<UniqueId, Error> {
        let bad = |reason: &str| Error::BadListLine {
            offset,
            what: "unique-id listing",
            reason: reason.to_string(),
        };
        let (msg, uid) = split_two(line).ok_or_else(|| bad("expected 'msg uid'"))?;
        let msg = parse_decimal(msg)
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| bad("message number is not a 32-bit decimal number"))?;
        if !is_uid(uid) {
            return Err(bad("unique id has a byte outside 0x21-0x7e"));
        }
        Ok(UniqueId {
            msg,
            uid: String::from_utf8_lossy(uid).into_owned(),
        })
    }

    /// Appends the line, CRLF included.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        if !is_uid(self.uid.as_bytes()) {
            return Err(Error::Unencodable {
                what: "unique id",
                reason: "empty or has a byte outside 0x21-0x7e",
            });
        }
        out.extend_from_slice(format!("{} {}\r\n", self.msg, self.uid).as_bytes());
        Ok(())
    }
}

/// One line of the `CAPA` answer (RFC 2449): a tag and its parameters,
/// e.g. `SASL PLAIN LOGIN` or `LOGIN-DELAY 900`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capability {
    /// The capability tag as sent (`TOP`, `SASL`, `UTF8`, ...).
    pub name: String,
    /// The space-separated parameters.
    pub params: Vec<String>,
}

impl Capability {
    /// A capability without parameters.
    pub fn new(name: &str) -> Capability {
        Capability {
            name: name.to_string(),
            params: Vec::new(),
        }
    }

    /// Whether the tag is `name` (case-insensitive, as RFC 2449 says).
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    /// Parses one capability line. The tag must be printable ASCII; the
    /// parameters UTF-8 (`IMPLEMENTATION` text may be non-ASCII).
    pub fn parse(line: &[u8], offset: usize) -> Result<Capability, Error> {
        let text = std::str::from_utf8(line).map_err(|_| Error::InvalidUtf8 { offset })?;
        let mut words = text.split(' ').filter(|w| !w.is_empty());
        let name = words.next().ok_or(Error::BadListLine {
            offset,
            what: "capability",
            reason: "empty line".to_string(),
        })?;
        if !name.bytes().all(|b| (0x21..0x7f).contains(&b)) {
            return Err(Error::BadListLine {
                offset,
                what: "capability",
                reason: "tag is not printable ASCII".to_string(),
            });
        }
        Ok(Capability {
            name: name.to_string(),
            params: words.map(str::to_string).collect(),
        })
    }

    /// Appends the line, CRLF included.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        let bad_name =
            self.name.is_empty() || !self.name.bytes().all(|b| (0x21..0x7f).contains(&b));
        let bad_param =
            |w: &String| w.is_empty() || w.bytes().any(|b| matches!(b, b' ' | b'\r' | b'\n' | 0));
        if bad_name || self.params.iter().any(bad_param) {
            return Err(Error::Unencodable {
                what: "capability",
                reason: "tag not printable ASCII, or an empty parameter or one with a space, CR, LF or NUL",
            });
        }
        out.extend_from_slice(self.name.as_bytes());
        for param in &self.params {
            out.push(b' ');
            out.extend_from_slice(param.as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        Ok(())
    }
}

/// One line of the `LANG` answer (RFC 6856): a language tag and a
/// description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Language {
    /// The language tag, e.g. `en` or `de-CH`.
    pub tag: String,
    /// A human-readable description (UTF-8), possibly empty.
    pub description: String,
}

impl Language {
    /// Parses `tag [SP description]`.
    pub fn parse(line: &[u8], offset: usize) -> Result<Language, Error> {
        let text = std::str::from_utf8(line).map_err(|_| Error::InvalidUtf8 { offset })?;
        let (tag, description) = text.split_once(' ').unwrap_or((text, ""));
        if tag.is_empty()
            || !tag
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'*')
        {
            return Err(Error::BadListLine {
                offset,
                what: "language",
                reason: "tag is not letters, digits and '-'".to_string(),
            });
        }
        Ok(Language {
            tag: tag.to_string(),
            description: description.to_string(),
        })
    }

    /// Appends the line, CRLF included.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        if self.tag.is_empty()
            || !self
                .tag
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'*')
            || self.description.contains(['\r', '\n', '\0'])
        {
            return Err(Error::Unencodable {
                what: "language",
                reason: "bad tag, or CR, LF or NUL in the description",
            });
        }
        out.extend_from_slice(self.tag.as_bytes());
        if !self.description.is_empty() {
            out.push(b' ');
            out.extend_from_slice(self.description.as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        Ok(())
    }
}

/// A line of a multi-line listing, typed after the command that asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListItem {
    /// From `LIST`.
    Scan(ScanListing),
    /// From `UIDL`.
    UniqueId(UniqueId),
    /// From `CAPA`.
    Capability(Capability),
    /// From a bare `AUTH`: one SASL mechanism name per line.
    Mechanism(String),
    /// From a bare `LANG`.
    Language(Language),
}

impl ListItem {
    /// Appends the line (not dot-stuffed), CRLF included.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        match self {
            ListItem::Scan(scan) => {
                scan.encode_into(out);
                Ok(())
            }
            ListItem::UniqueId(uid) => uid.encode_into(out),
            ListItem::Capability(capa) => capa.encode_into(out),
            ListItem::Mechanism(name) => {
                if !crate::command::is_mechanism(name.as_bytes()) {
                    return Err(Error::Unencodable {
                        what: "mechanism",
                        reason: "not 1-20 letters, digits, '-' or '_'",
                    });
                }
                out.extend_from_slice(name.as_bytes());
                out.extend_from_slice(b"\r\n");
                Ok(())
            }
            ListItem::Language(language) => language.encode_into(out),
        }
    }
}

/// Encodes a whole multi-line listing: the `+OK` line, the items
/// (dot-stuffed where needed) and the final `.` line.
pub fn encode_listing(
    status: &StatusLine,
    items: &[ListItem],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let start = out.len();
    let result = (|| {
        status.encode_into(out)?;
        let mut line = Vec::new();
        for item in items {
            line.clear();
            item.encode_into(&mut line)?;
            if line.first() == Some(&b'.') {
                out.push(b'.');
            }
            out.extend_from_slice(&line);
        }
        out.extend_from_slice(b".\r\n");
        Ok(())
    })();
    if result.is_err() {
        out.truncate(start);
    }
    result
}

fn starts_with_ignore_case(line: &[u8], prefix: &[u8]) -> bool {
    line.len() >= prefix.len() && line[..prefix.len()].eq_ignore_ascii_case(prefix)
}

fn split_code(text: &[u8]) -> (Option<ResponseCode>, &[u8]) {
    if text.first() != Some(&b'[') {
        return (None, text);
    }
    let Some(close) = text.iter().position(|&b| b == b']') else {
        return (None, text);
    };
    let inner = &text[1..close];
    if inner.is_empty() || !inner.iter().all(|&b| (0x20..0x7f).contains(&b)) {
        return (None, text);
    }
    let code = ResponseCode::from_text(&String::from_utf8_lossy(inner));
    let rest = &text[close + 1..];
    let rest = rest.strip_prefix(b" ").unwrap_or(rest);
    (Some(code), rest)
}

fn parse_decimal(word: &[u8]) -> Option<u64> {
    if word.is_empty() || word.len() > 19 || !word.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(word).ok()?.parse().ok()
}

fn split_two(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = line.iter().position(|&b| b == b' ')?;
    let (first, second) = (&line[..at], &line[at + 1..]);
    (!second.is_empty() && !second.contains(&b' ')).then_some((first, second))
}

fn first_two_words(text: &[u8]) -> Option<&[u8]> {
    let first = text.iter().position(|&b| b == b' ')?;
    let end = text[first + 1..]
        .iter()
        .position(|&b| b == b' ')
        .map_or(text.len(), |at| first + 1 + at);
    Some(&text[..end])
}

fn is_uid(uid: &[u8]) -> bool {
    !uid.is_empty() && uid.iter().all(|&b| (0x21..0x7f).contains(&b))
}

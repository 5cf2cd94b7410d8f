//! Client commands: the typed values, their parser (one line, without its
//! terminator) and their encoder.

use crate::{Error, Secret};

/// A POP3 command as a client sends it (RFC 1939, 2449, 2595, 5034, 6856).
///
/// Message numbers are parsed as any `u32`; whether a number names an
/// existing, undeleted message is the server's business (it answers `-ERR`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `USER name` (RFC 1939). Everything after the space is the name.
    User(Vec<u8>),
    /// `PASS string` (RFC 1939). Everything after the space is the
    /// password, spaces included, as RFC 1939 allows and Dovecot does.
    Pass(Secret),
    /// `APOP name digest` (RFC 1939); the digest is 32 hex digits.
    Apop {
        /// The mailbox name.
        name: Vec<u8>,
        /// The MD5 digest in hex, as sent.
        digest: Secret,
    },
    /// `AUTH` alone (a list of mechanisms, multi-line; sent by Thunderbird
    /// and Outlook) or `AUTH mechanism [initial-response]` (RFC 5034).
    Auth(Option<AuthStart>),
    /// `STAT`. (Arguments after a command that takes none are ignored,
    /// as Dovecot ignores them.)
    Stat,
    /// `LIST [msg]`: without a number the answer is multi-line.
    List(Option<u32>),
    /// `RETR msg`: multi-line message.
    Retr(u32),
    /// `DELE msg`.
    Dele(u32),
    /// `NOOP`.
    Noop,
    /// `RSET`.
    Rset,
    /// `QUIT`.
    Quit,
    /// `TOP msg n`: headers and `n` body lines, multi-line.
    Top {
        /// The message number.
        msg: u32,
        /// How many body lines.
        lines: u32,
    },
    /// `UIDL [msg]`: without a number the answer is multi-line.
    Uidl(Option<u32>),
    /// `CAPA` (RFC 2449): multi-line capability list.
    Capa,
    /// `STLS` (RFC 2595).
    Stls,
    /// `UTF8` (RFC 6856).
    Utf8,
    /// `LANG [tag]` (RFC 6856): without an argument the answer is a
    /// multi-line list of languages.
    Lang(Option<String>),
}

/// The arguments of `AUTH mechanism [initial-response]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthStart {
    /// SASL mechanism name as sent (letters, digits, `-`, `_`).
    pub mechanism: String,
    /// The initial response: `None` if absent, `Some(empty)` for `=`,
    /// otherwise the base64 text as sent (not decoded).
    pub initial_response: Option<Secret>,
}

/// A client line answering an AUTH continuation (RFC 5034).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaslResponse {
    /// Base64 data as sent (possibly empty), not decoded.
    Data(Secret),
    /// `*`: the client cancels the exchange.
    Cancel,
}

/// What the client may send: a command, or a line answering an AUTH
/// continuation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientMessage {
    /// A command line.
    Command(Command),
    /// A SASL response line.
    SaslResponse(SaslResponse),
}

impl Command {
    /// The command keyword, upper case.
    pub fn keyword(&self) -> &'static str {
        match self {
            Command::User(_) => "USER",
            Command::Pass(_) => "PASS",
            Command::Apop { .. } => "APOP",
            Command::Auth(_) => "AUTH",
            Command::Stat => "STAT",
            Command::List(_) => "LIST",
            Command::Retr(_) => "RETR",
            Command::Dele(_) => "DELE",
            Command::Noop => "NOOP",
            Command::Rset => "RSET",
            Command::Quit => "QUIT",
            Command::Top { .. } => "TOP",
            Command::Uidl(_) => "UIDL",
            Command::Capa => "CAPA",
            Command::Stls => "STLS",
            Command::Utf8 => "UTF8",
            Command::Lang(_) => "LANG",
        }
    }

    /// Whether a `+OK` answer to this command is multi-line (ends with a
    /// `.` line). `-ERR` answers are always one line.
    pub fn has_multi_line_response(&self) -> bool {
        matches!(
            self,
            Command::List(None)
                | Command::Uidl(None)
                | Command::Retr(_)
                | Command::Top { .. }
                | Command::Capa
                | Command::Auth(None)
                | Command::Lang(None)
        )
    }

    /// Appends the command line, CRLF included.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        let start = out.len();
        let result = self.encode_unchecked(out);
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    /// The command line, CRLF included.
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        self.encode_into(&mut out)?;
        Ok(out)
    }

    fn encode_unchecked(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        out.extend_from_slice(self.keyword().as_bytes());
        match self {
            Command::User(name) => {
                check_rest_of_line("USER name", name)?;
                if name.is_empty() {
                    return Err(Error::Unencodable {
                        what: "USER name",
                        reason: "is empty",
                    });
                }
                push_arg(out, name);
            }
            Command::Pass(password) => {
                check_rest_of_line("PASS password", password.expose())?;
                out.push(b' ');
                out.extend_from_slice(password.expose());
            }
            Command::Apop { name, digest } => {
                check_word("APOP name", name)?;
                if !is_apop_digest(digest.expose()) {
                    return Err(Error::Unencodable {
                        what: "APOP digest",
                        reason: "not 32 hex digits",
                    });
                }
                push_arg(out, name);
                push_arg(out, digest.expose());
            }
            Command::Auth(None)
            | Command::Stat
            | Command::Noop
            | Command::Rset
            | Command::Quit
            | Command::Capa
            | Command::Stls
            | Command::Utf8
            | Command::List(None)
            | Command::Uidl(None)
            | Command::Lang(None) => {}
            Command::Auth(Some(start)) => {
                if !is_mechanism(start.mechanism.as_bytes()) {
                    return Err(Error::Unencodable {
                        what: "AUTH mechanism",
                        reason: "not 1-20 letters, digits, '-' or '_'",
                    });
                }
                push_arg(out, start.mechanism.as_bytes());
                if let Some(initial) = &start.initial_response {
                    if initial.is_empty() {
                        push_arg(out, b"=");
                    } else if is_base64(initial.expose()) {
                        push_arg(out, initial.expose());
                    } else {
                        return Err(Error::Unencodable {
                            what: "AUTH initial response",
                            reason: "not base64",
                        });
                    }
                }
            }
            Command::List(Some(msg))
            | Command::Retr(msg)
            | Command::Dele(msg)
            | Command::Uidl(Some(msg)) => push_arg(out, msg.to_string().as_bytes()),
            Command::Top { msg, lines } => {
                push_arg(out, msg.to_string().as_bytes());
                push_arg(out, lines.to_string().as_bytes());
            }
            Command::Lang(Some(tag)) => {
                check_word("LANG tag", tag.as_bytes())?;
                push_arg(out, tag.as_bytes());
            }
        }
        out.extend_from_slice(b"\r\n");
        Ok(())
    }

    /// Parses one command line (without CRLF). `offset` is the line's
    /// stream offset, used in errors. With `utf8` set (after the `UTF8`
    /// command, RFC 6856) user names and passwords must be UTF-8.
    pub fn parse(line: &[u8], offset: usize, utf8: bool) -> Result<Command, Error> {
        if let Some((at, byte)) = crate::line::find_forbidden(line) {
            return Err(Error::InvalidByte {
                offset: offset + at,
                byte,
            });
        }
        if line.is_empty() {
            return Err(Error::EmptyCommand { offset });
        }
        let (keyword, rest) = match line.iter().position(|&b| b == b' ') {
            Some(at) => (&line[..at], Some(&line[at + 1..])),
            None => (line, None),
        };
        let upper = keyword.to_ascii_uppercase();
        let bad = |command: &'static str, reason: &str| Error::BadArguments {
            offset,
            command,
            reason: reason.to_string(),
        };
        let words = |rest: Option<&[u8]>| -> Vec<Vec<u8>> {
            rest.map(|r| {
                r.split(|&b| b == b' ')
                    .filter(|w| !w.is_empty())
                    .map(<[u8]>::to_vec)
                    .collect()
            })
            .unwrap_or_default()
        };
        let check_utf8 = |bytes: &[u8]| {
            if utf8 && std::str::from_utf8(bytes).is_err() {
                Err(Error::InvalidUtf8 { offset })
            } else {
                Ok(())
            }
        };
        let command = match upper.as_slice() {
            b"USER" => {
                let name = rest.unwrap_or_default();
                if name.is_empty() {
                    return Err(bad("USER", "missing user name"));
                }
                check_utf8(name)?;
                Command::User(name.to_vec())
            }
            b"PASS" => {
                let Some(password) = rest else {
                    return Err(bad("PASS", "missing password"));
                };
                check_utf8(password)?;
                Command::Pass(Secret::new(password))
            }
            b"APOP" => {
                let args = words(rest);
                if args.len() != 2 {
                    return Err(bad("APOP", "expected a name and a digest"));
                }
                if !is_apop_digest(&args[1]) {
                    return Err(bad("APOP", "digest is not 32 hex digits"));
                }
                check_utf8(&args[0])?;
                let mut args = args.into_iter();
                let name = args.next().unwrap_or_default();
                let digest = Secret::new(args.next().unwrap_or_default());
                Command::Apop { name, digest }
            }
            b"AUTH" => {
                let args = words(rest);
                match args.as_slice() {
                    [] => Command::Auth(None),
                    [mechanism, tail @ ..] if tail.len() <= 1 => {
                        if !is_mechanism(mechanism) {
                            return Err(bad("AUTH", "mechanism name is not valid"));
                        }
                        let initial_response = match tail.first() {
                            None => None,
                            Some(data) if data.as_slice() == b"=" => Some(Secret::default()),
                            Some(data) if is_base64(data) => Some(Secret::new(data.clone())),
                            Some(_) => return Err(bad("AUTH", "initial response is not base64")),
                        };
                        Command::Auth(Some(AuthStart {
                            mechanism: String::from_utf8_lossy(mechanism).into_owned(),
                            initial_response,
                        }))
                    }
                    _ => return Err(bad("AUTH", "too many arguments")),
                }
            }
            // Arguments to a command that takes none are ignored, as
            // Dovecot does (`NOOP x` gets `+OK` there).
            b"STAT" => Command::Stat,
            b"NOOP" => Command::Noop,
            b"RSET" => Command::Rset,
            b"QUIT" => Command::Quit,
            b"CAPA" => Command::Capa,
            b"STLS" => Command::Stls,
            b"UTF8" => Command::Utf8,
            b"LIST" => Command::List(optional_number("LIST", &words(rest), offset)?),
            b"UIDL" => Command::Uidl(optional_number("UIDL", &words(rest), offset)?),
            b"RETR" => Command::Retr(one_number("RETR", &words(rest), offset)?),
            b"DELE" => Command::Dele(one_number("DELE", &words(rest), offset)?),
            b"TOP" => {
                let args = words(rest);
                if args.len() != 2 {
                    return Err(bad("TOP", "expected a message number and a line count"));
                }
                Command::Top {
                    msg: number("TOP", &args[0], offset)?,
                    lines: number("TOP", &args[1], offset)?,
                }
            }
            b"LANG" => {
                let args = words(rest);
                match args.as_slice() {
                    [] => Command::Lang(None),
                    [tag] => match std::str::from_utf8(tag) {
                        Ok(tag) if tag.is_ascii() => Command::Lang(Some(tag.to_string())),
                        _ => return Err(bad("LANG", "language tag is not ASCII")),
                    },
                    _ => return Err(bad("LANG", "too many arguments")),
                }
            }
            _ => {
                let shown: String = String::from_utf8_lossy(keyword).chars().take(40).collect();
                return Err(Error::UnknownCommand {
                    offset,
                    keyword: shown,
                });
            }
        };
        Ok(command)
    }
}

impl SaslResponse {
    /// Parses a line answering an AUTH continuation (without CRLF).
    pub fn parse(line: &[u8], offset: usize) -> Result<SaslResponse, Error> {
        if let Some((at, byte)) = crate::line::find_forbidden(line) {
            return Err(Error::InvalidByte {
                offset: offset + at,
                byte,
            });
        }
        if line == b"*" {
            Ok(SaslResponse::Cancel)
        } else if is_base64(line) {
            Ok(SaslResponse::Data(Secret::new(line)))
        } else {
            Err(Error::BadArguments {
                offset,
                command: "AUTH",
                reason: "SASL response is neither base64 nor '*'".to_string(),
            })
        }
    }

    /// Appends the line, CRLF included.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        match self {
            SaslResponse::Cancel => out.push(b'*'),
            SaslResponse::Data(data) => {
                if !is_base64(data.expose()) {
                    return Err(Error::Unencodable {
                        what: "SASL response",
                        reason: "not base64",
                    });
                }
                out.extend_from_slice(data.expose());
            }
        }
        out.extend_from_slice(b"\r\n");
        Ok(())
    }
}

impl ClientMessage {
    /// Appends the line, CRLF included.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        match self {
            ClientMessage::Command(command) => command.encode_into(out),
            ClientMessage::SaslResponse(response) => response.encode_into(out),
        }
    }
}

fn number(command: &'static str, word: &[u8], offset: usize) -> Result<u32, Error> {
    let parsed = if word.iter().all(u8::is_ascii_digit) && !word.is_empty() && word.len() <= 10 {
        std::str::from_utf8(word).ok().and_then(|s| s.parse().ok())
    } else {
        None
    };
    parsed.ok_or_else(|| Error::BadArguments {
        offset,
        command,
        reason: format!(
            "{:?} is not a number from 0 to 4294967295",
            String::from_utf8_lossy(&word[..word.len().min(40)])
        ),
    })
}

fn one_number(command: &'static str, words: &[Vec<u8>], offset: usize) -> Result<u32, Error> {
    match words {
        [word] => number(command, word, offset),
        _ => Err(Error::BadArguments {
            offset,
            command,
            reason: "expected one message number".to_string(),
        }),
    }
}

fn optional_number(
    command: &'static str,
    words: &[Vec<u8>],
    offset: usize,
) -> Result<Option<u32>, Error> {
    match words {
        [] => Ok(None),
        [word] => number(command, word, offset).map(Some),
        _ => Err(Error::BadArguments {
            offset,
            command,
            reason: "expected at most one message number".to_string(),
        }),
    }
}

fn push_arg(out: &mut Vec<u8>, arg: &[u8]) {
    out.push(b' ');
    out.extend_from_slice(arg);
}

fn check_rest_of_line(what: &'static str, value: &[u8]) -> Result<(), Error> {
    if value.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(Error::Unencodable {
            what,
            reason: "contains CR, LF or NUL",
        });
    }
    Ok(())
}

fn check_word(what: &'static str, value: &[u8]) -> Result<(), Error> {
    check_rest_of_line(what, value)?;
    if value.is_empty() || value.contains(&b' ') {
        return Err(Error::Unencodable {
            what,
            reason: "must be one non-empty word",
        });
    }
    Ok(())
}

fn is_apop_digest(digest: &[u8]) -> bool {
    digest.len() == 32 && digest.iter().all(u8::is_ascii_hexdigit)
}

/// SASL mechanism names (RFC 4422): 1-20 of A-Z, 0-9, `-`, `_`; lower
/// case is accepted as clients send it.
pub(crate) fn is_mechanism(name: &[u8]) -> bool {
    (1..=20).contains(&name.len())
        && name
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Base64 alphabet with padding only at the end (the decoding itself is
/// the SASL layer's business).
pub(crate) fn is_base64(data: &[u8]) -> bool {
    let body_end = data.iter().rposition(|&b| b != b'=').map_or(0, |at| at + 1);
    data.len() - body_end <= 2
        && data[..body_end]
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

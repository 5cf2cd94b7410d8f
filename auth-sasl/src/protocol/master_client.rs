//! The client side of the auth-master / auth-userdb protocol: what LDA,
//! LMTP, doveadm and post-login processes send. Request formatting and reply
//! parsing are sans-IO; [`UnixMasterClient`] is the blocking adapter.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use crate::db::Fields;
use crate::escape::{split_tabescaped, tab_escape_into};
use crate::{Error, Result};

/// A reply line from the master protocol, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterReply {
    /// `USER id user fields` (also the reply to `REQUEST`).
    User {
        /// Request id.
        id: u32,
        /// User.
        user: String,
        /// userdb fields.
        fields: Fields,
    },
    /// `PASS id user=… fields`.
    Pass {
        /// Request id.
        id: u32,
        /// passdb fields (including `user=`).
        fields: Fields,
    },
    /// `NOTFOUND id`.
    NotFound {
        /// Request id.
        id: u32,
    },
    /// `FAIL id [reason=…]`.
    Fail {
        /// Request id.
        id: u32,
        /// Fields.
        fields: Fields,
    },
    /// `LIST id user`.
    ListUser {
        /// Request id.
        id: u32,
        /// User.
        user: String,
    },
    /// `DONE id [fail]`.
    ListDone {
        /// Request id.
        id: u32,
        /// Whether the listing failed.
        failed: bool,
    },
    /// `OK id fields` (reply to `CACHE-FLUSH`).
    Ok {
        /// Request id.
        id: u32,
        /// Fields.
        fields: Fields,
    },
    /// Handshake or unknown line.
    Other,
}

fn fields_from(raw: &[Vec<u8>]) -> Fields {
    let mut f = Fields::new();
    for item in raw.iter().filter(|i| !i.is_empty()) {
        let s = String::from_utf8_lossy(item);
        match s.split_once('=') {
            Some((k, v)) => f.set(k, Some(v)),
            None => f.set(&s, None),
        }
    }
    f
}

/// Decodes one reply line (without LF).
pub fn parse_master_reply(line: &[u8]) -> Result<MasterReply> {
    let f = split_tabescaped(line);
    let id = || -> Result<u32> {
        f.get(1)
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| Error::UnexpectedReply(String::from_utf8_lossy(line).into_owned()))
    };
    let text = |i: usize| {
        f.get(i)
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_default()
    };
    let rest = |i: usize| &f[i.min(f.len())..];
    Ok(match f[0].as_slice() {
        b"USER" => MasterReply::User {
            id: id()?,
            user: text(2),
            fields: fields_from(rest(3)),
        },
        b"PASS" => MasterReply::Pass {
            id: id()?,
            fields: fields_from(rest(2)),
        },
        b"NOTFOUND" => MasterReply::NotFound { id: id()? },
        b"FAIL" => MasterReply::Fail {
            id: id()?,
            fields: fields_from(rest(2)),
        },
        b"LIST" => MasterReply::ListUser {
            id: id()?,
            user: text(2),
        },
        b"DONE" => MasterReply::ListDone {
            id: id()?,
            failed: text(2) == "fail",
        },
        b"OK" => MasterReply::Ok {
            id: id()?,
            fields: fields_from(rest(2)),
        },
        _ => MasterReply::Other,
    })
}

/// The auth server's answer to a post-login process's `REQUEST`: the
/// userdb fields of the user a login process authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginRequestReply {
    /// `USER id user fields`: the login is confirmed.
    User {
        /// The user.
        user: String,
        /// userdb fields (`uid`, `gid`, `home`, `mail`, ...).
        fields: Fields,
    },
    /// `NOTFOUND id`: authenticated, but the userdb does not know the user
    /// (Dovecot: "Authenticated user not found from userdb").
    NotFound,
    /// `FAIL id [reason=…]`: no such login (wrong, reused or expired
    /// cookie, unknown login process or request id), or the lookup failed.
    Failed {
        /// The server's reason, if it gave one.
        reason: Option<String>,
    },
}

/// Formats a `REQUEST` line as Dovecot's post-login processes send it
/// (`src/lib-master/master-login-auth.c`): `REQUEST id client-pid auth-id
/// cookie [session_pid=…]`. The line holds the cookie: never log it.
pub fn login_request_line(
    id: u32,
    client_pid: u32,
    auth_id: u32,
    cookie: &str,
    session_pid: Option<u32>,
) -> String {
    let mut params = vec![auth_id.to_string(), cookie.to_string()];
    if let Some(pid) = session_pid {
        params.push(format!("session_pid={pid}"));
    }
    request_line("REQUEST", id, Some(&client_pid.to_string()), &params)
}

/// Formats a request line: `CMD id [arg] params…`.
pub fn request_line(command: &str, id: u32, arg: Option<&str>, params: &[String]) -> String {
    let mut line = format!("{command}\t{id}");
    if let Some(a) = arg {
        line.push('\t');
        tab_escape_into(&mut line, a);
    }
    for p in params {
        line.push('\t');
        tab_escape_into(&mut line, p);
    }
    line.push('\n');
    line
}

/// A blocking auth-master / auth-userdb connection.
#[derive(Debug)]
pub struct UnixMasterClient {
    writer: UnixStream,
    reader: BufReader<UnixStream>,
    next_id: u32,
}

impl UnixMasterClient {
    /// Connects and sends `VERSION`.
    pub fn connect(path: &Path) -> Result<UnixMasterClient> {
        let stream = UnixStream::connect(path)
            .map_err(|e| Error::io(format!("connect {}", path.display()), e))?;
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .map_err(|e| Error::io("set timeout", e))?;
        let mut writer = stream
            .try_clone()
            .map_err(|e| Error::io("clone socket", e))?;
        writer
            .write_all(b"VERSION\t1\t1\n")
            .map_err(|e| Error::io("write to auth socket", e))?;
        Ok(UnixMasterClient {
            writer,
            reader: BufReader::new(stream),
            next_id: 1,
        })
    }

    fn send(&mut self, command: &str, arg: Option<&str>, params: &[String]) -> Result<u32> {
        let id = self.next_id;
        self.next_id += 1;
        self.writer
            .write_all(request_line(command, id, arg, params).as_bytes())
            .map_err(|e| Error::io("write to auth socket", e))?;
        Ok(id)
    }

    fn reply(&mut self) -> Result<MasterReply> {
        loop {
            let mut line = Vec::new();
            let n = Read::by_ref(&mut self.reader)
                .take(65536)
                .read_until(b'\n', &mut line)
                .map_err(|e| Error::io("read from auth socket", e))?;
            if n == 0 {
                return Err(Error::UnexpectedReply(
                    "auth server closed the connection".into(),
                ));
            }
            if line.last() == Some(&b'\n') {
                line.pop();
            }
            if line.starts_with(b"CUID\t") {
                return Err(Error::UnexpectedReply(
                    "this is an auth-client socket, not auth-master/userdb".into(),
                ));
            }
            match parse_master_reply(&line)? {
                MasterReply::Other => continue,
                r => return Ok(r),
            }
        }
    }

    /// userdb lookup: `Ok(Some((user, fields)))`, `Ok(None)` if unknown.
    pub fn user(&mut self, user: &str, params: &[String]) -> Result<Option<(String, Fields)>> {
        let id = self.send("USER", Some(user), params)?;
        match self.reply()? {
            MasterReply::User {
                id: i,
                user,
                fields,
            } if i == id => Ok(Some((user, fields))),
            MasterReply::NotFound { id: i } if i == id => Ok(None),
            MasterReply::Fail { fields, .. } => Err(Error::UnexpectedReply(format!(
                "USER failed: {}",
                fields.get("reason").unwrap_or("no reason")
            ))),
            other => Err(Error::UnexpectedReply(format!("{other:?}"))),
        }
    }

    /// passdb lookup without a password.
    pub fn pass(&mut self, user: &str, params: &[String]) -> Result<Option<Fields>> {
        let id = self.send("PASS", Some(user), params)?;
        match self.reply()? {
            MasterReply::Pass { id: i, fields } if i == id => Ok(Some(fields)),
            MasterReply::NotFound { id: i } if i == id => Ok(None),
            MasterReply::Fail { fields, .. } => Err(Error::UnexpectedReply(format!(
                "PASS failed: {}",
                fields.get("reason").unwrap_or("no reason")
            ))),
            other => Err(Error::UnexpectedReply(format!("{other:?}"))),
        }
    }

    /// Lists users (optionally matching `user=<mask>` in `params`).
    pub fn list(&mut self, params: &[String]) -> Result<Vec<String>> {
        let id = self.send("LIST", None, params)?;
        let mut users = Vec::new();
        loop {
            match self.reply()? {
                MasterReply::ListUser { id: i, user } if i == id => users.push(user),
                MasterReply::ListDone { id: i, failed } if i == id => {
                    return if failed {
                        Err(Error::UnexpectedReply("LIST failed".into()))
                    } else {
                        Ok(users)
                    };
                }
                other => return Err(Error::UnexpectedReply(format!("{other:?}"))),
            }
        }
    }

    /// Finishes a login on the auth-master socket: asks for the userdb
    /// fields of the login that process `client_pid` authenticated with
    /// request `auth_id`, proving it with the auth-client connection's
    /// `cookie`. The server answers each login once: a reused or wrong
    /// cookie gets [`LoginRequestReply::Failed`]. `session_pid` is the
    /// asking process's pid, which the server may check against the
    /// socket's peer.
    pub fn request(
        &mut self,
        client_pid: u32,
        auth_id: u32,
        cookie: &str,
        session_pid: Option<u32>,
    ) -> Result<LoginRequestReply> {
        let id = self.next_id;
        self.next_id += 1;
        self.writer
            .write_all(login_request_line(id, client_pid, auth_id, cookie, session_pid).as_bytes())
            .map_err(|e| Error::io("write to auth socket", e))?;
        match self.reply()? {
            MasterReply::User {
                id: i,
                user,
                fields,
            } if i == id => Ok(LoginRequestReply::User { user, fields }),
            MasterReply::NotFound { id: i } if i == id => Ok(LoginRequestReply::NotFound),
            MasterReply::Fail { id: i, fields } if i == id => Ok(LoginRequestReply::Failed {
                reason: fields.get("reason").map(str::to_string),
            }),
            other => Err(Error::UnexpectedReply(format!("REQUEST: {other:?}"))),
        }
    }

    /// Sends any request and returns the first reply (for `REQUEST`, `CACHE-FLUSH`).
    pub fn raw(
        &mut self,
        command: &str,
        arg: Option<&str>,
        params: &[String],
    ) -> Result<MasterReply> {
        self.send(command, arg, params)?;
        self.reply()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_request_lines_are_dovecots() {
        assert_eq!(
            login_request_line(3, 4242, 7, "0123456789abcdef0123456789abcdef", Some(99)),
            "REQUEST\t3\t4242\t7\t0123456789abcdef0123456789abcdef\tsession_pid=99\n"
        );
        assert_eq!(
            login_request_line(1, 1, 2, "ab", None),
            "REQUEST\t1\t1\t2\tab\n"
        );
    }
}

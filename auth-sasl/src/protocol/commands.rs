//! Parsing the text protocols' lines into typed commands and replies.

use std::net::IpAddr;

use crate::escape::split_tabescaped;
use crate::{Error, Result};

/// Parameters of `AUTH` (auth-client protocol), and the info parameters of
/// the master protocol's `USER`/`PASS`/`LIST`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestParams {
    /// `service=`.
    pub service: Option<String>,
    /// `lip=`.
    pub local_ip: Option<IpAddr>,
    /// `rip=`.
    pub remote_ip: Option<IpAddr>,
    /// `lport=`.
    pub local_port: Option<u16>,
    /// `rport=`.
    pub remote_port: Option<u16>,
    /// `session=`.
    pub session: Option<String>,
    /// `secured` / `secured=tls`.
    pub secured: bool,
    /// `valid-client-cert`.
    pub valid_client_cert: bool,
    /// `cert_username=`.
    pub cert_username: Option<String>,
    /// `no-penalty`.
    pub no_penalty: bool,
    /// `final-resp-ok`.
    pub final_resp_ok: bool,
    /// `debug`.
    pub debug: bool,
    /// `resp=`: the initial response, still base64 (a secret).
    pub initial_response: Option<String>,
    /// `user=` (LIST's mask).
    pub user_mask: Option<String>,
}

impl RequestParams {
    /// Reads one `key[=value]` parameter; unknown ones are ignored.
    fn apply(&mut self, field: &[u8], offset: usize) -> Result<()> {
        let text = String::from_utf8_lossy(field);
        let (key, value) = match text.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (&*text, None),
        };
        let ip = |v: Option<&str>| -> Result<Option<IpAddr>> {
            match v {
                None | Some("") => Ok(None),
                Some(v) => v
                    .parse()
                    .map(Some)
                    .map_err(|_| Error::protocol(offset, format!("invalid {key}"))),
            }
        };
        let port = |v: Option<&str>| -> Result<Option<u16>> {
            v.map(|v| {
                v.parse()
                    .map_err(|_| Error::protocol(offset, format!("invalid {key}")))
            })
            .transpose()
        };
        match key {
            "service" => self.service = value.map(str::to_string),
            "lip" => self.local_ip = ip(value)?,
            "rip" => self.remote_ip = ip(value)?,
            "lport" => self.local_port = port(value)?,
            "rport" => self.remote_port = port(value)?,
            "session" => self.session = value.map(str::to_string),
            "secured" => self.secured = true,
            "valid-client-cert" => self.valid_client_cert = true,
            "cert_username" => self.cert_username = value.map(str::to_string),
            "no-penalty" => self.no_penalty = true,
            "final-resp-ok" => self.final_resp_ok = true,
            "debug" => self.debug = true,
            "user" => self.user_mask = value.map(str::to_string),
            _ => {}
        }
        Ok(())
    }
}

/// A line a client sends on an auth-client socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientCommand {
    /// `VERSION major minor`.
    Version {
        /// Major version (must be 1).
        major: u32,
        /// Minor version.
        minor: u32,
    },
    /// `CPID pid`.
    Cpid(u32),
    /// `AUTH id mech params…`.
    Auth {
        /// Request id.
        id: u32,
        /// Mechanism name.
        mechanism: String,
        /// Parameters.
        params: RequestParams,
    },
    /// `CONT id base64`.
    Cont {
        /// Request id.
        id: u32,
        /// The base64 data (a secret).
        data: String,
    },
    /// `CANCEL id`.
    Cancel {
        /// Request id.
        id: u32,
    },
}

fn field_offsets(fields: &[Vec<u8>]) -> Vec<usize> {
    let mut offsets = Vec::with_capacity(fields.len());
    let mut at = 0;
    for f in fields {
        offsets.push(at);
        at += f.len() + 1;
    }
    offsets
}

fn number(fields: &[Vec<u8>], offsets: &[usize], i: usize, what: &str) -> Result<u32> {
    let f = fields.get(i).ok_or_else(|| {
        Error::protocol(
            offsets.last().copied().unwrap_or(0),
            format!("missing {what}"),
        )
    })?;
    std::str::from_utf8(f)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Error::protocol(offsets[i], format!("invalid {what}")))
}

/// The request id of a command line, if it has one where `AUTH`/`CONT`/`CANCEL`/`USER`… put it.
pub fn request_id(line: &[u8]) -> Option<u32> {
    let mut parts = line.split(|&b| b == b'\t');
    parts.next()?;
    std::str::from_utf8(parts.next()?)
        .ok()?
        .parse()
        .ok()
        .filter(|&id| id != 0)
}

/// Parses an auth-client command line.
pub fn parse_client_command(line: &[u8]) -> Result<ClientCommand> {
    let fields = split_tabescaped(line);
    let offsets = field_offsets(&fields);
    match fields[0].as_slice() {
        b"VERSION" => Ok(ClientCommand::Version {
            major: number(&fields, &offsets, 1, "major version")?,
            minor: number(&fields, &offsets, 2, "minor version")?,
        }),
        b"CPID" => Ok(ClientCommand::Cpid(number(&fields, &offsets, 1, "pid")?)),
        b"AUTH" => {
            let id = number(&fields, &offsets, 1, "request id")?;
            if id == 0 {
                return Err(Error::protocol(offsets[1], "request id 0"));
            }
            let mechanism = fields
                .get(2)
                .and_then(|m| std::str::from_utf8(m).ok())
                .filter(|m| !m.is_empty())
                .ok_or_else(|| {
                    Error::protocol(
                        offsets.get(2).copied().unwrap_or(line.len()),
                        "missing mechanism",
                    )
                })?
                .to_string();
            let mut params = RequestParams::default();
            for (i, f) in fields.iter().enumerate().skip(3) {
                if params.initial_response.is_some() {
                    return Err(Error::protocol(offsets[i], "parameters after resp="));
                }
                if let Some(resp) = f.strip_prefix(b"resp=") {
                    params.initial_response = Some(String::from_utf8_lossy(resp).into_owned());
                } else if !f.is_empty() {
                    params.apply(f, offsets[i])?;
                }
            }
            Ok(ClientCommand::Auth {
                id,
                mechanism,
                params,
            })
        }
        b"CONT" => Ok(ClientCommand::Cont {
            id: number(&fields, &offsets, 1, "request id")?,
            data: fields
                .get(2)
                .map(|d| String::from_utf8_lossy(d).into_owned())
                .unwrap_or_default(),
        }),
        b"CANCEL" => Ok(ClientCommand::Cancel {
            id: number(&fields, &offsets, 1, "request id")?,
        }),
        other => Err(Error::protocol(
            0,
            format!(
                "unknown command {:?}",
                String::from_utf8_lossy(&other[..other.len().min(32)])
            ),
        )),
    }
}

/// A line a client sends on an auth-master or auth-userdb socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterCommand {
    /// `VERSION major minor`.
    Version {
        /// Major version (must be 1).
        major: u32,
        /// Minor version.
        minor: u32,
    },
    /// `USER id user params…`: userdb lookup.
    User {
        /// Request id.
        id: u32,
        /// User name.
        user: String,
        /// Info parameters.
        params: RequestParams,
    },
    /// `PASS id user params…`: passdb lookup without a password.
    Pass {
        /// Request id.
        id: u32,
        /// User name.
        user: String,
        /// Info parameters.
        params: RequestParams,
    },
    /// `LIST id [user=mask] params…`.
    List {
        /// Request id.
        id: u32,
        /// Info parameters (with `user_mask`).
        params: RequestParams,
    },
    /// `REQUEST id client-pid auth-id cookie [session_pid=…]`.
    Request {
        /// Request id.
        id: u32,
        /// The login process's CPID.
        client_pid: u32,
        /// The AUTH request id on the login connection.
        auth_id: u32,
        /// The login connection's COOKIE (hex).
        cookie: String,
        /// `session_pid=`: the post-login process that will serve the session.
        session_pid: Option<u32>,
    },
    /// `CACHE-FLUSH id [user…]`.
    CacheFlush {
        /// Request id.
        id: u32,
        /// Users to flush (all when empty).
        users: Vec<String>,
    },
}

/// Parses an auth-master / auth-userdb command line.
pub fn parse_master_command(line: &[u8]) -> Result<MasterCommand> {
    let fields = split_tabescaped(line);
    let offsets = field_offsets(&fields);
    let text = |i: usize, what: &str| -> Result<String> {
        fields
            .get(i)
            .and_then(|f| std::str::from_utf8(f).ok())
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or_else(|| {
                Error::protocol(
                    offsets.get(i).copied().unwrap_or(line.len()),
                    format!("missing {what}"),
                )
            })
    };
    let params = |from: usize| -> Result<RequestParams> {
        let mut p = RequestParams::default();
        for (i, f) in fields.iter().enumerate().skip(from) {
            if !f.is_empty() {
                p.apply(f, offsets[i])?;
            }
        }
        Ok(p)
    };
    match fields[0].as_slice() {
        b"VERSION" => Ok(MasterCommand::Version {
            major: number(&fields, &offsets, 1, "major version")?,
            minor: number(&fields, &offsets, 2, "minor version")?,
        }),
        b"USER" => Ok(MasterCommand::User {
            id: number(&fields, &offsets, 1, "request id")?,
            user: text(2, "user name")?,
            params: params(3)?,
        }),
        b"PASS" => Ok(MasterCommand::Pass {
            id: number(&fields, &offsets, 1, "request id")?,
            user: text(2, "user name")?,
            params: params(3)?,
        }),
        b"LIST" => Ok(MasterCommand::List {
            id: number(&fields, &offsets, 1, "request id")?,
            params: params(2)?,
        }),
        b"REQUEST" => Ok(MasterCommand::Request {
            id: number(&fields, &offsets, 1, "request id")?,
            client_pid: number(&fields, &offsets, 2, "client pid")?,
            auth_id: number(&fields, &offsets, 3, "auth id")?,
            cookie: text(4, "cookie")?,
            session_pid: fields
                .iter()
                .skip(5)
                .find_map(|f| f.strip_prefix(b"session_pid="))
                .map(|v| {
                    std::str::from_utf8(v)
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .ok_or_else(|| Error::protocol(0, "invalid session_pid"))
                })
                .transpose()?,
        }),
        b"CACHE-FLUSH" => Ok(MasterCommand::CacheFlush {
            id: number(&fields, &offsets, 1, "request id")?,
            users: fields[2.min(fields.len())..]
                .iter()
                .filter(|f| !f.is_empty())
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .collect(),
        }),
        other => Err(Error::protocol(
            0,
            format!(
                "unknown command {:?}",
                String::from_utf8_lossy(&other[..other.len().min(32)])
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postfix_auth_line() {
        let cmd = parse_client_command(
            b"AUTH\t1\tPLAIN\tservice=smtp\tnologin\tlip=127.0.0.1\trip=127.0.0.2\tsecured\tresp=AGEAYg==",
        )
        .unwrap();
        let ClientCommand::Auth {
            id,
            mechanism,
            params,
        } = cmd
        else {
            panic!()
        };
        assert_eq!((id, mechanism.as_str()), (1, "PLAIN"));
        assert_eq!(params.service.as_deref(), Some("smtp"));
        assert!(params.secured);
        assert_eq!(params.initial_response.as_deref(), Some("AGEAYg=="));
    }

    #[test]
    fn resp_must_be_last_and_ids_must_be_numbers() {
        assert!(parse_client_command(b"AUTH\t1\tPLAIN\tresp=AA==\tservice=imap").is_err());
        let e = parse_client_command(b"AUTH\tx\tPLAIN").unwrap_err();
        assert!(matches!(e, Error::Protocol { offset: 5, .. }), "{e}");
        assert!(parse_master_command(b"USER\t1").is_err());
        assert_eq!(
            parse_master_command(b"USER\t1\tvmail\tservice=imap\tfoo=bar").unwrap(),
            MasterCommand::User {
                id: 1,
                user: "vmail".into(),
                params: RequestParams {
                    service: Some("imap".into()),
                    ..Default::default()
                }
            }
        );
    }
}

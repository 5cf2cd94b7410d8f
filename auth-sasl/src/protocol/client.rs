//! The client side of the auth-client protocol: a sans-IO core
//! ([`AuthClient`]) and a blocking Unix-socket adapter ([`UnixAuthClient`]),
//! like Dovecot's login processes and Postfix's Dovecot SASL client.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;

use super::line::{Line, LineBuffer};
use super::server_conn::CLIENT_MAX_LINE;
use crate::db::Fields;
use crate::escape::{split_tabescaped, tab_escape_into};
use crate::password::B64;
use crate::sasl::{client_mechanism, ClientCredentials};
use crate::{Error, Result};

/// What the server announced in its handshake.
#[derive(Debug, Clone, Default)]
pub struct ServerHandshake {
    /// `MECH` lines: name and flags.
    pub mechanisms: Vec<(String, Vec<String>)>,
    /// `SPID`.
    pub server_pid: Option<u32>,
    /// `CUID`.
    pub connection_id: Option<u32>,
    /// `COOKIE`.
    pub cookie: Option<String>,
}

/// A server message, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// The handshake ended (`DONE`).
    Ready,
    /// `CONT id data`.
    Continue {
        /// Request id.
        id: u32,
        /// Decoded challenge.
        data: Vec<u8>,
    },
    /// `OK id fields`.
    Ok {
        /// Request id.
        id: u32,
        /// Fields (`user=` first).
        fields: Fields,
    },
    /// `FAIL id fields`.
    Fail {
        /// Request id.
        id: u32,
        /// Fields (`reason=`, `code=`, …).
        fields: Fields,
    },
}

fn parse_fields(raw: &[Vec<u8>]) -> Fields {
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

/// Client side of the auth-client protocol, sans-IO.
#[derive(Debug)]
pub struct AuthClient {
    lines: LineBuffer,
    handshake: ServerHandshake,
    ready: bool,
    next_id: u32,
}

impl AuthClient {
    /// A new client with process id `pid`; returns it and the lines to send.
    pub fn new(pid: u32) -> (AuthClient, String) {
        (
            AuthClient {
                lines: LineBuffer::new(CLIENT_MAX_LINE),
                handshake: ServerHandshake::default(),
                ready: false,
                next_id: 1,
            },
            format!("VERSION\t1\t2\nCPID\t{}\n", pid.max(1)),
        )
    }

    /// The server's handshake so far.
    pub fn handshake(&self) -> &ServerHandshake {
        &self.handshake
    }

    /// Whether the handshake is complete.
    pub fn is_ready(&self) -> bool {
        self.ready
    }

    /// Feeds bytes from the server. Unknown lines are ignored.
    pub fn feed(&mut self, data: &[u8]) -> Result<Vec<ClientEvent>> {
        let mut out = Vec::new();
        for line in self.lines.push(data) {
            let line = match line {
                Line::Complete(l) => l,
                Line::TooLong(_) => {
                    return Err(Error::LineTooLong {
                        limit: CLIENT_MAX_LINE,
                    })
                }
            };
            let f = split_tabescaped(&line);
            let text = |i: usize| f.get(i).map(|v| String::from_utf8_lossy(v).into_owned());
            let id = || -> Result<u32> {
                text(1).and_then(|s| s.parse().ok()).ok_or_else(|| {
                    Error::UnexpectedReply(String::from_utf8_lossy(&line).into_owned())
                })
            };
            match f[0].as_slice() {
                b"VERSION" if text(1).as_deref() != Some("1") => {
                    return Err(Error::UnexpectedReply(
                        "server protocol major version is not 1".into(),
                    ));
                }
                b"MECH" => {
                    let name = text(1).unwrap_or_default();
                    let flags = f[2.min(f.len())..]
                        .iter()
                        .map(|x| String::from_utf8_lossy(x).into_owned())
                        .collect();
                    self.handshake.mechanisms.push((name, flags));
                }
                b"SPID" => self.handshake.server_pid = text(1).and_then(|s| s.parse().ok()),
                b"CUID" => self.handshake.connection_id = text(1).and_then(|s| s.parse().ok()),
                b"COOKIE" => self.handshake.cookie = text(1),
                b"DONE" => {
                    self.ready = true;
                    out.push(ClientEvent::Ready);
                }
                b"CONT" => {
                    let data = B64
                        .decode(text(2).unwrap_or_default())
                        .map_err(|_| Error::UnexpectedReply("CONT data is not base64".into()))?;
                    out.push(ClientEvent::Continue { id: id()?, data });
                }
                b"OK" => out.push(ClientEvent::Ok {
                    id: id()?,
                    fields: parse_fields(&f[2.min(f.len())..]),
                }),
                b"FAIL" => out.push(ClientEvent::Fail {
                    id: id()?,
                    fields: parse_fields(&f[2.min(f.len())..]),
                }),
                _ => {}
            }
        }
        Ok(out)
    }

    /// An `AUTH` line: returns the new request id and the line. `params` are
    /// `key=value` or bare words (`service=imap`, `rip=…`, `secured`);
    /// `initial` is the initial response, if any.
    pub fn auth_line(
        &mut self,
        mechanism: &str,
        params: &[String],
        initial: Option<&[u8]>,
    ) -> (u32, String) {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        let mut line = format!("AUTH\t{id}\t{mechanism}");
        for p in params {
            line.push('\t');
            tab_escape_into(&mut line, p);
        }
        if let Some(i) = initial {
            line.push_str("\tresp=");
            line.push_str(&B64.encode(i));
        }
        line.push('\n');
        (id, line)
    }

    /// A `CONT` line.
    pub fn cont_line(id: u32, data: &[u8]) -> String {
        format!("CONT\t{id}\t{}\n", B64.encode(data))
    }
}

/// How an authentication ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthOutcome {
    /// Whether the server said `OK`.
    pub success: bool,
    /// `user=`.
    pub user: Option<String>,
    /// All fields of the `OK`/`FAIL`.
    pub fields: Fields,
}

/// A blocking auth-client connection over a Unix socket.
#[derive(Debug)]
pub struct UnixAuthClient {
    stream: UnixStream,
    client: AuthClient,
    queued: Vec<ClientEvent>,
}

impl UnixAuthClient {
    /// Connects and completes the handshake.
    pub fn connect(path: &Path) -> Result<UnixAuthClient> {
        let stream = UnixStream::connect(path)
            .map_err(|e| Error::io(format!("connect {}", path.display()), e))?;
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .map_err(|e| Error::io("set timeout", e))?;
        let (client, hello) = AuthClient::new(std::process::id());
        let mut c = UnixAuthClient {
            stream,
            client,
            queued: Vec::new(),
        };
        c.write(&hello)?;
        while !c.client.is_ready() {
            let events = c.read_events()?;
            c.queued
                .extend(events.into_iter().filter(|e| *e != ClientEvent::Ready));
        }
        Ok(c)
    }

    /// The server's handshake.
    pub fn handshake(&self) -> &ServerHandshake {
        self.client.handshake()
    }

    fn write(&mut self, s: &str) -> Result<()> {
        self.stream
            .write_all(s.as_bytes())
            .map_err(|e| Error::io("write to auth socket", e))
    }

    fn read_events(&mut self) -> Result<Vec<ClientEvent>> {
        let mut buf = [0u8; 8192];
        let n = self
            .stream
            .read(&mut buf)
            .map_err(|e| Error::io("read from auth socket", e))?;
        if n == 0 {
            return Err(Error::UnexpectedReply(
                "auth server closed the connection".into(),
            ));
        }
        self.client.feed(&buf[..n])
    }

    fn next_event(&mut self) -> Result<ClientEvent> {
        loop {
            if !self.queued.is_empty() {
                return Ok(self.queued.remove(0));
            }
            let events = self.read_events()?;
            self.queued.extend(events);
        }
    }

    /// Authenticates with `mechanism`. `params` as in [`AuthClient::auth_line`]
    /// (must include `service=`).
    pub fn authenticate(
        &mut self,
        mechanism: &str,
        creds: ClientCredentials,
        params: &[String],
    ) -> Result<AuthOutcome> {
        let mut mech = client_mechanism(mechanism, creds)
            .ok_or_else(|| Error::Sasl(format!("unsupported mechanism {mechanism}")))?;
        let initial = if mech.has_initial_response() {
            Some(mech.step(None)?)
        } else {
            None
        };
        let mut params = params.to_vec();
        if !params.iter().any(|p| p == "final-resp-ok") {
            params.push("final-resp-ok".into());
        }
        let (id, line) = self
            .client
            .auth_line(mechanism, &params, initial.as_deref());
        self.write(&line)?;
        loop {
            match self.next_event()? {
                ClientEvent::Continue { id: i, data } if i == id => {
                    let resp = mech.step(Some(&data))?;
                    self.write(&AuthClient::cont_line(id, &resp))?;
                }
                ClientEvent::Ok { id: i, fields } if i == id => {
                    let final_data = match fields.get("resp") {
                        Some(r) => Some(B64.decode(r).map_err(|_| {
                            Error::UnexpectedReply("OK resp= is not base64".into())
                        })?),
                        None => None,
                    };
                    mech.finish(final_data.as_deref())?;
                    return Ok(AuthOutcome {
                        success: true,
                        user: fields.get("user").map(str::to_string),
                        fields,
                    });
                }
                ClientEvent::Fail { id: i, fields } if i == id => {
                    return Ok(AuthOutcome {
                        success: false,
                        user: fields.get("user").map(str::to_string),
                        fields,
                    })
                }
                _ => {}
            }
        }
    }
}

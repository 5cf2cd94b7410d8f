//! Control messages between the master and its role processes.
//!
//! Each role process gets one end of a Unix socket pair as its standard
//! input; [`Control`] messages travel over it as `columba-privsep`
//! [`FdChannel`] frames, with the client's socket attached where a message
//! says so. A message is one line of tab-separated fields (escaped as in
//! Dovecot's protocols), the first naming the message. The master treats
//! what a login process sends as untrusted: [`Control::decode`] checks every
//! field and bounds every length.

use std::net::SocketAddr;
use std::os::fd::BorrowedFd;

use columba_auth_sasl::escape::{tab_escape, tab_unescape};
use columba_privsep::{FdChannel, ReceivedFrame};

use super::error::ServeError;

/// Longest user name accepted in a handoff.
const MAX_USER: usize = 255;
/// Longest session state (encoded `ImapHandoff`/`Pop3Handoff`) accepted.
pub const MAX_SESSION_STATE: usize = 256 * 1024;

/// The protocol a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// IMAP.
    Imap,
    /// POP3.
    Pop3,
    /// LMTP.
    Lmtp,
}

impl Service {
    /// `imap`, `pop3` or `lmtp`, as Dovecot names the service.
    pub fn name(self) -> &'static str {
        match self {
            Service::Imap => "imap",
            Service::Pop3 => "pop3",
            Service::Lmtp => "lmtp",
        }
    }

    fn from_name(name: &str) -> Option<Service> {
        match name {
            "imap" => Some(Service::Imap),
            "pop3" => Some(Service::Pop3),
            "lmtp" => Some(Service::Lmtp),
            _ => None,
        }
    }
}

/// A client connection as the master accepted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// The protocol.
    pub service: Service,
    /// The listener's name in the configuration (`imap`, `imaps`, ...).
    pub listener: String,
    /// The listener does implicit TLS.
    pub implicit_tls: bool,
    /// Our address (`0.0.0.0:0` for a Unix listener).
    pub local: SocketAddr,
    /// The client's address (`0.0.0.0:0` for a Unix listener).
    pub remote: SocketAddr,
    /// Dovecot-style session id (`session=<...>` in log lines).
    pub session_id: String,
}

/// An authenticated client, on its way from a login process to a
/// post-login process.
#[derive(Clone, PartialEq, Eq)]
pub struct Handoff {
    /// The connection.
    pub connection: ConnectionInfo,
    /// The user the auth process named in its `OK` reply.
    pub user: String,
    /// The login process's pid, as it announced it to the auth process (`CPID`).
    pub login_pid: u32,
    /// The id of the login's `AUTH` request.
    pub auth_id: u32,
    /// The cookie the auth server gave for this login: the post-login
    /// process presents it on the auth-master socket (`REQUEST`) to get
    /// the user's userdb fields. Never logged.
    pub cookie: String,
    /// The client is under TLS (proxied by the login process).
    pub tls: bool,
    /// The session's state (`ImapHandoff`/`Pop3Handoff`, encoded).
    pub session_state: Vec<u8>,
}

impl std::fmt::Debug for Handoff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handoff")
            .field("connection", &self.connection)
            .field("user", &self.user)
            .field("login_pid", &self.login_pid)
            .field("auth_id", &self.auth_id)
            .field("cookie", &"<hidden>")
            .field("tls", &self.tls)
            .field("session_state_len", &self.session_state.len())
            .finish()
    }
}

/// A control message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    /// Master to a login or lmtp process: serve this client (socket attached).
    Connection(ConnectionInfo),
    /// Login process to master, then master to a post-login process: this
    /// client is authenticated (socket attached: the client's own, or the
    /// plain end of the login process's TLS proxy).
    Handoff(Handoff),
    /// Role to master: started and ready for work.
    Ready,
    /// Master to a login process after its `Handoff`: the post-login
    /// process started with this pid (Dovecot's `mpid=` in the `Login:` line).
    Started {
        /// The post-login process's pid.
        pid: u32,
    },
    /// Master to role: finish what is under way and exit.
    Shutdown,
}

impl Control {
    /// The message as one frame's payload.
    pub fn encode(&self) -> Vec<u8> {
        let mut fields: Vec<String> = Vec::new();
        match self {
            Control::Connection(c) => {
                fields.push("CONNECTION".into());
                push_connection(&mut fields, c);
            }
            Control::Handoff(h) => {
                fields.push("HANDOFF".into());
                push_connection(&mut fields, &h.connection);
                fields.push(h.user.clone());
                fields.push(h.login_pid.to_string());
                fields.push(h.auth_id.to_string());
                fields.push(h.cookie.clone());
                fields.push(if h.tls { "tls" } else { "plain" }.into());
                fields.push(hex(&h.session_state));
            }
            Control::Ready => fields.push("READY".into()),
            Control::Started { pid } => {
                fields.push("STARTED".into());
                fields.push(pid.to_string());
            }
            Control::Shutdown => fields.push("SHUTDOWN".into()),
        }
        fields
            .iter()
            .map(|f| tab_escape(f))
            .collect::<Vec<_>>()
            .join("\t")
            .into_bytes()
    }

    /// Parses a frame's payload.
    pub fn decode(payload: &[u8]) -> Result<Control, ServeError> {
        let fields: Vec<String> = payload
            .split(|&b| b == b'\t')
            .map(|f| String::from_utf8(tab_unescape(f)))
            .collect::<Result<_, _>>()
            .map_err(|_| ServeError::Control("a field is not UTF-8".into()))?;
        let mut it = Fields {
            fields: fields.iter(),
            index: 0,
        };
        let message = match it.next("message name")? {
            "CONNECTION" => Control::Connection(read_connection(&mut it)?),
            "HANDOFF" => {
                let connection = read_connection(&mut it)?;
                let user = it.next("user")?;
                if user.is_empty() || user.len() > MAX_USER {
                    return Err(ServeError::Control(format!(
                        "field {}: user name of {} bytes",
                        it.index,
                        user.len()
                    )));
                }
                let user = user.to_string();
                let login_pid = it.number("login pid")?;
                let auth_id = it.number("auth id")?;
                let cookie = it.next("cookie")?;
                if cookie.len() != 32 || !cookie.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(ServeError::Control(format!(
                        "field {}: the cookie is not 32 hex digits",
                        it.index
                    )));
                }
                let cookie = cookie.to_string();
                let tls = match it.next("tls")? {
                    "tls" => true,
                    "plain" => false,
                    other => {
                        return Err(ServeError::Control(format!(
                            "field {}: {other:?} is neither tls nor plain",
                            it.index
                        )))
                    }
                };
                let state = it.next("session state")?;
                if state.len() > 2 * MAX_SESSION_STATE {
                    return Err(ServeError::Control(format!(
                        "field {}: session state of {} bytes",
                        it.index,
                        state.len() / 2
                    )));
                }
                let session_state = unhex(state).ok_or_else(|| {
                    ServeError::Control(format!("field {}: session state is not hex", it.index))
                })?;
                Control::Handoff(Handoff {
                    connection,
                    user,
                    login_pid,
                    auth_id,
                    cookie,
                    tls,
                    session_state,
                })
            }
            "READY" => Control::Ready,
            "STARTED" => Control::Started {
                pid: it.number("pid")?,
            },
            "SHUTDOWN" => Control::Shutdown,
            other => {
                return Err(ServeError::Control(format!("unknown message {other:?}")));
            }
        };
        if it.fields.next().is_some() {
            return Err(ServeError::Control(format!(
                "extra fields after field {}",
                it.index
            )));
        }
        Ok(message)
    }

    /// Sends the message with an optional descriptor.
    pub fn send(
        &self,
        channel: &mut FdChannel,
        fd: Option<BorrowedFd<'_>>,
    ) -> Result<(), ServeError> {
        let fds: Vec<BorrowedFd<'_>> = fd.into_iter().collect();
        channel.send(&self.encode(), &fds)?;
        Ok(())
    }

    /// Receives one message and its descriptors; `Ok(None)` at end of file.
    pub fn recv(channel: &mut FdChannel) -> Result<Option<(Control, ReceivedFrame)>, ServeError> {
        let Some(frame) = channel.recv()? else {
            return Ok(None);
        };
        let message = Control::decode(&frame.payload)?;
        Ok(Some((message, frame)))
    }
}

struct Fields<'a> {
    fields: std::slice::Iter<'a, String>,
    index: usize,
}

impl<'a> Fields<'a> {
    fn next(&mut self, what: &str) -> Result<&'a str, ServeError> {
        self.index += 1;
        self.fields
            .next()
            .map(String::as_str)
            .ok_or_else(|| ServeError::Control(format!("field {}: {what} missing", self.index)))
    }

    fn number<T: std::str::FromStr>(&mut self, what: &str) -> Result<T, ServeError> {
        let text = self.next(what)?;
        text.parse()
            .map_err(|_| ServeError::Control(format!("field {}: {what} {text:?}", self.index)))
    }
}

fn push_connection(fields: &mut Vec<String>, c: &ConnectionInfo) {
    fields.push(c.service.name().into());
    fields.push(c.listener.clone());
    fields.push(if c.implicit_tls { "ssl" } else { "plain" }.into());
    fields.push(c.local.to_string());
    fields.push(c.remote.to_string());
    fields.push(c.session_id.clone());
}

fn read_connection(it: &mut Fields<'_>) -> Result<ConnectionInfo, ServeError> {
    let service = it.next("service")?;
    let service = Service::from_name(service).ok_or_else(|| {
        ServeError::Control(format!("field {}: unknown service {service:?}", it.index))
    })?;
    let listener = it.next("listener")?;
    if listener.len() > 64 {
        return Err(ServeError::Control(format!(
            "field {}: listener name too long",
            it.index
        )));
    }
    let implicit_tls = match it.next("listener kind")? {
        "ssl" => true,
        "plain" => false,
        other => {
            return Err(ServeError::Control(format!(
                "field {}: {other:?} is neither ssl nor plain",
                it.index
            )))
        }
    };
    let local = it.number("local address")?;
    let remote = it.number("remote address")?;
    let session_id = it.next("session id")?;
    if session_id.len() > 64 || !session_id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ServeError::Control(format!(
            "field {}: bad session id",
            it.index
        )));
    }
    Ok(ConnectionInfo {
        service,
        listener: listener.to_string(),
        implicit_tls,
        local,
        remote,
        session_id: session_id.to_string(),
    })
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    s
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connection() -> ConnectionInfo {
        ConnectionInfo {
            service: Service::Imap,
            listener: "imaps".into(),
            implicit_tls: true,
            local: "127.0.0.1:993".parse().unwrap(),
            remote: "[::1]:50000".parse().unwrap(),
            session_id: "AbCdEf0123456789".into(),
        }
    }

    #[test]
    fn messages_round_trip() {
        let messages = [
            Control::Connection(connection()),
            Control::Handoff(Handoff {
                connection: connection(),
                user: "bob\twith tab".into(),
                login_pid: 4242,
                auth_id: 7,
                cookie: "0123456789abcdef0123456789abcdef".into(),
                tls: true,
                session_state: vec![0, 1, 2, 255],
            }),
            Control::Ready,
            Control::Started { pid: 4711 },
            Control::Shutdown,
        ];
        for m in messages {
            assert_eq!(Control::decode(&m.encode()).unwrap(), m);
        }
    }

    #[test]
    fn malformed_messages_are_refused_with_a_reason() {
        for (bytes, expect) in [
            (&b"NOPE"[..], "unknown message"),
            (b"CONNECTION\timap", "field 3"),
            (b"READY\textra", "extra fields"),
            (
                b"HANDOFF\timap\timap\tplain\t127.0.0.1:1\t127.0.0.1:2\ts\tu\t1\t2\tshort\tplain\t",
                "cookie",
            ),
        ] {
            let e = Control::decode(bytes).unwrap_err().to_string();
            assert!(e.contains(expect), "{e}");
        }
    }

    #[test]
    fn the_cookie_never_shows_in_debug() {
        let h = Handoff {
            connection: connection(),
            user: "u".into(),
            login_pid: 1,
            auth_id: 1,
            cookie: "0123456789abcdef0123456789abcdef".into(),
            tls: false,
            session_state: Vec::new(),
        };
        assert!(!format!("{h:?}").contains("0123456789abcdef"));
    }

    /// What a login process sends is untrusted: no input makes `decode`
    /// panic. A property test in place of a fuzz target (the parser lives
    /// in the `columba` binary crate, which cargo-fuzz cannot link): valid
    /// messages mutated byte by byte (flips, cuts, insertions of tabs,
    /// escapes and huge numbers), and random bytes, each decoded.
    #[test]
    fn decode_never_panics_on_mutated_or_random_input() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let valid: Vec<Vec<u8>> = [
            Control::Connection(connection()),
            Control::Handoff(Handoff {
                connection: connection(),
                user: "alice".into(),
                login_pid: 42,
                auth_id: 3,
                cookie: "0123456789abcdef0123456789abcdef".into(),
                tls: false,
                session_state: b"state bytes".to_vec(),
            }),
            Control::Started { pid: 9 },
            Control::Ready,
        ]
        .iter()
        .map(Control::encode)
        .collect();
        let specials: [&[u8]; 8] = [
            b"\t",
            b"\x01",
            b"\x01t",
            b"99999999999999999999999",
            b"-1",
            b"[::1]:99999",
            b"\xff\xfe",
            b"zz",
        ];
        for _ in 0..20_000 {
            let mut bytes = valid[(next() % valid.len() as u64) as usize].clone();
            for _ in 0..(next() % 4 + 1) {
                let at = (next() % (bytes.len() as u64 + 1)) as usize;
                match next() % 4 {
                    0 if at < bytes.len() => bytes[at] ^= 1 << (next() % 8),
                    1 => bytes.truncate(at),
                    2 => {
                        let s = specials[(next() % specials.len() as u64) as usize];
                        bytes.splice(at..at, s.iter().copied());
                    }
                    _ => {
                        if at < bytes.len() {
                            bytes.remove(at);
                        }
                    }
                }
            }
            let _ = Control::decode(&bytes);
        }
        for _ in 0..5_000 {
            let len = (next() % 200) as usize;
            let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let _ = Control::decode(&bytes);
        }
        // An odd-length or non-hex session state is refused, not panicked on.
        let h = String::from_utf8(valid[1].clone()).unwrap();
        let odd = format!("{h}a");
        assert!(Control::decode(odd.as_bytes()).is_err());
        let multibyte = h.replace("7374617465206279746573", "\u{e9}\u{e9}");
        assert!(Control::decode(multibyte.as_bytes()).is_err());
    }
}

//! The login process's connection to the auth process (`auth-client`,
//! Dovecot's auth-client protocol): opened before the privilege drop,
//! then every SASL exchange is relayed over it.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use columba_auth_sasl::protocol::client::{AuthClient, ClientEvent, ServerHandshake};

use crate::serve::error::ServeError;

/// How long the auth process may take to answer (its failure delay and
/// slow password schemes included).
const AUTH_TIMEOUT: Duration = Duration::from_secs(60);

/// An auth-client connection with its handshake done.
pub struct AuthRelay {
    stream: UnixStream,
    client: AuthClient,
    queued: Vec<ClientEvent>,
}

/// How one authentication request ended, or what the auth process asks.
#[derive(Debug)]
pub enum AuthStep {
    /// A challenge for the client (`CONT`).
    Continue(Vec<u8>),
    /// Success: the user name and the `OK` fields.
    Ok {
        /// The user the auth process named.
        user: String,
        /// The reply said `nologin` (with `reason=`): the login is refused.
        refused: Option<String>,
    },
    /// Failure: `temp` (temporary), the `reason=` to show the client and
    /// the user name if the auth process gave it.
    Fail {
        /// A temporary failure (`temp`).
        temporary: bool,
        /// `reason=`, shown to the client.
        reason: Option<String>,
        /// `user=`.
        user: Option<String>,
    },
}

impl AuthRelay {
    /// Connects to `path` and completes the handshake.
    pub fn connect(path: &Path) -> Result<AuthRelay, ServeError> {
        let stream = UnixStream::connect(path)
            .map_err(|e| ServeError::Auth(format!("connect({}) failed: {e}", path.display())))?;
        stream
            .set_read_timeout(Some(AUTH_TIMEOUT))
            .map_err(|e| ServeError::io("auth socket timeout", e))?;
        let (client, hello) = AuthClient::new(std::process::id());
        let mut relay = AuthRelay {
            stream,
            client,
            queued: Vec::new(),
        };
        relay.send(&hello)?;
        while !relay.client.is_ready() {
            let events = relay.read_events()?;
            relay
                .queued
                .extend(events.into_iter().filter(|e| *e != ClientEvent::Ready));
        }
        if relay.client.handshake().cookie.is_none() {
            return Err(ServeError::Auth("the auth handshake has no COOKIE".into()));
        }
        Ok(relay)
    }

    /// The raw descriptor (kept open across the privilege drop).
    pub fn stream(&self) -> &UnixStream {
        &self.stream
    }

    /// What the auth process announced (mechanisms, cookie).
    pub fn handshake(&self) -> &ServerHandshake {
        self.client.handshake()
    }

    /// The mechanisms offered, upper-case, and whether each is plaintext.
    pub fn mechanisms(&self) -> Vec<(String, bool)> {
        self.handshake()
            .mechanisms
            .iter()
            .map(|(name, flags)| {
                (
                    name.to_ascii_uppercase(),
                    flags.iter().any(|f| f == "plaintext"),
                )
            })
            .collect()
    }

    fn send(&mut self, line: &str) -> Result<(), ServeError> {
        self.stream
            .write_all(line.as_bytes())
            .map_err(|e| ServeError::Auth(format!("write to the auth process: {e}")))
    }

    fn read_events(&mut self) -> Result<Vec<ClientEvent>, ServeError> {
        let mut buf = [0u8; 8192];
        let n = self
            .stream
            .read(&mut buf)
            .map_err(|e| ServeError::Auth(format!("read from the auth process: {e}")))?;
        if n == 0 {
            return Err(ServeError::Auth(
                "the auth process closed the connection".into(),
            ));
        }
        self.client
            .feed(&buf[..n])
            .map_err(|e| ServeError::Auth(format!("auth reply: {e}")))
    }

    /// Starts a request: `AUTH` with the parameters and the initial
    /// response; returns the request id.
    pub fn begin(
        &mut self,
        mechanism: &str,
        params: &[String],
        initial: Option<&[u8]>,
    ) -> Result<u32, ServeError> {
        let (id, line) = self.client.auth_line(mechanism, params, initial);
        self.send(&line)?;
        Ok(id)
    }

    /// Sends the client's response to a challenge.
    pub fn respond(&mut self, id: u32, data: &[u8]) -> Result<(), ServeError> {
        self.send(&AuthClient::cont_line(id, data))
    }

    /// Drops request `id` (`CANCEL`): the client cancelled the exchange.
    pub fn cancel(&mut self, id: u32) -> Result<(), ServeError> {
        self.send(&format!("CANCEL\t{id}\n"))
    }

    /// Waits for the auth process's next word on request `id`.
    pub fn next(&mut self, id: u32) -> Result<AuthStep, ServeError> {
        loop {
            if let Some(pos) = self.queued.iter().position(|e| event_id(e) == Some(id)) {
                let event = self.queued.remove(pos);
                return Ok(step(event));
            }
            let events = self.read_events()?;
            self.queued.extend(events);
            // Replies to requests we gave up on are dropped.
            self.queued.retain(|e| event_id(e).is_some_and(|i| i >= id));
        }
    }
}

fn event_id(e: &ClientEvent) -> Option<u32> {
    match e {
        ClientEvent::Continue { id, .. }
        | ClientEvent::Ok { id, .. }
        | ClientEvent::Fail { id, .. } => Some(*id),
        ClientEvent::Ready => None,
    }
}

fn step(event: ClientEvent) -> AuthStep {
    match event {
        ClientEvent::Continue { data, .. } => AuthStep::Continue(data),
        ClientEvent::Ok { fields, .. } => {
            let user = fields.get("user").unwrap_or_default().to_string();
            let refused = if fields.contains("nologin") || fields.contains("proxy") {
                Some(
                    fields
                        .get("reason")
                        .unwrap_or("Login disabled.")
                        .to_string(),
                )
            } else {
                None
            };
            AuthStep::Ok { user, refused }
        }
        ClientEvent::Fail { fields, .. } => AuthStep::Fail {
            temporary: fields.contains("temp"),
            reason: fields.get("reason").map(str::to_string),
            user: fields.get("user").map(str::to_string),
        },
        ClientEvent::Ready => AuthStep::Fail {
            temporary: true,
            reason: None,
            user: None,
        },
    }
}

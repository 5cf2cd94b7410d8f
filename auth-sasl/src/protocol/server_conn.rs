//! The server side of Dovecot's auth-client protocol (version 1.2) as a
//! sans-IO state machine: bytes in, [`Action`]s out. Password checks are
//! handed out as [`BackendJob`]s (to run on a worker) and their results fed
//! back with [`ClientConnection::backend_done`].

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use base64::Engine as _;

use super::commands::{parse_client_command, request_id, ClientCommand, RequestParams};
use super::line::{Line, LineBuffer};
use crate::db::LookupRequest;
use crate::escape::tab_escape_into;
use crate::password::{StoredPassword, B64};
use crate::sasl::{self, MechError, ServerMechanism, ServerOptions, ServerStep};
use crate::server::{AuthEvent, AuthFailure, AuthServer, AuthVerdict, FailCode, FinishedLogin};
use crate::Secret;

/// `AUTH_CLIENT_MAX_LINE_LENGTH`.
pub const CLIENT_MAX_LINE: usize = 16384;
/// `MASTER_AUTH_SERVER_TIMEOUT_SECS`: unfinished requests are failed after this.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(150);
/// Most requests in flight on one connection.
pub const MAX_PENDING: usize = 1000;

/// What the connection's identity is, announced in the handshake.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    /// The auth server's pid (`SPID`).
    pub server_pid: u32,
    /// Connection unique id (`CUID`).
    pub connection_id: u32,
    /// 32 hex digits (`COOKIE`).
    pub cookie: String,
    /// Whether this is a login socket (results can be picked up by `REQUEST`).
    pub login: bool,
}

/// Work that needs the passdbs; run it with [`BackendJob::run`].
#[derive(Debug)]
pub enum BackendJob {
    /// Verify a plaintext password.
    VerifyPlain {
        /// Lookup context.
        request: LookupRequest,
        /// Authentication identity.
        authcid: String,
        /// Authorization identity.
        authzid: Option<String>,
        /// The password.
        password: Secret,
    },
    /// Fetch stored credentials (CRAM-MD5, SCRAM).
    Credentials {
        /// Lookup context.
        request: LookupRequest,
        /// Authentication identity.
        authcid: String,
        /// Authorization identity.
        authzid: Option<String>,
    },
    /// Validate a bearer token.
    Token {
        /// Lookup context.
        request: LookupRequest,
        /// User.
        user: String,
        /// Token.
        token: Secret,
    },
    /// Accept an identity established elsewhere (EXTERNAL).
    Resolve {
        /// Lookup context.
        request: LookupRequest,
        /// User.
        user: String,
        /// Authorization identity.
        authzid: Option<String>,
    },
}

/// The result of a [`BackendJob`].
#[derive(Debug)]
pub enum BackendReply {
    /// A final verdict.
    Verdict(AuthVerdict),
    /// Stored credentials for the mechanism, and the verdict if they match.
    Credentials(Option<StoredPassword>, AuthVerdict),
}

impl BackendJob {
    /// Runs the job against the server's passdbs (possibly slow).
    pub fn run(self, server: &AuthServer) -> BackendReply {
        match self {
            BackendJob::VerifyPlain {
                request,
                authcid,
                authzid,
                password,
            } => BackendReply::Verdict(server.verify_plain(
                &request,
                &authcid,
                authzid.as_deref(),
                &password,
            )),
            BackendJob::Credentials {
                request,
                authcid,
                authzid,
            } => {
                let (stored, verdict) = server.credentials(&request, &authcid, authzid.as_deref());
                BackendReply::Credentials(stored, verdict)
            }
            BackendJob::Token {
                request,
                user,
                token,
            } => BackendReply::Verdict(server.verify_token(&request, &user, &token)),
            BackendJob::Resolve {
                request,
                user,
                authzid,
            } => BackendReply::Verdict(server.resolve(&request, &user, authzid.as_deref())),
        }
    }

    /// Whether the job should run on a worker thread rather than on the
    /// connection's thread (slow password hashes only).
    pub fn needs_worker(&self, server: &AuthServer) -> bool {
        match self {
            BackendJob::VerifyPlain {
                request,
                authcid,
                authzid,
                ..
            } => server.plain_needs_worker(request, authcid, authzid.as_deref()),
            _ => false,
        }
    }

    /// The remote IP the job is for (for the penalty).
    pub fn remote_ip(&self) -> Option<IpAddr> {
        match self {
            BackendJob::VerifyPlain { request, .. }
            | BackendJob::Credentials { request, .. }
            | BackendJob::Token { request, .. }
            | BackendJob::Resolve { request, .. } => request.remote_ip,
        }
    }
}

/// What the adapter must do.
#[derive(Debug)]
pub enum Action {
    /// Write this line (ends with LF).
    Send(String),
    /// Write this `FAIL` line, after the failure delay unless `nodelay`.
    SendFailure {
        /// Request id.
        id: u32,
        /// For a plaintext mechanism, a per-process keyed checksum of the
        /// user and password: repeating a failed attempt doesn't raise the
        /// penalty.
        attempt: Option<u64>,
        /// The line.
        line: String,
        /// The client's remote IP (`rip=`), for the penalty.
        remote_ip: Option<IpAddr>,
        /// Send at once.
        nodelay: bool,
        /// Count it for the per-IP penalty.
        penalize: bool,
        /// What to log.
        event: AuthEvent,
    },
    /// Write this `OK` line; the IP's penalty is cleared.
    SendSuccess {
        /// Request id.
        id: u32,
        /// What to log.
        event: AuthEvent,
        /// The line.
        line: String,
        /// The client's remote IP.
        remote_ip: Option<IpAddr>,
    },
    /// Run this job (after the IP's penalty delay unless `no_penalty`), then
    /// call [`ClientConnection::backend_done`].
    Backend {
        /// Request id.
        id: u32,
        /// Whether the client asked for no penalty.
        no_penalty: bool,
        /// When the request's `AUTH` arrived: the penalty delay counts from
        /// there, as Dovecot holds the request before its first step.
        arrived: Instant,
        /// The job.
        job: BackendJob,
    },
    /// Remember a finished login for `REQUEST` (login sockets only).
    LoginFinished {
        /// The client's CPID.
        client_pid: u32,
        /// Request id.
        id: u32,
        /// What to remember.
        login: FinishedLogin,
    },
    /// Close the connection (a handshake violation).
    Disconnect(String),
}

enum Waiting {
    Client,
    Backend,
    FinalAck(AuthVerdict),
}

struct Pending {
    mech: Box<dyn ServerMechanism>,
    params: RequestParams,
    waiting: Waiting,
    verdict: Option<AuthVerdict>,
    since: Instant,
    /// The user the mechanism named (its authcid), once it did.
    user: Option<String>,
    /// Checksum of a plaintext mechanism's user and password.
    attempt: Option<u64>,
}

/// A checksum of one user + password attempt, keyed per process, so the
/// penalty can tell a repeated attempt (a misconfigured client) from a
/// new guess, as Dovecot's anvil does.
fn attempt_checksum(user: &str, password: &crate::secret::Secret) -> u64 {
    use std::hash::{BuildHasher, Hash, Hasher};
    static KEYS: std::sync::OnceLock<std::hash::RandomState> = std::sync::OnceLock::new();
    let mut h = KEYS.get_or_init(std::hash::RandomState::new).build_hasher();
    password.expose().hash(&mut h);
    user.hash(&mut h);
    h.finish()
}

impl Pending {
    /// The user a failed exchange names: the passdb's user if the lookup
    /// found one, else the name the client gave.
    fn failed_user(&self) -> Option<&str> {
        match &self.verdict {
            Some(AuthVerdict::Ok { user, .. }) => Some(user),
            Some(AuthVerdict::Fail(f)) => f.user.as_deref().or(self.user.as_deref()),
            _ => self.user.as_deref(),
        }
    }
}

/// One auth-client connection, server side.
pub struct ClientConnection {
    info: ConnectionInfo,
    mechanisms: Vec<String>,
    options: ServerOptions,
    lines: LineBuffer,
    version_minor: Option<u32>,
    client_pid: Option<u32>,
    pending: HashMap<u32, Pending>,
    closed: bool,
}

impl std::fmt::Debug for ClientConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConnection")
            .field("info", &self.info)
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

fn mech_flags(name: &str) -> &'static [&'static str] {
    sasl::MECHANISMS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, f)| *f)
        .unwrap_or(&[])
}

impl ClientConnection {
    /// A new connection offering `mechanisms`; returns it and the handshake to send.
    pub fn new(
        info: ConnectionInfo,
        mechanisms: &[String],
        options: ServerOptions,
    ) -> (ClientConnection, String) {
        let mut hello = String::from("VERSION\t1\t2\n");
        let mechanisms: Vec<String> = mechanisms
            .iter()
            .map(|m| m.to_ascii_uppercase())
            .filter(|m| sasl::server_mechanism(m, &options).is_some())
            .collect();
        for m in &mechanisms {
            hello.push_str("MECH\t");
            hello.push_str(m);
            for f in mech_flags(m) {
                hello.push('\t');
                hello.push_str(f);
            }
            hello.push('\n');
        }
        hello.push_str(&format!(
            "SPID\t{}\nCUID\t{}\nCOOKIE\t{}\nDONE\n",
            info.server_pid, info.connection_id, info.cookie
        ));
        (
            ClientConnection {
                info,
                mechanisms,
                options,
                lines: LineBuffer::new(CLIENT_MAX_LINE),
                version_minor: None,
                client_pid: None,
                pending: HashMap::new(),
                closed: false,
            },
            hello,
        )
    }

    /// The client's CPID, once sent.
    pub fn client_pid(&self) -> Option<u32> {
        self.client_pid
    }

    /// Whether the connection must be closed.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Feeds bytes read from the socket.
    pub fn feed(&mut self, data: &[u8], now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        for line in self.lines.push(data) {
            if self.closed {
                break;
            }
            match line {
                Line::Complete(l) => self.line(&l, now, &mut out),
                Line::TooLong(prefix) => {
                    // Dovecot disconnects; failing only that request keeps
                    // the connection's other requests going.
                    match request_id(&prefix) {
                        Some(id)
                            if prefix.starts_with(b"AUTH\t") || prefix.starts_with(b"CONT\t") =>
                        {
                            let rip = self.pending.remove(&id).and_then(|p| p.params.remote_ip);
                            out.push(self.failure(id, rip, AuthFailure::protocol("Line too long")));
                        }
                        _ => self.disconnect("line too long", &mut out),
                    }
                }
            }
        }
        out
    }

    fn disconnect(&mut self, reason: &str, out: &mut Vec<Action>) {
        self.closed = true;
        out.push(Action::Disconnect(reason.into()));
    }

    fn line(&mut self, line: &[u8], now: Instant, out: &mut Vec<Action>) {
        let cmd = match parse_client_command(line) {
            Ok(c) => c,
            Err(e) => {
                match request_id(line)
                    .filter(|_| line.starts_with(b"AUTH\t") || line.starts_with(b"CONT\t"))
                {
                    Some(id) if self.client_pid.is_some() => {
                        let rip = self.pending.remove(&id).and_then(|p| p.params.remote_ip);
                        out.push(self.failure(
                            id,
                            rip,
                            AuthFailure::protocol(&format!("Invalid request: {e}")),
                        ));
                    }
                    _ => self.disconnect(&format!("malformed line: {e}"), out),
                }
                return;
            }
        };
        match cmd {
            ClientCommand::Version { major, minor } => {
                if major != 1 || self.version_minor.is_some() {
                    self.disconnect("unsupported or repeated VERSION", out);
                } else {
                    self.version_minor = Some(minor);
                }
            }
            ClientCommand::Cpid(pid) => {
                if self.version_minor.is_none() || self.client_pid.is_some() || pid == 0 {
                    self.disconnect("CPID out of order or invalid", out);
                } else {
                    self.client_pid = Some(pid);
                }
            }
            _ if self.client_pid.is_none() => {
                self.disconnect("request before VERSION and CPID", out)
            }
            ClientCommand::Auth {
                id,
                mechanism,
                params,
            } => self.auth(id, &mechanism, params, now, out),
            ClientCommand::Cont { id, data } => self.cont(id, &data, out),
            ClientCommand::Cancel { id } => {
                self.pending.remove(&id);
            }
        }
    }

    fn lookup_request(params: &RequestParams) -> LookupRequest {
        LookupRequest {
            user: String::new(),
            service: params.service.clone().unwrap_or_default(),
            remote_ip: params.remote_ip,
            local_ip: params.local_ip,
            session: params.session.clone(),
        }
    }

    fn auth(
        &mut self,
        id: u32,
        mechanism: &str,
        params: RequestParams,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        let rip = params.remote_ip;
        if self.pending.contains_key(&id) {
            self.pending.remove(&id);
            out.push(self.failure(id, rip, AuthFailure::protocol("Duplicate request id")));
            return;
        }
        if self.pending.len() >= MAX_PENDING {
            out.push(self.failure(id, rip, AuthFailure::temp("Too many requests in progress")));
            return;
        }
        if params.service.as_deref().is_none_or(str::is_empty) {
            out.push(self.failure(id, rip, AuthFailure::protocol("Missing service")));
            return;
        }
        let mech_name = mechanism.to_ascii_uppercase();
        let mech = if self.mechanisms.contains(&mech_name) {
            sasl::server_mechanism(&mech_name, &self.options)
        } else {
            None
        };
        let Some(mech) = mech else {
            out.push(self.failure(
                id,
                rip,
                AuthFailure::protocol("Unsupported authentication mechanism"),
            ));
            return;
        };
        let initial = match params.initial_response.as_deref() {
            None => None,
            // Clients speaking 1.0/1.1 (Postfix, Exim) send `resp=` for "no initial response".
            Some("") if self.version_minor.unwrap_or(0) < 2 => None,
            Some("=") | Some("") => Some(Vec::new()),
            Some(b64) => match B64.decode(b64) {
                Ok(d) => Some(d),
                Err(_) => {
                    out.push(self.failure(
                        id,
                        rip,
                        AuthFailure {
                            code: Some(FailCode::InvalidBase64),
                            reason: Some("Invalid base64 data in initial response".into()),
                            penalize: true,
                            ..Default::default()
                        },
                    ));
                    return;
                }
            },
        };
        let mut pending = Pending {
            mech,
            params,
            waiting: Waiting::Client,
            verdict: None,
            since: now,
            user: None,
            attempt: None,
        };
        let step = pending.mech.step(initial.as_deref());
        self.pending.insert(id, pending);
        self.handle_step(id, step, out);
    }

    fn cont(&mut self, id: u32, data: &str, out: &mut Vec<Action>) {
        let Some(pending) = self.pending.get_mut(&id) else {
            out.push(self.failure(
                id,
                None,
                AuthFailure::protocol("Authentication request timed out"),
            ));
            return;
        };
        match std::mem::replace(&mut pending.waiting, Waiting::Backend) {
            Waiting::Client => {}
            Waiting::FinalAck(verdict) => {
                let pending = self.pending.remove(&id).expect("present");
                out.extend(self.verdict(id, &pending, verdict, None));
                return;
            }
            Waiting::Backend => {
                let rip = pending.params.remote_ip;
                self.pending.remove(&id);
                out.push(self.failure(id, rip, AuthFailure::protocol("Unexpected continuation")));
                return;
            }
        }
        let decoded = match B64.decode(data) {
            Ok(d) => d,
            Err(_) => {
                let rip = pending.params.remote_ip;
                self.pending.remove(&id);
                out.push(self.failure(
                    id,
                    rip,
                    AuthFailure {
                        code: Some(FailCode::InvalidBase64),
                        reason: Some("Invalid base64 data in continued response".into()),
                        penalize: true,
                        ..Default::default()
                    },
                ));
                return;
            }
        };
        let step = pending.mech.step(Some(&decoded));
        self.handle_step(id, step, out);
    }

    fn handle_step(&mut self, id: u32, step: Result<ServerStep, MechError>, out: &mut Vec<Action>) {
        let Some(pending) = self.pending.get_mut(&id) else {
            return;
        };
        let mut request = Self::lookup_request(&pending.params);
        let no_penalty = pending.params.no_penalty;
        let job = match step {
            Err(e) => {
                let p = self.pending.remove(&id).expect("present");
                let failure = match e {
                    // Like Dovecot, the FAIL names the user the exchange was
                    // for (Postfix logs it as sasl_username).
                    MechError::Failed => AuthFailure::credentials(p.failed_user()),
                    other => AuthFailure::protocol(&other.to_string()),
                };
                out.push(with_attempt(
                    self.failure(id, p.params.remote_ip, failure),
                    p.attempt,
                ));
                return;
            }
            Ok(ServerStep::Challenge(c)) => {
                pending.waiting = Waiting::Client;
                out.push(Action::Send(format!("CONT\t{id}\t{}\n", B64.encode(c))));
                return;
            }
            Ok(ServerStep::Success { final_data, .. }) => {
                let p = self.pending.remove(&id).expect("present");
                let verdict = p
                    .verdict
                    .clone()
                    .unwrap_or(AuthVerdict::Fail(AuthFailure::credentials(None)));
                match final_data {
                    Some(data)
                        if !p.params.final_resp_ok && matches!(verdict, AuthVerdict::Ok { .. }) =>
                    {
                        out.push(Action::Send(format!("CONT\t{id}\t{}\n", B64.encode(data))));
                        let mut p = p;
                        p.waiting = Waiting::FinalAck(verdict);
                        self.pending.insert(id, p);
                    }
                    data => out.extend(self.verdict(id, &p, verdict, data)),
                }
                return;
            }
            Ok(ServerStep::VerifyPlain {
                authcid,
                authzid,
                password,
            }) => {
                request.user = authcid.clone();
                pending.user = Some(authcid.clone());
                pending.attempt = Some(attempt_checksum(&authcid, &password));
                BackendJob::VerifyPlain {
                    request,
                    authcid,
                    authzid,
                    password,
                }
            }
            Ok(ServerStep::NeedCredentials { authcid, authzid }) => {
                request.user = authcid.clone();
                pending.user = Some(authcid.clone());
                BackendJob::Credentials {
                    request,
                    authcid,
                    authzid,
                }
            }
            Ok(ServerStep::VerifyToken { user, token }) => {
                request.user = user.clone();
                BackendJob::Token {
                    request,
                    user,
                    token,
                }
            }
            Ok(ServerStep::External { authzid }) => {
                let cert_user = pending
                    .params
                    .cert_username
                    .clone()
                    .filter(|_| pending.params.valid_client_cert);
                let Some(user) = cert_user else {
                    let p = self.pending.remove(&id).expect("present");
                    out.push(self.failure(
                        id,
                        p.params.remote_ip,
                        AuthFailure::protocol("EXTERNAL needs a valid client certificate"),
                    ));
                    return;
                };
                request.user = user.clone();
                BackendJob::Resolve {
                    request,
                    user,
                    authzid,
                }
            }
            Ok(ServerStep::Anonymous { .. }) => {
                // The anonymous user logs in without a passdb lookup.
                let p = self.pending.remove(&id).expect("present");
                let mut fields = crate::db::Fields::new();
                fields.set("anonymous", None);
                let verdict = AuthVerdict::Ok {
                    user: self.options.anonymous_username.clone(),
                    fields,
                };
                out.extend(self.verdict(id, &p, verdict, None));
                return;
            }
        };
        pending.waiting = Waiting::Backend;
        let arrived = pending.since;
        out.push(Action::Backend {
            id,
            no_penalty,
            arrived,
            job,
        });
    }

    /// Feeds the result of a [`BackendJob`] for request `id`.
    pub fn backend_done(&mut self, id: u32, reply: BackendReply) -> Vec<Action> {
        let mut out = Vec::new();
        let Some(pending) = self.pending.get_mut(&id) else {
            return out; // cancelled meanwhile
        };
        match reply {
            BackendReply::Verdict(verdict) => {
                let p = self.pending.remove(&id).expect("present");
                // OAUTHBEARER reports a rejected token with a challenge first.
                if let AuthVerdict::Fail(_) = &verdict {
                    let mut p = p;
                    if let Some(challenge) = p.mech.token_rejected() {
                        p.waiting = Waiting::Client;
                        out.push(Action::Send(format!(
                            "CONT\t{id}\t{}\n",
                            B64.encode(challenge)
                        )));
                        self.pending.insert(id, p);
                        return out;
                    }
                    out.extend(self.verdict(id, &p, verdict, None));
                } else {
                    out.extend(self.verdict(id, &p, verdict, None));
                }
            }
            BackendReply::Credentials(stored, verdict) => {
                pending.verdict = Some(verdict.clone());
                let step = pending.mech.credentials(stored.as_ref());
                // A failure verdict (e.g. allow_nets) still fails after a correct proof.
                self.handle_step(id, step, &mut out);
            }
        }
        out
    }

    /// Fails requests that waited longer than `timeout` for the client.
    pub fn expire(&mut self, now: Instant, timeout: Duration) -> Vec<Action> {
        let old: Vec<u32> = self
            .pending
            .iter()
            .filter(|(_, p)| {
                !matches!(p.waiting, Waiting::Backend)
                    && now.saturating_duration_since(p.since) > timeout
            })
            .map(|(&id, _)| id)
            .collect();
        let mut out = Vec::new();
        for id in old {
            let p = self.pending.remove(&id).expect("present");
            out.push(self.failure(
                id,
                p.params.remote_ip,
                AuthFailure {
                    reason: Some("Authentication request timed out".into()),
                    nodelay: true,
                    ..Default::default()
                },
            ));
        }
        out
    }

    fn verdict(
        &self,
        id: u32,
        p: &Pending,
        verdict: AuthVerdict,
        final_data: Option<Vec<u8>>,
    ) -> Vec<Action> {
        let rip = p.params.remote_ip;
        match verdict {
            AuthVerdict::Ok { user, fields } => {
                let mut line = format!("OK\t{id}\tuser=");
                tab_escape_into(&mut line, &user);
                fields.write_tab_separated(&mut line);
                if let Some(d) = final_data {
                    line.push_str("\tresp=");
                    line.push_str(&B64.encode(d));
                }
                line.push('\n');
                let mut out = Vec::new();
                if let (true, Some(pid)) = (self.info.login, self.client_pid) {
                    out.push(Action::LoginFinished {
                        client_pid: pid,
                        id,
                        login: FinishedLogin {
                            cookie: self.info.cookie.clone(),
                            user: user.clone(),
                            mechanism: p.mech.name().to_string(),
                            master_user: fields.get("auth_user").map(str::to_string),
                        },
                    });
                }
                out.push(Action::SendSuccess {
                    id,
                    event: AuthEvent {
                        success: true,
                        user: Some(user),
                        remote_ip: rip,
                        code: None,
                        reason: None,
                    },
                    line,
                    remote_ip: rip,
                });
                out
            }
            AuthVerdict::Fail(f) => vec![with_attempt(self.failure(id, rip, f), p.attempt)],
        }
    }

    fn failure(&self, id: u32, remote_ip: Option<IpAddr>, f: AuthFailure) -> Action {
        let mut line = format!("FAIL\t{id}");
        if let Some(u) = &f.user {
            line.push_str("\tuser=");
            tab_escape_into(&mut line, u);
        }
        if let Some(c) = f.code {
            line.push_str("\tcode=");
            line.push_str(c.as_str());
        }
        if let Some(r) = &f.reason {
            line.push_str("\treason=");
            tab_escape_into(&mut line, r);
        }
        if f.nodelay {
            line.push_str("\tnodelay");
        }
        line.push('\n');
        Action::SendFailure {
            id,
            line,
            remote_ip,
            attempt: None,
            nodelay: f.nodelay,
            penalize: f.penalize,
            event: AuthEvent {
                success: false,
                user: f.user,
                remote_ip,
                code: f.code,
                reason: f.reason,
            },
        }
    }
}

/// Sets the attempt checksum of a `SendFailure`.
fn with_attempt(action: Action, checksum: Option<u64>) -> Action {
    match action {
        Action::SendFailure {
            id,
            line,
            remote_ip,
            nodelay,
            penalize,
            event,
            ..
        } => Action::SendFailure {
            id,
            line,
            remote_ip,
            attempt: checksum,
            nodelay,
            penalize,
            event,
        },
        other => other,
    }
}

//! The POP3 session (RFC 1939 with CAPA, TOP, UIDL, STLS and AUTH PLAIN):
//! [`Pop3Session`] takes the client's bytes and gives back bytes to send and
//! [`Pop3Event`]s. It serves the INBOX of the [`MailStorage`] handed over at
//! login; `DELE`ted messages are expunged at `QUIT`, as RFC 1939's UPDATE
//! state says, and UIDLs are Dovecot's default `%08Xu%08Xv`.

use std::collections::{HashMap, HashSet};

use base64::Engine;
use columba_mail_store::Message;
use columba_pop3_proto::{
    AuthStart, BodyEncoder, ClientMessage, Command, CommandDecoder, SaslResponse,
};

use crate::auth::{decode_sasl_plain, Credentials};
use crate::handoff::Pop3Handoff;
use crate::imap::{is_plaintext_mechanism, Hidden, LoginFailure};

/// Dovecot 2.3's answer to a SASL line that is not base64.
const INVALID_BASE64: &str = "-ERR [AUTH] Invalid base64 in response";
use crate::storage::{MailStorage, MessageMeta};

/// How a POP3 session is set up.
#[derive(Debug, Clone)]
pub struct Pop3Config {
    /// STLS is offered.
    pub stls: bool,
    /// The connection is already under TLS.
    pub tls: bool,
    /// Plaintext authentication is allowed without TLS.
    pub plaintext_without_tls: bool,
    /// The greeting's text.
    pub greeting: String,
    /// SASL mechanisms offered (CAPA `SASL`, `AUTH` listing), in this
    /// order; PLAIN and LOGIN only where plaintext authentication is
    /// allowed. Without [`Pop3Config::sasl_passthrough`] only PLAIN can be
    /// used.
    pub sasl_mechanisms: Vec<String>,
    /// Every AUTH exchange is relayed to the adapter:
    /// [`Pop3Event::SaslStart`], [`Pop3Event::SaslResponse`],
    /// [`Pop3Event::SaslCancel`], answered with
    /// [`Pop3Session::sasl_challenge`] and a login result. Off: the session
    /// decodes AUTH PLAIN itself and asks [`Pop3Event::Authenticate`].
    pub sasl_passthrough: bool,
}

impl Default for Pop3Config {
    fn default() -> Self {
        Pop3Config {
            stls: true,
            tls: false,
            plaintext_without_tls: false,
            greeting: "Columba ready.".into(),
            sasl_mechanisms: vec!["PLAIN".into()],
            sasl_passthrough: false,
        }
    }
}

/// What the adapter has to do for the session. `Debug` output hides
/// passwords and SASL data.
#[derive(Clone, PartialEq, Eq)]
pub enum Pop3Event {
    /// Send the pending output, run the TLS handshake, then call
    /// [`Pop3Session::tls_started`].
    StartTls,
    /// Check these credentials, then call [`Pop3Session::login_succeeded`]
    /// or [`Pop3Session::login_failed`].
    Authenticate {
        /// The credentials.
        credentials: Credentials,
        /// `USER` or `PLAIN`.
        method: String,
    },
    /// With [`Pop3Config::sasl_passthrough`]: the client started `AUTH
    /// <mechanism>` (one that is offered); relay it to the auth server,
    /// then call [`Pop3Session::sasl_challenge`], a login success
    /// ([`Pop3Session::login_succeeded`] / [`Pop3Session::login_handoff`])
    /// or [`Pop3Session::login_failed_with`].
    SaslStart {
        /// The mechanism, spelled as in [`Pop3Config::sasl_mechanisms`].
        mechanism: String,
        /// The decoded initial response (`=` is empty); `None` when the
        /// client sent none.
        initial_response: Option<Vec<u8>>,
    },
    /// With [`Pop3Config::sasl_passthrough`]: the client's decoded answer
    /// to the last challenge.
    SaslResponse(Vec<u8>),
    /// With [`Pop3Config::sasl_passthrough`]: the client ended the exchange
    /// (`*`, or data that is not base64); the session already answered.
    SaslCancel,
    /// Messages were expunged from this mailbox.
    MailboxChanged(String),
    /// Send the pending output, then close the connection.
    Close,
}

impl std::fmt::Debug for Pop3Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pop3Event::StartTls => f.write_str("StartTls"),
            Pop3Event::Authenticate {
                credentials,
                method,
            } => f
                .debug_struct("Authenticate")
                .field("credentials", credentials)
                .field("method", method)
                .finish(),
            Pop3Event::SaslStart {
                mechanism,
                initial_response,
            } => f
                .debug_struct("SaslStart")
                .field("mechanism", mechanism)
                .field(
                    "initial_response",
                    &initial_response.as_ref().map(|r| Hidden(r.len())),
                )
                .finish(),
            Pop3Event::SaslResponse(data) => f
                .debug_tuple("SaslResponse")
                .field(&Hidden(data.len()))
                .finish(),
            Pop3Event::SaslCancel => f.write_str("SaslCancel"),
            Pop3Event::MailboxChanged(m) => f.debug_tuple("MailboxChanged").field(m).finish(),
            Pop3Event::Close => f.write_str("Close"),
        }
    }
}

/// Dovecot's text for plaintext authentication refused without TLS.
const PLAINTEXT_DISABLED: &str =
    "-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.";

#[derive(Debug, PartialEq, Eq)]
enum Phase {
    Authorization,
    Transaction,
    Done,
}

/// One POP3 connection's protocol state, sans-IO.
pub struct Pop3Session {
    config: Pop3Config,
    decoder: CommandDecoder,
    out: Vec<u8>,
    events: std::collections::VecDeque<Pop3Event>,
    phase: Phase,
    user: Option<String>,
    waiting: bool,
    sasl_plain: bool,
    /// Passthrough: a challenge was sent, the client's line is awaited.
    sasl_relay: bool,
    storage: Option<Box<dyn MailStorage>>,
    messages: Vec<MessageMeta>,
    uid_validity: u32,
    sizes: HashMap<u32, u64>,
    deleted: HashSet<usize>,
    /// Before login: the tail of the client's bytes the decoder has not
    /// consumed yet, for [`Pop3Session::login_handoff`].
    pre_auth_input: Vec<u8>,
    /// Bytes fed to the current decoder.
    fed: usize,
    /// `USER` or the SASL mechanism of the pending authentication.
    auth_method: String,
}

impl Pop3Session {
    /// A new session; the greeting is already in the output.
    pub fn new(config: Pop3Config) -> Pop3Session {
        let mut s = Pop3Session::blank(config);
        s.out = format!("+OK {}\r\n", s.config.greeting).into_bytes();
        s
    }

    /// The post-login half of a session whose login ran in another process
    /// ([`Pop3Session::login_handoff`]): the first output is what
    /// [`Pop3Session::login_succeeded`] writes (`+OK Logged in.`), then the
    /// handoff's pipelined client input is processed as if just received.
    pub fn resume(
        config: Pop3Config,
        handoff: Pop3Handoff,
        storage: Box<dyn MailStorage>,
    ) -> Pop3Session {
        let mut config = config;
        config.tls |= handoff.tls;
        let mut s = Pop3Session::blank(config);
        s.auth_method = handoff.method;
        s.waiting = true;
        s.login_succeeded(&handoff.user, storage);
        s.feed(&handoff.client_input);
        s
    }

    /// The login process's end of a successful authentication, instead of
    /// [`Pop3Session::login_succeeded`]: nothing is answered here; the
    /// returned [`Pop3Handoff`] carries the user and every byte the client
    /// sent after the login command that was not processed yet, for
    /// [`Pop3Session::resume`] in the post-login process. This session is
    /// finished afterwards.
    pub fn login_handoff(&mut self, user: &str) -> Pop3Handoff {
        let client_input = self.unprocessed_input().to_vec();
        self.waiting = false;
        self.phase = Phase::Done;
        self.pre_auth_input = Vec::new();
        self.reset_decoder();
        Pop3Handoff {
            user: user.to_string(),
            method: self.auth_method.clone(),
            tls: self.config.tls,
            client_input,
        }
    }

    /// The bytes fed before login that the decoder has not consumed.
    fn unprocessed_input(&self) -> &[u8] {
        let keep = self.fed.saturating_sub(self.decoder.offset());
        let len = self.pre_auth_input.len();
        &self.pre_auth_input[len.saturating_sub(keep)..]
    }

    fn reset_decoder(&mut self) {
        self.decoder = CommandDecoder::new();
        self.fed = 0;
        self.pre_auth_input.clear();
    }

    /// A session with nothing sent yet.
    fn blank(config: Pop3Config) -> Pop3Session {
        Pop3Session {
            config,
            decoder: CommandDecoder::new(),
            out: Vec::new(),
            events: Default::default(),
            phase: Phase::Authorization,
            user: None,
            waiting: false,
            sasl_plain: false,
            sasl_relay: false,
            storage: None,
            messages: Vec::new(),
            uid_validity: 0,
            sizes: HashMap::new(),
            deleted: HashSet::new(),
            pre_auth_input: Vec::new(),
            fed: 0,
            auth_method: String::new(),
        }
    }

    /// Bytes to send (taken).
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// The next event for the adapter.
    pub fn poll_event(&mut self) -> Option<Pop3Event> {
        self.events.pop_front()
    }

    /// Bytes from the client.
    pub fn feed(&mut self, data: &[u8]) {
        if self.phase == Phase::Done {
            return;
        }
        self.decoder.feed(data);
        self.fed += data.len();
        if self.phase == Phase::Authorization {
            self.pre_auth_input.extend_from_slice(data);
        }
        self.process();
        if self.phase == Phase::Authorization {
            let keep = self.unprocessed_input().len();
            let drop = self.pre_auth_input.len() - keep;
            self.pre_auth_input.drain(..drop);
        } else {
            self.pre_auth_input = Vec::new();
        }
    }

    /// The TLS handshake finished; earlier unprotected input is dropped.
    pub fn tls_started(&mut self) {
        self.reset_decoder();
        self.config.tls = true;
        self.waiting = false;
    }

    /// The credentials were right: serve `storage`'s INBOX.
    pub fn login_succeeded(&mut self, user: &str, mut storage: Box<dyn MailStorage>) {
        self.waiting = false;
        match storage.view("INBOX", false) {
            Ok(view) => {
                self.messages = view.messages.into_vec();
                self.uid_validity = view.uid_validity;
                self.storage = Some(storage);
                self.user = Some(user.to_string());
                self.phase = Phase::Transaction;
                self.line("+OK Logged in.");
            }
            Err(_) => {
                self.line("-ERR [SYS/TEMP] Couldn't open INBOX.");
                self.phase = Phase::Done;
                self.events.push_back(Pop3Event::Close);
            }
        }
        self.process();
    }

    /// The credentials were wrong.
    pub fn login_failed(&mut self, temporary: bool) {
        let failure = if temporary {
            LoginFailure::Temporary
        } else {
            LoginFailure::Credentials
        };
        self.login_failed_with(failure, None);
    }

    /// The authentication failed for `failure`; `reason` is the auth
    /// server's `reason=` text when it gave one. Worded as Dovecot 2.3's
    /// pop3-login words it: `-ERR [SYS/TEMP]` for a temporary failure,
    /// `-ERR [AUTH]` for the others.
    pub fn login_failed_with(&mut self, failure: LoginFailure, reason: Option<&str>) {
        self.waiting = false;
        self.sasl_relay = false;
        let reason: Option<String> = reason
            .map(|r| r.chars().filter(|c| !c.is_control()).collect::<String>())
            .filter(|r| !r.is_empty());
        let text = |default: &str| reason.clone().unwrap_or_else(|| default.to_string());
        let line = match failure {
            LoginFailure::Temporary => format!(
                "-ERR [SYS/TEMP] {}",
                text("Temporary authentication failure.")
            ),
            LoginFailure::Credentials | LoginFailure::PasswordExpired => {
                format!("-ERR [AUTH] {}", text("Authentication failed."))
            }
            LoginFailure::LoginDisabled => {
                format!("-ERR [AUTH] {}", text("Login disabled for this user"))
            }
            LoginFailure::Authorization => {
                format!("-ERR [AUTH] {}", text("Authorization failed"))
            }
            LoginFailure::PrivacyRequired => PLAINTEXT_DISABLED.to_string(),
            LoginFailure::MechanismInvalid => {
                "-ERR [AUTH] Unsupported authentication mechanism.".into()
            }
            LoginFailure::Aborted => "-ERR Authentication aborted by client.".into(),
        };
        self.line(&line);
        self.user = None;
        self.process();
    }

    /// With [`Pop3Config::sasl_passthrough`]: the auth server's challenge
    /// for the pending AUTH, sent as `+ <base64>`; the client's answer
    /// comes as [`Pop3Event::SaslResponse`].
    pub fn sasl_challenge(&mut self, data: &[u8]) {
        if !self.waiting || self.phase != Phase::Authorization {
            return;
        }
        self.waiting = false;
        self.sasl_relay = true;
        let line = format!(
            "+ {}",
            base64::engine::general_purpose::STANDARD.encode(data)
        );
        self.line(&line);
        self.decoder.expect_sasl_response();
        self.process();
    }

    /// The mechanisms offered on this connection now.
    fn advertised_mechanisms(&self) -> Vec<&str> {
        self.config
            .sasl_mechanisms
            .iter()
            .filter(|m| self.plaintext_allowed() || !is_plaintext_mechanism(m))
            .map(String::as_str)
            .collect()
    }

    fn line(&mut self, s: &str) {
        self.out.extend_from_slice(s.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    fn plaintext_allowed(&self) -> bool {
        self.config.tls || self.config.plaintext_without_tls
    }

    fn process(&mut self) {
        while !self.waiting && self.phase != Phase::Done {
            let Some(msg) = self.decoder.next() else {
                break;
            };
            match msg {
                Err(_) if self.sasl_plain || self.sasl_relay => {
                    // a SASL line that is not base64 ends the exchange
                    self.sasl_plain = false;
                    self.line(INVALID_BASE64);
                    if std::mem::take(&mut self.sasl_relay) {
                        self.events.push_back(Pop3Event::SaslCancel);
                    }
                }
                Err(e) => self.line(&format!("-ERR {e}")),
                Ok(ClientMessage::SaslResponse(r)) => self.sasl(r),
                Ok(ClientMessage::Command(c)) => self.command(c),
            }
        }
    }

    fn capa(&mut self) {
        let mut lines = vec![
            "+OK",
            "CAPA",
            "TOP",
            "UIDL",
            "RESP-CODES",
            "PIPELINING",
            "AUTH-RESP-CODE",
        ];
        if self.phase == Phase::Authorization {
            if self.config.stls && !self.config.tls {
                lines.push("STLS");
            }
            if self.plaintext_allowed() {
                lines.push("USER");
            }
        }
        let mut sasl = String::new();
        if self.phase == Phase::Authorization {
            let mechs = self.advertised_mechanisms();
            if !mechs.is_empty() {
                sasl = format!("SASL {}", mechs.join(" "));
            }
        }
        let mut text: Vec<&str> = lines;
        if !sasl.is_empty() {
            text.push(&sasl);
        }
        text.push(".");
        for l in text {
            self.line(l);
        }
    }

    fn command(&mut self, c: Command) {
        match (&self.phase, c) {
            (_, Command::Capa) => self.capa(),
            (_, Command::Noop) => self.line("+OK"),
            (Phase::Authorization, Command::Quit) => {
                self.line("+OK Logging out");
                self.phase = Phase::Done;
                self.events.push_back(Pop3Event::Close);
            }
            (Phase::Authorization, Command::Stls) => {
                if !self.config.stls || self.config.tls {
                    return self.line("-ERR TLS is already active.");
                }
                self.line("+OK Begin TLS negotiation now.");
                self.waiting = true;
                self.events.push_back(Pop3Event::StartTls);
            }
            (Phase::Authorization, Command::User(name)) => {
                if !self.plaintext_allowed() {
                    return self.line(PLAINTEXT_DISABLED);
                }
                self.user = Some(String::from_utf8_lossy(&name).into_owned());
                self.line("+OK");
            }
            (Phase::Authorization, Command::Pass(pw)) => {
                if !self.plaintext_allowed() {
                    return self.line(PLAINTEXT_DISABLED);
                }
                let Some(user) = self.user.clone() else {
                    return self.line("-ERR No username given.");
                };
                self.waiting = true;
                self.auth_method = "USER".into();
                self.events.push_back(Pop3Event::Authenticate {
                    credentials: Credentials {
                        user,
                        password: pw.expose().to_vec(),
                    },
                    method: "USER".into(),
                });
            }
            (Phase::Authorization, Command::Auth(None)) => {
                let mut text = String::from("+OK\r\n");
                for m in self.advertised_mechanisms() {
                    text.push_str(m);
                    text.push_str("\r\n");
                }
                text.push_str(".\r\n");
                self.out.extend_from_slice(text.as_bytes());
            }
            (
                Phase::Authorization,
                Command::Auth(Some(AuthStart {
                    mechanism,
                    initial_response,
                })),
            ) => {
                let offered = self
                    .config
                    .sasl_mechanisms
                    .iter()
                    .find(|m| m.eq_ignore_ascii_case(&mechanism))
                    .cloned();
                let mech = match offered {
                    Some(m) if self.config.sasl_passthrough || m.eq_ignore_ascii_case("PLAIN") => m,
                    _ => return self.line("-ERR [AUTH] Unsupported authentication mechanism."),
                };
                if is_plaintext_mechanism(&mech) && !self.plaintext_allowed() {
                    return self.line("-ERR [AUTH] Plaintext authentication disabled.");
                }
                if self.config.sasl_passthrough {
                    let initial_response = match initial_response {
                        None => None,
                        Some(ir) => {
                            match base64::engine::general_purpose::STANDARD.decode(ir.expose()) {
                                Ok(raw) => Some(raw),
                                Err(_) => return self.line(INVALID_BASE64),
                            }
                        }
                    };
                    self.waiting = true;
                    self.auth_method = mech.clone();
                    self.events.push_back(Pop3Event::SaslStart {
                        mechanism: mech,
                        initial_response,
                    });
                    return;
                }
                self.sasl_plain = true;
                match initial_response {
                    Some(ir) => self.sasl(SaslResponse::Data(ir)),
                    None => {
                        self.line("+ ");
                        self.decoder.expect_sasl_response();
                    }
                }
            }
            (Phase::Authorization, _) => self.line("-ERR Unknown command."),
            (Phase::Transaction, c) => self.transaction(c),
            (Phase::Done, _) => {}
        }
    }

    fn sasl(&mut self, r: SaslResponse) {
        if std::mem::take(&mut self.sasl_relay) {
            let SaslResponse::Data(data) = r else {
                self.line("-ERR Authentication aborted by client.");
                return self.events.push_back(Pop3Event::SaslCancel);
            };
            match base64::engine::general_purpose::STANDARD.decode(data.expose()) {
                Ok(raw) => {
                    self.waiting = true;
                    self.events.push_back(Pop3Event::SaslResponse(raw));
                }
                Err(_) => {
                    self.line(INVALID_BASE64);
                    self.events.push_back(Pop3Event::SaslCancel);
                }
            }
            return;
        }
        if !std::mem::take(&mut self.sasl_plain) {
            return self.line("-ERR Unexpected SASL response.");
        }
        let SaslResponse::Data(data) = r else {
            return self.line("-ERR Authentication aborted by client.");
        };
        let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(data.expose()) else {
            return self.line(INVALID_BASE64);
        };
        let Some(credentials) = decode_sasl_plain(&raw) else {
            return self.line("-ERR [AUTH] Authentication failed.");
        };
        self.waiting = true;
        self.auth_method = "PLAIN".into();
        self.events.push_back(Pop3Event::Authenticate {
            credentials,
            method: "PLAIN".into(),
        });
    }

    /// The message numbered `n` (1-based) if it exists and is not deleted.
    fn message(&self, n: u32) -> Option<usize> {
        let i = (n as usize).checked_sub(1)?;
        (i < self.messages.len() && !self.deleted.contains(&i)).then_some(i)
    }

    fn size(&mut self, i: usize) -> Option<u64> {
        let uid = self.messages[i].uid;
        if let Some(s) = self.sizes.get(&uid) {
            return Some(*s);
        }
        let (data, _) = self.storage.as_deref_mut()?.message("INBOX", uid).ok()?;
        let size = Message::parse(&data).rfc822_size();
        self.sizes.insert(uid, size);
        Some(size)
    }

    fn uidl(&self, i: usize) -> String {
        format!("{:08X}{:08X}", self.messages[i].uid, self.uid_validity)
    }

    fn transaction(&mut self, c: Command) {
        match c {
            Command::Stat => {
                let mut total = 0;
                let mut count = 0;
                for i in 0..self.messages.len() {
                    if self.deleted.contains(&i) {
                        continue;
                    }
                    count += 1;
                    total += self.size(i).unwrap_or(0);
                }
                self.line(&format!("+OK {count} {total}"));
            }
            Command::List(Some(n))
            | Command::Uidl(Some(n))
            | Command::Dele(n)
            | Command::Retr(n)
                if self.message(n).is_none() =>
            {
                self.line(&format!("-ERR There's no message {n}."))
            }
            Command::Top { msg, .. } if self.message(msg).is_none() => {
                self.line(&format!("-ERR There's no message {msg}."))
            }
            Command::List(Some(n)) => {
                let i = n as usize - 1;
                let size = self.size(i).unwrap_or(0);
                self.line(&format!("+OK {n} {size}"));
            }
            Command::List(None) => {
                let live: Vec<usize> = (0..self.messages.len())
                    .filter(|i| !self.deleted.contains(i))
                    .collect();
                self.line(&format!("+OK {} messages:", live.len()));
                for i in live {
                    let size = self.size(i).unwrap_or(0);
                    self.line(&format!("{} {size}", i + 1));
                }
                self.line(".");
            }
            Command::Uidl(Some(n)) => {
                let u = self.uidl(n as usize - 1);
                self.line(&format!("+OK {n} {u}"));
            }
            Command::Uidl(None) => {
                self.line("+OK");
                for i in 0..self.messages.len() {
                    if !self.deleted.contains(&i) {
                        let u = self.uidl(i);
                        self.line(&format!("{} {u}", i + 1));
                    }
                }
                self.line(".");
            }
            Command::Dele(n) => {
                self.deleted.insert(n as usize - 1);
                self.line("+OK Marked to be deleted.");
            }
            Command::Rset => {
                self.deleted.clear();
                self.line("+OK");
            }
            Command::Retr(n) => self.send_message(n as usize - 1, None),
            Command::Top { msg, lines } => self.send_message(msg as usize - 1, Some(lines)),
            Command::Quit => {
                let uids: Vec<u32> = self.deleted.iter().map(|&i| self.messages[i].uid).collect();
                let result = match self.storage.as_deref_mut() {
                    Some(s) if !uids.is_empty() => s.expunge("INBOX", &uids).map(|_| ()),
                    _ => Ok(()),
                };
                match result {
                    Ok(()) => {
                        if !uids.is_empty() {
                            self.events
                                .push_back(Pop3Event::MailboxChanged("INBOX".into()));
                        }
                        self.line("+OK Logging out.");
                    }
                    Err(_) => self.line("-ERR [SYS/TEMP] Couldn't expunge the deleted messages."),
                }
                self.phase = Phase::Done;
                self.events.push_back(Pop3Event::Close);
            }
            Command::Stls
            | Command::User(_)
            | Command::Pass(_)
            | Command::Auth(_)
            | Command::Apop { .. } => self.line("-ERR Already logged in."),
            _ => self.line("-ERR Unknown command."),
        }
    }

    fn send_message(&mut self, i: usize, top_lines: Option<u32>) {
        let uid = self.messages[i].uid;
        let Some(storage) = self.storage.as_deref_mut() else {
            return;
        };
        let data = match storage.message("INBOX", uid) {
            Ok((d, _)) => d,
            Err(_) => return self.line("-ERR [SYS/TEMP] Message was expunged meanwhile."),
        };
        let body: &[u8] = match top_lines {
            None => &data,
            Some(n) => top(&data, n),
        };
        let size = Message::parse(&data).rfc822_size();
        self.sizes.insert(uid, size);
        if top_lines.is_some() {
            self.line("+OK");
        } else {
            self.line(&format!("+OK {size} octets"));
        }
        let mut enc = BodyEncoder::new();
        let mut out = Vec::with_capacity(body.len() + 64);
        enc.push(body, &mut out);
        enc.finish(&mut out);
        self.out.extend_from_slice(&out);
    }
}

/// The header and the first `n` body lines.
fn top(data: &[u8], n: u32) -> &[u8] {
    let mut i = 0;
    let mut prev_nl = true;
    while i < data.len() {
        if prev_nl && (data[i] == b'\n' || data[i..].starts_with(b"\r\n")) {
            i += if data[i] == b'\n' { 1 } else { 2 };
            break;
        }
        prev_nl = data[i] == b'\n';
        i += 1;
    }
    let mut lines = 0;
    while i < data.len() && lines < n {
        match data[i..].iter().position(|&b| b == b'\n') {
            Some(p) => i += p + 1,
            None => i = data.len(),
        }
        lines += 1;
    }
    &data[..i]
}

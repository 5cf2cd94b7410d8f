//! The IMAP session: [`ImapSession`] takes the client's bytes and gives back
//! the bytes to send and [`ImapEvent`]s for the adapter (start TLS, check
//! these credentials, a mailbox changed, close). Before login it is the
//! login process's job (greeting, CAPABILITY, STARTTLS, LOGIN,
//! AUTHENTICATE, ID); after [`ImapSession::login_succeeded`] hands it a
//! [`MailStorage`], it serves the mailbox commands.

mod fetch;
mod format;
mod search;

use std::collections::{HashSet, VecDeque};

use base64::Engine;
use columba_imap_proto::{
    AppendHeader, AuthenticateData, Command, CommandBody, CommandDecoder, CommandEvent, Decoded,
    Flag, Limits, ListReturnOption, ListSelectOption, Mailbox, SearchReturnOption, SelectParam,
    SequenceSet, StatusItem, StoreKind, StreamEvent, Tag,
};

use crate::auth::{decode_sasl_plain, Credentials};
use crate::error::Error;
use crate::handoff::ImapHandoff;
use crate::storage::{
    AppendMeta, MailStorage, MailboxView, MessageFlags, MessageMeta, QresyncRequest, Resync,
    StagedAppend, StagingSink, StoreMode, SyncKind, ViewSync,
};
use format::{compact_set, mailbox_name, ordered_set, set_contains, set_positions};

/// The most a client may send in one command before login, literals
/// included (Dovecot's imap-login caps it at 8192 bytes too), so that an
/// unauthenticated client cannot make the login process hold much.
const PRE_AUTH_MAX: usize = 8192;

/// `limits`, capped to [`PRE_AUTH_MAX`] for the pre-login decoder.
fn pre_auth_limits(limits: Limits) -> Limits {
    Limits {
        max_line: limits.max_line.min(PRE_AUTH_MAX),
        max_literal: limits.max_literal.min(PRE_AUTH_MAX),
        max_non_sync_literal: limits.max_non_sync_literal.min(PRE_AUTH_MAX),
        max_message: limits.max_message.min(PRE_AUTH_MAX),
        max_depth: limits.max_depth,
    }
}

/// Dovecot's text for plaintext authentication refused without TLS.
const PLAINTEXT_DISABLED: &str =
    "Plaintext authentication disallowed on non-secure (SSL/TLS) connections.";

/// Dovecot 2.3's answer to a SASL line that is not base64.
const INVALID_BASE64: &str = "[ALERT] Invalid base64 in response";

/// After this many malformed commands in a row the session says BYE.
const MAX_BAD_COMMANDS: u32 = 20;

/// How a session is set up.
#[derive(Debug, Clone)]
pub struct ImapConfig {
    /// STARTTLS is offered (the adapter can do TLS).
    pub starttls: bool,
    /// The connection is already under TLS (implicit TLS port).
    pub tls: bool,
    /// Plaintext authentication is allowed without TLS (the peer is on
    /// loopback, or `disable_plaintext_auth = no`).
    pub plaintext_without_tls: bool,
    /// Decoder limits (line, literal, nesting).
    pub limits: Limits,
    /// The greeting's text.
    pub greeting: String,
    /// APPENDLIMIT (RFC 7889): the largest message APPEND takes, in bytes,
    /// advertised as `APPENDLIMIT=<n>` and refused with `NO [TOOBIG]`
    /// before the literal is read. `None`: only the decoder's literal
    /// limit applies.
    pub append_limit: Option<u64>,
    /// SASL mechanisms offered, advertised as `AUTH=<mech>` in this order
    /// (plaintext ones, PLAIN and LOGIN, only where plaintext
    /// authentication is allowed, as Dovecot does). Without
    /// [`ImapConfig::sasl_passthrough`] only PLAIN can be used.
    pub sasl_mechanisms: Vec<String>,
    /// Every AUTHENTICATE exchange is relayed to the adapter (a login
    /// process talking to an auth server): [`ImapEvent::SaslStart`],
    /// [`ImapEvent::SaslResponse`], [`ImapEvent::SaslCancel`], answered
    /// with [`ImapSession::sasl_challenge`] and a login result. Off: the
    /// session decodes AUTHENTICATE PLAIN itself and asks
    /// [`ImapEvent::Authenticate`].
    pub sasl_passthrough: bool,
    /// `IMAP4rev2` is advertised and `ENABLE IMAP4rev2` switches the
    /// session to RFC 9051's answers: no `\Recent` (no RECENT responses or
    /// flag), SEARCH answered with ESEARCH, SELECT without `[UNSEEN]` and
    /// with the mailbox's LIST response. Dovecot 2.3 does not offer it.
    pub imap4rev2: bool,
}

impl Default for ImapConfig {
    fn default() -> Self {
        ImapConfig {
            starttls: true,
            tls: false,
            plaintext_without_tls: false,
            limits: Limits::default(),
            greeting: "Columba ready.".into(),
            append_limit: None,
            sasl_mechanisms: vec!["PLAIN".into()],
            sasl_passthrough: false,
            imap4rev2: true,
        }
    }
}

/// What the adapter has to do for the session. `Debug` output hides
/// passwords and SASL data.
#[derive(Clone, PartialEq, Eq)]
pub enum ImapEvent {
    /// Send the pending output, then run the TLS handshake and call
    /// [`ImapSession::tls_started`].
    StartTls,
    /// Check these credentials, then call [`ImapSession::login_succeeded`]
    /// or [`ImapSession::login_failed`].
    Authenticate {
        /// The credentials.
        credentials: Credentials,
        /// `LOGIN` or the SASL mechanism (`PLAIN`).
        method: String,
    },
    /// With [`ImapConfig::sasl_passthrough`]: the client started
    /// `AUTHENTICATE <mechanism>` (one that is offered); relay it to the
    /// auth server, then call [`ImapSession::sasl_challenge`],
    /// [`ImapSession::login_succeeded`] / [`ImapSession::login_handoff`]
    /// or [`ImapSession::login_failed_with`].
    SaslStart {
        /// The mechanism, spelled as in [`ImapConfig::sasl_mechanisms`].
        mechanism: String,
        /// The decoded SASL-IR initial response (`=` is empty); `None`
        /// when the client sent none.
        initial_response: Option<Vec<u8>>,
    },
    /// With [`ImapConfig::sasl_passthrough`]: the client's decoded answer
    /// to the last challenge; relay it and answer as after `SaslStart`.
    SaslResponse(Vec<u8>),
    /// With [`ImapConfig::sasl_passthrough`]: the exchange is over on the
    /// client's side (it sent `*`, or data that is not base64); the session
    /// already answered. Abort the auth server's request.
    SaslCancel,
    /// The session changed this mailbox (other sessions that have it
    /// selected should be notified).
    MailboxChanged(String),
    /// Send the pending output, then close the connection.
    Close,
}

impl std::fmt::Debug for ImapEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImapEvent::StartTls => f.write_str("StartTls"),
            ImapEvent::Authenticate {
                credentials,
                method,
            } => f
                .debug_struct("Authenticate")
                .field("credentials", credentials)
                .field("method", method)
                .finish(),
            ImapEvent::SaslStart {
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
            ImapEvent::SaslResponse(data) => f
                .debug_tuple("SaslResponse")
                .field(&Hidden(data.len()))
                .finish(),
            ImapEvent::SaslCancel => f.write_str("SaslCancel"),
            ImapEvent::MailboxChanged(m) => f.debug_tuple("MailboxChanged").field(m).finish(),
            ImapEvent::Close => f.write_str("Close"),
        }
    }
}

/// SASL data in `Debug` output: only its length.
pub(crate) struct Hidden(pub(crate) usize);

impl std::fmt::Debug for Hidden {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{} bytes hidden>", self.0)
    }
}

/// Why an authentication failed, as the adapter learned it (from the auth
/// server, or its own check); [`ImapSession::login_failed_with`] and
/// [`crate::Pop3Session::login_failed_with`] word the answer as Dovecot
/// 2.3's login processes do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginFailure {
    /// Wrong credentials (IMAP `NO [AUTHENTICATIONFAILED] Authentication
    /// failed.`; with the auth server's `reason=`, `NO [ALERT] <reason>`).
    Credentials,
    /// The check could not be made (`NO [UNAVAILABLE] ...`). Dovecot's
    /// text is `Temporary authentication failure. [<host>:<local time>]`:
    /// pass it as the reason (see [`temporary_failure_text`]); without one
    /// the text has no brackets.
    Temporary,
    /// The account may not log in (`nologin`, user disabled:
    /// `NO [CONTACTADMIN] <reason>`).
    LoginDisabled,
    /// The authorization identity was refused (`NO [AUTHORIZATIONFAILED]`).
    Authorization,
    /// The password expired (`NO [EXPIRED]`).
    PasswordExpired,
    /// A plaintext mechanism without TLS (`NO [PRIVACYREQUIRED] Plaintext
    /// authentication disallowed on non-secure (SSL/TLS) connections.`).
    PrivacyRequired,
    /// The auth server does not know the mechanism (`NO [ALERT]
    /// Unsupported authentication mechanism.`).
    MechanismInvalid,
    /// The auth server aborted the exchange (`BAD Authentication aborted
    /// by client.`).
    Aborted,
}

impl LoginFailure {
    /// The failure an auth server's `FAIL` reply means, from its `code=`
    /// field (`temp_fail`, `authz_fail`, `user_disabled`, `pass_expired`,
    /// ...) and whether it carried the `nologin` flag, mapped as Dovecot
    /// 2.3's login processes map them.
    pub fn from_auth_fail(code: Option<&str>, nologin: bool) -> LoginFailure {
        match code {
            Some("temp_fail") => LoginFailure::Temporary,
            Some("authz_fail") => LoginFailure::Authorization,
            Some("pass_expired") => LoginFailure::PasswordExpired,
            Some("login_disabled") => LoginFailure::LoginDisabled,
            Some("auth_mech_invalid") => LoginFailure::MechanismInvalid,
            Some("auth_mech_ssl_required") => LoginFailure::PrivacyRequired,
            _ if nologin => LoginFailure::LoginDisabled,
            _ => LoginFailure::Credentials,
        }
    }
}

/// Dovecot's text for a temporary authentication failure:
/// `Temporary authentication failure. [<hostname>:<timestamp>]`, where
/// Dovecot's timestamp is the local time as `%Y-%m-%d %H:%M:%S`.
pub fn temporary_failure_text(hostname: &str, timestamp: &str) -> String {
    format!("Temporary authentication failure. [{hostname}:{timestamp}]")
}

/// PLAIN and LOGIN send the password as is: offered and accepted only
/// where plaintext authentication is allowed.
pub(crate) fn is_plaintext_mechanism(mech: &str) -> bool {
    mech.eq_ignore_ascii_case("PLAIN") || mech.eq_ignore_ascii_case("LOGIN")
}

#[derive(Debug, PartialEq, Eq)]
enum Phase {
    NotAuthenticated,
    Authenticated,
    Logout,
}

#[derive(Debug)]
enum Pending {
    None,
    StartTls,
    Auth(Tag),
}

/// A streamed APPEND in progress: the current message goes to `sink`
/// chunk by chunk, finished messages wait in `staged` until the command
/// ends and are committed together (MULTIAPPEND is all or nothing); once
/// something failed, the rest of the client's data is skipped, the staged
/// messages are dropped and `refusal` answers the command.
struct Appending {
    tag: Tag,
    mailbox: String,
    header: AppendHeader,
    sink: Option<Box<dyn StagingSink>>,
    refusal: Option<Outcome>,
    staged: Vec<StagedAppend>,
}

struct Selected {
    name: String,
    read_only: bool,
    view: MailboxView,
    recent: HashSet<u32>,
    keywords: Vec<String>,
    /// SEARCHRES (RFC 5182): the UIDs the last `SEARCH RETURN (SAVE)`
    /// found, which `$` names.
    saved: HashSet<u32>,
    /// UIDs gone from the mailbox that keep their sequence numbers until a
    /// command that may send EXPUNGE (ascending).
    deferred: Vec<u32>,
}

impl Selected {
    /// Gives `m` the session's `\Recent` (a message a sync shows as recent
    /// stays recent in this session; IMAP4rev2 has no `\Recent`) and
    /// learns its keywords; true when one of them is new to the session.
    fn take_in(&mut self, m: &mut MessageMeta, rev2: bool) -> bool {
        if m.flags.recent && !rev2 {
            self.recent.insert(m.uid);
        }
        m.flags.recent = !self.recent.is_empty() && self.recent.contains(&m.uid);
        let mut new_keyword = false;
        for k in m.keywords.iter() {
            if !self.keywords.contains(k) {
                self.keywords.push(k.clone());
                new_keyword = true;
            }
        }
        new_keyword
    }
}

/// One untagged `FETCH` reporting a message's flags after a sync, as
/// Dovecot words it: the UID when `send_uid`, the MODSEQ with CONDSTORE,
/// and only the MODSEQ for a `.SILENT` STORE's own message.
fn flags_fetch_line(
    out: &mut String,
    seq: u32,
    m: &MessageMeta,
    send_uid: bool,
    condstore: bool,
    modseq_only: bool,
) {
    out.push_str(&format!("* {seq} FETCH ("));
    if send_uid {
        out.push_str(&format!("UID {} ", m.uid));
    }
    if modseq_only {
        out.push_str(&format!("MODSEQ ({}))\r\n", m.modseq));
        return;
    }
    if condstore {
        out.push_str(&format!("MODSEQ ({}) ", m.modseq));
    }
    out.push_str(&format!("FLAGS {})\r\n", format::flags_list(m)));
}

/// One IMAP connection's protocol state, sans-IO.
pub struct ImapSession {
    config: ImapConfig,
    decoder: CommandDecoder,
    out: Vec<u8>,
    events: VecDeque<ImapEvent>,
    phase: Phase,
    pending: Pending,
    storage: Option<Box<dyn MailStorage>>,
    selected: Option<Selected>,
    idle_tag: Option<Tag>,
    sasl_tag: Option<Tag>,
    condstore: bool,
    /// ENABLE QRESYNC was given: expunges are reported as VANISHED.
    qresync: bool,
    bad_in_a_row: u32,
    now: i64,
    user: Option<String>,
    appending: Option<Appending>,
    /// Before login: the tail of the client's bytes that the decoder has
    /// not consumed yet, for [`ImapSession::login_handoff`].
    pre_auth_input: Vec<u8>,
    /// Bytes fed to the current decoder (its stream length).
    fed: usize,
    /// `LOGIN` or the SASL mechanism of the pending authentication.
    auth_method: String,
    /// The client's ID parameters (sent before login).
    client_id: Vec<(String, Option<String>)>,
    /// The client asked CAPABILITY before login and not after STARTTLS:
    /// as Dovecot does, the login answer then sends `* CAPABILITY`
    /// untagged instead of the `[CAPABILITY ...]` code, which such a
    /// client may ignore.
    untagged_capability: bool,
    /// STARTTLS was done on this connection.
    did_starttls: bool,
    /// ENABLE IMAP4rev2 was given (RFC 9051 answers).
    rev2: bool,
}

enum Outcome {
    Ok(String),
    No(String),
    Bad(String),
}

impl ImapSession {
    /// A new session; the greeting is already in the output.
    pub fn new(config: ImapConfig) -> ImapSession {
        let mut s = ImapSession::blank(config);
        let greeting = format!(
            "* OK [CAPABILITY {}] {}\r\n",
            s.capabilities(),
            s.config.greeting
        );
        s.out.extend_from_slice(greeting.as_bytes());
        s
    }

    /// The post-login half of a session whose login ran in another process
    /// ([`ImapSession::login_handoff`]): the first output is the tagged
    /// `OK [CAPABILITY ...] Logged in` of the login command, exactly as
    /// [`ImapSession::login_succeeded`] writes it, then the handoff's
    /// pipelined client input is processed as if just received. A handoff
    /// whose tag is not a valid IMAP tag (one not made by
    /// [`ImapHandoff::decode`]) ends the session with `* BYE`.
    pub fn resume(
        config: ImapConfig,
        handoff: ImapHandoff,
        storage: Box<dyn MailStorage>,
    ) -> ImapSession {
        let mut config = config;
        config.tls |= handoff.tls;
        let mut s = ImapSession::blank(config);
        s.client_id = handoff.client_id;
        s.auth_method = handoff.method;
        s.untagged_capability = handoff.untagged_capability;
        match Tag::new(handoff.tag.into_bytes()) {
            Ok(tag) => {
                s.pending = Pending::Auth(tag);
                s.login_succeeded(&handoff.user, storage);
                s.feed(&handoff.client_input);
            }
            Err(_) => s.bye("Internal error: invalid login handoff."),
        }
        s
    }

    /// The login process's end of a successful authentication, instead of
    /// [`ImapSession::login_succeeded`]: the pending LOGIN or AUTHENTICATE
    /// is not answered here; the returned [`ImapHandoff`] carries its tag,
    /// the user, and every byte the client sent after it that was not
    /// processed yet, for [`ImapSession::resume`] in the post-login
    /// process. This session is finished afterwards (it takes no more
    /// input and sends nothing). Called without a pending authentication,
    /// the handoff's tag is empty (and `resume` refuses it).
    pub fn login_handoff(&mut self, user: &str) -> ImapHandoff {
        let tag = match std::mem::replace(&mut self.pending, Pending::None) {
            Pending::Auth(t) => t.to_string(),
            other => {
                self.pending = other;
                String::new()
            }
        };
        let unprocessed = self.unprocessed_input().to_vec();
        self.phase = Phase::Logout;
        self.pre_auth_input = Vec::new();
        self.reset_decoder();
        ImapHandoff {
            tag,
            user: user.to_string(),
            method: self.auth_method.clone(),
            tls: self.config.tls,
            client_input: unprocessed,
            client_id: self.client_id.clone(),
            untagged_capability: self.untagged_capability,
        }
    }

    /// The client's ID parameters (field, value) as sent before login;
    /// after [`ImapSession::resume`], those of the handoff.
    pub fn client_id(&self) -> &[(String, Option<String>)] {
        &self.client_id
    }

    /// The bytes fed before login that the decoder has not consumed.
    fn unprocessed_input(&self) -> &[u8] {
        let keep = self.fed.saturating_sub(self.decoder.offset());
        let len = self.pre_auth_input.len();
        &self.pre_auth_input[len.saturating_sub(keep)..]
    }

    /// A fresh decoder (after TLS, or dropping a refused literal).
    fn reset_decoder(&mut self) {
        let limits = if self.phase == Phase::NotAuthenticated {
            pre_auth_limits(self.config.limits)
        } else {
            self.config.limits
        };
        self.decoder = CommandDecoder::new(limits).explicit_modes();
        self.fed = 0;
        self.pre_auth_input.clear();
    }

    /// A session with nothing sent yet.
    fn blank(config: ImapConfig) -> ImapSession {
        ImapSession {
            decoder: CommandDecoder::new(pre_auth_limits(config.limits)).explicit_modes(),
            config,
            out: Vec::new(),
            events: VecDeque::new(),
            phase: Phase::NotAuthenticated,
            pending: Pending::None,
            storage: None,
            selected: None,
            idle_tag: None,
            sasl_tag: None,
            condstore: false,
            qresync: false,
            bad_in_a_row: 0,
            now: 0,
            user: None,
            appending: None,
            pre_auth_input: Vec::new(),
            fed: 0,
            auth_method: String::new(),
            client_id: Vec::new(),
            untagged_capability: false,
            did_starttls: false,
            rev2: false,
        }
    }

    /// The current time (Unix seconds) for SEARCH's date keys.
    pub fn set_now(&mut self, unix_secs: i64) {
        self.now = unix_secs;
    }

    /// The logged-in user, if any.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The selected mailbox, if any.
    pub fn selected_mailbox(&self) -> Option<&str> {
        self.selected.as_ref().map(|s| s.name.as_str())
    }

    /// Whether the session is logged in.
    pub fn is_authenticated(&self) -> bool {
        self.phase == Phase::Authenticated
    }

    /// Bytes to send to the client (taken: the buffer is emptied).
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// The next event for the adapter.
    pub fn poll_event(&mut self) -> Option<ImapEvent> {
        self.events.pop_front()
    }

    /// Bytes from the client.
    pub fn feed(&mut self, data: &[u8]) {
        if self.phase == Phase::Logout {
            return;
        }
        self.decoder.feed(data);
        self.fed += data.len();
        if self.phase == Phase::NotAuthenticated {
            self.pre_auth_input.extend_from_slice(data);
        }
        self.process();
        if self.phase == Phase::NotAuthenticated {
            // keep only what the decoder still holds
            let keep = self.unprocessed_input().len();
            let drop = self.pre_auth_input.len() - keep;
            self.pre_auth_input.drain(..drop);
        } else {
            self.pre_auth_input = Vec::new();
        }
    }

    /// The TLS handshake finished: anything the client sent before it is
    /// dropped (it was not protected), and the session goes on under TLS.
    pub fn tls_started(&mut self) {
        self.reset_decoder();
        self.config.tls = true;
        self.did_starttls = true;
        self.pending = Pending::None;
    }

    /// The credentials were right: the session serves `storage` for `user`.
    pub fn login_succeeded(&mut self, user: &str, storage: Box<dyn MailStorage>) {
        let tag = match std::mem::replace(&mut self.pending, Pending::None) {
            Pending::Auth(t) => t,
            other => {
                self.pending = other;
                return;
            }
        };
        self.phase = Phase::Authenticated;
        self.storage = Some(storage);
        self.user = Some(user.to_string());
        // the logged-in decoder has the configured limits; what the client
        // pipelined after the login command goes on to it
        let rest = std::mem::take(&mut self.pre_auth_input);
        let keep = self.fed.saturating_sub(self.decoder.offset());
        self.reset_decoder();
        let rest = &rest[rest.len().saturating_sub(keep)..];
        self.decoder.feed(rest);
        self.fed = rest.len();
        let line = if self.untagged_capability {
            format!(
                "* CAPABILITY {}\r\n{tag} OK Logged in\r\n",
                self.capabilities()
            )
        } else {
            format!(
                "{tag} OK [CAPABILITY {}] Logged in\r\n",
                self.capabilities()
            )
        };
        self.out.extend_from_slice(line.as_bytes());
        self.process();
    }

    /// The credentials were wrong (or the check failed).
    pub fn login_failed(&mut self, temporary: bool) {
        let failure = if temporary {
            LoginFailure::Temporary
        } else {
            LoginFailure::Credentials
        };
        self.login_failed_with(failure, None);
    }

    /// The authentication failed for `failure`; `reason` is the auth
    /// server's `reason=` text when it gave one. The tagged answer is
    /// worded as Dovecot 2.3's imap-login words it.
    pub fn login_failed_with(&mut self, failure: LoginFailure, reason: Option<&str>) {
        let tag = match std::mem::replace(&mut self.pending, Pending::None) {
            Pending::Auth(t) => t,
            other => {
                self.pending = other;
                return;
            }
        };
        // the reason comes from another process: one line, no controls
        let reason: Option<String> = reason
            .map(|r| r.chars().filter(|c| !c.is_control()).collect::<String>())
            .filter(|r| !r.is_empty());
        let text = |default: &str| reason.clone().unwrap_or_else(|| default.to_string());
        let line = match failure {
            LoginFailure::Credentials => match &reason {
                Some(r) if r.starts_with('[') => format!("NO {r}"),
                Some(r) => format!("NO [ALERT] {r}"),
                None => "NO [AUTHENTICATIONFAILED] Authentication failed.".into(),
            },
            LoginFailure::Temporary => format!(
                "NO [UNAVAILABLE] {}",
                text("Temporary authentication failure.")
            ),
            LoginFailure::LoginDisabled => {
                format!("NO [CONTACTADMIN] {}", text("Login disabled for this user"))
            }
            LoginFailure::Authorization => {
                format!("NO [AUTHORIZATIONFAILED] {}", text("Authorization failed"))
            }
            LoginFailure::PasswordExpired => {
                format!("NO [EXPIRED] {}", text("Authentication failed."))
            }
            LoginFailure::PrivacyRequired => format!("NO [PRIVACYREQUIRED] {PLAINTEXT_DISABLED}"),
            LoginFailure::MechanismInvalid => {
                "NO [ALERT] Unsupported authentication mechanism.".into()
            }
            LoginFailure::Aborted => "BAD Authentication aborted by client.".into(),
        };
        self.out
            .extend_from_slice(format!("{tag} {line}\r\n").as_bytes());
        self.decoder.resume_commands();
        self.process();
    }

    /// With [`ImapConfig::sasl_passthrough`]: the auth server's challenge
    /// for the pending AUTHENTICATE; sent as `+ <base64>`, and the client's
    /// answer comes as [`ImapEvent::SaslResponse`].
    pub fn sasl_challenge(&mut self, data: &[u8]) {
        let tag = match std::mem::replace(&mut self.pending, Pending::None) {
            Pending::Auth(t) => t,
            other => {
                self.pending = other;
                return;
            }
        };
        let line = format!(
            "+ {}\r\n",
            base64::engine::general_purpose::STANDARD.encode(data)
        );
        self.out.extend_from_slice(line.as_bytes());
        self.sasl_tag = Some(tag);
        self.decoder.begin_authenticate();
        self.process();
    }

    /// Something changed in `mailbox` (another session, an LMTP delivery).
    /// While IDLE in that mailbox, the changes are sent at once.
    pub fn mailbox_changed(&mut self, mailbox: &str) {
        let idling = self.idle_tag.is_some();
        if idling && self.selected_mailbox() == Some(mailbox) {
            self.sync_selected(SyncKind::Full, true);
        }
    }

    /// The capability list for the current state.
    pub fn capabilities(&self) -> String {
        let mut caps = String::from("IMAP4rev1");
        if self.config.imap4rev2 {
            caps.push_str(" IMAP4rev2");
        }
        caps.push_str(" SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+");
        if self.phase == Phase::Authenticated {
            caps.push_str(
                " NAMESPACE UNSELECT CHILDREN UIDPLUS MOVE MULTIAPPEND LIST-EXTENDED LIST-STATUS \
                 SPECIAL-USE ESEARCH SEARCHRES CONDSTORE QRESYNC BINARY STATUS=SIZE",
            );
            if self
                .storage
                .as_ref()
                .is_some_and(|s| s.supports_save_date())
            {
                caps.push_str(" SAVEDATE");
            }
            if let Some(n) = self.config.append_limit {
                caps.push_str(&format!(" APPENDLIMIT={n}"));
            }
            return caps;
        }
        if self.config.starttls && !self.config.tls {
            caps.push_str(" STARTTLS");
        }
        // Dovecot's order: LOGINDISABLED, then the mechanisms
        if !self.plaintext_allowed() {
            caps.push_str(" LOGINDISABLED");
        }
        for mech in &self.config.sasl_mechanisms {
            if self.plaintext_allowed() || !is_plaintext_mechanism(mech) {
                caps.push_str(" AUTH=");
                caps.push_str(mech);
            }
        }
        caps
    }

    fn plaintext_allowed(&self) -> bool {
        self.config.tls || self.config.plaintext_without_tls
    }

    fn process(&mut self) {
        while self.phase != Phase::Logout && matches!(self.pending, Pending::None) {
            // every APPEND literal is streamed, so the session never holds
            // more of a message than one received chunk
            match self.decoder.decode_streaming(0) {
                Ok(Decoded::Incomplete) => break,
                Ok(Decoded::NeedsContinuation { .. }) => self.out.extend_from_slice(b"+ OK\r\n"),
                Ok(Decoded::Message(StreamEvent::AppendStart {
                    tag,
                    mailbox,
                    message,
                })) => {
                    self.bad_in_a_row = 0;
                    self.append_start(tag, &mailbox, message);
                }
                Ok(Decoded::Message(StreamEvent::AppendData(chunk))) => self.append_data(&chunk),
                Ok(Decoded::Message(StreamEvent::AppendNext(header))) => self.append_next(header),
                Ok(Decoded::Message(StreamEvent::AppendEnd)) => self.append_end(),
                Ok(Decoded::Message(StreamEvent::Command(CommandEvent::Command(cmd)))) => {
                    self.bad_in_a_row = 0;
                    self.command(cmd);
                }
                Ok(Decoded::Message(StreamEvent::Command(CommandEvent::AuthenticateData(
                    data,
                )))) => {
                    self.decoder.resume_commands();
                    self.sasl_data(data);
                }
                Ok(Decoded::Message(StreamEvent::Command(CommandEvent::IdleDone))) => {
                    self.decoder.resume_commands();
                    if let Some(tag) = self.idle_tag.take() {
                        self.out
                            .extend_from_slice(format!("{tag} OK Idle completed.\r\n").as_bytes());
                    }
                }
                Err(e) => {
                    // a broken APPEND stream ends the APPEND: what was
                    // spooled of the current message is dropped
                    self.appending = None;
                    // a bad line while waiting for SASL data or DONE ends
                    // that wait
                    self.decoder.resume_commands();
                    if let Some(tag) = self.idle_tag.take() {
                        self.out
                            .extend_from_slice(format!("{tag} BAD Expected DONE.\r\n").as_bytes());
                        continue;
                    }
                    if let Some(tag) = self.sasl_tag.take() {
                        // not base64 (or too long): Dovecot ends the exchange
                        self.out
                            .extend_from_slice(format!("{tag} NO {INVALID_BASE64}\r\n").as_bytes());
                        if self.config.sasl_passthrough {
                            self.events.push_back(ImapEvent::SaslCancel);
                        }
                        continue;
                    }
                    self.bad_in_a_row += 1;
                    let tag = e.tag().map_or("*".to_string(), |t| t.to_string());
                    let line = format!("{tag} BAD Error in IMAP command: {}\r\n", e.reason());
                    self.out.extend_from_slice(line.as_bytes());
                    if self.bad_in_a_row >= MAX_BAD_COMMANDS {
                        self.bye("Too many invalid IMAP commands.");
                    }
                }
            }
        }
    }

    fn bye(&mut self, text: &str) {
        self.out
            .extend_from_slice(format!("* BYE {text}\r\n").as_bytes());
        self.phase = Phase::Logout;
        self.events.push_back(ImapEvent::Close);
    }

    fn command(&mut self, cmd: Command) {
        // the decoder (explicit modes) expects SASL data or DONE only once
        // the handlers below confirm they wait for them
        let tag = cmd.tag.clone();
        let name = cmd.body.name();
        let outcome = match cmd.body {
            CommandBody::Capability => {
                let caps = format!("* CAPABILITY {}\r\n", self.capabilities());
                self.out.extend_from_slice(caps.as_bytes());
                if self.phase == Phase::NotAuthenticated {
                    if !self.did_starttls {
                        self.untagged_capability = true;
                    }
                    Outcome::Ok(
                        "Pre-login capabilities listed, post-login capabilities have more.".into(),
                    )
                } else {
                    Outcome::Ok("Capability completed.".into())
                }
            }
            CommandBody::Noop => {
                self.sync_selected(SyncKind::Full, true);
                Outcome::Ok("NOOP completed.".into())
            }
            CommandBody::Logout => {
                self.out.extend_from_slice(b"* BYE Logging out\r\n");
                self.out
                    .extend_from_slice(format!("{tag} OK Logout completed.\r\n").as_bytes());
                self.phase = Phase::Logout;
                self.events.push_back(ImapEvent::Close);
                return;
            }
            CommandBody::Id(params) => {
                if self.phase == Phase::NotAuthenticated {
                    self.client_id = id_params(params.unwrap_or_default());
                }
                self.out
                    .extend_from_slice(b"* ID (\"name\" \"Columba\")\r\n");
                Outcome::Ok("ID completed.".into())
            }
            body if self.phase == Phase::NotAuthenticated => self.pre_auth(&tag, body),
            CommandBody::StartTls
            | CommandBody::Login { .. }
            | CommandBody::Authenticate { .. } => {
                Outcome::Bad(format!("Error in IMAP command {name}: Already logged in."))
            }
            body => self.authenticated(&tag, body),
        };
        self.answer(&tag, outcome);
    }

    /// The tagged answer (nothing for an empty OK: already sent).
    fn answer(&mut self, tag: &Tag, outcome: Outcome) {
        let (kind, text) = match outcome {
            Outcome::Ok(t) if t.is_empty() => return,
            Outcome::Ok(t) => ("OK", t),
            Outcome::No(t) => ("NO", t),
            Outcome::Bad(t) => ("BAD", t),
        };
        self.out
            .extend_from_slice(format!("{tag} {kind} {text}\r\n").as_bytes());
    }

    /// Input bytes the session holds that were not handled yet (a partial
    /// command line). APPEND literals are not held: they go to storage as
    /// they arrive. An adapter can use this for backpressure.
    pub fn buffered_input(&self) -> usize {
        self.decoder.buffered()
    }

    /// An APPEND's first message header arrived (the literal follows).
    fn append_start(&mut self, tag: Tag, mailbox: &Mailbox, header: AppendHeader) {
        let name = wire_name(mailbox);
        let mut a = Appending {
            tag,
            mailbox: name,
            header,
            sink: None,
            refusal: None,
            staged: Vec::new(),
        };
        if self.phase != Phase::Authenticated {
            a.refusal = Some(Outcome::Bad(
                "Error in IMAP command: Unknown command.".into(),
            ));
        } else {
            self.begin_message(&mut a);
        }
        self.appending = Some(a);
        self.refuse_before_literal();
    }

    /// Opens the storage sink for the current message, or records why not.
    fn begin_message(&mut self, a: &mut Appending) {
        let size = a.header.size;
        if let Some(limit) = self.config.append_limit {
            if size > limit {
                a.refusal = Some(Outcome::No(format!(
                    "[TOOBIG] Mail size {size} exceeds the APPENDLIMIT of {limit} bytes."
                )));
                return;
            }
        }
        let (flags, keywords) = split_flags(&a.header.flags);
        let meta = AppendMeta {
            flags,
            keywords,
            internal_date: a.header.date.map(unix_time),
        };
        match self.storage().begin_append(&a.mailbox, size, &meta) {
            Ok(sink) => a.sink = Some(sink),
            Err(Error::NoSuchMailbox(n)) => {
                a.refusal = Some(Outcome::No(format!(
                    "[TRYCREATE] Mailbox doesn't exist: {n}"
                )))
            }
            Err(e) => a.refusal = Some(no(e)),
        }
    }

    /// A refused message announced with a synchronizing literal is answered
    /// at once: the client waits for `+` and sends nothing more of the
    /// command. (A non-synchronizing literal comes anyway and is skipped.)
    fn refuse_before_literal(&mut self) {
        let refuse_now = self
            .appending
            .as_ref()
            .is_some_and(|a| a.refusal.is_some() && !a.header.non_sync);
        if !refuse_now {
            return;
        }
        let Some(a) = self.appending.take() else {
            return;
        };
        if let Some(outcome) = a.refusal {
            self.answer(&a.tag, outcome);
        }
        // the decoder still expects the literal: a fresh one reads the
        // next command (a client waiting for `+` sent nothing after the
        // literal's header)
        self.reset_decoder();
    }

    fn append_data(&mut self, chunk: &[u8]) {
        let Some(a) = self.appending.as_mut() else {
            return;
        };
        if let Some(sink) = a.sink.as_mut() {
            if let Err(e) = sink.write(chunk) {
                a.sink = None;
                a.staged.clear();
                a.refusal = Some(no(e));
            }
        }
    }

    /// Stages the current message once its literal is complete.
    fn finish_message(a: &mut Appending) {
        let Some(sink) = a.sink.take() else {
            return;
        };
        match sink.finish() {
            Ok(staged) => a.staged.push(staged),
            Err(e) => {
                a.staged.clear();
                a.refusal = Some(no(e));
            }
        }
    }

    /// MULTIAPPEND: the next message's header.
    fn append_next(&mut self, header: AppendHeader) {
        let Some(mut a) = self.appending.take() else {
            return;
        };
        Self::finish_message(&mut a);
        a.header = header;
        if a.refusal.is_none() {
            self.begin_message(&mut a);
        } else {
            a.staged.clear();
        }
        self.appending = Some(a);
        self.refuse_before_literal();
    }

    fn append_end(&mut self) {
        let Some(mut a) = self.appending.take() else {
            return;
        };
        Self::finish_message(&mut a);
        let outcome = match a.refusal.take() {
            // what was staged is dropped: no message of the command is kept
            Some(refusal) => refusal,
            None => {
                let staged = std::mem::take(&mut a.staged);
                match self.storage().commit_appends(&a.mailbox, staged) {
                    Ok((validity, uids)) => {
                        self.appended(&a.mailbox, !uids.is_empty());
                        Outcome::Ok(format!(
                            "[APPENDUID {validity} {}] Append completed.",
                            compact_set(&uids)
                        ))
                    }
                    Err(Error::NoSuchMailbox(n)) => {
                        Outcome::No(format!("[TRYCREATE] Mailbox doesn't exist: {n}"))
                    }
                    Err(e) => no(e),
                }
            }
        };
        self.answer(&a.tag, outcome);
    }

    /// After messages were appended to `mailbox`: notify, and report them
    /// at once when it is the selected mailbox.
    fn appended(&mut self, mailbox: &str, any: bool) {
        if !any {
            return;
        }
        self.events
            .push_back(ImapEvent::MailboxChanged(mailbox.to_string()));
        // Dovecot: a full sync when the messages went into the selected
        // mailbox, a fast one otherwise
        if self.selected_mailbox() == Some(mailbox) {
            self.sync_selected(SyncKind::Full, true);
        } else {
            self.sync_selected(SyncKind::Fast, true);
        }
    }

    fn pre_auth(&mut self, tag: &Tag, body: CommandBody) -> Outcome {
        match body {
            CommandBody::StartTls => {
                if !self.config.starttls || self.config.tls {
                    return Outcome::Bad("TLS is already active.".into());
                }
                self.out.extend_from_slice(
                    format!("{tag} OK Begin TLS negotiation now.\r\n").as_bytes(),
                );
                self.pending = Pending::StartTls;
                self.events.push_back(ImapEvent::StartTls);
                Outcome::Ok(String::new())
            }
            CommandBody::Login { username, password } => {
                if !self.plaintext_allowed() {
                    // Dovecot warns first: the password went out in the clear
                    self.out.extend_from_slice(
                        b"* BAD [ALERT] Plaintext authentication not allowed without SSL/TLS, \
                          but your client did it anyway. If anyone was listening, the password \
                          was exposed.\r\n",
                    );
                    return Outcome::No(format!("[PRIVACYREQUIRED] {PLAINTEXT_DISABLED}"));
                }
                let credentials = Credentials {
                    user: String::from_utf8_lossy(&username).into_owned(),
                    password: password.expose().to_vec(),
                };
                self.pending = Pending::Auth(tag.clone());
                self.auth_method = "LOGIN".into();
                self.events.push_back(ImapEvent::Authenticate {
                    credentials,
                    method: "LOGIN".into(),
                });
                Outcome::Ok(String::new())
            }
            CommandBody::Authenticate {
                mechanism,
                initial_response,
            } => {
                let offered = self
                    .config
                    .sasl_mechanisms
                    .iter()
                    .find(|m| mechanism.eq_ignore_case(m))
                    .cloned();
                let mech = match offered {
                    Some(m) if self.config.sasl_passthrough || m.eq_ignore_ascii_case("PLAIN") => m,
                    _ => {
                        return Outcome::No("[ALERT] Unsupported authentication mechanism.".into())
                    }
                };
                if is_plaintext_mechanism(&mech) && !self.plaintext_allowed() {
                    return Outcome::No(
                        "[PRIVACYREQUIRED] Plaintext authentication disabled.".into(),
                    );
                }
                if self.config.sasl_passthrough {
                    let initial_response = match initial_response {
                        None => None,
                        Some(ir) => {
                            match base64::engine::general_purpose::STANDARD.decode(ir.expose()) {
                                Ok(raw) => Some(raw),
                                Err(_) => return Outcome::No(INVALID_BASE64.into()),
                            }
                        }
                    };
                    self.pending = Pending::Auth(tag.clone());
                    self.auth_method = mech.clone();
                    self.events.push_back(ImapEvent::SaslStart {
                        mechanism: mech,
                        initial_response,
                    });
                    return Outcome::Ok(String::new());
                }
                self.sasl_tag = Some(tag.clone());
                match initial_response {
                    Some(ir) => self.sasl_data(AuthenticateData::Data(ir)),
                    None => {
                        self.out.extend_from_slice(b"+ \r\n");
                        self.decoder.begin_authenticate();
                    }
                }
                Outcome::Ok(String::new())
            }
            CommandBody::Enable { .. } => {
                // Dovecot's answer: nothing is enabled before login
                self.out.extend_from_slice(b"* ENABLED\r\n");
                Outcome::Ok("ENABLE ignored in non-authenticated state.".into())
            }
            _ => Outcome::Bad("Error in IMAP command: Unknown command.".into()),
        }
    }

    /// A client line during AUTHENTICATE (or its SASL-IR).
    fn sasl_data(&mut self, data: AuthenticateData) {
        let Some(tag) = self.sasl_tag.take() else {
            return;
        };
        let answer = |s: &mut ImapSession, text: &str| {
            s.out
                .extend_from_slice(format!("{tag} {text}\r\n").as_bytes());
        };
        let decoded = match data {
            AuthenticateData::Cancel => None,
            AuthenticateData::Data(secret) => Some(
                base64::engine::general_purpose::STANDARD
                    .decode(secret.expose())
                    .map_err(|_| ()),
            ),
        };
        if self.config.sasl_passthrough {
            match decoded {
                Some(Ok(raw)) => {
                    self.pending = Pending::Auth(tag);
                    self.events.push_back(ImapEvent::SaslResponse(raw));
                }
                Some(Err(())) => {
                    answer(self, &format!("NO {INVALID_BASE64}"));
                    self.events.push_back(ImapEvent::SaslCancel);
                }
                None => {
                    answer(self, "BAD Authentication aborted by client.");
                    self.events.push_back(ImapEvent::SaslCancel);
                }
            }
            return;
        }
        let raw = match decoded {
            None => return answer(self, "BAD Authentication aborted by client."),
            Some(Err(())) => return answer(self, &format!("NO {INVALID_BASE64}")),
            Some(Ok(raw)) => raw,
        };
        let Some(credentials) = decode_sasl_plain(&raw) else {
            self.out.extend_from_slice(
                format!("{tag} NO [AUTHENTICATIONFAILED] Authentication failed.\r\n").as_bytes(),
            );
            return;
        };
        self.pending = Pending::Auth(tag);
        self.auth_method = "PLAIN".into();
        self.events.push_back(ImapEvent::Authenticate {
            credentials,
            method: "PLAIN".into(),
        });
    }

    fn storage(&mut self) -> &mut dyn MailStorage {
        // only called after login, which always sets the storage
        self.storage
            .as_deref_mut()
            .expect("authenticated session has storage")
    }

    fn authenticated(&mut self, tag: &Tag, body: CommandBody) -> Outcome {
        match body {
            CommandBody::Enable { capabilities } => {
                let had_condstore = self.condstore;
                let mut enabled = Vec::new();
                for c in capabilities {
                    if c.eq_ignore_case("CONDSTORE") {
                        self.condstore = true;
                        enabled.push("CONDSTORE");
                    } else if c.eq_ignore_case("QRESYNC") {
                        // QRESYNC implies CONDSTORE (RFC 7162 3.2.3)
                        self.condstore = true;
                        self.qresync = true;
                        enabled.push("QRESYNC");
                    } else if c.eq_ignore_case("IMAP4rev2") && self.config.imap4rev2 {
                        self.rev2 = true;
                        // RFC 9051: no \Recent from now on
                        if let Some(sel) = self.selected.as_mut() {
                            sel.recent.clear();
                            for m in sel.view.messages.iter_mut() {
                                m.flags.recent = false;
                            }
                        }
                        enabled.push("IMAP4rev2");
                    }
                }
                if let (false, true, Some(sel)) =
                    (had_condstore, self.condstore, self.selected.as_ref())
                {
                    // Dovecot tells the selected mailbox's HIGHESTMODSEQ
                    // as CONDSTORE comes on
                    let line = format!(
                        "* OK [HIGHESTMODSEQ {}] Highest\r\n",
                        sel.view.highest_modseq
                    );
                    self.out.extend_from_slice(line.as_bytes());
                }
                if !enabled.is_empty() {
                    let line = format!("* ENABLED {}\r\n", enabled.join(" "));
                    self.out.extend_from_slice(line.as_bytes());
                }
                Outcome::Ok("Enabled.".into())
            }
            CommandBody::Namespace => {
                self.out
                    .extend_from_slice(b"* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n");
                Outcome::Ok("Namespace completed.".into())
            }
            CommandBody::Select { mailbox, params } => self.select(&mailbox, params, false),
            CommandBody::Examine { mailbox, params } => self.select(&mailbox, params, true),
            CommandBody::Create { mailbox, .. } => {
                let name = wire_name(&mailbox);
                let r = self.storage().create(&name);
                self.simple(r, "Create completed.")
            }
            CommandBody::Delete { mailbox } => {
                let name = wire_name(&mailbox);
                if self.selected_mailbox() == Some(name.as_str()) {
                    self.selected = None;
                }
                let r = self.storage().delete(&name);
                self.simple(r, "Delete completed.")
            }
            CommandBody::Rename { from, to } => {
                let (f, t) = (wire_name(&from), wire_name(&to));
                let r = self.storage().rename(&f, &t);
                self.simple(r, "Rename completed.")
            }
            CommandBody::Subscribe { mailbox } => {
                let r = self.storage().subscribe(&wire_name(&mailbox), true);
                self.simple(r, "Subscribe completed.")
            }
            CommandBody::Unsubscribe { mailbox } => {
                let r = self.storage().subscribe(&wire_name(&mailbox), false);
                self.simple(r, "Unsubscribe completed.")
            }
            CommandBody::List {
                selection,
                reference,
                patterns,
                return_options,
            } => self.list(selection, &reference, &patterns, &return_options, false),
            CommandBody::Lsub { reference, pattern } => {
                self.list(Vec::new(), &reference, &[pattern], &[], true)
            }
            CommandBody::Status { mailbox, items } => {
                let name = wire_name(&mailbox);
                match self.status_line(&name, &items) {
                    Ok(line) => {
                        self.out.extend_from_slice(&line);
                        if self.selected_mailbox() == Some(name.as_str()) {
                            Outcome::Ok("[CLIENTBUG] Status on selected mailbox completed.".into())
                        } else {
                            Outcome::Ok("Status completed.".into())
                        }
                    }
                    Err(e) => no(e),
                }
            }
            CommandBody::Append { mailbox, messages } => self.append(&mailbox, messages),
            CommandBody::Idle => {
                self.sync_selected(SyncKind::Full, true);
                self.out.extend_from_slice(b"+ idling\r\n");
                self.idle_tag = Some(tag.clone());
                self.decoder.accept_idle();
                Outcome::Ok(String::new())
            }
            body => self.selected_command(tag, body),
        }
    }

    fn simple(&mut self, r: crate::Result<()>, ok: &str) -> Outcome {
        match r {
            Ok(()) => Outcome::Ok(ok.into()),
            Err(e) => no(e),
        }
    }

    fn select(&mut self, mailbox: &Mailbox, params: Vec<SelectParam>, examine: bool) -> Outcome {
        let previous = self.selected.take();
        if previous.is_some() {
            // Dovecot always says so (QRESYNC requires it)
            self.out
                .extend_from_slice(b"* OK [CLOSED] Previous mailbox closed.\r\n");
        }
        let name = wire_name(mailbox);
        if params.iter().any(|p| matches!(p, SelectParam::CondStore)) {
            self.condstore = true;
        }
        let resync = params.iter().find_map(|p| match p {
            SelectParam::QResync {
                uid_validity,
                modseq,
                known_uids,
                seq_match,
            } => Some((
                *uid_validity,
                *modseq,
                known_uids.clone(),
                seq_match.clone(),
            )),
            _ => None,
        });
        if resync.is_some() && !self.qresync {
            return Outcome::Bad("QRESYNC isn't enabled.".into());
        }
        // the same mailbox again, its view still held: kept when the
        // storage finds nothing changed since
        let kept = previous.filter(|p| p.name == name && p.deferred.is_empty());
        let fresh = match kept {
            Some(_) => self.storage().reselect(&name, !examine),
            None => self.storage().view(&name, !examine).map(Some),
        };
        let (view, recent, keywords) = match (fresh, kept) {
            (Err(e), _) => return no(e),
            (Ok(Some(view)), _) => self.new_selection(view),
            (Ok(None), Some(mut p)) => {
                // a new selection has no \Recent left to claim
                for uid in p.recent.drain() {
                    if let Ok(i) = p.view.messages.binary_search_by_key(&uid, |m| m.uid) {
                        p.view.messages[i].flags.recent = false;
                    }
                }
                (p.view, p.recent, p.keywords)
            }
            (Ok(None), None) => {
                return no(crate::Error::Refused(
                    "[SERVERBUG] the mailbox gave no view".into(),
                ))
            }
        };
        let mut out = flags_lines(&keywords, examine);
        out.push_str(&format!("* {} EXISTS\r\n", view.messages.len()));
        if !self.rev2 {
            out.push_str(&format!("* {} RECENT\r\n", recent.len()));
            if let Some(seq) = view.messages.first_unseen() {
                out.push_str(&format!("* OK [UNSEEN {seq}] First unseen.\r\n"));
            }
        }
        out.push_str(&format!(
            "* OK [UIDVALIDITY {}] UIDs valid\r\n* OK [UIDNEXT {}] Predicted next UID\r\n",
            view.uid_validity, view.uid_next
        ));
        if self.condstore {
            out.push_str(&format!(
                "* OK [HIGHESTMODSEQ {}] Highest\r\n",
                view.highest_modseq
            ));
        }
        if self.rev2 {
            // RFC 9051 6.3.2: the mailbox's LIST response, attributes and all
            let attributes = self
                .storage()
                .list("", &name, false)
                .ok()
                .and_then(|l| l.into_iter().find(|e| e.name == name))
                .map(|e| e.attributes.join(" "))
                .unwrap_or_default();
            let mut line = format!("* LIST ({attributes}) \"/\" ").into_bytes();
            mailbox_name(&mut line, &name);
            line.extend_from_slice(b"\r\n");
            out.push_str(&String::from_utf8_lossy(&line));
        }
        if let Some((validity, modseq, known, seq_match)) = resync {
            if validity == view.uid_validity {
                if known.as_ref().is_some_and(has_star) {
                    return Outcome::Bad(
                        "Error in IMAP command SELECT: Invalid QRESYNC known-uids.".into(),
                    );
                }
                let largest_uid = view.uid_next.saturating_sub(1);
                let known_sample = match &seq_match {
                    None => Vec::new(),
                    Some((seqs, uids)) => {
                        let seqs = client_ranges(seqs, view.messages.len() as u32);
                        let uids = client_ranges(uids, largest_uid);
                        match columba_mail_store::store::qresync_sample(&seqs, &uids) {
                            Some(sample) => sample,
                            None => {
                                return Outcome::Bad(
                                    "Error in IMAP command SELECT: Invalid QRESYNC parameters"
                                        .into(),
                                )
                            }
                        }
                    }
                };
                let request = QresyncRequest {
                    uid_validity: validity,
                    modseq,
                    known_uids: known.as_ref().map(|k| format::set_ranges(k, largest_uid)),
                    known_sample,
                };
                match self.storage().resync(&name, &request) {
                    Ok(Some(r)) => out.push_str(&resync_answer(&view, &r)),
                    // the storage has no expunge history: every gap
                    _ => out.push_str(&resync_lines(&view, modseq, known.as_ref())),
                }
            }
        }
        self.out.extend_from_slice(out.as_bytes());
        self.selected = Some(Selected {
            name,
            read_only: examine,
            view,
            recent,
            keywords,
            saved: HashSet::new(),
            deferred: Vec::new(),
        });
        if examine {
            Outcome::Ok("[READ-ONLY] Examine completed.".into())
        } else {
            Outcome::Ok("[READ-WRITE] Select completed.".into())
        }
    }

    /// A view just read for SELECT: its `\Recent` messages (none with
    /// IMAP4rev2, which has no `\Recent`) and its keywords, from the
    /// view's summary (its message list is not walked).
    fn new_selection(&self, mut view: MailboxView) -> (MailboxView, HashSet<u32>, Vec<String>) {
        let recent_uids = view.messages.recent_uids();
        let keywords = view.messages.keywords();
        let recent = if self.rev2 {
            if !recent_uids.is_empty() {
                // RFC 9051 has no \Recent
                for m in view.messages.iter_mut() {
                    m.flags.recent = false;
                }
            }
            HashSet::new()
        } else {
            recent_uids.into_iter().collect()
        };
        (view, recent, keywords)
    }

    fn list(
        &mut self,
        selection: Vec<ListSelectOption>,
        reference: &Mailbox,
        patterns: &[bytes::Bytes],
        return_options: &[ListReturnOption],
        lsub: bool,
    ) -> Outcome {
        let reference = wire_name(reference);
        let subscribed_only = lsub
            || selection
                .iter()
                .any(|s| matches!(s, ListSelectOption::Subscribed));
        let special_only = selection
            .iter()
            .any(|s| matches!(s, ListSelectOption::SpecialUse));
        let status_items: Option<&Vec<StatusItem>> = return_options.iter().find_map(|o| match o {
            ListReturnOption::Status(items) => Some(items),
            _ => None,
        });
        let verb = if lsub { "LSUB" } else { "LIST" };
        for pattern in patterns {
            let pattern = columba_imap_proto::utf7::decode(pattern)
                .unwrap_or_else(|_| String::from_utf8_lossy(pattern).into_owned());
            if pattern.is_empty() && !lsub {
                self.out
                    .extend_from_slice(b"* LIST (\\Noselect) \"/\" \"\"\r\n");
                continue;
            }
            let entries = match self.storage().list(&reference, &pattern, subscribed_only) {
                Ok(e) => e,
                Err(e) => return no(e),
            };
            for e in entries {
                const SPECIAL: [&str; 7] = [
                    "\\All",
                    "\\Archive",
                    "\\Drafts",
                    "\\Flagged",
                    "\\Junk",
                    "\\Sent",
                    "\\Trash",
                ];
                if special_only && !e.attributes.iter().any(|a| SPECIAL.contains(&a.as_str())) {
                    continue;
                }
                let mut line = format!("* {verb} ({}) \"/\" ", e.attributes.join(" ")).into_bytes();
                mailbox_name(&mut line, &e.name);
                line.extend_from_slice(b"\r\n");
                self.out.extend_from_slice(&line);
                let selectable = !e
                    .attributes
                    .iter()
                    .any(|a| a == "\\Noselect" || a == "\\NonExistent");
                if let (Some(items), true) = (status_items, selectable) {
                    if let Ok(status) = self.status_line(&e.name, items) {
                        self.out.extend_from_slice(&status);
                    }
                }
            }
        }
        Outcome::Ok(format!("{} completed.", if lsub { "Lsub" } else { "List" }))
    }

    fn status_line(&mut self, name: &str, items: &[StatusItem]) -> crate::Result<Vec<u8>> {
        let want_size = items.iter().any(|i| matches!(i, StatusItem::Size));
        let s = self.storage().status(name, want_size)?;
        // Dovecot's order, whatever order they were asked in
        let asked = |want: fn(&StatusItem) -> bool| items.iter().any(want);
        let mut parts = Vec::new();
        if asked(|i| matches!(i, StatusItem::Messages)) {
            parts.push(format!("MESSAGES {}", s.messages));
        }
        if asked(|i| matches!(i, StatusItem::Recent)) {
            parts.push(format!("RECENT {}", s.recent));
        }
        if asked(|i| matches!(i, StatusItem::UidNext)) {
            parts.push(format!("UIDNEXT {}", s.uid_next));
        }
        if asked(|i| matches!(i, StatusItem::UidValidity)) {
            parts.push(format!("UIDVALIDITY {}", s.uid_validity));
        }
        if asked(|i| matches!(i, StatusItem::Unseen)) {
            parts.push(format!("UNSEEN {}", s.unseen));
        }
        if asked(|i| matches!(i, StatusItem::HighestModSeq)) {
            parts.push(format!("HIGHESTMODSEQ {}", s.highest_modseq));
        }
        if asked(|i| matches!(i, StatusItem::Size)) {
            parts.push(format!("SIZE {}", s.size.unwrap_or(0)));
        }
        if asked(|i| matches!(i, StatusItem::Deleted)) {
            parts.push(format!("DELETED {}", s.deleted));
        }
        if asked(|i| matches!(i, StatusItem::AppendLimit)) {
            parts.push(match self.config.append_limit {
                Some(n) => format!("APPENDLIMIT {n}"),
                None => "APPENDLIMIT NIL".into(),
            });
        }
        let mut line = b"* STATUS ".to_vec();
        mailbox_name(&mut line, name);
        line.extend_from_slice(format!(" ({})\r\n", parts.join(" ")).as_bytes());
        Ok(line)
    }

    fn append(
        &mut self,
        mailbox: &Mailbox,
        messages: Vec<columba_imap_proto::AppendMessage>,
    ) -> Outcome {
        let name = wire_name(mailbox);
        let mut validity = 0;
        let mut uids = Vec::new();
        for m in messages {
            let (flags, keywords) = split_flags(&m.flags);
            let date = m.date.map(unix_time);
            match self
                .storage()
                .append(&name, &m.data, flags, &keywords, date)
            {
                Ok((v, uid)) => {
                    validity = v;
                    uids.push(uid);
                }
                Err(Error::NoSuchMailbox(n)) => {
                    return Outcome::No(format!("[TRYCREATE] Mailbox doesn't exist: {n}"))
                }
                Err(e) => return no(e),
            }
        }
        self.events
            .push_back(ImapEvent::MailboxChanged(name.clone()));
        if self.selected_mailbox() == Some(name.as_str()) {
            self.sync_selected(SyncKind::Full, true);
        } else {
            self.sync_selected(SyncKind::Fast, true);
        }
        Outcome::Ok(format!(
            "[APPENDUID {validity} {}] Append completed.",
            compact_set(&uids)
        ))
    }

    /// Messages of the selected view addressed by `set`: (seq, meta).
    fn resolve(&self, set: &SequenceSet, uid: bool) -> Option<Vec<(u32, MessageMeta)>> {
        let sel = self.selected.as_ref()?;
        let msgs = &sel.view.messages;
        if matches!(set, SequenceSet::Saved) {
            return Some(
                msgs.iter()
                    .enumerate()
                    .filter(|(_, m)| sel.saved.contains(&m.uid))
                    .map(|(i, m)| (i as u32 + 1, m.clone()))
                    .collect(),
            );
        }
        let positions = if uid {
            set_positions(set, msgs, Some(|m: &MessageMeta| m.uid))
        } else {
            set_positions(set, msgs, None::<fn(&MessageMeta) -> u32>)
        };
        Some(
            positions
                .into_iter()
                .map(|i| (i as u32 + 1, msgs[i].clone()))
                .collect(),
        )
    }

    fn selected_command(&mut self, tag: &Tag, body: CommandBody) -> Outcome {
        let Some(sel) = self.selected.as_ref() else {
            return Outcome::Bad(format!(
                "Error in IMAP command {}: No mailbox selected.",
                body.name()
            ));
        };
        let name = sel.name.clone();
        let read_only = sel.read_only;
        match body {
            CommandBody::Check => {
                self.sync_selected(SyncKind::Full, true);
                Outcome::Ok("Check completed.".into())
            }
            CommandBody::Close => {
                if !read_only {
                    let deleted = self.deleted_uids(None);
                    if let Err(e) = self.storage().expunge(&name, &deleted) {
                        return no(e);
                    }
                    if !deleted.is_empty() {
                        self.events.push_back(ImapEvent::MailboxChanged(name));
                    }
                }
                self.selected = None;
                Outcome::Ok("Close completed.".into())
            }
            CommandBody::Unselect => {
                self.selected = None;
                Outcome::Ok("Unselect completed.".into())
            }
            CommandBody::Expunge | CommandBody::UidExpunge(_) => {
                if read_only {
                    return Outcome::No("Mailbox is read-only.".into());
                }
                let filter = match &body {
                    CommandBody::UidExpunge(set) => Some(set),
                    _ => None,
                };
                let deleted = self.deleted_uids(filter);
                if let Err(e) = self.storage().expunge(&name, &deleted) {
                    return no(e);
                }
                if !deleted.is_empty() {
                    self.events.push_back(ImapEvent::MailboxChanged(name));
                }
                self.sync_selected(SyncKind::Full, true);
                match self.selected.as_ref() {
                    // CONDSTORE: the tagged OK carries the new HIGHESTMODSEQ,
                    // as Dovecot sends it
                    Some(sel) if self.condstore => Outcome::Ok(format!(
                        "[HIGHESTMODSEQ {}] Expunge completed.",
                        sel.view.highest_modseq
                    )),
                    _ => Outcome::Ok("Expunge completed.".into()),
                }
            }
            CommandBody::Fetch {
                uid, set, items, ..
            } => self.fetch(uid, &set, &items),
            CommandBody::Store {
                uid,
                set,
                unchanged_since,
                kind,
                silent,
                flags,
            } => {
                if read_only {
                    return Outcome::No("Mailbox is read-only.".into());
                }
                self.store(uid, &set, unchanged_since, kind, silent, &flags)
            }
            CommandBody::Copy { uid, set, mailbox } => self.copy(uid, &set, &mailbox, false),
            CommandBody::Move { uid, set, mailbox } => {
                if read_only {
                    return Outcome::No("Mailbox is read-only.".into());
                }
                self.copy(uid, &set, &mailbox, true)
            }
            CommandBody::Search {
                uid,
                return_options,
                criteria,
                ..
            } => self.search(tag, uid, return_options, &criteria),
            other => Outcome::Bad(format!(
                "Error in IMAP command {}: Unknown command.",
                other.name()
            )),
        }
    }

    fn deleted_uids(&self, filter: Option<&SequenceSet>) -> Vec<u32> {
        let Some(sel) = self.selected.as_ref() else {
            return Vec::new();
        };
        let largest = sel.view.messages.last().map_or(0, |m| m.uid);
        sel.view
            .messages
            .iter()
            .filter(|m| m.flags.deleted)
            .filter(|m| {
                filter.is_none_or(|s| match s {
                    SequenceSet::Saved => sel.saved.contains(&m.uid),
                    _ => set_contains(s, m.uid, largest),
                })
            })
            .map(|m| m.uid)
            .collect()
    }

    fn fetch(
        &mut self,
        uid: bool,
        set: &SequenceSet,
        items: &columba_imap_proto::FetchItems,
    ) -> Outcome {
        let Some(targets) = self.resolve(set, uid) else {
            return Outcome::Bad("No mailbox selected.".into());
        };
        let mut attrs = fetch::expand(items);
        if uid && !attrs.contains(&columba_imap_proto::FetchAttribute::Uid) {
            attrs.insert(0, columba_imap_proto::FetchAttribute::Uid);
        }
        // the storage's cache answers unless some item needs the message
        // anyway (then it is read once, as before)
        let try_cache = attrs.iter().all(fetch::answerable_without_message);
        let want_save_date = attrs.contains(&columba_imap_proto::FetchAttribute::SaveDate);
        let sel = self
            .selected
            .as_ref()
            .map(|s| (s.name.clone(), s.read_only));
        let Some((name, read_only)) = sel else {
            return Outcome::Bad("No mailbox selected.".into());
        };
        let set_seen = !read_only && attrs.iter().any(fetch::sets_seen);
        let mut seen_uids: Vec<u32> = Vec::new();
        let mut failed = false;
        for (seq, mut meta) in targets {
            let mut known = fetch::Known::default();
            let mut gone = false;
            if try_cache {
                known.items = vec![None; attrs.len()];
                for (i, a) in attrs.iter().enumerate() {
                    let answer = match a {
                        columba_imap_proto::FetchAttribute::InternalDate => self
                            .storage()
                            .internal_date(&name, meta.uid)
                            .map(|d| known.internal_date = d),
                        _ => match fetch::cache_item(a) {
                            Some(item) => self
                                .storage()
                                .cached_item(&name, meta.uid, &item)
                                .map(|v| known.items[i] = v),
                            None => Ok(()),
                        },
                    };
                    if answer.is_err() {
                        // the message file decides: expunged, or read whole
                        known = fetch::Known::default();
                        break;
                    }
                }
            }
            if want_save_date && !gone {
                match self.storage().save_date(&name, meta.uid) {
                    Ok(d) => known.save_date = d,
                    Err(_) => gone = true,
                }
            }
            let need_message = attrs.iter().enumerate().any(|(i, a)| known.lacks(i, a));
            let message = if gone {
                Err(())
            } else if need_message {
                self.storage()
                    .message(&name, meta.uid)
                    .map(Some)
                    .map_err(|_| ())
            } else {
                Ok(None)
            };
            let message = match message {
                Ok(m) => m,
                Err(()) => {
                    // expunged meanwhile: the sequence number stays
                    // until the EXPUNGE may be sent
                    failed = true;
                    let mut line = format!("* {seq} FETCH (").into_bytes();
                    fetch::write_expunged_items(&mut line, &attrs, &meta);
                    line.extend_from_slice(b")\r\n");
                    self.out.extend_from_slice(&line);
                    continue;
                }
            };
            let mut item_attrs = attrs.clone();
            if set_seen && !meta.flags.seen {
                // set with the others in one change at the end of the
                // command, as Dovecot commits its FETCH transaction
                seen_uids.push(meta.uid);
                meta.flags.seen = true;
                if let Some(sel) = self.selected.as_mut() {
                    if let Some(m) = sel.view.messages.get_mut(seq as usize - 1) {
                        m.flags.seen = true;
                    }
                }
                if !item_attrs.contains(&columba_imap_proto::FetchAttribute::Flags) {
                    item_attrs.push(columba_imap_proto::FetchAttribute::Flags);
                }
            }
            let mut line = format!("* {seq} FETCH (").into_bytes();
            match fetch::write_items(&mut line, &item_attrs, &meta, message.as_ref(), &known) {
                Ok(()) => {
                    line.extend_from_slice(b")\r\n");
                    self.out.extend_from_slice(&line);
                }
                Err(reason) => {
                    self.commit_seen(&name, &seen_uids);
                    let _ = self.storage().command_done();
                    return Outcome::No(reason);
                }
            }
        }
        let seen_changed = self.commit_seen(&name, &seen_uids);
        // what the storage cached while answering reaches its file now
        let _ = self.storage().command_done();
        // Dovecot: a fast sync, unless this FETCH set \Seen
        let kind = if seen_changed {
            SyncKind::Full
        } else {
            SyncKind::Fast
        };
        self.sync_selected(kind, uid);
        if failed {
            Outcome::Ok("[EXPUNGEISSUED] Some messages were already expunged.".into())
        } else {
            Outcome::Ok("Fetch completed.".into())
        }
    }

    /// Sets `\Seen` on the messages a FETCH read (`uids` ascending, already
    /// shown as seen). Returns whether any was set; if the change failed,
    /// the view forgets it, so the next sync shows the flags as they are.
    fn commit_seen(&mut self, mailbox: &str, uids: &[u32]) -> bool {
        if uids.is_empty() {
            return false;
        }
        let seen = MessageFlags {
            seen: true,
            ..MessageFlags::default()
        };
        if self
            .storage()
            .store(mailbox, uids, StoreMode::Add, seen, &[], None)
            .is_ok()
        {
            return true;
        }
        if let Some(sel) = self.selected.as_mut() {
            for m in sel.view.messages.iter_mut() {
                if uids.binary_search(&m.uid).is_ok() {
                    m.flags.seen = false;
                }
            }
        }
        false
    }

    fn store(
        &mut self,
        uid: bool,
        set: &SequenceSet,
        unchanged_since: Option<u64>,
        kind: StoreKind,
        silent: bool,
        flags: &[Flag],
    ) -> Outcome {
        let Some(targets) = self.resolve(set, uid) else {
            return Outcome::Bad("No mailbox selected.".into());
        };
        let name = self.selected_mailbox().unwrap_or_default().to_string();
        let uids: Vec<u32> = targets.iter().map(|(_, m)| m.uid).collect();
        let (fl, keywords) = split_flags(flags);
        let mode = match kind {
            StoreKind::Add => StoreMode::Add,
            StoreKind::Remove => StoreMode::Remove,
            StoreKind::Replace => StoreMode::Replace,
        };
        let modified =
            match self
                .storage()
                .store(&name, &uids, mode, fl, &keywords, unchanged_since)
            {
                Ok(m) => m,
                Err(e) => return no(e),
            };
        self.events
            .push_back(ImapEvent::MailboxChanged(name.clone()));
        // Dovecot syncs fully after STORE (with expunges only after UID
        // STORE): that one view answers for the stored messages too
        let claim_recent = !self.selected.as_ref().is_some_and(|s| s.read_only);
        let new = match self.sync_of_selected(&name, SyncKind::Full, claim_recent) {
            Ok(v) => v,
            Err(e) => return no(e),
        };
        let mut unchanged_since_failed = modified.clone();
        unchanged_since_failed.sort_unstable();
        let mut own: Vec<u32> = uids
            .iter()
            .copied()
            .filter(|u| unchanged_since_failed.binary_search(u).is_err())
            .collect();
        own.sort_unstable();
        // the stored messages are reported by the sync, with what else
        // changed, as Dovecot does (.SILENT: only their MODSEQ, and that
        // with CONDSTORE; the UID after UID STORE)
        let silent = silent && unchanged_since.is_none();
        let report = Report {
            own,
            silent,
            send_uid: uid && (!silent || self.condstore),
        };
        self.apply_view_sync(new, uid, &report);
        if modified.is_empty() {
            Outcome::Ok("Store completed.".into())
        } else {
            let seqs: Vec<u32> = if uid {
                modified
            } else {
                targets
                    .iter()
                    .filter(|(_, m)| unchanged_since_failed.binary_search(&m.uid).is_ok())
                    .map(|(s, _)| *s)
                    .collect()
            };
            Outcome::Ok(format!(
                "[MODIFIED {}] Conditional store failed.",
                compact_set(&seqs)
            ))
        }
    }

    fn copy(&mut self, uid: bool, set: &SequenceSet, dest: &Mailbox, remove: bool) -> Outcome {
        let Some(targets) = self.resolve(set, uid) else {
            return Outcome::Bad("No mailbox selected.".into());
        };
        let name = self.selected_mailbox().unwrap_or_default().to_string();
        let dest = wire_name(dest);
        let uids: Vec<u32> = targets.iter().map(|(_, m)| m.uid).collect();
        let copied = match self.storage().copy(&name, &dest, &uids, remove) {
            Ok(c) => c,
            Err(Error::NoSuchMailbox(n)) => {
                return Outcome::No(format!("[TRYCREATE] Mailbox doesn't exist: {n}"))
            }
            Err(e) => return no(e),
        };
        self.events
            .push_back(ImapEvent::MailboxChanged(dest.clone()));
        let code = if copied.source_uids.is_empty() {
            String::new()
        } else {
            format!(
                "[COPYUID {} {} {}] ",
                copied.uid_validity,
                ordered_set(&copied.source_uids),
                ordered_set(&copied.dest_uids)
            )
        };
        if remove {
            self.events.push_back(ImapEvent::MailboxChanged(name));
            self.out
                .extend_from_slice(format!("* OK {code}Moved UIDs.\r\n").as_bytes());
            self.sync_selected(SyncKind::Full, true);
            Outcome::Ok("Move completed.".into())
        } else {
            // Dovecot: a full sync after a copy into the selected mailbox,
            // a fast one after a copy elsewhere
            let kind = if dest == name {
                SyncKind::Full
            } else {
                SyncKind::Fast
            };
            self.sync_selected(kind, true);
            Outcome::Ok(format!("{code}Copy completed."))
        }
    }

    fn search(
        &mut self,
        tag: &Tag,
        uid: bool,
        return_options: Option<Vec<SearchReturnOption>>,
        criteria: &[columba_imap_proto::SearchKey],
    ) -> Outcome {
        let resolver = |set: &SequenceSet| {
            self.resolve(set, false)
                .map(|t| t.into_iter().map(|(_, m)| m.uid).collect::<Vec<u32>>())
        };
        let save = return_options
            .as_ref()
            .is_some_and(|o| o.contains(&SearchReturnOption::Save));
        let Some(key) = search::convert_all(criteria, &resolver) else {
            return Outcome::Bad("Error in IMAP command SEARCH: Invalid search key.".into());
        };
        let name = self.selected_mailbox().unwrap_or_default().to_string();
        let now = self.now;
        let found = self.storage().search(&name, &key, now);
        let _ = self.storage().command_done();
        let uids = match found {
            Ok(u) => u,
            Err(e) => {
                // RFC 5182: a failed SEARCH (SAVE) leaves `$` empty
                if let (true, Some(sel)) = (save, self.selected.as_mut()) {
                    sel.saved.clear();
                }
                return no(e);
            }
        };
        if let (true, Some(sel)) = (save, self.selected.as_mut()) {
            let opts = return_options.as_deref().unwrap_or_default();
            let has = |o: SearchReturnOption| opts.contains(&o);
            let (min, max) = (has(SearchReturnOption::Min), has(SearchReturnOption::Max));
            // with MIN and/or MAX but neither ALL nor COUNT only those are
            // kept (RFC 5182 2.1)
            sel.saved =
                if (min || max) && !has(SearchReturnOption::All) && !has(SearchReturnOption::Count)
                {
                    let mut kept = HashSet::new();
                    if let (true, Some(&u)) = (min, uids.iter().min()) {
                        kept.insert(u);
                    }
                    if let (true, Some(&u)) = (max, uids.iter().max()) {
                        kept.insert(u);
                    }
                    kept
                } else {
                    uids.iter().copied().collect()
                };
        }
        let numbers: Vec<u32> = if uid {
            uids
        } else {
            // both ascend by UID: one walk
            let mut wanted = uids;
            wanted.sort_unstable();
            let msgs = self.selected.as_ref().map_or(&[][..], |s| &s.view.messages);
            msgs.iter()
                .enumerate()
                .filter(|(_, m)| wanted.binary_search(&m.uid).is_ok())
                .map(|(i, _)| i as u32 + 1)
                .collect()
        };
        // RFC 9051: IMAP4rev2 answers every SEARCH with ESEARCH
        let return_options = match return_options {
            None if self.rev2 => Some(Vec::new()),
            other => other,
        };
        match return_options {
            None => {
                let mut line = String::from("* SEARCH");
                for n in &numbers {
                    line.push_str(&format!(" {n}"));
                }
                line.push_str("\r\n");
                self.out.extend_from_slice(line.as_bytes());
            }
            // SAVE alone: the result is only kept (RFC 5182 2.1)
            Some(opts) if opts == [SearchReturnOption::Save] => {}
            Some(mut opts) => {
                if opts.is_empty() {
                    opts.push(SearchReturnOption::All);
                }
                let mut line = format!("* ESEARCH (TAG \"{tag}\")");
                if uid {
                    line.push_str(" UID");
                }
                if !numbers.is_empty() {
                    for o in &opts {
                        match o {
                            SearchReturnOption::Min => line
                                .push_str(&format!(" MIN {}", numbers.iter().min().unwrap_or(&0))),
                            SearchReturnOption::Max => line
                                .push_str(&format!(" MAX {}", numbers.iter().max().unwrap_or(&0))),
                            SearchReturnOption::All => {
                                line.push_str(&format!(" ALL {}", compact_set(&numbers)))
                            }
                            SearchReturnOption::Count | SearchReturnOption::Save => {}
                        }
                    }
                }
                if opts.contains(&SearchReturnOption::Count) {
                    line.push_str(&format!(" COUNT {}", numbers.len()));
                }
                line.push_str("\r\n");
                self.out.extend_from_slice(line.as_bytes());
            }
        }
        self.sync_selected(SyncKind::Fast, uid);
        Outcome::Ok("Search completed.".into())
    }

    /// Syncs the selected mailbox as `kind` says and sends what changed.
    /// Without `allow_expunge` (FETCH, STORE, SEARCH by sequence number)
    /// nothing is sent while messages vanished: the next allowed sync
    /// reports them.
    fn sync_selected(&mut self, kind: SyncKind, allow_expunge: bool) {
        let Some(sel) = self.selected.as_ref() else {
            return;
        };
        let (name, read_only) = (sel.name.clone(), sel.read_only);
        if self.storage.is_none() {
            return;
        }
        if let Ok(new) = self.sync_of_selected(&name, kind, !read_only) {
            self.apply_view_sync(new, allow_expunge, &Report::default());
        }
    }

    /// The storage's sync of the selected mailbox `name`: as the changes
    /// since the view the session holds, unless the session holds back
    /// expunges (its view then differs from the storage's last one).
    fn sync_of_selected(
        &mut self,
        name: &str,
        kind: SyncKind,
        claim_recent: bool,
    ) -> Result<Option<ViewSync>, Error> {
        let held_back = self
            .selected
            .as_ref()
            .is_some_and(|s| !s.deferred.is_empty());
        let storage = self.storage();
        if held_back {
            Ok(storage
                .sync_view(name, kind, claim_recent)?
                .map(ViewSync::Full))
        } else {
            storage.sync_changes(name, kind, claim_recent)
        }
    }

    /// Applies what [`ImapSession::sync_of_selected`] found.
    fn apply_view_sync(&mut self, sync: Option<ViewSync>, allow_expunge: bool, report: &Report) {
        match sync {
            // nothing logged: only this command's messages to report
            None if !allow_expunge
                || self
                    .selected
                    .as_ref()
                    .is_some_and(|s| s.deferred.is_empty()) =>
            {
                let Some(v) = self.selected.as_ref().map(|s| &s.view) else {
                    return;
                };
                let counters = (v.uid_next, v.uid_validity, v.highest_modseq);
                self.apply_changes(Vec::new(), Vec::new(), counters, report)
            }
            None => self.apply_sync(None, allow_expunge, report),
            Some(ViewSync::Full(view)) => self.apply_sync(Some(view), allow_expunge, report),
            Some(ViewSync::Changed {
                changed,
                appended,
                uid_next,
                uid_validity,
                highest_modseq,
            }) => {
                let counters = (uid_next, uid_validity, highest_modseq);
                self.apply_changes(changed, appended, counters, report)
            }
        }
    }

    /// [`ImapSession::apply_view`] for a sync that found the same messages,
    /// some of them changed, and maybe new ones after them: only those
    /// (and the ones this command stored) are looked at, and the lines
    /// sent are the ones the whole view would give.
    fn apply_changes(
        &mut self,
        changed: Vec<MessageMeta>,
        appended: Vec<MessageMeta>,
        (uid_next, uid_validity, highest_modseq): (u32, u32, u64),
        report: &Report,
    ) {
        let (rev2, qresync, condstore) = (self.rev2, self.qresync, self.condstore);
        let send_uid = report.send_uid || qresync;
        let Some(sel) = self.selected.as_mut() else {
            return;
        };
        let mut differs: Vec<usize> = Vec::new();
        let mut new_keyword = false;
        // \Recent gained minus \Recent lost
        let mut recent_moved = 0i64;
        for mut n in changed {
            let Ok(i) = sel.view.messages.binary_search_by_key(&n.uid, |m| m.uid) else {
                continue;
            };
            new_keyword |= sel.take_in(&mut n, rev2);
            let o = &sel.view.messages[i];
            recent_moved += i64::from(n.flags.recent) - i64::from(o.flags.recent);
            if o.flags != n.flags || o.keywords != n.keywords {
                differs.push(i);
            }
            sel.view.messages[i] = n;
        }
        // new messages, after the others
        let grew = !appended.is_empty();
        if grew {
            let mut all = std::mem::take(&mut sel.view.messages).into_vec();
            for mut n in appended {
                new_keyword |= sel.take_in(&mut n, rev2);
                recent_moved += i64::from(n.flags.recent);
                all.push(n);
            }
            sel.view.messages = all.into();
        }
        let msgs = &sel.view.messages;
        // every message to report, in sequence order, as the walk over
        // both views in apply_view finds them
        let mut report_at: Vec<usize> = report
            .own
            .iter()
            .filter_map(|uid| msgs.binary_search_by_key(uid, |m| m.uid).ok())
            .chain(differs)
            .collect();
        report_at.sort_unstable();
        report_at.dedup();
        let mut out = String::new();
        if new_keyword {
            out.push_str(&flags_lines(&sel.keywords, sel.read_only));
        }
        for i in report_at {
            let own = report.own.binary_search(&msgs[i].uid).is_ok();
            let modseq_only = if own {
                if !report.silent {
                    false
                } else if condstore {
                    true
                } else {
                    continue;
                }
            } else {
                false
            };
            let seq = i as u32 + 1;
            flags_fetch_line(&mut out, seq, &msgs[i], send_uid, condstore, modseq_only);
        }
        if grew {
            out.push_str(&format!("* {} EXISTS\r\n", msgs.len()));
        }
        if recent_moved != 0 {
            let recent = msgs.iter().filter(|m| m.flags.recent).count();
            out.push_str(&format!("* {recent} RECENT\r\n"));
        }
        sel.view.uid_next = uid_next;
        sel.view.uid_validity = uid_validity;
        sel.view.highest_modseq = highest_modseq;
        self.out.extend_from_slice(out.as_bytes());
    }

    /// Applies what a sync found: a new view, or none when nothing changed.
    fn apply_sync(&mut self, new: Option<MailboxView>, allow_expunge: bool, report: &Report) {
        match new {
            Some(new) => self.apply_view(new, allow_expunge, report),
            None => {
                // nothing new in the mailbox; expunges held back by an
                // earlier sync may be sent now, and a STORE reports its
                // messages
                let Some(sel) = self.selected.as_ref() else {
                    return;
                };
                let expunges = allow_expunge && !sel.deferred.is_empty();
                if expunges || !report.own.is_empty() {
                    let mut view = sel.view.clone();
                    if allow_expunge {
                        view.messages
                            .retain(|m| sel.deferred.binary_search(&m.uid).is_err());
                    }
                    self.apply_view(view, allow_expunge, report);
                }
            }
        }
    }

    /// Makes `new` the selected view and sends what changed as Dovecot
    /// sends it: new keywords, then the flag changes (numbered as the
    /// client knows the messages), then the expunges, then EXISTS and
    /// RECENT. One walk over both views (UIDs ascend in each).
    fn apply_view(&mut self, mut new: MailboxView, allow_expunge: bool, report: &Report) {
        let (rev2, qresync, condstore) = (self.rev2, self.qresync, self.condstore);
        let send_uid = report.send_uid || qresync;
        let Some(sel) = self.selected.as_mut() else {
            return;
        };
        let mut new_keyword = false;
        for m in new.messages.iter_mut() {
            new_keyword |= sel.take_in(m, rev2);
        }
        let old = std::mem::take(&mut sel.view.messages);
        let old_max = old.last().map_or(0, |m| m.uid);
        let old_recent = old.iter().filter(|m| m.flags.recent).count();
        // (sequence number, UID) of the old view's messages that are gone
        let mut expunged: Vec<(u32, u32)> = Vec::new();
        // (sequence number as the client knows it, position in `merged`,
        // only the MODSEQ) of the messages to report
        let mut changed: Vec<(u32, usize, bool)> = Vec::new();
        let mut grew = false;
        let mut merged: Vec<MessageMeta> = Vec::with_capacity(new.messages.len().max(old.len()));
        let mut olds = old.into_iter().enumerate().peekable();
        let mut news = new.messages.into_iter().peekable();
        loop {
            let step = match (olds.peek(), news.peek()) {
                (None, None) => break,
                (Some((_, o)), Some(n)) => o.uid.cmp(&n.uid),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
            };
            match step {
                std::cmp::Ordering::Equal => {
                    if let (Some((i, o)), Some(n)) = (olds.next(), news.next()) {
                        let seq = i as u32 + 1;
                        if report.own.binary_search(&n.uid).is_ok() {
                            if !report.silent {
                                changed.push((seq, merged.len(), false));
                            } else if condstore {
                                changed.push((seq, merged.len(), true));
                            }
                        } else if o.flags != n.flags || o.keywords != n.keywords {
                            changed.push((seq, merged.len(), false));
                        }
                        merged.push(n);
                    }
                }
                std::cmp::Ordering::Less => {
                    if let Some((i, o)) = olds.next() {
                        expunged.push((i as u32 + 1, o.uid));
                        if !allow_expunge {
                            // RFC 9051 7.5.1: the vanished message keeps its
                            // sequence number (and last known flags) until a
                            // command that may send EXPUNGE
                            merged.push(o);
                        }
                    }
                }
                std::cmp::Ordering::Greater => {
                    if let Some(n) = news.next() {
                        grew |= n.uid > old_max;
                        merged.push(n);
                    }
                }
            }
        }
        if allow_expunge {
            sel.deferred.clear();
        } else {
            for &(_, uid) in &expunged {
                if let Err(at) = sel.deferred.binary_search(&uid) {
                    sel.deferred.insert(at, uid);
                }
            }
            expunged.clear();
        }
        let mut out = String::new();
        if new_keyword {
            out.push_str(&flags_lines(&sel.keywords, sel.read_only));
        }
        for &(seq, i, modseq_only) in &changed {
            flags_fetch_line(&mut out, seq, &merged[i], send_uid, condstore, modseq_only);
        }
        if qresync && !expunged.is_empty() {
            // RFC 7162 3.2.10: after ENABLE QRESYNC, VANISHED replaces EXPUNGE
            let uids: Vec<u32> = expunged.iter().map(|&(_, uid)| uid).collect();
            out.push_str(&format!("* VANISHED {}\r\n", compact_set(&uids)));
        } else {
            for (seq, _) in expunged.iter().rev() {
                out.push_str(&format!("* {seq} EXPUNGE\r\n"));
            }
        }
        let recent = merged.iter().filter(|m| m.flags.recent).count();
        if grew {
            out.push_str(&format!("* {} EXISTS\r\n", merged.len()));
        }
        if recent != old_recent {
            out.push_str(&format!("* {recent} RECENT\r\n"));
        }
        new.messages = merged.into();
        sel.view = new;
        self.out.extend_from_slice(out.as_bytes());
    }
}

/// What a sync reports besides the changes it finds.
#[derive(Default)]
struct Report {
    /// UIDs this command stored flags of (ascending): reported even when
    /// their flags look unchanged.
    own: Vec<u32>,
    /// The STORE was `.SILENT`: its messages get only their MODSEQ, and
    /// that only with CONDSTORE.
    silent: bool,
    /// FETCH lines carry the UID (Dovecot: after UID STORE unless silent
    /// without CONDSTORE; always with QRESYNC).
    send_uid: bool,
}

/// Whether `set` names `*` (Dovecot refuses it in QRESYNC's known-uids).
fn has_star(set: &SequenceSet) -> bool {
    use columba_imap_proto::SeqNumber::Largest;
    match set {
        SequenceSet::Ranges(ranges) => ranges
            .iter()
            .any(|r| r.start == Largest || r.end == Some(Largest)),
        _ => false,
    }
}

/// A set as the client wrote it: its ranges in the client's order (for
/// QRESYNC's sequence match data), `*` as `largest`.
fn client_ranges(set: &SequenceSet, largest: u32) -> Vec<(u32, u32)> {
    let SequenceSet::Ranges(ranges) = set else {
        return Vec::new();
    };
    let value = |x: columba_imap_proto::SeqNumber| match x {
        columba_imap_proto::SeqNumber::Value(v) => v,
        columba_imap_proto::SeqNumber::Largest => largest,
    };
    ranges
        .iter()
        .map(|r| {
            let a = value(r.start);
            (a, r.end.map_or(a, value))
        })
        .collect()
}

/// The storage's QRESYNC answer as lines: `VANISHED (EARLIER)`, then the
/// changed messages' `FETCH (UID FLAGS MODSEQ)` in sequence order.
fn resync_answer(view: &MailboxView, r: &Resync) -> String {
    let mut out = String::new();
    if !r.vanished.is_empty() {
        let parts: Vec<String> = r
            .vanished
            .iter()
            .map(|&(a, b)| {
                if a == b {
                    a.to_string()
                } else {
                    format!("{a}:{b}")
                }
            })
            .collect();
        out.push_str(&format!("* VANISHED (EARLIER) {}\r\n", parts.join(",")));
    }
    let changed: HashSet<u32> = r.changed.iter().copied().collect();
    for (i, m) in view.messages.iter().enumerate() {
        if changed.contains(&m.uid) {
            out.push_str(&format!(
                "* {} FETCH (UID {} FLAGS {} MODSEQ ({}))\r\n",
                i + 1,
                m.uid,
                format::flags_list(m),
                m.modseq
            ));
        }
    }
    out
}

/// SELECT (QRESYNC ...) without an expunge history from the storage:
/// `VANISHED (EARLIER)` for the client's known UIDs
/// (all below UIDNEXT when it sent none) that are gone, then the flags of
/// every message changed after `modseq`. Without an expunge history the
/// VANISHED set may name UIDs the client never saw, which RFC 7162 3.2.5.1
/// allows.
fn resync_lines(view: &MailboxView, modseq: u64, known: Option<&SequenceSet>) -> String {
    let mut out = String::new();
    let largest = view.uid_next.saturating_sub(1);
    // the gaps between present UIDs, as ranges (never one entry per UID:
    // UIDNEXT may be in the millions)
    let mut uids: Vec<u32> = view.messages.iter().map(|m| m.uid).collect();
    uids.sort_unstable();
    let mut gaps = Vec::new();
    let mut next = 1u32;
    for u in uids
        .iter()
        .copied()
        .chain(std::iter::once(largest.saturating_add(1)))
    {
        if u > next {
            gaps.push((next, u - 1));
        }
        next = next.max(u.saturating_add(1));
    }
    let wanted = match known {
        Some(k) => format::set_ranges(k, largest),
        None => vec![(1, largest)],
    };
    let mut parts = Vec::new();
    for &(ga, gb) in &gaps {
        for &(ka, kb) in &wanted {
            let (a, b) = (ga.max(ka), gb.min(kb));
            if a <= b {
                parts.push(if a == b {
                    a.to_string()
                } else {
                    format!("{a}:{b}")
                });
            }
        }
    }
    if !parts.is_empty() {
        out.push_str(&format!("* VANISHED (EARLIER) {}\r\n", parts.join(",")));
    }
    for (i, m) in view.messages.iter().enumerate() {
        if m.modseq > modseq {
            out.push_str(&format!(
                "* {} FETCH (UID {} FLAGS {} MODSEQ ({}))\r\n",
                i + 1,
                m.uid,
                format::flags_list(m),
                m.modseq
            ));
        }
    }
    out
}

/// ID parameters as a handoff can carry them: the first
/// [`MAX_ID_PARAMS`](crate::handoff::MAX_ID_PARAMS), each cut to its limit
/// and stripped of control characters.
fn id_params(params: columba_imap_proto::IdParams) -> Vec<(String, Option<String>)> {
    use crate::handoff::{MAX_ID_KEY, MAX_ID_PARAMS, MAX_ID_VALUE};
    let clean = |b: &[u8], max: usize| {
        let mut s: String = String::from_utf8_lossy(b)
            .chars()
            .filter(|c| !c.is_control())
            .collect();
        while s.len() > max {
            s.pop();
        }
        s
    };
    params
        .into_iter()
        .take(MAX_ID_PARAMS)
        .map(|(k, v)| (clean(&k, MAX_ID_KEY), v.map(|v| clean(&v, MAX_ID_VALUE))))
        .collect()
}

/// `* FLAGS` and `* OK [PERMANENTFLAGS]` with the mailbox's keywords.
fn flags_lines(keywords: &[String], read_only: bool) -> String {
    let kw = keywords.iter().map(|k| format!(" {k}")).collect::<String>();
    let permanent = if read_only {
        String::new()
    } else {
        format!("\\Answered \\Flagged \\Deleted \\Seen \\Draft{kw} \\*")
    };
    // Dovecot's words for a mailbox opened read-only
    let text = if read_only {
        "Read-only mailbox."
    } else {
        "Flags permitted."
    };
    format!(
        "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft{kw})\r\n\
         * OK [PERMANENTFLAGS ({permanent})] {text}\r\n"
    )
}

fn no(e: Error) -> Outcome {
    match e {
        Error::NoSuchMailbox(n) => Outcome::No(format!("[NONEXISTENT] Mailbox doesn't exist: {n}")),
        Error::MailboxExists(_) => Outcome::No("[ALREADYEXISTS] Mailbox already exists".into()),
        Error::Refused(t) => Outcome::No(t),
        other => Outcome::No(format!("[SERVERBUG] Internal error occurred: {other}")),
    }
}

/// A mailbox name from the wire in UTF-8 (`INBOX` in any case is `INBOX`).
fn wire_name(m: &Mailbox) -> String {
    match m {
        Mailbox::Inbox => "INBOX".into(),
        other => other
            .to_utf8()
            .unwrap_or_else(|_| String::from_utf8_lossy(other.as_wire()).into_owned()),
    }
}

fn split_flags(flags: &[Flag]) -> (MessageFlags, Vec<String>) {
    let mut f = MessageFlags::default();
    let mut keywords = Vec::new();
    for flag in flags {
        match flag {
            Flag::Answered => f.answered = true,
            Flag::Flagged => f.flagged = true,
            Flag::Deleted => f.deleted = true,
            Flag::Seen => f.seen = true,
            Flag::Draft => f.draft = true,
            Flag::Keyword(a) => keywords.push(a.as_str().to_string()),
            Flag::Recent | Flag::Wildcard | Flag::Extension(_) => {}
        }
    }
    (f, keywords)
}

fn unix_time(d: columba_imap_proto::DateTime) -> i64 {
    let days = columba_mail_store::search::date::days_from_civil(
        d.date.year as i64,
        d.date.month as u32,
        d.date.day as u32,
    );
    days * 86_400 + d.hour as i64 * 3600 + d.minute as i64 * 60 + d.second as i64
        - d.zone_minutes as i64 * 60
}

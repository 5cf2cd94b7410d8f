//! The post-login roles, `imap` and `pop3`: one process per authenticated
//! client, as Dovecot's `imap`/`pop3` processes.
//!
//! The master passes the login process's [`Handoff`] with the client's
//! socket. The process then, in this order:
//!
//! 1. finishes the login on the auth-master socket (`REQUEST` with the
//!    login's pid, request id and cookie), which yields the userdb fields;
//!    a wrong or reused cookie is refused; then tells the master `READY`
//!    (the login process may let its auth connection go);
//! 2. builds the user's environment ([`UserEnv`]);
//! 3. checks `mail_max_userip_connections` with the anvil role (ident
//!    `<service>/<ip>/<user>`) and registers itself for its lifetime;
//! 4. drops to the user (uid/gid, groups, chroot, no_new_privs);
//! 5. only then opens the mailbox, creating it on first login;
//! 6. resumes the session from the handoff and serves it; IDLE learns of
//!    other processes' changes through the store's watcher (inotify on the
//!    mailbox, polling as fallback).

pub mod counting;
pub mod imap;
pub mod pop3;
mod watch;

use std::net::IpAddr;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::Path;

use columba_auth_sasl::db::Fields;
use columba_auth_sasl::protocol::master_client::{LoginRequestReply, UnixMasterClient};
use columba_mail_store::list::SpecialUse;
use columba_session::{MailStorage, MaildirStorage};

use super::anvil::AnvilClient;
use super::config::Config;
use super::control::{Control, Handoff, Service};
use super::error::ServeError;
use super::log;
use super::role::RoleContext;
use super::user::{CurrentIds, UserEnv};

/// Dovecot's reply text when something on the server side failed.
const INTERNAL_ERROR: &str = "Internal error occurred. Refer to server log for more information.";

/// An authenticated client whose process now runs as the user.
pub struct LoggedIn {
    /// What the login process handed over.
    pub handoff: Handoff,
    /// The client (its own socket, or the plain end of the login
    /// process's TLS proxy).
    pub client: UnixStream,
    /// The user's mailboxes.
    pub storage: MaildirStorage,
    /// The log prefix: `imap(user)<pid><session>`.
    pub prefix: String,
    /// The registration with anvil; dropping it unregisters.
    pub anvil: Option<AnvilSession>,
    /// The mailbox that is Trash (`special_use = \Trash`), if configured.
    pub trash: Option<String>,
    /// The Maildir++ root as this process sees it (inside its chroot).
    pub mail_root: std::path::PathBuf,
}

/// This process counted by anvil as one of the user's connections from
/// one address; unregistered when dropped (and by anvil itself when the
/// process dies, since its connection closes).
pub struct AnvilSession {
    client: AnvilClient,
    ident: String,
}

impl Drop for AnvilSession {
    fn drop(&mut self) {
        let _ = self
            .client
            .disconnect_session(std::process::id(), &self.ident);
    }
}

/// Why a login could not be finished, and what the client is told.
pub enum Refusal {
    /// `mail_max_userip_connections` reached: Dovecot's words.
    TooManyConnections(u32),
    /// Anything else: logged, the client gets Dovecot's internal-error text.
    Internal(String),
}

/// Waits for the master's handoff and finishes the login as described in
/// the module documentation. `Ok(None)`: the master asked this process to
/// stop (or went away) before a client came. On a refusal, the client has
/// been answered (via `refuse`) and the reason logged.
pub fn accept(
    ctx: &mut RoleContext,
    service: Service,
    refuse: impl FnOnce(&mut UnixStream, &Handoff, &Refusal),
) -> Result<Option<LoggedIn>, ServeError> {
    let Some((message, frame)) = Control::recv(&mut ctx.control)? else {
        return Ok(None);
    };
    let handoff = match message {
        Control::Handoff(h) => h,
        Control::Shutdown => return Ok(None),
        other => {
            return Err(ServeError::Control(format!(
                "the {} role expects a handoff, not {other:?}",
                service.name()
            )))
        }
    };
    let fd: OwnedFd = frame
        .fds
        .into_iter()
        .next()
        .ok_or_else(|| ServeError::Control("a handoff without the client's socket".into()))?;
    if handoff.connection.service != service {
        return Err(ServeError::Control(format!(
            "a {} handoff sent to the {} role",
            handoff.connection.service.name(),
            service.name()
        )));
    }
    let mut client = UnixStream::from(fd);
    let prefix = format!(
        "{}({})<{}><{}>",
        service.name(),
        handoff.user,
        std::process::id(),
        handoff.connection.session_id
    );
    match finish_login(ctx, service, &handoff, &prefix) {
        Ok((env, anvil)) => {
            let config = &ctx.config;
            let dropped = match env.drop_privileges(config) {
                Ok(d) => d,
                Err(e) => {
                    let refusal = Refusal::Internal(e.to_string());
                    log::error(&prefix, &e.to_string());
                    refuse(&mut client, &handoff, &refusal);
                    return Err(e);
                }
            };
            let storage = match open_storage(&dropped.mail_root, config) {
                Ok(s) => s,
                Err(e) => {
                    log::error(&prefix, &e.to_string());
                    refuse(&mut client, &handoff, &Refusal::Internal(e.to_string()));
                    return Err(e);
                }
            };
            Ok(Some(LoggedIn {
                handoff,
                client,
                storage,
                prefix,
                anvil,
                trash: special_use_mailbox(config, "\\Trash"),
                mail_root: dropped.mail_root,
            }))
        }
        Err(refusal) => {
            match &refusal {
                Refusal::TooManyConnections(limit) => log::info(
                    &format!("{}-login", service.name()),
                    &format!(
                        "Disconnected: Maximum number of connections from user+IP exceeded \
                         (mail_max_userip_connections={limit}): user=<{}>, method={}, rip={}, \
                         lip={}, {}session=<{}>",
                        handoff.user,
                        login_method(service, &handoff.session_state),
                        handoff.connection.remote.ip(),
                        handoff.connection.local.ip(),
                        security(&handoff),
                        handoff.connection.session_id
                    ),
                ),
                Refusal::Internal(reason) => log::error(&prefix, reason),
            }
            refuse(&mut client, &handoff, &refusal);
            Ok(None)
        }
    }
}

/// The login's SASL mechanism (or `LOGIN`/`USER`), from the session state.
fn login_method(service: Service, state: &[u8]) -> String {
    let method = match service {
        Service::Imap => columba_session::ImapHandoff::decode(state).map(|h| h.method),
        _ => columba_session::Pop3Handoff::decode(state).map(|h| h.method),
    };
    method.unwrap_or_else(|_| "unknown".into())
}

/// What Dovecot's login lines say of the connection's protection:
/// `TLS, `, or `secured, ` for a trusted (here: loopback) peer.
fn security(handoff: &Handoff) -> &'static str {
    if handoff.tls {
        "TLS, "
    } else if handoff.connection.remote.ip().is_loopback() {
        "secured, "
    } else {
        ""
    }
}

/// Steps 1 to 3: the auth-master `REQUEST`, the environment, anvil.
/// Once the `REQUEST` is answered the master hears `READY`: the login
/// process may then close its auth connection (the auth server forgets a
/// login's cookie with it).
fn finish_login(
    ctx: &mut RoleContext,
    service: Service,
    handoff: &Handoff,
    prefix: &str,
) -> Result<(UserEnv, Option<AnvilSession>), Refusal> {
    let (user, fields) = request_userdb(&ctx.config, handoff)
        .map_err(|e| Refusal::Internal(format!("Login request failed: {e}")))?;
    if let Err(e) = Control::Ready.send(&mut ctx.control, None) {
        log::warning(prefix, &format!("could not tell the master: {e}"));
    }
    let config = &ctx.config;
    if user != handoff.user {
        return Err(Refusal::Internal(format!(
            "auth-master named user {user:?} for a login of {:?}",
            handoff.user
        )));
    }
    let current = CurrentIds::of_this_process().map_err(|e| Refusal::Internal(e.to_string()))?;
    let env = UserEnv::resolve(&user, &fields, config, current)
        .map_err(|e| Refusal::Internal(e.to_string()))?;
    let anvil = userip_check(
        config,
        service,
        handoff.connection.remote.ip(),
        &user,
        prefix,
    )?;
    Ok((env, anvil))
}

/// The auth-master `REQUEST`: the userdb fields of the handed-over login.
fn request_userdb(config: &Config, handoff: &Handoff) -> Result<(String, Fields), ServeError> {
    let path = config.socket("auth-master");
    let mut master =
        UnixMasterClient::connect(&path).map_err(|e| ServeError::Auth(e.to_string()))?;
    let reply = master
        .request(
            handoff.login_pid,
            handoff.auth_id,
            &handoff.cookie,
            Some(std::process::id()),
        )
        .map_err(|e| ServeError::Auth(e.to_string()))?;
    match reply {
        LoginRequestReply::User { user, fields } => Ok((user, fields)),
        LoginRequestReply::NotFound => Err(ServeError::Auth(
            "Authenticated user not found from userdb".into(),
        )),
        LoginRequestReply::Failed { reason } => Err(ServeError::Auth(format!(
            "auth-master refused the login ({})",
            reason
                .as_deref()
                .unwrap_or("no such login, or its cookie was used")
        ))),
    }
}

/// `mail_max_userip_connections`: looks the user+IP up in anvil and
/// registers this process. Without an anvil role (its socket missing) the
/// limit cannot be counted: logged once, and the login goes on, as
/// Dovecot does when anvil is unreachable.
fn userip_check(
    config: &Config,
    service: Service,
    ip: IpAddr,
    user: &str,
    prefix: &str,
) -> Result<Option<AnvilSession>, Refusal> {
    let limit = config.mail_max_userip_connections;
    let ident = format!("{}/{ip}/{user}", service.name());
    let mut client = match AnvilClient::connect(&config.socket("anvil")) {
        Ok(c) => c,
        Err(e) => {
            log::warning(
                prefix,
                &format!("anvil unreachable, mail_max_userip_connections not counted: {e}"),
            );
            return Ok(None);
        }
    };
    if limit > 0 {
        match client.lookup(&ident) {
            Ok(n) if n >= limit => return Err(Refusal::TooManyConnections(limit)),
            Ok(_) => {}
            Err(e) => log::warning(prefix, &format!("anvil lookup failed: {e}")),
        }
    }
    match client.connect_session(std::process::id(), &ident) {
        Ok(()) => Ok(Some(AnvilSession { client, ident })),
        Err(e) => {
            log::warning(prefix, &format!("anvil CONNECT failed: {e}"));
            Ok(None)
        }
    }
}

/// Opens the user's Maildir++ root, creating it (and the home above it)
/// on first login, as the user; marks special-use mailboxes and creates
/// those with `auto = create|subscribe`.
pub fn open_storage(root: &Path, config: &Config) -> Result<MaildirStorage, ServeError> {
    let mut storage = MaildirStorage::open(root)
        .map_err(|e| ServeError::Storage(format!("{}: {e}", root.display())))?;
    for (name, mailbox) in &config.mailbox {
        if let Some(usage) = special_use(&mailbox.special_use) {
            storage = storage.with_special_use(name, usage);
        }
        if matches!(mailbox.auto.as_str(), "create" | "subscribe") {
            let exists = storage
                .list("", name, false)
                .map(|l| !l.is_empty())
                .unwrap_or(false);
            if !exists {
                let _ = storage.create(name);
            }
            if mailbox.auto == "subscribe" {
                let _ = storage.subscribe(name, true);
            }
        }
    }
    Ok(storage)
}

fn special_use(text: &str) -> Option<SpecialUse> {
    Some(match text {
        "\\Sent" => SpecialUse::Sent,
        "\\Drafts" => SpecialUse::Drafts,
        "\\Trash" => SpecialUse::Trash,
        "\\Junk" => SpecialUse::Junk,
        "\\Archive" => SpecialUse::Archive,
        "\\All" => SpecialUse::All,
        _ => return None,
    })
}

fn special_use_mailbox(config: &Config, usage: &str) -> Option<String> {
    config
        .mailbox
        .iter()
        .find(|(_, m)| m.special_use == usage)
        .map(|(name, _)| name.clone())
}

/// The text clients get for a refusal, without protocol framing.
pub fn refusal_text(refusal: &Refusal) -> String {
    match refusal {
        Refusal::TooManyConnections(limit) => format!(
            "Maximum number of connections from user+IP exceeded \
             (mail_max_userip_connections={limit})"
        ),
        Refusal::Internal(_) => INTERNAL_ERROR.to_string(),
    }
}

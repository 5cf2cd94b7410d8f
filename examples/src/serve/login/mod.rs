//! The login roles, `imap-login` and `pop3-login`: one process per client
//! connection (Dovecot's high-security mode). Before it sees a client, the
//! process reads the TLS certificate and key, connects to the auth
//! process's `auth-client` socket and makes the socket pair a TLS proxy
//! would use; then it drops every privilege (`LoginProcessRecipe`: the
//! login user, an empty chroot, no_new_privs, seccomp, rlimits, no other
//! descriptors) and only then takes the client from the master. It runs
//! the pre-auth session (TLS, capabilities, SASL relayed to the auth
//! process), logs the outcome in Dovecot's words, and hands an
//! authenticated client back to the master for the post-login process:
//! the client's own socket, or under TLS one end of the socket pair while
//! it stays as the TLS proxy.

pub mod auth_relay;
pub mod client;
pub mod log_lines;
pub mod policy;
pub mod pre_auth;
pub mod proxy;

use std::net::TcpStream;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;

use columba_privsep::{FdChannel, FrameLimits, LoginProcessRecipe, Rlimits, SeccompAction};
use columba_session::{Credentials, LoginFailure};
use rustls::ServerConfig;

use crate::serve::config::Config;
use crate::serve::control::{ConnectionInfo, Control, Handoff, Service, MAX_SESSION_STATE};
use crate::serve::error::ServeError;
use crate::serve::master::login_chroot;
use crate::serve::role::{Role, RoleContext};
use crate::serve::stats::StatsClient;
use crate::serve::tls;

use auth_relay::{AuthRelay, AuthStep};
use client::Client;
use log_lines::LoginLog;
use policy::LoginPolicy;
use pre_auth::{Offer, PreAuth, PreAuthEvent};

/// Runs a login role process.
pub fn run(ctx: RoleContext) -> Result<(), ServeError> {
    let RoleContext {
        role,
        config,
        control,
        ..
    } = ctx;
    let prefix = role.name();
    let service = match role {
        Role::ImapLogin => Service::Imap,
        Role::Pop3Login => Service::Pop3,
        other => {
            return Err(ServeError::Control(format!(
                "{} is not a login role",
                other.name()
            )))
        }
    };
    let mut control =
        control.with_limits(FrameLimits::new((2 * MAX_SESSION_STATE + 8192) as u32, 1));
    // Everything that needs files or new sockets happens now, before the drop.
    let tls = tls::server_config(&config)?;
    let auth = AuthRelay::connect(&config.socket("auth-client"))?;
    // Counting is best-effort: the stats connection's descriptor is the
    // socket that appeared, and the drop must keep it open.
    let before = open_sockets();
    let stats = StatsClient::connect(&config);
    let stats_fds: Vec<i32> = open_sockets()
        .into_iter()
        .filter(|s| !before.contains(s))
        .map(|(fd, _)| fd)
        .collect();
    let (proxy_end, post_login_end) =
        UnixStream::pair().map_err(|e| ServeError::io("socketpair", e))?;
    let mut keep = vec![
        0,
        1,
        2,
        control.stream().as_raw_fd(),
        auth.stream().as_raw_fd(),
        proxy_end.as_raw_fd(),
        post_login_end.as_raw_fd(),
    ];
    keep.extend(stats_fds);
    drop_privileges(&config, role, &keep)?;

    // Only now the client.
    let (info, fd) = match Control::recv(&mut control)? {
        Some((Control::Connection(info), frame)) if info.service == service => {
            match frame.fds.into_iter().next() {
                Some(fd) => (info, fd),
                None => return Err(ServeError::Control("CONNECTION without a socket".into())),
            }
        }
        Some((Control::Shutdown, _)) | None => return Ok(()),
        Some((other, _)) => {
            return Err(ServeError::Control(format!(
                "expected CONNECTION for {}, got {other:?}",
                service.name()
            )))
        }
    };
    let mut login = Login {
        prefix,
        stats,
        service,
        config,
        tls,
        auth,
        control,
        info,
        proxy_end,
        post_login_end,
    };
    login.count("connections");
    login.serve(fd)
}

/// The sockets open in this process: descriptor and `socket:[inode]`.
fn open_sockets() -> Vec<(i32, std::path::PathBuf)> {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return Vec::new();
    };
    dir.filter_map(|entry| {
        let entry = entry.ok()?;
        let fd: i32 = entry.file_name().to_str()?.parse().ok()?;
        let target = std::fs::read_link(entry.path()).ok()?;
        target
            .to_str()?
            .starts_with("socket:")
            .then_some((fd, target))
    })
    .collect()
}

/// Applies the login recipe: the login user (as root), the chroot, every
/// descriptor but `keep` closed, no_new_privs, seccomp, rlimits.
fn drop_privileges(config: &Config, role: Role, keep: &[i32]) -> Result<(), ServeError> {
    let recipe = if columba_privsep::ids::is_root() {
        let recipe = LoginProcessRecipe::for_user(config.default_login_user.clone());
        match login_chroot(config, role) {
            Some(dir) => recipe.chroot(dir),
            None => recipe,
        }
    } else {
        // Nothing to switch to: keep our ids, and record why.
        let uid = columba_privsep::ids::effective_uid();
        let gid = rustix::process::getegid().as_raw();
        LoginProcessRecipe::for_ids(uid, gid)
    };
    // The service's vsz_limit (Dovecot's default 256M) bounds the address space.
    let rlimits = Rlimits {
        address_space: config.vsz_limit(role.name()),
        ..Rlimits::login()
    };
    recipe
        .rlimits(rlimits)
        .close_fds_except(keep)
        .clear_env_except(&["TZ"])
        .seccomp(Some(SeccompAction::KillProcess))
        .apply()?;
    Ok(())
}

/// One client's login process state.
struct Login {
    prefix: &'static str,
    stats: StatsClient,
    service: Service,
    config: Config,
    tls: Option<Arc<ServerConfig>>,
    auth: AuthRelay,
    control: FdChannel,
    info: ConnectionInfo,
    proxy_end: UnixStream,
    post_login_end: UnixStream,
}

/// How the pre-auth session ended.
enum Outcome {
    /// The client left or was sent away: Dovecot's reason
    /// (`Connection closed`, `Aborted login by logging out`, ...).
    Closed(String),
    /// Authenticated: the user, the auth request id, the session state.
    Authenticated {
        user: String,
        auth_id: u32,
        state: Vec<u8>,
    },
}

impl Login {
    /// Counts `<service>.<what>` in the stats role.
    fn count(&mut self, what: &str) {
        let name = format!("{}.{what}", self.service.name());
        self.stats.inc(&name, 1);
    }

    fn serve(mut self, fd: OwnedFd) -> Result<(), ServeError> {
        let tcp = TcpStream::from(fd);
        let mut client = Client::new(tcp).map_err(|e| ServeError::io("client socket", e))?;
        let policy = LoginPolicy::new(&self.config, self.info.remote.ip(), self.info.local.ip())?;
        let mut log = LoginLog::new(
            self.prefix,
            self.info.remote.ip(),
            self.info.local.ip(),
            self.info.session_id.clone(),
            policy.secured(false),
        );
        if self.info.implicit_tls {
            let Some(tls) = &self.tls else {
                return Err(ServeError::Tls(
                    "an implicit TLS listener without ssl".into(),
                ));
            };
            if let Err(e) = client.start_tls(tls) {
                log.tls_error = Some(e.to_string());
                log.disconnected("Connection closed");
                return Ok(());
            }
            log.tls = true;
        }
        let outcome = self.pre_auth(&mut client, &policy, &mut log);
        let (user, auth_id, state) = match outcome {
            Ok(Outcome::Authenticated {
                user,
                auth_id,
                state,
            }) => (user, auth_id, state),
            Ok(Outcome::Closed(reason)) => {
                log.disconnected(&reason);
                return Ok(());
            }
            Err(e) => {
                log.disconnected(&e.to_string());
                return Ok(());
            }
        };
        self.hand_off(client, &mut log, user, auth_id, state)
    }

    /// Runs the pre-auth session until the client authenticated or left.
    fn pre_auth(
        &mut self,
        client: &mut Client,
        policy: &LoginPolicy,
        log: &mut LoginLog,
    ) -> Result<Outcome, ServeError> {
        let io = |e: std::io::Error| ServeError::io("client", e);
        let mechanisms: Vec<String> = self.auth.mechanisms().into_iter().map(|(m, _)| m).collect();
        let offer = Offer {
            mechanisms,
            starttls: self.tls.is_some(),
            tls: client.is_tls(),
            plaintext_without_tls: policy.plaintext_allowed(false),
            greeting: self.config.login_greeting.clone(),
        };
        let mut session = match self.service {
            Service::Pop3 => pre_auth::pop3(offer),
            _ => pre_auth::imap(offer),
        };
        // The auth request under way: its id.
        let mut pending: Option<u32> = None;
        let mut buf = vec![0u8; 16 * 1024];
        // The auth process went away (it is restarted, but this process's
        // connection to it is gone): the client gets a temporary failure.
        macro_rules! auth_try {
            ($e:expr) => {
                match $e {
                    Ok(v) => v,
                    Err(e) => {
                        log_lines::error(self.prefix, &e.to_string());
                        session.failed(LoginFailure::Temporary, None);
                        let _ = client.write_all(&session.take_output());
                        return Ok(Outcome::Closed(String::from("Auth process broken")));
                    }
                }
            };
        }
        loop {
            client.write_all(&session.take_output()).map_err(io)?;
            while let Some(event) = session.poll() {
                match event {
                    PreAuthEvent::StartTls => {
                        client.write_all(&session.take_output()).map_err(io)?;
                        let Some(tls) = &self.tls else {
                            return Ok(Outcome::Closed(String::from("Connection closed")));
                        };
                        if let Err(e) = client.start_tls(tls) {
                            log.tls_error = Some(e.to_string());
                            return Ok(Outcome::Closed(String::from("Connection closed")));
                        }
                        log.tls = true;
                        session.tls_started();
                    }
                    PreAuthEvent::Plaintext {
                        credentials,
                        method,
                    } => {
                        log.attempts += 1;
                        log.user = Some(credentials.user.clone());
                        log.method = Some(if method == "USER" || method == "LOGIN" {
                            "PLAIN".into()
                        } else {
                            method
                        });
                        let initial = plain_response(&credentials);
                        let params = self.auth_params(client, policy);
                        let id = auth_try!(self.auth.begin("PLAIN", &params, Some(&initial)));
                        pending = Some(id);
                        if let Some(done) =
                            auth_try!(self.auth_step(id, &mut *session, log, &mut pending))
                        {
                            return Ok(done);
                        }
                    }
                    PreAuthEvent::SaslStart {
                        mechanism,
                        initial_response,
                    } => {
                        log.attempts += 1;
                        log.method = Some(mechanism.to_ascii_uppercase());
                        let params = self.auth_params(client, policy);
                        let id = auth_try!(self.auth.begin(
                            &mechanism.to_ascii_uppercase(),
                            &params,
                            initial_response.as_deref(),
                        ));
                        pending = Some(id);
                        if let Some(done) =
                            auth_try!(self.auth_step(id, &mut *session, log, &mut pending))
                        {
                            return Ok(done);
                        }
                    }
                    PreAuthEvent::SaslResponse(data) => {
                        if let Some(id) = pending {
                            auth_try!(self.auth.respond(id, &data));
                            if let Some(done) =
                                auth_try!(self.auth_step(id, &mut *session, log, &mut pending))
                            {
                                return Ok(done);
                            }
                        }
                    }
                    PreAuthEvent::SaslCancel => {
                        // The auth process drops it; a late reply would be
                        // ignored anyway.
                        if let Some(id) = pending.take() {
                            auth_try!(self.auth.cancel(id));
                        }
                    }
                    PreAuthEvent::Close => {
                        client.write_all(&session.take_output()).map_err(io)?;
                        return Ok(Outcome::Closed(String::from(
                            "Aborted login by logging out",
                        )));
                    }
                    PreAuthEvent::Ignore => {}
                }
                client.write_all(&session.take_output()).map_err(io)?;
            }
            let n = match client.read(&mut buf) {
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    let _ = client.write_all(match self.service {
                        Service::Pop3 => b"-ERR Disconnected for inactivity.\r\n".as_slice(),
                        _ => b"* BYE Disconnected for inactivity.\r\n".as_slice(),
                    });
                    return Ok(Outcome::Closed(String::from("Inactivity")));
                }
                Err(e) => return Err(io(e)),
            };
            if n == 0 {
                return Ok(Outcome::Closed(String::from("Connection closed")));
            }
            session.feed(&buf[..n]);
        }
    }

    /// Waits for the auth process's answer to request `id` and gives it
    /// to the session; `Some` once the client authenticated.
    fn auth_step(
        &mut self,
        id: u32,
        session: &mut dyn PreAuth,
        log: &mut LoginLog,
        pending: &mut Option<u32>,
    ) -> Result<Option<Outcome>, ServeError> {
        match self.auth.next(id)? {
            AuthStep::Continue(data) => {
                session.challenge(&data);
                Ok(None)
            }
            AuthStep::Ok {
                user,
                refused: Some(reason),
                ..
            } => {
                *pending = None;
                log.user = Some(user);
                self.count("login_failures");
                session.failed(LoginFailure::LoginDisabled, Some(&reason));
                Ok(None)
            }
            AuthStep::Ok { user, .. } => {
                *pending = None;
                log.user = Some(user.clone());
                self.count("logins");
                let state = session.handoff(&user);
                Ok(Some(Outcome::Authenticated {
                    user,
                    auth_id: id,
                    state,
                }))
            }
            AuthStep::Fail {
                temporary,
                reason,
                user,
            } => {
                *pending = None;
                if let Some(u) = user {
                    log.user = Some(u);
                }
                let failure = if temporary {
                    LoginFailure::Temporary
                } else {
                    LoginFailure::Credentials
                };
                self.count("login_failures");
                session.failed(failure, reason.as_deref());
                Ok(None)
            }
        }
    }

    /// The parameters of an `AUTH` request, as Dovecot's login processes
    /// send them.
    fn auth_params(&self, client: &Client, policy: &LoginPolicy) -> Vec<String> {
        let mut params = vec![
            format!("service={}", self.service.name()),
            format!("session={}", self.info.session_id),
            format!("lip={}", self.info.local.ip()),
            format!("rip={}", self.info.remote.ip()),
            format!("lport={}", self.info.local.port()),
            format!("rport={}", self.info.remote.port()),
        ];
        if client.is_tls() {
            params.push("secured=tls".into());
        } else if policy.secured(false) {
            params.push("secured".into());
        }
        // The TLS SNI host name, when the client gave one.
        if let Some(name) = client.tls.as_ref().and_then(|t| t.server_name()) {
            if !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic()) {
                params.push(format!("local_name={name}"));
            }
        }
        params
    }

    /// Hands the authenticated client to the master and, under TLS, stays
    /// as its proxy.
    fn hand_off(
        mut self,
        client: Client,
        log: &mut LoginLog,
        user: String,
        auth_id: u32,
        state: Vec<u8>,
    ) -> Result<(), ServeError> {
        let cookie = self.auth.handshake().cookie.clone().unwrap_or_default();
        let tls = client.is_tls();
        let handoff = Handoff {
            connection: self.info.clone(),
            user,
            login_pid: std::process::id(),
            auth_id,
            cookie,
            tls,
            session_state: state,
        };
        let Client {
            tcp,
            tls: tls_state,
        } = client;
        let sent = if tls {
            Control::Handoff(handoff).send(&mut self.control, Some(self.post_login_end.as_fd()))
        } else {
            // Socket options belong to the socket, not to this process:
            // the post-login process gets it without the pre-auth timeouts.
            let _ = tcp.set_read_timeout(None);
            let _ = tcp.set_write_timeout(None);
            Control::Handoff(handoff).send(&mut self.control, Some(tcp.as_fd()))
        };
        sent?;
        // The post-login process has its end now (or the client's socket).
        drop(self.post_login_end);
        // The master answers once the post-login process used the cookie
        // (until then this process keeps its auth connection open). A
        // plain client's login process just waits; a TLS proxy relays
        // meanwhile, since the post-login process already talks.
        let Login {
            prefix,
            mut control,
            proxy_end,
            ..
        } = self;
        let Some(tls_state) = tls_state else {
            drop(tcp);
            if let Some(mpid) = started(&mut control)? {
                log.login(mpid);
            }
            return Ok(());
        };
        let control_fd = control
            .stream()
            .try_clone()
            .map_err(|e| ServeError::io("control channel", e))?;
        let mut answered = false;
        let mut on_control = || {
            answered = true;
            match started(&mut control) {
                Ok(Some(mpid)) => log.login(mpid),
                Ok(None) => {}
                Err(e) => log_lines::error(prefix, &e.to_string()),
            }
            false
        };
        let watch = proxy::Watch {
            fd: control_fd.as_fd(),
            on_readable: &mut on_control,
        };
        let relayed = proxy::run(tcp, tls_state, proxy_end, Some(watch));
        if !answered {
            // A session shorter than the master's answer: log it still.
            if let Some(mpid) = started(&mut control)? {
                log.login(mpid);
            }
        }
        if let Err(e) = relayed {
            log_lines::info(prefix, &format!("TLS proxy ended: {e}"));
        }
        Ok(())
    }
}

/// The master's answer to a handoff: the post-login pid, or `None` when
/// the post-login process refused the client (or the master is stopping).
fn started(control: &mut FdChannel) -> Result<Option<u32>, ServeError> {
    match Control::recv(control)? {
        Some((Control::Started { pid }, _)) => Ok(Some(pid)),
        Some((Control::Shutdown, _)) | None => Ok(None),
        Some((other, _)) => Err(ServeError::Control(format!(
            "expected STARTED, got {other:?}"
        ))),
    }
}

/// A SASL PLAIN response: authzid (empty), user, password.
fn plain_response(c: &Credentials) -> Vec<u8> {
    let mut out = Vec::with_capacity(c.user.len() + c.password.len() + 2);
    out.push(0);
    out.extend_from_slice(c.user.as_bytes());
    out.push(0);
    out.extend_from_slice(&c.password);
    out
}

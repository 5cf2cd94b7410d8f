//! `columba serve --demo`: the Columba server on loopback with a demo user,
//! a self-signed certificate and non-privileged ports. It is the thin
//! adapter around `columba-session`: sockets, TLS (rustls, TLS 1.2 at
//! least), a thread per connection, the passwd-file check and the
//! notifications that wake IDLE sessions.
//!
//! This is the single-process form. The session crate already splits
//! pre-auth (greeting, STARTTLS, LOGIN) from post-auth (a storage is only
//! handed over at login), which is where the login and post-login
//! processes of Dovecot's model will be cut apart.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use columba_auth_sasl::db::{LookupRequest, PassDb, PasswdFile};
use columba_session::{
    Authenticator, Credentials, DeliveryError, ImapConfig, ImapEvent, ImapSession, LmtpConfig,
    LmtpEvent, LmtpSession, MailStorage, MaildirStorage, PassdbAuthenticator, Pop3Config,
    Pop3Event, Pop3Session,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};

/// How often a waiting connection looks for notifications.
const POLL: Duration = Duration::from_millis(100);

/// Arguments of `columba serve`.
#[derive(clap::Args)]
pub struct Args {
    /// Create (or reuse) a demo data directory with a demo user and a
    /// self-signed certificate.
    #[arg(long)]
    pub demo: bool,
    /// The data directory.
    #[arg(long, default_value = "columba-demo")]
    pub data: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub listen: IpAddr,
    /// IMAP port (STARTTLS); 0 picks a free port.
    #[arg(long, default_value_t = 1143)]
    pub imap_port: u16,
    /// IMAP port with implicit TLS.
    #[arg(long, default_value_t = 1993)]
    pub imaps_port: u16,
    /// POP3 port (STLS).
    #[arg(long, default_value_t = 1110)]
    pub pop3_port: u16,
    /// POP3 port with implicit TLS.
    #[arg(long, default_value_t = 1995)]
    pub pop3s_port: u16,
    /// LMTP port.
    #[arg(long, default_value_t = 2424)]
    pub lmtp_port: u16,
    /// Refuse plaintext authentication without TLS even from loopback
    /// (`disable_plaintext_auth` without Dovecot's loopback exception).
    #[arg(long)]
    pub require_tls: bool,
    /// The configuration file (`columba.toml`, Dovecot's setting names).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Internal: run as this role of the process model (the master starts
    /// roles with it; not for use by hand).
    #[arg(long, hide = true, requires = "config")]
    pub role: Option<String>,
}

/// What every connection shares.
struct Server {
    data: PathBuf,
    passwd: Arc<PasswdFile>,
    auth: PassdbAuthenticator<Arc<PasswdFile>>,
    tls: Arc<ServerConfig>,
    require_tls: bool,
    hub: Hub,
}

/// A session waiting for changes: its user and where to send mailbox names.
type Listener = (String, Sender<String>);

/// Mailbox-change notifications between the sessions of one user.
#[derive(Default, Clone)]
struct Hub {
    next: Arc<AtomicU64>,
    listeners: Arc<Mutex<HashMap<u64, Listener>>>,
}

impl Hub {
    fn subscribe(&self, user: &str) -> (u64, Receiver<String>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = channel();
        if let Ok(mut l) = self.listeners.lock() {
            l.insert(id, (user.to_string(), tx));
        }
        (id, rx)
    }

    fn unsubscribe(&self, id: u64) {
        if let Ok(mut l) = self.listeners.lock() {
            l.remove(&id);
        }
    }

    fn notify(&self, user: &str, mailbox: &str, except: Option<u64>) {
        if let Ok(l) = self.listeners.lock() {
            for (id, (u, tx)) in l.iter() {
                if u == user && Some(*id) != except {
                    let _ = tx.send(mailbox.to_string());
                }
            }
        }
    }
}

impl Server {
    fn home(&self, user: &str) -> PathBuf {
        self.data.join("home").join(user)
    }

    fn storage(&self, user: &str) -> Result<Box<dyn MailStorage>, String> {
        MaildirStorage::open(&self.home(user).join("Maildir"))
            .map(|s| Box::new(s) as Box<dyn MailStorage>)
            .map_err(|e| e.to_string())
    }

    /// Checks credentials; `Err(true)` is a temporary failure.
    fn login(&self, c: &Credentials, service: &str, rip: IpAddr) -> Result<String, bool> {
        match self.auth.verify(c, service, Some(rip)) {
            Ok(Some(user)) if valid_user_name(&user) => Ok(user),
            Ok(_) => Err(false),
            Err(_) => Err(true),
        }
    }

    fn user_exists(&self, address: &str) -> Option<String> {
        for candidate in [address, address.split('@').next().unwrap_or("")] {
            if !valid_user_name(candidate) {
                continue;
            }
            if let Ok(Some(e)) = self.passwd.lookup(&LookupRequest::new(candidate, "lmtp")) {
                if valid_user_name(&e.user) {
                    return Some(e.user);
                }
            }
        }
        None
    }
}

/// A user name usable as a directory name.
fn valid_user_name(user: &str) -> bool {
    !user.is_empty()
        && user != "."
        && user != ".."
        && user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-@+".contains(&b))
}

/// A connection, plain or under TLS.
enum Conn {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ServerConnection, TcpStream>>),
}

impl Conn {
    fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Plain(s) => s,
            Conn::Tls(s) => &s.sock,
        }
    }

    /// Runs the TLS handshake on a plain connection.
    fn start_tls(self, config: &Arc<ServerConfig>) -> std::io::Result<Conn> {
        let Conn::Plain(mut tcp) = self else {
            return Ok(self);
        };
        tcp.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut tls = ServerConnection::new(config.clone())
            .map_err(|e| std::io::Error::new(ErrorKind::InvalidData, e))?;
        while tls.is_handshaking() {
            tls.complete_io(&mut tcp)?;
        }
        tcp.set_read_timeout(Some(POLL))?;
        Ok(Conn::Tls(Box::new(StreamOwned::new(tls, tcp))))
    }

    fn is_tls(&self) -> bool {
        matches!(self, Conn::Tls(_))
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

/// One read: `Ok(None)` when nothing arrived within the poll interval.
fn read_some(conn: &mut Conn, buf: &mut [u8]) -> std::io::Result<Option<usize>> {
    match conn.read(buf) {
        Ok(0) => Err(ErrorKind::UnexpectedEof.into()),
        Ok(n) => Ok(Some(n)),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => Ok(None),
        Err(e) => Err(e),
    }
}

fn send(conn: &mut Conn, out: Vec<u8>) -> std::io::Result<()> {
    if !out.is_empty() {
        conn.write_all(&out)?;
        conn.flush()?;
    }
    Ok(())
}

fn addrs(conn: &Conn) -> (IpAddr, IpAddr) {
    let unspecified = IpAddr::from([0, 0, 0, 0]);
    (
        conn.tcp().peer_addr().map_or(unspecified, |a| a.ip()),
        conn.tcp().local_addr().map_or(unspecified, |a| a.ip()),
    )
}

fn log_login(service: &str, user: &str, method: &str, conn: &Conn, ok: bool) {
    let (rip, lip) = addrs(conn);
    let tls = if conn.is_tls() { ", TLS" } else { "" };
    if ok {
        eprintln!(
            "{service}-login: Login: user=<{user}>, method={method}, rip={rip}, lip={lip}, mpid={}{tls}",
            std::process::id()
        );
    } else {
        eprintln!(
            "{service}-login: Disconnected (auth failed, 1 attempts): user=<{user}>, method={method}, rip={rip}, lip={lip}{tls}"
        );
    }
}

fn serve_imap(server: &Server, mut conn: Conn) -> std::io::Result<()> {
    let (rip, _) = addrs(&conn);
    let mut session = ImapSession::new(ImapConfig {
        starttls: true,
        tls: conn.is_tls(),
        plaintext_without_tls: rip.is_loopback() && !server.require_tls,
        ..ImapConfig::default()
    });
    let mut sub: Option<(u64, Receiver<String>)> = None;
    let mut user = String::new();
    let mut buf = vec![0u8; 64 * 1024];
    let result = (|| loop {
        send(&mut conn, session.take_output())?;
        while let Some(event) = session.poll_event() {
            match event {
                ImapEvent::StartTls => {
                    send(&mut conn, session.take_output())?;
                    conn = conn.start_tls(&server.tls)?;
                    session.tls_started();
                }
                ImapEvent::Authenticate {
                    credentials,
                    method,
                } => match server.login(&credentials, "imap", rip) {
                    Ok(u) => match server.storage(&u) {
                        Ok(storage) => {
                            log_login("imap", &u, &method, &conn, true);
                            sub = Some(server.hub.subscribe(&u));
                            user = u.clone();
                            session.login_succeeded(&u, storage);
                        }
                        Err(_) => session.login_failed(true),
                    },
                    Err(temporary) => {
                        log_login("imap", &credentials.user, &method, &conn, false);
                        session.login_failed(temporary);
                    }
                },
                // SASL passthrough is off here: the session never relays
                ImapEvent::SaslStart { .. } | ImapEvent::SaslResponse(_) => {
                    session.login_failed(false)
                }
                ImapEvent::SaslCancel => {}
                ImapEvent::MailboxChanged(mailbox) => {
                    server
                        .hub
                        .notify(&user, &mailbox, sub.as_ref().map(|s| s.0));
                }
                ImapEvent::Close => {
                    send(&mut conn, session.take_output())?;
                    return Ok(());
                }
            }
            send(&mut conn, session.take_output())?;
        }
        if let Some((_, rx)) = &sub {
            while let Ok(mailbox) = rx.try_recv() {
                session.mailbox_changed(&mailbox);
            }
        }
        if let Some(n) = read_some(&mut conn, &mut buf)? {
            session.set_now(unix_now());
            session.feed(&buf[..n]);
        }
    })();
    if let Some((id, _)) = sub {
        server.hub.unsubscribe(id);
        let reason = match &result {
            Ok(()) => "Logged out".to_string(),
            Err(e) => format!("Connection closed ({e})"),
        };
        eprintln!("imap({user}): Disconnected: {reason}");
    }
    result
}

fn serve_pop3(server: &Server, mut conn: Conn) -> std::io::Result<()> {
    let (rip, _) = addrs(&conn);
    let mut session = Pop3Session::new(Pop3Config {
        stls: true,
        tls: conn.is_tls(),
        plaintext_without_tls: rip.is_loopback() && !server.require_tls,
        ..Pop3Config::default()
    });
    let mut user = String::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        send(&mut conn, session.take_output())?;
        while let Some(event) = session.poll_event() {
            match event {
                Pop3Event::StartTls => {
                    send(&mut conn, session.take_output())?;
                    conn = conn.start_tls(&server.tls)?;
                    session.tls_started();
                }
                Pop3Event::Authenticate {
                    credentials,
                    method,
                } => match server.login(&credentials, "pop3", rip) {
                    Ok(u) => match server.storage(&u) {
                        Ok(storage) => {
                            log_login("pop3", &u, &method, &conn, true);
                            user = u.clone();
                            session.login_succeeded(&u, storage);
                        }
                        Err(_) => session.login_failed(true),
                    },
                    Err(temporary) => {
                        log_login("pop3", &credentials.user, &method, &conn, false);
                        session.login_failed(temporary);
                    }
                },
                // SASL passthrough is off here: the session never relays
                Pop3Event::SaslStart { .. } | Pop3Event::SaslResponse(_) => {
                    session.login_failed(false)
                }
                Pop3Event::SaslCancel => {}
                Pop3Event::MailboxChanged(mailbox) => server.hub.notify(&user, &mailbox, None),
                Pop3Event::Close => {
                    send(&mut conn, session.take_output())?;
                    if !user.is_empty() {
                        eprintln!("pop3({user}): Disconnected: Logged out");
                    }
                    return Ok(());
                }
            }
            send(&mut conn, session.take_output())?;
        }
        if let Some(n) = read_some(&mut conn, &mut buf)? {
            session.feed(&buf[..n]);
        }
    }
}

fn serve_lmtp(server: &Server, mut conn: Conn) -> std::io::Result<()> {
    let mut random = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut random)?;
    let mut session = LmtpSession::new(LmtpConfig {
        session_id: columba_session::lmtp::session_id(random),
        ..LmtpConfig::default()
    });
    let mut buf = vec![0u8; 64 * 1024];
    let mut users: Vec<String> = Vec::new();
    loop {
        send(&mut conn, session.take_output())?;
        while let Some(event) = session.poll_event() {
            match event {
                LmtpEvent::CheckRecipient(address) => {
                    let found = server.user_exists(&address);
                    if let Some(u) = &found {
                        users.push(u.clone());
                    }
                    session.recipient_checked(found.is_some());
                }
                LmtpEvent::Deliver { data, .. } => {
                    let mut results = Vec::new();
                    for u in std::mem::take(&mut users) {
                        let r = server.storage(&u).and_then(|mut s| {
                            s.append("INBOX", &data, Default::default(), &[], None)
                                .map_err(|e| e.to_string())
                        });
                        match r {
                            Ok((_, uid)) => {
                                eprintln!("lmtp({u}): saved mail to INBOX (uid {uid})");
                                server.hub.notify(&u, "INBOX", None);
                                results.push(Ok(()));
                            }
                            Err(e) => {
                                eprintln!("lmtp({u}): Error: delivery failed: {e}");
                                // Dovecot's reply for a storage fault
                                results.push(Err(DeliveryError::Temporary(
                                    "Internal error occurred. Refer to server log for more \
                                     information."
                                        .to_string(),
                                )));
                            }
                        }
                    }
                    session.delivered(results);
                }
                LmtpEvent::Close => {
                    send(&mut conn, session.take_output())?;
                    return Ok(());
                }
            }
            send(&mut conn, session.take_output())?;
        }
        if let Some(n) = read_some(&mut conn, &mut buf)? {
            let before = buf[..n].to_vec();
            session.feed(&before);
            if before.windows(4).any(|w| w.eq_ignore_ascii_case(b"RSET")) {
                users.clear();
            }
        }
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Service {
    Imap,
    Imaps,
    Pop3,
    Pop3s,
    Lmtp,
}

fn spawn_listener(server: Arc<Server>, listener: TcpListener, service: Service) {
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let server = server.clone();
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(POLL));
                let _ = stream.set_nodelay(true);
                let mut conn = Conn::Plain(stream);
                if matches!(service, Service::Imaps | Service::Pop3s) {
                    conn = match conn.start_tls(&server.tls) {
                        Ok(c) => c,
                        Err(_) => return,
                    };
                }
                let _ = match service {
                    Service::Imap | Service::Imaps => serve_imap(&server, conn),
                    Service::Pop3 | Service::Pop3s => serve_pop3(&server, conn),
                    Service::Lmtp => serve_lmtp(&server, conn),
                };
            });
        }
    });
}

/// A random password of 16 letters and digits.
fn random_password() -> std::io::Result<String> {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect())
}

/// Creates the demo data directory (or reuses it): passwd-file with the
/// demo user, the user's Maildir, a self-signed certificate. Returns the
/// demo user's password.
fn prepare_demo(data: &Path) -> Result<String, String> {
    let io = |what: &str, e: std::io::Error| format!("{what}: {e}");
    std::fs::create_dir_all(data).map_err(|e| io("create data dir", e))?;
    let passwd = data.join("users");
    let password = match std::fs::read_to_string(&passwd) {
        Ok(text) => text
            .lines()
            .find_map(|l| l.strip_prefix("demo:{PLAIN}"))
            .and_then(|rest| rest.split(':').next())
            .map(str::to_string)
            .ok_or("users exists but has no demo:{PLAIN} line")?,
        Err(_) => {
            let pw = random_password().map_err(|e| io("random", e))?;
            let line = format!("demo:{{PLAIN}}{pw}::::::\n");
            write_private(&passwd, line.as_bytes()).map_err(|e| io("write users", e))?;
            pw
        }
    };
    MaildirStorage::open(&data.join("home/demo/Maildir")).map_err(|e| e.to_string())?;
    let (cert, key) = (data.join("cert.pem"), data.join("key.pem"));
    if !cert.exists() || !key.exists() {
        let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        let generated = rcgen::generate_simple_self_signed(names).map_err(|e| e.to_string())?;
        write_private(&key, generated.signing_key.serialize_pem().as_bytes())
            .map_err(|e| io("write key", e))?;
        std::fs::write(&cert, generated.cert.pem()).map_err(|e| io("write cert", e))?;
    }
    Ok(password)
}

fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(data)?;
    f.sync_all()
}

fn tls_config(data: &Path) -> Result<ServerConfig, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(data.join("cert.pem"))
        .map_err(|e| format!("cert.pem: {e}"))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("cert.pem: {e}"))?;
    let key =
        PrivateKeyDer::from_pem_file(data.join("key.pem")).map_err(|e| format!("key.pem: {e}"))?;
    ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| e.to_string())
}

/// Runs the process model's master on `config` until SIGTERM/SIGINT;
/// prints each listener and `ready` once they all accept.
fn run_master(config: &Path) -> ExitCode {
    let mut on_ready = |bound: &crate::serve::master::Bound| {
        for l in &bound.inet {
            println!("  {} {} ({})", l.spec.name, l.addr, l.spec.role.name());
        }
        for l in &bound.unix {
            println!(
                "  {} {} ({})",
                l.spec.name,
                l.path.display(),
                l.spec.role.name()
            );
        }
        println!("ready");
        let _ = std::io::stdout().flush();
    };
    match crate::serve::master::run(config, &mut on_ready) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("master: Fatal: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `columba serve`.
pub fn run(args: Args) -> ExitCode {
    if let Some(name) = &args.role {
        let Some(role) = crate::serve::role::Role::from_name(name) else {
            eprintln!("columba serve: unknown role {name:?}");
            return ExitCode::from(64);
        };
        let config = args.config.clone().unwrap_or_default();
        return crate::serve::dispatch::run_role(role, &config);
    }
    if !args.demo {
        let Some(config) = &args.config else {
            eprintln!("columba serve: give --config FILE (columba.toml) or --demo");
            return ExitCode::from(64);
        };
        return run_master(config);
    }
    let password = match prepare_demo(&args.data) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("columba serve: {}: {e}", args.data.display());
            return ExitCode::FAILURE;
        }
    };
    let tls = match tls_config(&args.data) {
        Ok(t) => Arc::new(t),
        Err(e) => {
            eprintln!("columba serve: TLS: {e}");
            return ExitCode::FAILURE;
        }
    };
    let data = std::fs::canonicalize(&args.data).unwrap_or(args.data.clone());
    let passwd = Arc::new(PasswdFile::new(data.join("users").display().to_string()));
    let server = Arc::new(Server {
        auth: PassdbAuthenticator::new(passwd.clone()),
        passwd,
        data: data.clone(),
        tls,
        require_tls: args.require_tls,
        hub: Hub::default(),
    });
    let mut bound = Vec::new();
    for (port, service) in [
        (args.imap_port, Service::Imap),
        (args.imaps_port, Service::Imaps),
        (args.pop3_port, Service::Pop3),
        (args.pop3s_port, Service::Pop3s),
        (args.lmtp_port, Service::Lmtp),
    ] {
        let listener = match TcpListener::bind(SocketAddr::new(args.listen, port)) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("columba serve: listen on {}:{port}: {e}", args.listen);
                return ExitCode::FAILURE;
            }
        };
        let port = listener.local_addr().map_or(port, |a| a.port());
        bound.push(port);
        spawn_listener(server.clone(), listener, service);
    }
    let host = args.listen;
    println!("Columba demo server (one process, a thread per connection)");
    println!("  data directory: {}", data.display());
    println!("  user: demo   password: {password}");
    println!(
        "  IMAP  {host}:{} (STARTTLS)   IMAPS {host}:{}",
        bound[0], bound[1]
    );
    println!(
        "  POP3  {host}:{} (STLS)       POP3S {host}:{}",
        bound[2], bound[3]
    );
    println!("  LMTP  {host}:{}", bound[4]);
    println!(
        "  certificate: {} (self-signed)",
        data.join("cert.pem").display()
    );
    println!("Try:");
    println!(
        "  curl -k imaps://{host}:{}/INBOX -u demo:{password}",
        bound[1]
    );
    println!(
        "  curl -k --ssl-reqd imap://{host}:{}/ -u demo:{password}",
        bound[0]
    );
    println!("  curl -k pop3s://{host}:{}/ -u demo:{password}", bound[3]);
    println!("ready");
    let _ = std::io::stdout().flush();
    loop {
        std::thread::park();
    }
}

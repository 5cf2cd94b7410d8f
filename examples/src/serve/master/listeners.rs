//! The master's listening sockets: `service.<name>.inet_listener.*` on
//! `listen`/`address`, and the LMTP Unix listeners (under `base_dir`
//! unless absolute), with their configured mode and owner.

use std::net::{SocketAddr, TcpListener};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;

use crate::serve::config::{Config, Protocol, SslMode, UNIX_LISTENER_DEFAULT_MODE};
use crate::serve::control::Service;
use crate::serve::error::ServeError;
use crate::serve::role::Role;

/// Where a listener's connections go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerSpec {
    /// The protocol.
    pub service: Service,
    /// The role that takes each connection (`imap-login`, `pop3-login`, `lmtp`).
    pub role: Role,
    /// The listener's name in the configuration (`imap`, `imaps`, ...).
    pub name: String,
    /// Implicit TLS.
    pub implicit_tls: bool,
}

/// A bound TCP listener.
pub struct BoundInet {
    /// What it serves.
    pub spec: ListenerSpec,
    /// The socket.
    pub listener: TcpListener,
    /// The address it is bound to (the real port when 0 was asked).
    pub addr: SocketAddr,
}

/// A bound Unix listener.
pub struct BoundUnix {
    /// What it serves.
    pub spec: ListenerSpec,
    /// The socket.
    pub listener: UnixListener,
    /// Its path.
    pub path: PathBuf,
}

/// Every listener of the served protocols.
pub struct Bound {
    /// TCP listeners, in configuration order.
    pub inet: Vec<BoundInet>,
    /// Unix listeners.
    pub unix: Vec<BoundUnix>,
}

/// The (service block, protocol, service, role) of each served protocol.
fn served(config: &Config) -> Vec<(&'static str, Service, Role)> {
    let mut out = Vec::new();
    if config.serves(Protocol::Imap) {
        out.push(("imap-login", Service::Imap, Role::ImapLogin));
    }
    if config.serves(Protocol::Pop3) {
        out.push(("pop3-login", Service::Pop3, Role::Pop3Login));
    }
    if config.serves(Protocol::Lmtp) {
        out.push(("lmtp", Service::Lmtp, Role::Lmtp));
    }
    out
}

/// Binds every listener of the served protocols. Implicit-TLS listeners
/// are skipped when `ssl = no`.
pub fn bind(config: &Config) -> Result<Bound, ServeError> {
    let mut bound = Bound {
        inet: Vec::new(),
        unix: Vec::new(),
    };
    for (block, service, role) in served(config) {
        let settings = config.service(block);
        for (name, inet) in &settings.inet_listener {
            if inet.ssl && (config.ssl == SslMode::No || service == Service::Lmtp) {
                continue;
            }
            let addresses = if inet.address.is_empty() {
                &config.listen
            } else {
                &inet.address
            };
            for ip in addresses {
                let want = SocketAddr::new(*ip, inet.port);
                let listener = TcpListener::bind(want).map_err(|e| {
                    ServeError::io(format!("service({block}): listen({want}) ({name})"), e)
                })?;
                let addr = listener
                    .local_addr()
                    .map_err(|e| ServeError::io("listener address", e))?;
                bound.inet.push(BoundInet {
                    spec: ListenerSpec {
                        service,
                        role,
                        name: name.clone(),
                        implicit_tls: inet.ssl,
                    },
                    listener,
                    addr,
                });
            }
        }
        for (name, unix) in &settings.unix_listener {
            let path = config.unix_listener_path(name);
            // A stale socket from an earlier run.
            if let Ok(meta) = std::fs::symlink_metadata(&path) {
                use std::os::unix::fs::FileTypeExt;
                if meta.file_type().is_socket() {
                    let _ = std::fs::remove_file(&path);
                }
            }
            let listener = UnixListener::bind(&path).map_err(|e| {
                ServeError::io(format!("service({block}): bind({})", path.display()), e)
            })?;
            // Dovecot's lmtp socket is 0666 by default; other listeners 0600.
            let default_mode = if block == "lmtp" && name == "lmtp" {
                0o666
            } else {
                UNIX_LISTENER_DEFAULT_MODE
            };
            unix.apply(
                &format!("service.{block}.unix_listener.{name}"),
                &path,
                default_mode,
            )?;
            bound.unix.push(BoundUnix {
                spec: ListenerSpec {
                    service,
                    role,
                    name: name.clone(),
                    implicit_tls: false,
                },
                listener,
                path,
            });
        }
    }
    Ok(bound)
}

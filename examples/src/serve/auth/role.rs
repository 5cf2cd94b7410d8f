//! The auth role process.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Arc;

use columba_auth_sasl::server::unix::{AuthService, SocketKind};
use columba_auth_sasl::server::{AuthEvent, AuthServer};

use super::socket_kind::socket_kind;
use super::{auth_config, SOCKETS};
use crate::serve::config::{Config, UnixListener, UNIX_LISTENER_DEFAULT_MODE};
use crate::serve::error::ServeError;
use crate::serve::log;
use crate::serve::role::RoleContext;
use crate::serve::singleton::{ensure_base_dir, ready_then_wait};

fn fixed_kind(name: &str) -> SocketKind {
    match name {
        "auth-master" => SocketKind::Master,
        "auth-userdb" => SocketKind::Userdb,
        // Login processes authenticate on auth-client: their results wait
        // for the post-login process's REQUEST.
        _ => SocketKind::Login,
    }
}

/// One socket the auth service listens on, with how it is set up.
struct AuthSocket {
    path: PathBuf,
    kind: SocketKind,
    /// The configuration's listener (`None`: the fixed socket's defaults).
    listener: Option<(String, UnixListener)>,
    default_mode: u32,
}

/// The fixed sockets, then every other `service.auth.unix_listener`.
fn sockets(config: &Config) -> Result<Vec<AuthSocket>, ServeError> {
    let configured = config.service("auth").unix_listener;
    let mut out: Vec<AuthSocket> = SOCKETS
        .iter()
        .map(|&(name, mode)| AuthSocket {
            path: config.socket(name),
            kind: fixed_kind(name),
            listener: None,
            default_mode: mode,
        })
        .collect();
    for (name, listener) in configured {
        let path = config.unix_listener_path(&name);
        let what = format!("service.auth.unix_listener.{name}");
        if let Some(fixed) = out.iter_mut().find(|s| s.path == path) {
            fixed.listener = Some((what, listener));
            continue;
        }
        let kind = socket_kind(&path).map_err(|suffix| {
            ServeError::Config(format!("{what}: \"-{suffix}\" auth sockets are not served"))
        })?;
        out.push(AuthSocket {
            path,
            kind,
            listener: Some((what, listener)),
            default_mode: UNIX_LISTENER_DEFAULT_MODE,
        });
    }
    Ok(out)
}

/// Starts the auth service on the configuration's sockets; returns it
/// running (dropping it stops it and removes the sockets).
pub fn start(config: &crate::serve::Config) -> Result<AuthService, ServeError> {
    ensure_base_dir(&config.base_dir)?;
    let mut auth = auth_config(config)?;
    if config.auth_verbose {
        auth.event_log = Some(Arc::new(|e: &AuthEvent| log::info("auth", &e.to_string())));
    }
    let sockets = sockets(config)?;
    for socket in &sockets {
        if UnixStream::connect(&socket.path).is_ok() {
            return Err(ServeError::Config(format!(
                "{} is in use by another running server",
                socket.path.display()
            )));
        }
    }
    let server = Arc::new(AuthServer::new(auth));
    let bind: Vec<(PathBuf, SocketKind)> =
        sockets.iter().map(|s| (s.path.clone(), s.kind)).collect();
    let service = AuthService::start(server, &bind).map_err(|e| ServeError::Auth(e.to_string()))?;
    for socket in &sockets {
        match &socket.listener {
            Some((what, listener)) => listener.apply(what, &socket.path, socket.default_mode)?,
            None => std::fs::set_permissions(
                &socket.path,
                std::fs::Permissions::from_mode(socket.default_mode),
            )
            .map_err(|e| ServeError::io(format!("chmod {}", socket.path.display()), e))?,
        }
    }
    Ok(service)
}

/// Runs the auth role.
pub fn run(mut ctx: RoleContext) -> Result<(), ServeError> {
    let service = start(&ctx.config)?;
    let result = ready_then_wait(&mut ctx.control);
    service.shutdown();
    result
}

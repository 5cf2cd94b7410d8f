//! The auth role process.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Arc;

use columba_auth_sasl::server::unix::{AuthService, SocketKind};
use columba_auth_sasl::server::{AuthEvent, AuthServer};

use super::{auth_config, SOCKETS};
use crate::serve::error::ServeError;
use crate::serve::log;
use crate::serve::role::RoleContext;
use crate::serve::singleton::{ensure_base_dir, ready_then_wait};

fn kind(name: &str) -> SocketKind {
    match name {
        "auth-master" => SocketKind::Master,
        "auth-userdb" => SocketKind::Userdb,
        // Login processes authenticate on auth-client: their results wait
        // for the post-login process's REQUEST.
        _ => SocketKind::Login,
    }
}

/// Starts the auth service on the configuration's sockets; returns it
/// running (dropping it stops it and removes the sockets).
pub fn start(config: &crate::serve::Config) -> Result<AuthService, ServeError> {
    ensure_base_dir(&config.base_dir)?;
    let mut auth = auth_config(config)?;
    if config.auth_verbose {
        auth.event_log = Some(Arc::new(|e: &AuthEvent| log::info("auth", &e.to_string())));
    }
    let server = Arc::new(AuthServer::new(auth));
    let mut sockets: Vec<(PathBuf, SocketKind)> = Vec::new();
    for (name, _) in SOCKETS {
        let path = config.socket(name);
        if UnixStream::connect(&path).is_ok() {
            return Err(ServeError::Config(format!(
                "{} is in use by another running server",
                path.display()
            )));
        }
        sockets.push((path, kind(name)));
    }
    let service =
        AuthService::start(server, &sockets).map_err(|e| ServeError::Auth(e.to_string()))?;
    for (name, default) in SOCKETS {
        let mode = config.unix_listener_mode("auth", name, default);
        let path = config.socket(name);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| ServeError::io(format!("chmod {}", path.display()), e))?;
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

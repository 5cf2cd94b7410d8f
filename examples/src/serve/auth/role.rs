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
        // The service replaces a stale socket; anything else is kept.
        if let Ok(meta) = std::fs::symlink_metadata(&socket.path) {
            use std::os::unix::fs::FileTypeExt;
            if !meta.file_type().is_socket() {
                return Err(ServeError::Config(format!(
                    "{} exists and is not a socket",
                    socket.path.display()
                )));
            }
        }
        if UnixStream::connect(&socket.path).is_ok() {
            return Err(ServeError::Config(format!(
                "{} is in use by another running server",
                socket.path.display()
            )));
        }
    }
    let server = Arc::new(AuthServer::new(auth));
    // each socket is bound owner-only and given its configured mode at
    // once, then its owner: never more open than configured
    let mut bind: Vec<(PathBuf, SocketKind, u32)> = Vec::with_capacity(sockets.len());
    for s in &sockets {
        let mode = match &s.listener {
            Some((what, listener)) => listener
                .file_mode(s.default_mode)
                .map_err(|e| ServeError::Config(format!("{what}.mode: {e}")))?,
            None => s.default_mode,
        };
        bind.push((s.path.clone(), s.kind, mode));
    }
    let service = AuthService::start_with_modes(server, &bind)
        .map_err(|e| ServeError::Auth(e.to_string()))?;
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

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::os::unix::fs::MetadataExt;

    use super::*;

    fn config(dir: &std::path::Path, listeners: &str) -> Config {
        std::fs::write(
            dir.join("users"),
            "alice:{PLAIN}pw:1000:1000::/home/alice::\n",
        )
        .unwrap();
        Config::from_toml(&format!(
            "base_dir = \"{base}\"\nauth_failure_delay = 0\n\
             [[passdb]]\ndriver = \"passwd-file\"\nargs = \"{users}\"\n\
             [[userdb]]\ndriver = \"passwd-file\"\nargs = \"{users}\"\n{listeners}",
            base = dir.join("run").display(),
            users = dir.join("users").display(),
        ))
        .unwrap()
    }

    /// The first bytes a socket's server sends: an auth-client handshake
    /// has `MECH` lines, an auth-master one `SPID`.
    fn handshake(path: &std::path::Path) -> String {
        let mut stream = UnixStream::connect(path).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let mut buf = [0u8; 512];
        let n = stream.read(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    #[test]
    fn configured_listeners_are_served_with_their_kind_mode_and_owner() {
        let dir = tempfile::tempdir().unwrap();
        let me = std::fs::metadata(dir.path()).unwrap();
        let extra = dir.path().join("private-auth");
        let c = config(
            dir.path(),
            &format!(
                "[service.auth.unix_listener.\"{}\"]\nmode = \"0660\"\n\
                 user = \"{uid}\"\ngroup = \"{gid}\"\n\
                 [service.auth.unix_listener.exim-master]\n\
                 [service.auth.unix_listener.auth-userdb]\nmode = \"0600\"\n",
                extra.display(),
                uid = me.uid(),
                gid = me.gid(),
            ),
        );
        let service = start(&c).unwrap();
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().mode() & 0o7777;
        assert_eq!(mode(&extra), 0o660);
        assert_eq!(std::fs::metadata(&extra).unwrap().uid(), me.uid());
        assert_eq!(mode(&c.socket("exim-master")), 0o600, "Dovecot's default");
        assert_eq!(mode(&c.socket("auth-userdb")), 0o600, "configured");
        assert_eq!(mode(&c.socket("auth-client")), 0o600, "fixed default");
        assert!(handshake(&extra).contains("\nMECH\t"), "auth-client");
        assert!(
            handshake(&c.socket("exim-master")).contains("\nSPID\t"),
            "master"
        );
        service.shutdown();
        assert!(!extra.exists(), "removed at shutdown");
    }

    #[test]
    fn a_file_in_a_listeners_place_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("auth");
        std::fs::write(&file, "keep me").unwrap();
        let c = config(
            dir.path(),
            &format!("[service.auth.unix_listener.\"{}\"]\n", file.display()),
        );
        let e = start(&c).unwrap_err().to_string();
        assert!(e.contains("exists and is not a socket"), "{e}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
    }
}

//! What the singleton roles (log, anvil, auth, stats) share: binding their
//! Unix sockets as Dovecot does, and the lifecycle with the master (bind,
//! send `Ready`, serve until `Shutdown` or until the master goes away).

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

use columba_privsep::FdChannel;

use super::config::Config;
use super::control::Control;
use super::error::ServeError;

/// Creates `base_dir` if missing (mode 0755, as Dovecot's master does).
pub fn ensure_base_dir(base_dir: &Path) -> Result<(), ServeError> {
    if base_dir.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(base_dir)
        .map_err(|e| ServeError::io(format!("create base_dir {}", base_dir.display()), e))?;
    std::fs::set_permissions(base_dir, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| ServeError::io(format!("chmod {}", base_dir.display()), e))
}

/// Binds a Unix socket at `path` with file mode `mode`. A stale socket
/// file is removed first; a socket some running process still listens on
/// is an error (two servers on one `base_dir`), as in Dovecot.
pub fn bind_unix(path: &Path, mode: u32) -> Result<UnixListener, ServeError> {
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(ServeError::Config(format!(
                "{} exists and is not a socket",
                path.display()
            )));
        }
        if UnixStream::connect(path).is_ok() {
            return Err(ServeError::Config(format!(
                "{} is in use by another running server",
                path.display()
            )));
        }
        std::fs::remove_file(path)
            .map_err(|e| ServeError::io(format!("remove stale {}", path.display()), e))?;
    }
    let listener = UnixListener::bind(path)
        .map_err(|e| ServeError::io(format!("bind {}", path.display()), e))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| ServeError::io(format!("chmod {}", path.display()), e))?;
    Ok(listener)
}

/// Tells the master this role is ready, then waits until it says
/// `Shutdown` or closes the control channel.
pub fn ready_then_wait(control: &mut FdChannel) -> Result<(), ServeError> {
    Control::Ready.send(control, None)?;
    loop {
        match Control::recv(control) {
            Ok(Some((Control::Shutdown, _))) | Ok(None) => return Ok(()),
            Ok(Some(_)) => continue,
            Err(ServeError::Control(_)) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// As root, switches the whole process to `default_internal_user` (its
/// uid, gid and only that group), as Dovecot runs anvil and stats; call
/// it after binding the sockets and before starting any thread. Returns
/// whether the process dropped; not as root there is nothing to drop.
pub fn drop_to_internal_user(config: &Config) -> Result<bool, ServeError> {
    use columba_privsep::ids;
    if !ids::is_root() {
        return Ok(false);
    }
    let user = ids::lookup_user(&config.default_internal_user).map_err(|e| {
        ServeError::Config(format!(
            "default_internal_user = {:?}: {e}",
            config.default_internal_user
        ))
    })?;
    if user.uid == 0 {
        return Ok(false);
    }
    ids::set_groups(&[user.gid])?;
    ids::set_gid(user.gid)?;
    ids::set_uid(user.uid)?;
    ids::verify_dropped(&ids::TargetIds {
        uid: user.uid,
        gid: user.gid,
        groups: vec![user.gid],
    })?;
    Ok(true)
}

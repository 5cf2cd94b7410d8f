//! Binding a Unix socket that is never more open than its mode, without
//! touching the process-wide umask (which would race with files other
//! threads create at the same moment).

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::error::{Error, Result};

/// Binds `path` with file mode `mode`, replacing a stale file. The socket
/// is bound inside a new directory only this user can enter, given its
/// mode there, and then renamed into place, so no one can connect to it
/// while its mode is still the umask's. When the staged path would be too
/// long for a socket address, it is bound in place and given its mode at
/// once.
pub(super) fn bind_socket(path: &Path, mode: u32) -> Result<UnixListener> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let staging = parent.join(format!(
        ".b{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let chmod = |p: &Path| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode & 0o7777))
            .map_err(|e| Error::io(format!("chmod {}", path.display()), e))
    };
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&staging)
        .map_err(|e| Error::io(format!("mkdir {}", staging.display()), e))?;
    let staged = staging.join("s");
    let bound = UnixListener::bind(&staged);
    let result = match bound {
        Ok(listener) => chmod(&staged)
            .and_then(|()| {
                std::fs::rename(&staged, path)
                    .map_err(|e| Error::io(format!("rename into {}", path.display()), e))
            })
            .map(|()| listener),
        // a socket address holds about 108 bytes: the longer staged path
        // may not fit where the final one does
        Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
            let _ = std::fs::remove_file(path);
            UnixListener::bind(path)
                .map_err(|e| Error::io(format!("bind {}", path.display()), e))
                .and_then(|listener| chmod(path).map(|()| listener))
        }
        Err(e) => Err(Error::io(format!("bind {}", path.display()), e)),
    };
    let _ = std::fs::remove_dir_all(&staging);
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileTypeExt;

    #[test]
    fn the_socket_gets_its_mode_and_replaces_a_stale_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth-client");
        std::fs::write(&path, b"stale").unwrap();
        let listener = bind_socket(&path, 0o660).unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert!(meta.file_type().is_socket());
        assert_eq!(meta.permissions().mode() & 0o7777, 0o660);
        // nothing left behind but the socket, and it answers
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["auth-client"]);
        let _client = std::os::unix::net::UnixStream::connect(&path).unwrap();
        listener.accept().unwrap();
    }

    #[test]
    fn a_path_too_long_to_stage_is_bound_in_place() {
        let dir = tempfile::tempdir().unwrap();
        // a parent so long that the final path just fits a socket address
        // (107 bytes) and the staged one, a level deeper, does not
        let used = dir.path().as_os_str().len() + 1;
        let parent = dir.path().join("d".repeat(104 - used));
        std::fs::create_dir(&parent).unwrap();
        let path = parent.join("ab");
        assert_eq!(path.as_os_str().len(), 107);
        let _listener = bind_socket(&path, 0o600).unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, 0o600);
        assert_eq!(std::fs::read_dir(&parent).unwrap().count(), 1);
    }
}

//! A Unix listener's place and access as configured: its path (absolute
//! as given, relative under `base_dir`), its file mode and its owner
//! (`user`, `group`: names or numbers), applied to the bound socket the
//! way Dovecot's master does it for every `unix_listener`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::{parse_mode, Config, UnixListener};
use crate::serve::error::ServeError;

/// Dovecot's mode for a `unix_listener` that sets none.
pub const DEFAULT_MODE: u32 = 0o600;

/// The resolved owner of a socket; `None` leaves that id as it is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SocketOwner {
    /// The owning uid (`user`).
    pub uid: Option<u32>,
    /// The owning gid (`group`).
    pub gid: Option<u32>,
}

impl Config {
    /// The path of the Unix listener `name`: absolute as given, relative
    /// names under `base_dir`.
    pub fn unix_listener_path(&self, name: &str) -> PathBuf {
        if Path::new(name).is_absolute() {
            PathBuf::from(name)
        } else {
            self.socket(name)
        }
    }
}

impl UnixListener {
    /// The owner `user` and `group` name: numbers, else names from the
    /// system's user and group databases. The error says which is unknown.
    pub fn owner(&self) -> Result<SocketOwner, String> {
        let uid = match self.user.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(user_id(text)?),
        };
        let gid = match self.group.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(group_id(text)?),
        };
        Ok(SocketOwner { uid, gid })
    }

    /// The file mode, or `default` when none is set.
    pub fn file_mode(&self, default: u32) -> Result<u32, String> {
        self.mode.as_deref().map_or(Ok(default), parse_mode)
    }

    /// Gives the socket at `path` this listener's owner, then its mode
    /// (`default_mode` when none is set). `what` names the listener in
    /// errors (`service.lmtp.unix_listener.lmtp`).
    pub fn apply(&self, what: &str, path: &Path, default_mode: u32) -> Result<(), ServeError> {
        let mode = self
            .file_mode(default_mode)
            .map_err(|e| ServeError::Config(format!("{what}.mode: {e}")))?;
        let owner = self
            .owner()
            .map_err(|e| ServeError::Config(format!("{what}: {e}")))?;
        if owner.uid.is_some() || owner.gid.is_some() {
            std::os::unix::fs::lchown(path, owner.uid, owner.gid).map_err(|e| {
                ServeError::io(
                    format!(
                        "chown {} to {}:{} ({what})",
                        path.display(),
                        id_text(owner.uid),
                        id_text(owner.gid)
                    ),
                    e,
                )
            })?;
        }
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| ServeError::io(format!("chmod {:o} {} ({what})", mode, path.display()), e))
    }
}

fn id_text(id: Option<u32>) -> String {
    id.map_or_else(|| "-".to_string(), |n| n.to_string())
}

/// A uid: a number or a user name from the system's user database.
fn user_id(text: &str) -> Result<u32, String> {
    if let Ok(n) = text.parse::<u32>() {
        return Ok(n);
    }
    columba_privsep::ids::lookup_user(text)
        .map(|e| e.uid)
        .map_err(|e| format!("user {text:?}: {e}"))
}

/// A gid: a number or a group name from `/etc/group`.
fn group_id(text: &str) -> Result<u32, String> {
    if let Ok(n) = text.parse::<u32>() {
        return Ok(n);
    }
    let groups = std::fs::read_to_string("/etc/group")
        .map_err(|e| format!("group {text:?}: reading /etc/group: {e}"))?;
    groups
        .lines()
        .find_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            let gid = fields.nth(1)?.trim().parse::<u32>().ok()?;
            (name == text).then_some(gid)
        })
        .ok_or_else(|| format!("group {text:?}: no such group"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listener(mode: Option<&str>, user: Option<&str>, group: Option<&str>) -> UnixListener {
        UnixListener {
            mode: mode.map(String::from),
            user: user.map(String::from),
            group: group.map(String::from),
        }
    }

    #[test]
    fn relative_paths_are_under_base_dir_and_absolute_ones_as_given() {
        let c = Config {
            base_dir: PathBuf::from("/run/columba"),
            ..Config::default()
        };
        assert_eq!(c.unix_listener_path("lmtp"), Path::new("/run/columba/lmtp"));
        assert_eq!(
            c.unix_listener_path("/var/spool/postfix/private/auth"),
            Path::new("/var/spool/postfix/private/auth")
        );
    }

    #[test]
    fn owners_are_numbers_or_names() {
        let numbers = listener(None, Some("123"), Some("456")).owner().unwrap();
        assert_eq!(numbers.uid, Some(123));
        assert_eq!(numbers.gid, Some(456));
        let root = listener(None, Some("root"), Some("root")).owner().unwrap();
        assert_eq!((root.uid, root.gid), (Some(0), Some(0)));
        assert_eq!(
            listener(None, None, None).owner().unwrap(),
            SocketOwner::default()
        );
        let unknown = listener(None, Some("no-such-user-here"), None).owner();
        assert!(unknown.unwrap_err().contains("no-such-user-here"));
        let unknown = listener(None, None, Some("no-such-group-here")).owner();
        assert!(unknown.unwrap_err().contains("no such group"));
    }

    #[test]
    fn the_mode_defaults_and_must_be_octal() {
        assert_eq!(listener(None, None, None).file_mode(0o600), Ok(0o600));
        assert_eq!(
            listener(Some("0660"), None, None).file_mode(0o600),
            Ok(0o660)
        );
        assert!(listener(Some("rw"), None, None).file_mode(0o600).is_err());
    }

    #[test]
    fn owner_and_mode_reach_the_socket() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sock");
        let _bound = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let me = std::fs::metadata(dir.path()).unwrap();
        let l = listener(
            Some("0640"),
            Some(&me.uid().to_string()),
            Some(&me.gid().to_string()),
        );
        l.apply("service.test.unix_listener.sock", &path, 0o600)
            .unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.mode() & 0o7777, 0o640);
        assert_eq!((meta.uid(), meta.gid()), (me.uid(), me.gid()));
    }

    #[test]
    fn the_check_names_what_a_listener_cannot_get() {
        let c = Config::from_toml(
            "[service.auth.unix_listener.\"/nonexistent-dir/private/auth\"]\n\
             user = \"no-such-user-here\"\ngroup = \"no-such-group-here\"\n\
             [service.auth.unix_listener.auth-postmap]\n\
             [service.lmtp.unix_listener.lmtp]\nmode = \"0666\"\nuser = \"root\"\n",
        )
        .unwrap();
        let e = c.validate().unwrap_err().to_string();
        for needle in [
            "service.auth.unix_listener./nonexistent-dir/private/auth: user \"no-such-user-here\"",
            "service.auth.unix_listener./nonexistent-dir/private/auth: directory \
             /nonexistent-dir/private does not exist",
            "service.auth.unix_listener.auth-postmap: \"-postmap\" auth sockets are not served",
        ] {
            assert!(e.contains(needle), "{needle} not in:\n{e}");
        }
        assert!(!e.contains("service.lmtp"), "{e}");
    }
}

//! Which protocol an auth socket speaks, from its name, by Dovecot's rule
//! for the `unix_listener` blocks of `service auth`: the part of the file
//! name after its last `-` (the whole name without one) says it: `login`
//! for login processes, `master` for auth-master, `userdb` for
//! auth-userdb, anything else an auth-client socket (Postfix's
//! `private/auth`). `postmap`, `token` and `tokenlogin` name kinds Columba
//! does not serve.

use std::path::Path;

use columba_auth_sasl::server::unix::SocketKind;

/// The kind of the auth socket at `path`, or the suffix that names a kind
/// Columba does not serve.
pub fn socket_kind(path: &Path) -> Result<SocketKind, String> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let suffix = name.rsplit('-').next().unwrap_or(&name);
    match suffix {
        "login" => Ok(SocketKind::Login),
        "master" => Ok(SocketKind::Master),
        "userdb" => Ok(SocketKind::Userdb),
        "postmap" | "token" | "tokenlogin" => Err(suffix.to_string()),
        _ => Ok(SocketKind::Client),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_after_the_last_dash_says_the_kind() {
        let kind = |p: &str| socket_kind(Path::new(p));
        assert_eq!(
            kind("/var/spool/postfix/private/auth"),
            Ok(SocketKind::Client)
        );
        assert_eq!(kind("auth-client"), Ok(SocketKind::Client));
        assert_eq!(kind("auth-login"), Ok(SocketKind::Login));
        assert_eq!(kind("/srv/exim-auth-master"), Ok(SocketKind::Master));
        assert_eq!(kind("private/auth-userdb"), Ok(SocketKind::Userdb));
        assert_eq!(kind("login"), Ok(SocketKind::Login));
        assert_eq!(kind("/run/x/my-master.sock"), Ok(SocketKind::Client));
        assert_eq!(kind("auth-postmap"), Err("postmap".to_string()));
        assert_eq!(kind("auth-tokenlogin"), Err("tokenlogin".to_string()));
    }
}

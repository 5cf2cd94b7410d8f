//! `mail_location` and Dovecot's `%` templates: what a value may contain.

/// Mailbox formats Dovecot knows; only `maildir` is served by Columba.
const DOVECOT_DRIVERS: &[&str] = &["mbox", "sdbox", "mdbox", "dbox", "imapc", "pop3c", "cydir"];

/// `KEY=value` parameters Dovecot accepts after the path.
const PARAMETERS: &[&str] = &[
    "INBOX",
    "INDEX",
    "INDEXPVT",
    "CONTROL",
    "LAYOUT",
    "SUBSCRIPTIONS",
    "DIRNAME",
    "MAILBOXDIR",
    "ALT",
    "VOLATILEDIR",
    "FULLDIRNAME",
    "ITERINDEX",
    "NO-NOSELECT",
    "UTF-8",
    "LISTINDEX",
    "NOVOLATILEDIR",
];

/// Long variable names Dovecot expands in mail settings (`%{user}`).
const LONG_VARIABLES: &[&str] = &[
    "user",
    "username",
    "domain",
    "home",
    "service",
    "local_ip",
    "remote_ip",
    "pid",
    "uid",
    "gid",
    "session",
    "auth_user",
    "auth_username",
    "auth_domain",
    "hostname",
];

/// Short variables: user, username (before `@`), domain, home, service,
/// local and remote IP, pid, `%%`.
const SHORT_VARIABLES: &[u8] = b"undhslrpi%";

/// Checks `%` templates in `value`: every `%x` names a variable Dovecot
/// knows (`%u %n %d %h %s %l %r %p %i %%`, optionally with the `L`/`U`
/// case modifiers or a width, and `%{name}`). The error names the offending
/// variable and its byte offset.
pub fn check_template(value: &str) -> Result<(), String> {
    check_variables(value, SHORT_VARIABLES, LONG_VARIABLES)
}

/// Checks `pop3_uidl_format`: `%v` (UIDVALIDITY), `%u` (UID), `%m` (MD5 of
/// the header), `%f` (file name), `%g` (GUID), `%%`.
pub fn check_uidl_format(value: &str) -> Result<(), String> {
    check_variables(
        value,
        b"vumfg%",
        &["uidvalidity", "uid", "md5", "filename", "guid"],
    )
}

fn check_variables(value: &str, short: &[u8], long: &[&str]) -> Result<(), String> {
    let bytes = value.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        // width: %3n, %-3n, %.3n
        while i < bytes.len() && (bytes[i].is_ascii_digit() || matches!(bytes[i], b'-' | b'.')) {
            i += 1;
        }
        // modifiers: L (lower), U (upper), M (md5), D (domain parts), R (reverse), H (hash), X, N
        while i < bytes.len() && b"LUMDRHXNT".contains(&bytes[i]) {
            i += 1;
        }
        match bytes.get(i) {
            None => return Err(format!("a lone % at byte {start}")),
            Some(b'{') => {
                let Some(len) = bytes[i..].iter().position(|&b| b == b'}') else {
                    return Err(format!("%{{ without }} at byte {start}"));
                };
                let name = &value[i + 1..i + len];
                let base = name.split(':').next().unwrap_or("");
                if !long.contains(&base) && !base.starts_with("userdb:") {
                    return Err(format!("unknown variable %{{{name}}} at byte {start}"));
                }
                i += len + 1;
            }
            Some(&c) if short.contains(&c) => i += 1,
            Some(_) => {
                let end = value[i..]
                    .chars()
                    .next()
                    .map_or(i + 1, |c| i + c.len_utf8());
                return Err(format!(
                    "unknown variable %{} at byte {start}",
                    &value[i..end]
                ));
            }
        }
    }
    Ok(())
}

/// Checks a `mail_location` value: `maildir:<path>[:KEY=value...]` with
/// known template variables, and a path (`~` is the home directory).
pub fn check_mail_location(value: &str) -> Result<(), String> {
    let (driver, rest) = match value.split_once(':') {
        Some((d, r)) => (d, r),
        None if value.is_empty() => return Err("empty (use maildir:~/Maildir)".into()),
        None => return Err(format!("{value:?} has no driver (use maildir:<path>)")),
    };
    match driver {
        "maildir" => {}
        d if DOVECOT_DRIVERS.contains(&d) => {
            return Err(format!(
                "driver {d:?} is Dovecot's, but Columba serves only maildir"
            ))
        }
        d => return Err(format!("unknown driver {d:?} (known: maildir)")),
    }
    let mut parts = rest.split(':');
    let path = parts.next().unwrap_or("");
    if path.is_empty() {
        return Err("no path after maildir:".into());
    }
    if !(path.starts_with('/') || path.starts_with('~') || path.starts_with('%')) {
        return Err(format!(
            "path {path:?} must be absolute, start with ~ (home) or a %variable"
        ));
    }
    check_template(path).map_err(|e| format!("path: {e}"))?;
    for part in parts {
        if part.is_empty() {
            continue;
        }
        let key = part.split('=').next().unwrap_or("");
        if !PARAMETERS.contains(&key) {
            return Err(format!("unknown parameter {key:?}"));
        }
        check_template(part).map_err(|e| format!("{key}: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dovecot_examples_pass() {
        for ok in [
            "maildir:~/Maildir",
            "maildir:/var/vmail/%d/%n",
            "maildir:/var/vmail/%Ld/%Ln:INDEX=/var/index/%u",
            "maildir:~/Maildir:LAYOUT=fs:INBOX=~/Maildir/.INBOX",
            "maildir:%h/Maildir",
            "maildir:/srv/%{domain}/%{username}",
            "maildir:/srv/%2.1n/%n",
        ] {
            check_mail_location(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
    }

    #[test]
    fn mistakes_are_named() {
        let e = check_mail_location("maildir:/var/vmail/%q").unwrap_err();
        assert!(e.contains("%q") && e.contains("byte 11"), "{e}");
        let e = check_mail_location("mdbox:~/mdbox").unwrap_err();
        assert!(e.contains("only maildir"), "{e}");
        let e = check_mail_location("maildr:~/Maildir").unwrap_err();
        assert!(e.contains("unknown driver"), "{e}");
        let e = check_mail_location("maildir:~/Maildir:INDX=/x").unwrap_err();
        assert!(e.contains("INDX"), "{e}");
        let e = check_mail_location("maildir:/m/%{usr}").unwrap_err();
        assert!(e.contains("%{usr}"), "{e}");
        assert!(check_mail_location("maildir:Maildir").is_err());
        assert!(check_mail_location("").is_err());
        assert!(check_template("abc%").is_err());
        assert!(check_uidl_format("%08Xu%08Xv").is_ok());
        assert!(check_uidl_format("%n").is_err());
    }
}

//! LMTP recipients to user names, as Dovecot's lmtp looks them up: the
//! address extension after `recipient_delimiter` is dropped
//! (`alice+news@example.com` is `alice@example.com`, detail `news`), and
//! the result is looked up in the userdb.

/// A recipient address taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// The user name looked up first: the address without its detail.
    pub user: String,
    /// The detail (`news` in `alice+news@example.com`), if any.
    pub detail: Option<String>,
    /// The local part alone, looked up when the full address is unknown
    /// and the userdb has unqualified names (`demo` for `demo@localhost`).
    pub local_user: Option<String>,
}

/// Longest recipient address taken (RFC 5321's path limit).
const MAX_ADDRESS: usize = 256;

/// Splits `address` at the first of `delimiters` (Dovecot's
/// `recipient_delimiter` may list several characters). `None` for an
/// address no user can have (empty, too long, control characters).
pub fn parse(address: &str, delimiters: &str) -> Option<Recipient> {
    if address.is_empty()
        || address.len() > MAX_ADDRESS
        || address
            .chars()
            .any(|c| c.is_control() || c == '/' || c == '\t')
    {
        return None;
    }
    let (local, domain) = match address.rsplit_once('@') {
        Some((l, d)) => (l, Some(d)),
        None => (address, None),
    };
    let (base, detail) = match local.find(|c| delimiters.contains(c)) {
        Some(i) if !delimiters.is_empty() && i > 0 => {
            let delimiter_len = local[i..].chars().next().map_or(1, char::len_utf8);
            (&local[..i], Some(local[i + delimiter_len..].to_string()))
        }
        _ => (local, None),
    };
    if base.is_empty() || base == "." || base == ".." {
        return None;
    }
    let user = match domain {
        Some(d) => format!("{base}@{d}"),
        None => base.to_string(),
    };
    Some(Recipient {
        user,
        detail,
        local_user: domain.map(|_| base.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_detail_is_dropped_as_dovecot_drops_it() {
        let r = parse("alice+news@localhost", "+").unwrap();
        assert_eq!(r.user, "alice@localhost");
        assert_eq!(r.detail.as_deref(), Some("news"));
        assert_eq!(r.local_user.as_deref(), Some("alice"));
        let r = parse("alice", "+").unwrap();
        assert_eq!(
            (r.user.as_str(), r.detail, r.local_user),
            ("alice", None, None)
        );
        let r = parse("a-b+c@d", "-+").unwrap();
        assert_eq!(r.user, "a@d");
        assert_eq!(r.detail.as_deref(), Some("b+c"));
        let r = parse("a+b@d", "").unwrap();
        assert_eq!(r.user, "a+b@d");
    }

    #[test]
    fn addresses_no_user_can_have_are_refused() {
        for bad in ["", "../x", "a/b@c", "a\tb", ".@x", &"x".repeat(300)] {
            assert_eq!(parse(bad, "+"), None, "{bad:?}");
        }
    }
}

//! Dovecot's `%` variables in paths and field values.

use super::LookupRequest;

/// Expands `%u` (user), `%n` (local part), `%d` (domain), `%s` (service),
/// `%r` (remote IP), `%l` (local IP), `%%`, their long forms `%{user}`,
/// `%{username}`, `%{domain}`, `%{service}`, `%{rip}`, `%{lip}`, and the `L`/`U`
/// (lower/upper case) modifiers (`%Lu`, `%{L:user}` is not supported).
/// Unknown variables expand to nothing, as in Dovecot.
pub fn expand(template: &str, request: &LookupRequest) -> String {
    let mut out = String::with_capacity(template.len());
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut modifier = None;
        while let Some(&m) = chars.peek() {
            if m == 'L' || m == 'U' {
                modifier = Some(m);
                chars.next();
            } else {
                break;
            }
        }
        let name: String = match chars.next() {
            Some('{') => chars.by_ref().take_while(|&c| c != '}').collect(),
            Some(c) => c.to_string(),
            None => {
                out.push('%');
                break;
            }
        };
        let user = request.user.as_str();
        let value = match name.as_str() {
            "%" => "%".to_string(),
            "u" | "user" => user.to_string(),
            "n" | "username" => user.split_once('@').map_or(user, |(n, _)| n).to_string(),
            "d" | "domain" => user.split_once('@').map_or("", |(_, d)| d).to_string(),
            "s" | "service" => request.service.clone(),
            "r" | "rip" => request.remote_ip.map(|i| i.to_string()).unwrap_or_default(),
            "l" | "lip" => request.local_ip.map(|i| i.to_string()).unwrap_or_default(),
            "session" => request.session.clone().unwrap_or_default(),
            _ => String::new(),
        };
        match modifier {
            Some('L') => out.push_str(&value.to_lowercase()),
            Some('U') => out.push_str(&value.to_uppercase()),
            _ => out.push_str(&value),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_user_parts() {
        let r = LookupRequest::new("Alice@Example.org", "imap");
        assert_eq!(
            expand("/var/vmail/%d/%n", &r),
            "/var/vmail/Example.org/Alice"
        );
        assert_eq!(
            expand("%Lu %{service} 100%%", &r),
            "alice@example.org imap 100%"
        );
    }
}

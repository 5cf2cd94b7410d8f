//! LIST patterns: `*` matches anything, `%` anything but the hierarchy
//! separator; `INBOX` matches case-insensitively, as in Dovecot.

/// Most bytes of a pattern or name matched (bounds the work per match).
pub const MAX_PATTERN_LEN: usize = 4096;

/// `INBOX` (any case) at the start of `s`, when followed by the end or the separator.
fn normalize_inbox(s: &str, sep: char) -> String {
    if s.len() >= 5 && s.is_char_boundary(5) && s[..5].eq_ignore_ascii_case("INBOX") {
        let rest = &s[5..];
        if rest.is_empty() || rest.starts_with(sep) {
            return format!("INBOX{rest}");
        }
    }
    s.to_string()
}

/// The pattern with `INBOX` normalized, for [`matches()`].
pub fn normalize_pattern(pattern: &str, sep: char) -> String {
    // "inbox*" and "inbox%" also address INBOX
    if pattern.len() >= 5
        && pattern.is_char_boundary(5)
        && pattern[..5].eq_ignore_ascii_case("INBOX")
    {
        let rest = &pattern[5..];
        if rest.is_empty()
            || rest.starts_with(sep)
            || rest.starts_with('*')
            || rest.starts_with('%')
        {
            return format!("INBOX{rest}");
        }
    }
    pattern.to_string()
}

/// True if `name` matches `pattern` with hierarchy separator `sep`.
pub fn matches(pattern: &str, name: &str, sep: char) -> bool {
    if pattern.len() > MAX_PATTERN_LEN || name.len() > MAX_PATTERN_LEN {
        return false;
    }
    let p: Vec<char> = normalize_pattern(pattern, sep).chars().collect();
    let n: Vec<char> = normalize_inbox(name, sep).chars().collect();
    // the INBOX part of a name matches case-insensitively
    let inbox_len = if n.len() >= 5
        && n[..5].iter().collect::<String>() == "INBOX"
        && n.get(5).is_none_or(|&c| c == sep)
    {
        5
    } else {
        0
    };
    // dp[j]: pattern prefix matches name prefix of length j
    let mut dp = vec![false; n.len() + 1];
    dp[0] = true;
    for &pc in &p {
        let mut next = vec![false; n.len() + 1];
        match pc {
            '*' | '%' => {
                let mut reach = false;
                for j in 0..=n.len() {
                    if dp[j] {
                        reach = true;
                    }
                    next[j] = reach;
                    if pc == '%' && j < n.len() && n[j] == sep {
                        reach = false;
                    }
                }
            }
            c => {
                for j in 0..n.len() {
                    if dp[j] && (n[j] == c || (j < inbox_len && n[j].eq_ignore_ascii_case(&c))) {
                        next[j + 1] = true;
                    }
                }
            }
        }
        dp = next;
    }
    dp[n.len()]
}

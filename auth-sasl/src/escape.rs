//! Dovecot's tab escaping of protocol fields (`str_append_tabescaped()` and
//! `t_strsplit_tabescaped()`).

/// Appends `value` to `out`, escaping 0x01, TAB, CR and LF (and NUL as `\x010`).
pub fn tab_escape_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\x00' => out.push_str("\x010"),
            '\x01' => out.push_str("\x011"),
            '\t' => out.push_str("\x01t"),
            '\r' => out.push_str("\x01r"),
            '\n' => out.push_str("\x01n"),
            c => out.push(c),
        }
    }
}

/// Returns `value` tab-escaped.
pub fn tab_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    tab_escape_into(&mut out, value);
    out
}

/// Undoes [`tab_escape`]: 0x01 followed by `0`, `1`, `t`, `r`, `n` becomes
/// NUL, 0x01, TAB, CR, LF; 0x01 followed by any other byte becomes that byte.
pub fn tab_unescape(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut bytes = field.iter();
    while let Some(&b) = bytes.next() {
        if b != 0x01 {
            out.push(b);
            continue;
        }
        match bytes.next() {
            Some(b'0') => out.push(0),
            Some(b'1') => out.push(1),
            Some(b't') => out.push(b'\t'),
            Some(b'r') => out.push(b'\r'),
            Some(b'n') => out.push(b'\n'),
            Some(&other) => out.push(other),
            None => {}
        }
    }
    out
}

/// Splits a line at TABs and unescapes every field.
pub fn split_tabescaped(line: &[u8]) -> Vec<Vec<u8>> {
    line.split(|&b| b == b'\t').map(tab_unescape).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let raw = "a\tb\rc\nd\x01e\x00f";
        let escaped = tab_escape(raw);
        assert!(!escaped.contains(['\t', '\n', '\r']));
        assert_eq!(tab_unescape(escaped.as_bytes()), raw.as_bytes());
    }

    #[test]
    fn unknown_escape_is_the_byte() {
        assert_eq!(tab_unescape(b"a\x01xb\x01"), b"axb");
    }
}

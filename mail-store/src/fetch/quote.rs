//! IMAP strings written as Dovecot's `imap-quote.c` writes them: quoted when
//! possible, a literal for CR, LF, 8-bit bytes or more than four characters
//! needing escapes; "for humans" strings with white space collapsed.

/// Quoted-specials needing escapes before a literal is cheaper.
const QUOTED_MAX_ESCAPE_CHARS: usize = 4;

/// A C string ends at NUL: Dovecot never sees what follows.
fn c_str(s: &[u8]) -> &[u8] {
    match s.iter().position(|&b| b == 0) {
        Some(n) => &s[..n],
        None => s,
    }
}

/// `NIL` or the string.
pub fn append_nstring(out: &mut Vec<u8>, s: Option<&[u8]>) {
    match s {
        None => out.extend_from_slice(b"NIL"),
        Some(s) => append_string(out, s),
    }
}

/// A string: quoted, or a literal when it must be.
pub fn append_string(out: &mut Vec<u8>, s: &[u8]) {
    let s = c_str(s);
    let mut escapes = 0;
    for &b in s {
        let literal = match b {
            b'"' | b'\\' => {
                escapes += 1;
                escapes > QUOTED_MAX_ESCAPE_CHARS
            }
            b'\r' | b'\n' => true,
            b if b >= 0x80 => true,
            _ => false,
        };
        if literal {
            out.extend_from_slice(format!("{{{}}}\r\n", s.len()).as_bytes());
            out.extend_from_slice(s);
            return;
        }
    }
    out.push(b'"');
    for &b in s {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// Like [`append_nstring`], with line breaks removed (a space inserted where
/// the next line does not start with white space).
pub fn append_nstring_nolf(out: &mut Vec<u8>, s: Option<&[u8]>) {
    let Some(s) = s else {
        out.extend_from_slice(b"NIL");
        return;
    };
    let s = c_str(s);
    if !s.iter().any(|&b| b == b'\r' || b == b'\n') {
        append_string(out, s);
        return;
    }
    let mut clean = Vec::with_capacity(s.len());
    for (i, &b) in s.iter().enumerate() {
        if b != b'\r' && b != b'\n' {
            clean.push(b);
        } else if !matches!(s.get(i + 1), None | Some(b' ' | b'\t' | b'\r' | b'\n')) {
            clean.push(b' ');
        }
    }
    append_string(out, &clean);
}

/// A string meant for people (subject, display name): runs of white space
/// and line breaks become one space, leading and trailing white space goes.
pub fn append_string_for_humans(out: &mut Vec<u8>, s: &[u8]) {
    let s = c_str(s);
    let mut modify = false;
    let mut last_lwsp = true;
    let mut ws_prefix = true;
    let mut remove = 0usize;
    for &b in s {
        match b {
            b'\r' | b'\n' | b'\t' | b' ' => {
                if b != b' ' {
                    modify = true;
                }
                if last_lwsp {
                    modify = true;
                    remove += 1;
                }
                last_lwsp = true;
            }
            b'"' | b'\\' => {
                modify = true;
                last_lwsp = false;
            }
            _ => {
                if b & 0x80 != 0 {
                    modify = true;
                }
                last_lwsp = false;
            }
        }
        if !last_lwsp {
            ws_prefix = false;
        }
    }
    if last_lwsp && !s.is_empty() && !ws_prefix {
        modify = true;
        remove += 1;
    }
    if !modify {
        out.push(b'"');
        out.extend_from_slice(s);
        out.push(b'"');
        return;
    }
    if s.len() == remove {
        out.extend_from_slice(b"\"\"");
        return;
    }
    out.extend_from_slice(format!("{{{}}}\r\n", s.len() - remove).as_bytes());
    let start = out.len();
    last_lwsp = true;
    ws_prefix = true;
    for &b in s {
        match b {
            b'\r' | b'\n' | b'\t' | b' ' => {
                if !last_lwsp {
                    out.push(b' ');
                }
                last_lwsp = true;
            }
            _ => {
                last_lwsp = false;
                out.push(b);
            }
        }
        if !last_lwsp {
            ws_prefix = false;
        }
    }
    if last_lwsp && !s.is_empty() && !ws_prefix && out.len() > start {
        out.pop();
    }
}

//! Logging in Dovecot's form, and the log role.
//!
//! Every role writes whole lines to its standard error as Dovecot's
//! processes do, without the timestamp: `<prefix>: <Level>: <text>`, e.g.
//! `imap-login: Info: Login: user=<demo>, method=PLAIN, rip=127.0.0.1, ...`.
//! [`info`], [`warning`], [`error`] and [`fatal`] write one such line with
//! one `write` call, so lines of concurrent threads never interleave; the
//! text is sanitised (control characters become `?`, as Dovecot's
//! `str_sanitize` does, so a client cannot forge a log line with a newline
//! in its user name) and cut at [`MAX_LINE`] bytes with a marker.
//!
//! The master connects each child's standard error to the log role's
//! socket (`base_dir/log`); the log role ([`role`]) adds `log_timestamp`
//! and writes the lines to `log_path` (or its own standard error).

pub mod lines;
pub mod role;
pub mod timestamp;

use std::io::Write;

pub use lines::MAX_LINE;
pub use role::run;

/// Marker appended to a line cut at [`MAX_LINE`].
pub const CUT_MARKER: &str = " [line too long, cut]";

/// Dovecot's log levels, as written after the prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// `Debug:`
    Debug,
    /// `Info:`
    Info,
    /// `Warning:`
    Warning,
    /// `Error:`
    Error,
    /// `Fatal:`
    Fatal,
    /// `Panic:`
    Panic,
}

impl Level {
    /// The level's word in a log line.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "Debug",
            Level::Info => "Info",
            Level::Warning => "Warning",
            Level::Error => "Error",
            Level::Fatal => "Fatal",
            Level::Panic => "Panic",
        }
    }

    /// The level of a line `<prefix>: <Level>: <text>`, if it has one.
    pub fn of_line(line: &[u8]) -> Option<Level> {
        let text = String::from_utf8_lossy(&line[..line.len().min(512)]);
        for level in [
            Level::Info,
            Level::Warning,
            Level::Error,
            Level::Fatal,
            Level::Panic,
            Level::Debug,
        ] {
            let needle = format!(": {}: ", level.as_str());
            if text.contains(&needle) {
                return Some(level);
            }
        }
        None
    }
}

/// The line `<prefix>: <Level>: <text>\n`, sanitised and bounded.
pub fn format_line(prefix: &str, level: Level, text: &str) -> Vec<u8> {
    let mut line = String::with_capacity(prefix.len() + text.len() + 16);
    line.push_str(prefix);
    line.push_str(": ");
    line.push_str(level.as_str());
    line.push_str(": ");
    line.push_str(text);
    let mut out: Vec<u8> = Vec::with_capacity(line.len().min(MAX_LINE) + 1);
    let mut cut = false;
    for c in line.chars() {
        let c = if c.is_control() { '?' } else { c };
        if out.len() + c.len_utf8() > MAX_LINE - CUT_MARKER.len() {
            cut = true;
            break;
        }
        let mut buf = [0u8; 4];
        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    }
    if cut {
        out.extend_from_slice(CUT_MARKER.as_bytes());
    }
    out.push(b'\n');
    out
}

/// Writes one line at `level` to standard error with a single `write`.
pub fn write(prefix: &str, level: Level, text: &str) {
    let line = format_line(prefix, level, text);
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(&line);
}

/// `<prefix>: Info: <text>`.
pub fn info(prefix: &str, text: &str) {
    write(prefix, Level::Info, text);
}

/// `<prefix>: Warning: <text>`.
pub fn warning(prefix: &str, text: &str) {
    write(prefix, Level::Warning, text);
}

/// `<prefix>: Error: <text>`.
pub fn error(prefix: &str, text: &str) {
    write(prefix, Level::Error, text);
}

/// `<prefix>: Fatal: <text>` (the caller then exits).
pub fn fatal(prefix: &str, text: &str) {
    write(prefix, Level::Fatal, text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_have_dovecots_shape() {
        assert_eq!(
            format_line("imap-login", Level::Info, "Login: user=<demo>"),
            b"imap-login: Info: Login: user=<demo>\n"
        );
        assert_eq!(
            Level::of_line(b"imap(demo)<12><x>: Warning: slow"),
            Some(Level::Warning)
        );
        assert_eq!(Level::of_line(b"no level here"), None);
    }

    #[test]
    fn control_characters_cannot_forge_lines() {
        let line = format_line(
            "imap-login",
            Level::Info,
            "user=<x\nimap-login: Info: Login: user=<root>>",
        );
        assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
        assert!(line.starts_with(b"imap-login: Info: user=<x?imap-login"));
    }

    #[test]
    fn long_lines_are_cut_with_a_marker() {
        let text = "é".repeat(MAX_LINE);
        let line = format_line("p", Level::Error, &text);
        assert!(line.len() <= MAX_LINE + 1);
        let s = std::str::from_utf8(&line).unwrap();
        assert!(s.ends_with(&format!("{CUT_MARKER}\n")));
    }
}

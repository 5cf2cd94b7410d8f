//! The master's own log lines (`master: Error: ...`), in Dovecot's form.

/// The master's log prefix.
const PREFIX: &str = "master";

fn line(level: &str, text: &str) {
    // One write per line, so lines from several threads never interleave.
    use std::io::Write;
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(format!("{PREFIX}: {level}: {text}\n").as_bytes());
}

/// An `Info:` line.
pub fn info(text: &str) {
    line("Info", text);
}

/// A `Warning:` line.
pub fn warning(text: &str) {
    line("Warning", text);
}

/// An `Error:` line.
pub fn error(text: &str) {
    line("Error", text);
}

/// A `Fatal:` line.
pub fn fatal(text: &str) {
    line("Fatal", text);
}

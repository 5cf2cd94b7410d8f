//! The master's own log lines (`master: Error: ...`), in Dovecot's form,
//! through the server's log functions (one write per line).

use crate::serve::log;

/// The master's log prefix.
const PREFIX: &str = "master";

/// An `Info:` line.
pub fn info(text: &str) {
    log::info(PREFIX, text);
}

/// A `Warning:` line.
pub fn warning(text: &str) {
    log::warning(PREFIX, text);
}

/// An `Error:` line.
pub fn error(text: &str) {
    log::error(PREFIX, text);
}

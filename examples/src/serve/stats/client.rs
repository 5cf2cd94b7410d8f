//! [`StatsClient`]: counting from any process, best-effort.

use std::io::{ErrorKind, Write};
use std::os::unix::net::UnixStream;

use super::protocol::{valid_name, VERSION_LINE};
use crate::serve::config::Config;

/// A connection to the stats role's `stats-writer` socket. Counting never
/// blocks and never fails a session: when the stats role is absent or its
/// socket is full, counts are dropped and the client turns itself off.
#[derive(Debug)]
pub struct StatsClient {
    stream: Option<UnixStream>,
}

impl StatsClient {
    /// Connects to `base_dir/stats-writer`; a client that counts nothing
    /// when the stats role does not run.
    pub fn connect(config: &Config) -> StatsClient {
        let stream = UnixStream::connect(config.socket("stats-writer"))
            .ok()
            .filter(|s| s.set_nonblocking(true).is_ok());
        let mut client = StatsClient { stream };
        client.send(&format!("{VERSION_LINE}\n"));
        client
    }

    /// Whether counts go anywhere.
    #[cfg(test)]
    pub fn is_connected(&self) -> bool {
        self.stream.is_some()
    }

    fn send(&mut self, line: &str) {
        let Some(stream) = &mut self.stream else {
            return;
        };
        match stream.write(line.as_bytes()) {
            Ok(n) if n == line.len() => {}
            // A partial line would corrupt the next one: give up counting.
            Ok(_) => self.stream = None,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(_) => self.stream = None,
        }
    }

    /// Adds `n` to `counter` (`a-z 0-9 . _ -`, at most 64 bytes; other
    /// names are ignored). Names used by the server: `<service>.connections`,
    /// `<service>.logins`, `<service>.login_failures`, `<service>.commands`
    /// (service `imap` or `pop3`), `lmtp.deliveries`,
    /// `lmtp.delivery_failures`.
    pub fn inc(&mut self, counter: &str, n: u64) {
        if valid_name(counter) {
            self.send(&format!("INC\t{counter}\t{n}\n"));
        }
    }
}

//! [`AnvilClient`]: a process's connection to the anvil role.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use columba_auth_sasl::escape::tab_escape;

use super::protocol::VERSION_LINE;
use crate::serve::error::ServeError;

/// How long a reply may take before the client gives up.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest reply line read for LOOKUP / PENALTY-GET.
const MAX_REPLY: u64 = 256;

/// A connection to anvil. Sessions registered with
/// [`connect_session`](Self::connect_session) end when the client is
/// dropped (anvil forgets them when the connection closes), so a process
/// that dies cannot leave counts behind.
///
/// The socket is `0600`, owned by the user the server starts as, as
/// Dovecot's is: connect before dropping privileges.
#[derive(Debug)]
pub struct AnvilClient {
    writer: UnixStream,
    reader: BufReader<UnixStream>,
}

impl AnvilClient {
    /// Connects to the anvil socket at `path` and sends the handshake.
    pub fn connect(path: &Path) -> Result<AnvilClient, ServeError> {
        let what = || format!("connect to anvil at {}", path.display());
        let stream = UnixStream::connect(path).map_err(|e| ServeError::io(what(), e))?;
        stream
            .set_read_timeout(Some(REPLY_TIMEOUT))
            .map_err(|e| ServeError::io(what(), e))?;
        stream
            .set_write_timeout(Some(REPLY_TIMEOUT))
            .map_err(|e| ServeError::io(what(), e))?;
        let reader = BufReader::new(stream.try_clone().map_err(|e| ServeError::io(what(), e))?);
        let mut client = AnvilClient {
            writer: stream,
            reader,
        };
        client.send(VERSION_LINE)?;
        Ok(client)
    }

    fn send(&mut self, line: &str) -> Result<(), ServeError> {
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        self.writer
            .write_all(&bytes)
            .map_err(|e| ServeError::io("write to anvil", e))
    }

    fn reply(&mut self) -> Result<String, ServeError> {
        let mut line = String::new();
        let n = (&mut self.reader)
            .take(MAX_REPLY)
            .read_line(&mut line)
            .map_err(|e| ServeError::io("read from anvil", e))?;
        if n == 0 || !line.ends_with('\n') {
            return Err(ServeError::Control(
                "anvil closed the connection or sent an overlong reply".into(),
            ));
        }
        line.pop();
        Ok(line)
    }

    /// How many sessions are registered under `ident` (`<service>/<ip>/<user>`).
    pub fn lookup(&mut self, ident: &str) -> Result<u32, ServeError> {
        self.send(&format!("LOOKUP\t{}", tab_escape(ident)))?;
        let line = self.reply()?;
        line.parse()
            .map_err(|_| ServeError::Control(format!("anvil: LOOKUP reply {line:?}")))
    }

    /// Registers a session of process `pid` under `ident`.
    pub fn connect_session(&mut self, pid: u32, ident: &str) -> Result<(), ServeError> {
        self.send(&format!("CONNECT\t{pid}\t{}", tab_escape(ident)))
    }

    /// Ends a session registered with [`connect_session`](Self::connect_session).
    pub fn disconnect_session(&mut self, pid: u32, ident: &str) -> Result<(), ServeError> {
        self.send(&format!("DISCONNECT\t{pid}\t{}", tab_escape(ident)))
    }

    /// The penalty of `ident` and when it was last raised (UNIX time).
    /// (Auth penalties are kept by the auth role itself; anvil's are
    /// served for Dovecot's clients and exercised by the tests.)
    #[cfg(test)]
    pub fn penalty_get(&mut self, ident: &str) -> Result<(u32, i64), ServeError> {
        self.send(&format!("PENALTY-GET\t{}", tab_escape(ident)))?;
        let line = self.reply()?;
        let bad = || ServeError::Control(format!("anvil: PENALTY-GET reply {line:?}"));
        let (value, stamp) = line.split_once(' ').ok_or_else(bad)?;
        Ok((
            value.parse().map_err(|_| bad())?,
            stamp.parse().map_err(|_| bad())?,
        ))
    }

    /// Sets the penalty of `ident` to `value`; `checksum` identifies the
    /// failed credentials (0 for none).
    #[cfg(test)]
    pub fn penalty_inc(
        &mut self,
        ident: &str,
        checksum: u32,
        value: u32,
    ) -> Result<(), ServeError> {
        self.send(&format!(
            "PENALTY-INC\t{}\t{checksum}\t{value}",
            tab_escape(ident)
        ))
    }
}

//! Telling the indexer about new mail (from the lmtp role). Best effort
//! and quick: without an indexer, or when it does not answer within a
//! moment, the delivery goes on and the cache is filled on first access.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use super::protocol::{request_line, VERSION_LINE};
use crate::serve::config::Config;

/// How long a delivery waits for the indexer to queue a request.
const TIMEOUT: Duration = Duration::from_secs(2);

/// Asks the indexer to index `mailbox` of `user`; true when it was queued.
pub fn notify(config: &Config, user: &str, mailbox: &str) -> bool {
    let Ok(stream) = UnixStream::connect(config.socket("indexer")) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(TIMEOUT));
    let _ = stream.set_write_timeout(Some(TIMEOUT));
    let Ok(reader) = stream.try_clone() else {
        return false;
    };
    let mut writer = stream;
    let line = format!("{VERSION_LINE}\n{}", request_line(1, user, mailbox));
    if writer.write_all(line.as_bytes()).is_err() {
        return false;
    }
    // the version line, then the answer; bounded either way
    let mut reader = BufReader::new(reader.take(4096));
    let mut answer = String::new();
    for _ in 0..4 {
        answer.clear();
        match reader.read_line(&mut answer) {
            Ok(0) | Err(_) => return false,
            Ok(_) if answer.trim_end() == "1\tOK" => return true,
            Ok(_) => {}
        }
    }
    false
}

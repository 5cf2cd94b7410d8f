//! The index's `maildir` extension header as this process last read it,
//! per Maildir, with the log's stamp at that moment: the header changes
//! only through the log, so while the log keeps its inode, size and
//! modification time the header is the same and the quick check of the
//! directories ([`super::sync()`]) reads no index file.
//!
//! The stamp is taken before the header is read; a log appended to in
//! between has another stamp from then on, so a remembered header is
//! never newer than a log that still shows the remembered stamp allows.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// How many Maildirs are remembered (least recently stored go first).
const MAX_DIRS: usize = 16;

/// (device, inode, size, mtime seconds, mtime nanoseconds) of the log.
type LogStamp = (u64, u64, u64, i64, i64);

/// (Maildir, log stamp, header bytes; `None`: the index has no such header).
type Entry = (PathBuf, LogStamp, Option<Vec<u8>>);

static HEADERS: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

/// The header remembered for `dir` if the log still has stamp `log`.
pub(super) fn get(dir: &Path, log: &LogStamp) -> Option<Option<Vec<u8>>> {
    let headers = HEADERS.lock().unwrap_or_else(|p| p.into_inner());
    headers
        .iter()
        .find(|(d, stamp, _)| d == dir && stamp == log)
        .map(|(_, _, hdr)| hdr.clone())
}

/// Remembers `hdr`, read while the log had stamp `log`.
pub(super) fn put(dir: &Path, log: LogStamp, hdr: Option<Vec<u8>>) {
    let mut headers = HEADERS.lock().unwrap_or_else(|p| p.into_inner());
    headers.retain(|(d, _, _)| d != dir);
    if headers.len() >= MAX_DIRS {
        headers.remove(0);
    }
    headers.push((dir.to_path_buf(), log, hdr));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_is_given_back_only_for_the_same_log_stamp() {
        let dir = Path::new("/nonexistent/maildir-header-memo");
        put(dir, (1, 2, 3, 4, 5), Some(vec![7]));
        assert_eq!(get(dir, &(1, 2, 3, 4, 5)), Some(Some(vec![7])));
        assert_eq!(get(dir, &(1, 2, 4, 4, 5)), None, "the log grew");
        put(dir, (1, 2, 4, 4, 5), None);
        assert_eq!(get(dir, &(1, 2, 3, 4, 5)), None, "replaced");
        assert_eq!(get(dir, &(1, 2, 4, 4, 5)), Some(None));
    }
}

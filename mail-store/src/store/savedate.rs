//! SAVEDATE (RFC 8514): when each message was saved into its mailbox, as
//! Dovecot's Maildir storage answers it (`maildir_mail_get_save_date()`):
//! the `date.save` field of `dovecot.index.cache` when Dovecot (or
//! Columba) cached it, otherwise the message file's ctime. A Maildir
//! always has an answer, so FETCH SAVEDATE is never NIL here and
//! SAVEDATESUPPORTED matches every message.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;

use columba_mail_index::IndexDir;

use super::snapshot::MailboxSnapshot;
use crate::error::{Error, Result};

/// Dovecot's cache field for the save date (4 bytes, Unix seconds).
pub const FIELD_DATE_SAVE: &str = "date.save";

impl MailboxSnapshot {
    /// Fills [`super::SnapshotMessage::save_date`] for every message that
    /// still has its file: the cached `date.save`, else the file's ctime.
    /// Reads the index and cache once, and stats files only for messages
    /// the cache has no date for.
    pub fn resolve_save_dates(&mut self) -> Result<()> {
        if self.messages.iter().all(|m| m.save_date.is_some()) {
            return Ok(());
        }
        self.fill_cached_save_dates();
        self.resolve_files()?;
        for i in 0..self.messages.len() {
            self.stat_save_date(i)?;
        }
        Ok(())
    }

    /// The SAVEDATE of the message with `uid` (Unix seconds); `None` if the
    /// message or its file is gone. The cache's dates are read once; a
    /// message without one has its own file looked at, and no other.
    pub fn save_date(&mut self, uid: u32) -> Result<Option<i64>> {
        let Ok(i) = self.messages.binary_search_by_key(&uid, |m| m.uid) else {
            return Ok(None);
        };
        if self.messages[i].save_date.is_none() {
            self.fill_cached_save_dates();
        }
        if self.messages[i].save_date.is_none() {
            self.resolve_file(i as u32 + 1)?;
            self.stat_save_date(i)?;
        }
        Ok(self.messages[i].save_date)
    }

    /// Fills the save dates the cache holds (once per snapshot).
    fn fill_cached_save_dates(&mut self) {
        if self.cached_save_dates_read {
            return;
        }
        self.cached_save_dates_read = true;
        let cached = self.cached_save_dates();
        if cached.is_empty() {
            return;
        }
        for m in &mut self.messages {
            if m.save_date.is_none() {
                m.save_date = cached.get(&m.uid).copied();
            }
        }
    }

    /// The save date of message `i` from its file's ctime, if it has none
    /// yet and its file is there.
    fn stat_save_date(&mut self, i: usize) -> Result<()> {
        let m = &mut self.messages[i];
        if m.save_date.is_some() {
            return Ok(());
        }
        let Some(path) = m.locate() else {
            return Ok(());
        };
        match std::fs::metadata(&path) {
            Ok(meta) => m.save_date = Some(meta.ctime()),
            // expunged meanwhile: no date, as for a message without a file
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(Error::MessageFile {
                    path,
                    reason: e.to_string(),
                })
            }
        }
        Ok(())
    }

    /// `date.save` values in the cache, by UID. A cache that cannot be read
    /// is not trusted: the file dates answer instead.
    fn cached_save_dates(&self) -> HashMap<u32, i64> {
        let mut out = HashMap::new();
        let dir = self.mailbox().path();
        if !dir.join("dovecot.index.cache").exists() {
            return out;
        }
        let turn = super::index_io::guard(dir);
        let view = IndexDir::new(dir).open_view();
        drop(turn);
        let Ok(view) = view else {
            return out;
        };
        let Some(cache) = view.cache.as_ref() else {
            return out;
        };
        for m in view.messages().filter(|m| m.cache_offset != 0) {
            if let Ok(Some(v)) = cache.lookup(m.cache_offset, FIELD_DATE_SAVE) {
                if let Ok(bytes) = <[u8; 4]>::try_from(v.as_slice()) {
                    out.insert(m.uid, i64::from(u32::from_le_bytes(bytes)));
                }
            }
        }
        out
    }
}

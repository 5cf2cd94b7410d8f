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
        let cached = self.cached_save_dates();
        self.resolve_files()?;
        for m in &mut self.messages {
            if m.save_date.is_some() {
                continue;
            }
            if let Some(&t) = cached.get(&m.uid) {
                m.save_date = Some(t);
                continue;
            }
            let Some(path) = &m.locate() else {
                continue;
            };
            match std::fs::metadata(path) {
                Ok(meta) => m.save_date = Some(meta.ctime()),
                // expunged meanwhile: no date, as for a message without a file
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(Error::MessageFile {
                        path: path.clone(),
                        reason: e.to_string(),
                    })
                }
            }
        }
        Ok(())
    }

    /// The SAVEDATE of the message with `uid` (Unix seconds); `None` if the
    /// message or its file is gone.
    pub fn save_date(&mut self, uid: u32) -> Result<Option<i64>> {
        self.resolve_save_dates()?;
        Ok(self
            .messages
            .iter()
            .find(|m| m.uid == uid)
            .and_then(|m| m.save_date))
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

//! Caching decisions on the read side (`mail-cache-decisions.c`): looking a
//! field up turns a `TEMP` field into `YES` when a client reads messages out
//! of order or older than a week, and refreshes `last_used` about once a day.
//!
//! [`CacheDecisions`] is the state of one session (sans IO: it takes UIDs and
//! times, and says whether the field header needs writing);
//! [`IndexDir::cache_write_decisions`] writes the result into the cache
//! file's field header in place, under the cache lock.

use std::fs::OpenOptions;
use std::io::Read;
use std::os::unix::fs::FileExt;

use rustix::fs::{fcntl_lock, FlockOperation};

use crate::cache_file::{
    CacheField, CacheFile, DECISION_FORCED, DECISION_NO, DECISION_TEMP, DECISION_YES,
};
use crate::error::{Error, FileKind, Result};
use crate::mailbox::IndexDir;

/// The decision state of one session over a cache file's fields.
#[derive(Debug, Clone)]
pub struct CacheDecisions {
    fields: Vec<CacheField>,
    uid_highwater: Vec<u32>,
    dirty: bool,
}

impl CacheDecisions {
    /// Starts a session over the fields registered in a cache file.
    pub fn new(cache: &CacheFile) -> CacheDecisions {
        CacheDecisions::from_fields(&cache.fields)
    }

    /// Starts a session over a field registry (as a [`crate::CacheReader`]
    /// read it).
    pub fn from_fields(fields: &[CacheField]) -> CacheDecisions {
        CacheDecisions {
            fields: fields.to_vec(),
            uid_highwater: vec![0; fields.len()],
            dirty: false,
        }
    }

    /// The fields with their current decisions and `last_used`.
    pub fn fields(&self) -> &[CacheField] {
        &self.fields
    }

    /// Whether a decision or `last_used` changed since the session began.
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// `mail_cache_decision_add()`: a value of field number `field` is
    /// being cached for message `uid`. A field decided `NO` (not forced) is
    /// used for the first time and becomes `TEMP`; any other decision is
    /// left alone. Unknown field numbers are ignored.
    pub fn on_add(&mut self, field: usize, uid: u32, now: u32) {
        let Some(f) = self.fields.get_mut(field) else {
            return;
        };
        if f.decision != DECISION_NO {
            return;
        }
        f.decision = DECISION_TEMP;
        f.last_used = now;
        self.uid_highwater[field] = uid;
        self.dirty = true;
    }

    /// `mail_cache_decision_state_update()`: field number `field` was looked
    /// up for message `uid` at time `now`; `day_first_uid7` is the index
    /// header's `day_first_uid[7]` (the first UID of about a week ago).
    /// Unknown field numbers are ignored.
    pub fn on_lookup(&mut self, field: usize, uid: u32, day_first_uid7: u32, now: u32) {
        let Some(f) = self.fields.get_mut(field) else {
            return;
        };
        let dec = f.decision;
        if dec == DECISION_NO | DECISION_FORCED {
            return;
        }
        let last_used_need_update = i64::from(now) - i64::from(f.last_used) > 86400;
        if dec == DECISION_NO || dec & DECISION_FORCED != 0 {
            if last_used_need_update {
                f.last_used = now;
                self.dirty = true;
            }
            return;
        }
        if dec == DECISION_YES {
            if !last_used_need_update {
                return;
            }
        } else if dec == DECISION_TEMP && last_used_need_update {
            f.last_used = now;
            self.dirty = true;
        }
        let highwater = &mut self.uid_highwater[field];
        if uid >= *highwater && uid >= day_first_uid7 {
            *highwater = uid;
        } else if dec == DECISION_YES {
            // The YES decision is confirmed: refresh last_used.
            f.last_used = now;
            self.dirty = true;
        } else if dec == DECISION_TEMP {
            // Out-of-order access, or a message older than a week: a client
            // without a local cache, so keep the field for good.
            f.decision = DECISION_YES;
            self.dirty = true;
        }
    }
}

impl IndexDir {
    /// Writes the decisions and `last_used` times of `decisions` into the
    /// newest field header of the cache file, in place and under the cache
    /// lock, as Dovecot updates its field header. Nothing is written when
    /// nothing changed, when there is no cache file, or when the file's
    /// newest field header no longer lists the same fields (the cache was
    /// purged or got new fields meanwhile; the changes are then dropped, as
    /// they are only hints).
    pub fn cache_write_decisions(&self, decisions: &CacheDecisions) -> Result<()> {
        if !decisions.is_dirty() {
            return Ok(());
        }
        let path = self.path(FileKind::Cache);
        let file = match OpenOptions::new().read(true).write(true).open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io(&path, e)),
        };
        fcntl_lock(&file, FlockOperation::LockExclusive).map_err(|e| Error::io(&path, e.into()))?;
        let result = (|| {
            // Read through the locked descriptor: closing another one would
            // drop this process's fcntl lock.
            let mut bytes = Vec::new();
            (&file)
                .read_to_end(&mut bytes)
                .map_err(|e| Error::io(&path, e))?;
            let Ok(cache) = CacheFile::parse(bytes) else {
                return Ok(());
            };
            let Some(&at) = cache.field_header_offsets.last() else {
                return Ok(());
            };
            let same = cache.fields.len() == decisions.fields.len()
                && cache
                    .fields
                    .iter()
                    .zip(&decisions.fields)
                    .all(|(a, b)| a.name == b.name && a.field_type == b.field_type);
            let n = decisions.fields.len();
            let bytes = cache.bytes();
            let at = at as usize;
            let header_count = bytes
                .get(at + 8..at + 12)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
            if !same || header_count != Some(n) || bytes.len() < at + 12 + 10 * n {
                return Ok(());
            }
            let mut last_used = Vec::with_capacity(4 * n);
            for f in &decisions.fields {
                last_used.extend_from_slice(&f.last_used.to_le_bytes());
            }
            let decision: Vec<u8> = decisions.fields.iter().map(|f| f.decision).collect();
            file.write_all_at(&last_used, (at + 12) as u64)
                .map_err(|e| Error::io(&path, e))?;
            file.write_all_at(&decision, (at + 12 + 9 * n) as u64)
                .map_err(|e| Error::io(&path, e))?;
            if self.settings.fsync {
                file.sync_data().map_err(|e| Error::io(&path, e))?;
            }
            Ok(())
        })();
        let _ = fcntl_lock(&file, FlockOperation::Unlock);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache_file::FieldType;

    fn session(decision: u8, last_used: u32) -> CacheDecisions {
        CacheDecisions {
            fields: vec![CacheField {
                name: "hdr.Subject".into(),
                field_type: FieldType::Header,
                size: crate::cache_file::VARIABLE_SIZE,
                decision,
                last_used,
            }],
            uid_highwater: vec![0],
            dirty: false,
        }
    }

    const NOW: u32 = 1_700_000_000;

    #[test]
    fn adding_a_field_decided_no_makes_it_temp() {
        let mut d = session(DECISION_NO, 0);
        d.on_add(0, 100, NOW);
        assert_eq!(d.fields()[0].decision, DECISION_TEMP);
        assert_eq!(d.fields()[0].last_used, NOW);
        assert!(d.is_dirty());
        // forced and already-wanted fields keep their decision
        for dec in [DECISION_NO | DECISION_FORCED, DECISION_YES, DECISION_TEMP] {
            let mut d = session(dec, 5);
            d.on_add(0, 100, NOW);
            assert_eq!(d.fields()[0].decision, dec);
            assert!(!d.is_dirty());
        }
        d.on_add(9, 100, NOW);
    }

    #[test]
    fn temp_stays_temp_for_new_mail_read_in_order() {
        let mut d = session(DECISION_TEMP, NOW - 10);
        for uid in [100, 101, 105] {
            d.on_lookup(0, uid, 50, NOW);
        }
        assert_eq!(d.fields()[0].decision, DECISION_TEMP);
        assert!(!d.is_dirty());
    }

    #[test]
    fn temp_becomes_yes_on_out_of_order_access() {
        let mut d = session(DECISION_TEMP, NOW - 10);
        d.on_lookup(0, 105, 50, NOW);
        d.on_lookup(0, 101, 50, NOW);
        assert_eq!(d.fields()[0].decision, DECISION_YES);
        assert!(d.is_dirty());
    }

    #[test]
    fn temp_becomes_yes_when_mail_older_than_a_week_is_read() {
        let mut d = session(DECISION_TEMP, NOW - 10);
        d.on_lookup(0, 10, 50, NOW);
        assert_eq!(d.fields()[0].decision, DECISION_YES);
    }

    #[test]
    fn last_used_is_refreshed_about_once_a_day() {
        // TEMP: refreshed on any lookup once a day has passed.
        let mut d = session(DECISION_TEMP, NOW - 86401);
        d.on_lookup(0, 100, 50, NOW);
        assert_eq!(d.fields()[0].last_used, NOW);
        // YES: only when the access confirms YES (old or out of order).
        let mut d = session(DECISION_YES, NOW - 86401);
        d.on_lookup(0, 100, 50, NOW);
        assert_eq!(d.fields()[0].last_used, NOW - 86401);
        d.on_lookup(0, 10, 50, NOW);
        assert_eq!(d.fields()[0].last_used, NOW);
        // Recently used: nothing to do.
        let mut d = session(DECISION_YES, NOW - 10);
        d.on_lookup(0, 10, 50, NOW);
        assert!(!d.is_dirty());
        // Forced decisions keep their decision; NO|FORCED is never touched.
        let mut d = session(DECISION_TEMP | DECISION_FORCED, NOW - 86401);
        d.on_lookup(0, 10, 50, NOW);
        assert_eq!(d.fields()[0].decision, DECISION_TEMP | DECISION_FORCED);
        assert_eq!(d.fields()[0].last_used, NOW);
        let mut d = session(DECISION_NO | DECISION_FORCED, NOW - 86401);
        d.on_lookup(0, 10, 50, NOW);
        assert!(!d.is_dirty());
        // Unknown field numbers are ignored.
        d.on_lookup(7, 10, 50, NOW);
    }
}

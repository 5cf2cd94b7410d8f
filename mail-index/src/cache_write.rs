//! Writing `dovecot.index.cache`: new records (linked to older ones of the
//! same message), new fields, a new file, and purging. Offsets reach the
//! index through the log (`EXT_INTRO(cache)` + `EXT_REC_UPDATE`), as
//! Dovecot does (`mail-cache-transaction.c`, `mail-cache-purge.c`).

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{FileExt, OpenOptionsExt};

use rustix::fs::{fcntl_lock, FlockOperation};

use crate::bytes::{align4, encode_offset};
use crate::cache_file::{
    CacheField, CacheFile, CacheHeader, FieldType, DECISION_FORCED, DECISION_NO, DECISION_TEMP,
    DECISION_YES, HEADER_SIZE, VARIABLE_SIZE,
};
use crate::cache_reader::CacheReader;
use crate::error::{Error, FileKind, Result};
use crate::index_file::{IndexMap, EXT_CACHE};
use crate::mailbox::{now, IndexDir, View};
use crate::transaction::{ExtDef, Transaction};

/// `mail_cache_purge_min_size`: a smaller cache is never purged.
const PURGE_MIN_SIZE: usize = 32 * 1024;

/// `mail_cache_need_purge()`'s counts with the default percentages.
fn purge_due(h: &CacheHeader) -> bool {
    let rc = u64::from(h.record_count);
    let cont = u64::from(h.continued_record_count);
    let del = u64::from(h.deleted_record_count);
    (rc > 0 && cont * 100 / rc >= 200) || (rc + del > 0 && del * 100 / (rc + del) >= 20)
}

/// Cached values for one message: `(field, data)`.
pub type CacheValues = Vec<(CacheField, Vec<u8>)>;

fn cache_ext_def() -> ExtDef {
    ExtDef {
        name: EXT_CACHE.to_string(),
        hdr_size: 0,
        record_size: 4,
        record_align: 4,
    }
}

/// Serializes a field header (`struct mail_cache_header_fields` + arrays).
fn field_header(fields: &[CacheField]) -> Vec<u8> {
    let n = fields.len();
    let mut b = Vec::new();
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&(n as u32).to_le_bytes());
    for f in fields {
        b.extend_from_slice(&f.last_used.to_le_bytes());
    }
    for f in fields {
        b.extend_from_slice(&f.size.to_le_bytes());
    }
    for f in fields {
        b.push(f.field_type.as_u8());
    }
    for f in fields {
        b.push(f.decision);
    }
    for f in fields {
        b.extend_from_slice(f.name.as_bytes());
        b.push(0);
    }
    let size = b.len() as u32;
    b[4..8].copy_from_slice(&size.to_le_bytes());
    b.resize(align4(b.len()), 0);
    b
}

fn check_value(f: &CacheField, data: &[u8]) -> Result<()> {
    if f.name.is_empty() || f.name.contains('\0') {
        return Err(Error::Invalid(
            "cache field name must be non-empty, without NUL".into(),
        ));
    }
    if f.field_type.is_fixed_size() && (f.size == VARIABLE_SIZE || data.len() != f.size as usize) {
        return Err(Error::Invalid(format!(
            "fixed-size cache field {} needs {} bytes, got {}",
            f.name,
            f.size,
            data.len()
        )));
    }
    if !f.field_type.is_fixed_size() && f.size != VARIABLE_SIZE {
        return Err(Error::Invalid(format!(
            "variable cache field {} must have size VARIABLE_SIZE",
            f.name
        )));
    }
    Ok(())
}

/// Serializes one record.
fn record(prev: u32, values: &[(u32, &CacheField, &[u8])]) -> Vec<u8> {
    let mut b = vec![0u8; 8];
    b[0..4].copy_from_slice(&prev.to_le_bytes());
    for (idx, f, data) in values {
        b.extend_from_slice(&idx.to_le_bytes());
        if f.size == VARIABLE_SIZE {
            b.extend_from_slice(&(data.len() as u32).to_le_bytes());
        }
        b.extend_from_slice(data);
        b.resize(align4(b.len()), 0);
    }
    let size = b.len() as u32;
    b[4..8].copy_from_slice(&size.to_le_bytes());
    b
}

fn lock_file(f: &File, path: &std::path::Path) -> Result<()> {
    fcntl_lock(f, FlockOperation::LockExclusive).map_err(|e| Error::io(path, e.into()))
}

impl IndexDir {
    /// Adds cached values for messages (by UID). New fields are registered
    /// with a new field header; a missing or unusable cache file is
    /// replaced by a new one. Takes the log lock, then the cache lock.
    pub fn cache_add(&self, updates: &[(u32, CacheValues)]) -> Result<()> {
        for (_, vals) in updates {
            for (f, d) in vals {
                check_value(f, d)?;
            }
        }
        let lock = self.lock()?;
        // the index without the cache's records: only its header is needed
        // to know whether the file can take appends
        let mut view = self.open_view_locked_without_cache(&lock)?;
        let path = self.path(FileKind::Cache);
        let mut t = Transaction::external();
        let usable = match CacheReader::open(&path) {
            Ok(Some(r)) => {
                r.header.indexid == view.map().header.indexid
                    && view
                        .map()
                        .ext(EXT_CACHE)
                        .is_some_and(|e| e.reset_id == r.header.file_seq)
            }
            Ok(None) => false,
            Err(e) if e.is_corruption() => false,
            Err(e) => return Err(e),
        };
        if !usable {
            // rare: the old file's fields are carried over, so read it whole
            view = self.open_view_locked(&lock)?;
            let (seq, _) = self.new_cache_file(&view, &[])?;
            t.ext_intro(cache_ext_def())
                .ext_reset(EXT_CACHE, seq, false);
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        lock_file(&file, &path)?;
        // Header and fields read again under the lock (another writer may
        // have appended or registered fields); the records are not read:
        // new ones are appended at the end of the file.
        let cache = file
            .try_clone()
            .map_err(|e| Error::io(&path, e))
            .and_then(|f| CacheReader::from_file(f, &path));
        let result =
            cache.and_then(|cache| self.cache_add_locked(&view, &file, &cache, updates, &mut t));
        let _ = fcntl_lock(&file, FlockOperation::Unlock);
        result?;
        let _ = self.commit_locked(&lock, &t)?;
        Ok(())
    }

    fn cache_add_locked(
        &self,
        view: &View,
        file: &File,
        cache: &CacheReader,
        updates: &[(u32, CacheValues)],
        t: &mut Transaction,
    ) -> Result<()> {
        let path = self.path(FileKind::Cache);
        let mut end = file.metadata().map_err(|e| Error::io(&path, e))?.len();
        end = align4(end as usize) as u64;
        // Register missing fields.
        let mut fields = cache.fields.clone();
        for (_, vals) in updates {
            for (f, _) in vals {
                match fields.iter().find(|x| x.name.eq_ignore_ascii_case(&f.name)) {
                    Some(x) if x.field_type != f.field_type || x.size != f.size => {
                        return Err(Error::Invalid(format!(
                            "cache field {} is registered with another type or size",
                            f.name
                        )));
                    }
                    Some(_) => {}
                    None => fields.push(f.clone()),
                }
            }
        }
        if fields.len() != cache.fields.len() {
            let fh = field_header(&fields);
            file.write_all_at(&fh, end)
                .map_err(|e| Error::io(&path, e))?;
            let enc = encode_offset(end as u32)
                .ok_or_else(|| Error::Invalid("cache file too large".into()))?;
            match cache.field_header_offsets.last() {
                Some(prev) => file.write_all_at(&enc, u64::from(*prev)),
                None => file.write_all_at(&enc, 28),
            }
            .map_err(|e| Error::io(&path, e))?;
            end += fh.len() as u64;
        }
        let map = view.map();
        let reset_ok = map
            .ext(EXT_CACHE)
            .is_some_and(|e| e.reset_id == cache.header.file_seq);
        let mut header = cache.header.clone();
        let mut out = Vec::new();
        let start = end;
        for (uid, vals) in updates {
            let pos = map
                .position_of_uid(*uid)
                .map_err(|_| Error::Invalid(format!("cache_add: uid {uid} does not exist")))?;
            let prev = if reset_ok {
                map.cache_offset_at(pos).unwrap_or(0)
            } else {
                0
            };
            let idx: Vec<(u32, &CacheField, &[u8])> = vals
                .iter()
                .map(|(f, d)| {
                    let i = fields
                        .iter()
                        .position(|x| x.name.eq_ignore_ascii_case(&f.name))
                        .unwrap_or(0);
                    (i as u32, &fields[i], d.as_slice())
                })
                .collect();
            let rec = record(prev, &idx);
            if rec.len() > self.settings.cache_record_max_size as usize {
                // mail_cache_transaction_update_last_rec(): too large, dropped.
                continue;
            }
            let off = start + out.len() as u64;
            if off + rec.len() as u64 >= 0x4000_0000 {
                return Err(Error::Invalid("cache file would exceed 1 GiB".into()));
            }
            if prev == 0 {
                header.record_count += 1;
            } else {
                header.continued_record_count += 1;
            }
            out.extend_from_slice(&rec);
            t.ext_rec_update(EXT_CACHE, *uid, &(off as u32).to_le_bytes());
        }
        file.write_all_at(&out, start)
            .map_err(|e| Error::io(&path, e))?;
        let raw = header.encode();
        // Keep field_header_offset as it is on disk (it may have just been linked).
        file.write_all_at(&raw[..28], 0)
            .map_err(|e| Error::io(&path, e))?;
        if self.settings.fsync {
            file.sync_data().map_err(|e| Error::io(&path, e))?;
        }
        t.ext_intro(cache_ext_def());
        Ok(())
    }

    /// Writes a new cache file (tmp + rename) holding `records` (one per
    /// message, in sequence order) and returns its `file_seq`.
    fn new_cache_file(
        &self,
        view: &View,
        records: &[(u32, CacheValues)],
    ) -> Result<(u32, Vec<(u32, u32)>)> {
        let map = view.map();
        let old_reset = map.ext(EXT_CACHE).map_or(0, |e| e.reset_id);
        let old_seq = view.cache.as_ref().map_or(0, |c| c.header.file_seq);
        let seq = now()
            .max(old_reset.wrapping_add(1))
            .max(old_seq.wrapping_add(1))
            .max(1);
        let mut fields: Vec<CacheField> = view
            .cache
            .as_ref()
            .map(|c| c.fields.clone())
            .unwrap_or_default();
        fields.retain(|f| f.decision & 0x7f != 0);
        for (_, vals) in records {
            for (f, _) in vals {
                if !fields.iter().any(|x| x.name.eq_ignore_ascii_case(&f.name)) {
                    fields.push(f.clone());
                }
            }
        }
        let mut body = Vec::new();
        let mut offsets = Vec::new();
        for (uid, vals) in records {
            let idx: Vec<(u32, &CacheField, &[u8])> = vals
                .iter()
                .filter_map(|(f, d)| {
                    let i = fields
                        .iter()
                        .position(|x| x.name.eq_ignore_ascii_case(&f.name))?;
                    Some((i as u32, &fields[i], d.as_slice()))
                })
                .collect();
            if idx.is_empty() {
                continue;
            }
            let rec = record(0, &idx);
            if rec.len() > self.settings.cache_record_max_size as usize {
                // As the purge in mail-cache-purge.c: nothing cached.
                continue;
            }
            offsets.push((*uid, (HEADER_SIZE + body.len()) as u32));
            body.extend_from_slice(&rec);
        }
        let fh_off = HEADER_SIZE + body.len();
        body.extend_from_slice(&field_header(&fields));
        let header = CacheHeader {
            major_version: 1,
            compat_sizeof_uoff_t: 8,
            minor_version: 1,
            indexid: map.header.indexid,
            file_seq: seq,
            continued_record_count: 0,
            record_count: offsets.len() as u32,
            backwards_compat_used_file_size: (HEADER_SIZE + body.len()) as u32,
            deleted_record_count: 0,
            field_header_offset_raw: u32::from_le_bytes(
                encode_offset(fh_off as u32)
                    .ok_or_else(|| Error::Invalid("cache file too large".into()))?,
            ),
        };
        let mut bytes = header.encode().to_vec();
        bytes.extend_from_slice(&body);
        let path = self.path(FileKind::Cache);
        let tmp = path.with_file_name("dovecot.index.cache.tmp");
        let _ = fs::remove_file(&tmp);
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| Error::io(&tmp, e))?;
        f.write_all(&bytes).map_err(|e| Error::io(&tmp, e))?;
        if self.settings.fsync {
            f.sync_data().map_err(|e| Error::io(&tmp, e))?;
        }
        drop(f);
        fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
        Ok((seq, offsets))
    }

    /// `mail_cache_expunge_count()`: `count` messages with cached data were
    /// expunged, so the cache header's `deleted_record_count` grows and its
    /// `record_count` shrinks (not below 0), written in place under the
    /// cache lock. A missing or unrecognisable cache file is left alone.
    pub(crate) fn cache_expunge_count(&self, count: u32) -> Result<()> {
        let path = self.path(FileKind::Cache);
        let file = match OpenOptions::new().read(true).write(true).open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io(&path, e)),
        };
        lock_file(&file, &path)?;
        let result = (|| {
            let mut raw = [0u8; HEADER_SIZE];
            if file.read_exact_at(&mut raw, 0).is_err() {
                return Ok(());
            }
            let word =
                |at: usize| u32::from_le_bytes([raw[at], raw[at + 1], raw[at + 2], raw[at + 3]]);
            if raw[0] != 1 {
                return Ok(());
            }
            let records = word(16).saturating_sub(count);
            let deleted = word(24).saturating_add(count);
            let mut update = [0u8; 12];
            update[0..4].copy_from_slice(&records.to_le_bytes());
            update[4..8].copy_from_slice(&word(20).to_le_bytes());
            update[8..12].copy_from_slice(&deleted.to_le_bytes());
            file.write_all_at(&update, 16)
                .map_err(|e| Error::io(&path, e))?;
            if self.settings.fsync {
                file.sync_data().map_err(|e| Error::io(&path, e))?;
            }
            Ok(())
        })();
        let _ = fcntl_lock(&file, FlockOperation::Unlock);
        result
    }

    /// Rewrites the cache keeping each message's current values (first
    /// occurrence wins, bitmasks ORed) and dropping fields decided `NO`,
    /// then resets the index's cache offsets to the new file.
    pub fn cache_purge(&self) -> Result<()> {
        let lock = self.lock()?;
        self.cache_purge_locked(&lock)
    }

    /// Whether Dovecot would purge the cache now (`mail_cache_need_purge()`
    /// with default settings): at least 32 KiB and many continued or
    /// deleted records.
    pub fn cache_wants_purge(&self, view: &View) -> bool {
        let Some(c) = &view.cache else { return false };
        c.bytes().len() >= PURGE_MIN_SIZE && purge_due(&c.header)
    }

    /// [`IndexDir::cache_wants_purge`] for the cache file as it is now and
    /// `view` (which need not hold the cache): reads only the file's header
    /// unless a purge looks due, and only then the whole file.
    pub(crate) fn cache_wants_purge_now(
        &self,
        lock: &crate::lock::LogLock,
        view: &View,
    ) -> Result<bool> {
        let path = self.path(FileKind::Cache);
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(Error::io(&path, e)),
        };
        let len = file.metadata().map_err(|e| Error::io(&path, e))?.len();
        let mut hdr = [0u8; HEADER_SIZE];
        if len < PURGE_MIN_SIZE as u64 || file.read_exact_at(&mut hdr, 0).is_err() {
            return Ok(false);
        }
        drop(file);
        match crate::cache_file::parse_header(&hdr) {
            Ok(h) if h.indexid == view.map().header.indexid && purge_due(&h) => {
                let full = self.open_view_locked(lock)?;
                Ok(self.cache_wants_purge(&full))
            }
            // A cache this header does not belong to, or that is not due.
            _ => Ok(false),
        }
    }

    pub(crate) fn cache_purge_locked(&self, lock: &crate::lock::LogLock) -> Result<()> {
        let view = self.open_view_locked(lock)?;
        let map = view.map();
        // Field aging (mail-cache-decisions.c): unused for 30 days YES -> TEMP,
        // for 60 days dropped; forced decisions never change.
        const DAY: u32 = 86400;
        let day_stamp = map.header.day_stamp;
        let mut fields: Vec<CacheField> = view
            .cache
            .as_ref()
            .map(|c| c.fields.clone())
            .unwrap_or_default();
        for f in &mut fields {
            if f.decision & DECISION_FORCED != 0 || f.last_used == 0 {
                continue;
            }
            let unused = day_stamp.saturating_sub(f.last_used);
            if unused > 60 * DAY {
                f.decision = DECISION_NO;
            } else if f.decision & 0x7f == DECISION_YES && unused > 30 * DAY {
                f.decision = DECISION_TEMP;
            }
        }
        // Messages older than about a week keep only YES fields.
        let first_new_uid = map.header.day_first_uid[7];
        let mut records = Vec::new();
        if let Some(c) = &view.cache {
            for m in view.messages() {
                if m.cache_offset == 0 {
                    continue;
                }
                let mut vals: Vec<(CacheField, Vec<u8>)> = Vec::new();
                // A broken chain loses only that message's cached data.
                let Ok(chain) = c.chain(m.cache_offset) else {
                    continue;
                };
                for r in chain {
                    for v in &r.values {
                        let f = &fields[v.field as usize];
                        let keep = match f.decision & 0x7f {
                            DECISION_YES => true,
                            DECISION_TEMP => m.uid >= first_new_uid,
                            _ => false,
                        };
                        if !keep {
                            continue;
                        }
                        match vals.iter_mut().find(|(x, _)| x.name == f.name) {
                            Some((x, d)) if x.field_type == FieldType::Bitmask => {
                                for (a, b) in d.iter_mut().zip(v.data) {
                                    *a |= b;
                                }
                            }
                            Some(_) => {}
                            None => vals.push((f.clone(), v.data.to_vec())),
                        }
                    }
                }
                records.push((m.uid, vals));
            }
        }
        let view = View {
            cache: view.cache.map(|mut c| {
                c.fields = fields;
                c
            }),
            ..view
        };
        let (seq, offsets) = self.new_cache_file(&view, &records)?;
        let mut t = Transaction::external();
        t.ext_intro(cache_ext_def())
            .ext_reset(EXT_CACHE, seq, false);
        for (uid, off) in offsets {
            t.ext_rec_update(EXT_CACHE, uid, &off.to_le_bytes());
        }
        self.commit_locked(lock, &t)?;
        Ok(())
    }
}

/// Checks that `map` and `cache` agree (used by tests and tools).
pub fn cache_matches_index(map: &IndexMap, cache: &CacheFile) -> bool {
    map.ext(EXT_CACHE)
        .is_some_and(|e| e.reset_id == cache.header.file_seq)
}

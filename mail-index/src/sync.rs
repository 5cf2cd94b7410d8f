//! Log replay: applies transaction-log records to an [`IndexMap`] with
//! Dovecot's rules (`mail-index-sync-update.c`, `-sync-ext.c`,
//! `-sync-keywords.c`, `mail-index-modseq.c`).

use crate::bytes::{align8, u32_at, u64_at};
use crate::error::{Error, FileKind, Result};
use crate::index_file::{
    build_keywords_header, ext_hdr_check, parse_keywords_header, Extension, IndexMap, EXT_KEYWORDS,
    EXT_MODSEQ, FLAG_DELETED, FLAG_DIRTY, FLAG_SEEN, HDR_FLAG_HAVE_DIRTY,
};
use crate::log_file::{rtype, ExtIntro, LogFile, LogRecord, Payload};

/// Most extensions a map may have.
const MAX_EXTENSIONS: usize = 1024;
/// Largest record area replay builds (about 16 million 64-byte records).
const MAX_RECORDS_BYTES: u64 = 1 << 30;
/// Most bytes of extension headers a map may have.
const MAX_EXT_HDR_TOTAL: u64 = 64 << 20;

/// What a replay did besides changing the map.
#[derive(Debug, Default)]
pub struct SyncReport {
    /// Records Dovecot would skip after logging corruption (applied as far as valid).
    pub skipped: Vec<Error>,
    /// The replay started from a reset log and discarded the snapshot.
    pub reset: bool,
    /// Log modseq at the end of the replay (HIGHESTMODSEQ).
    pub highest_modseq: u64,
    /// Highest offset the storage is known to be in sync with in the head log.
    pub max_tail_offset: u32,
    /// Number of records applied.
    pub applied: usize,
    /// Lenient replay only: the corruption that ended it early.
    pub stopped: Option<Error>,
    /// The log marks the mailbox deleted (`INDEX_DELETED` not undone).
    pub mailbox_deleted: bool,
}

#[derive(Debug, Clone, Copy)]
enum CurExt {
    /// No intro seen yet.
    None,
    /// The previous intro was broken: updates are ignored, resets refused.
    Broken,
    /// Selected extension.
    Selected {
        idx: usize,
        record_size: u16,
        ignore: bool,
    },
}

/// What an [`Applier`] carries from one record to the next besides the map.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ApplierState {
    cur: CurExt,
    tracking_modseq: bool,
}

/// Applies records to a map. Use [`replay`] for whole log files.
#[derive(Debug)]
pub struct Applier<'m> {
    map: &'m mut IndexMap,
    cur: CurExt,
    tracking_modseq: bool,
    modseq: u64,
    /// (file seq, offset) of the record being applied.
    pub(crate) pos: (u32, u32),
}

fn fail(reason: impl Into<String>) -> String {
    reason.into()
}

impl<'m> Applier<'m> {
    /// Starts applying to `map`.
    pub fn new(map: &'m mut IndexMap) -> Applier<'m> {
        let tracking_modseq = map.modseq_header().is_some();
        Applier {
            map,
            cur: CurExt::None,
            tracking_modseq,
            modseq: 0,
            pos: (0, 0),
        }
    }

    /// Goes on applying to `map` where an applier left off with `state`.
    pub(crate) fn resume(map: &'m mut IndexMap, state: ApplierState) -> Applier<'m> {
        Applier {
            map,
            cur: state.cur,
            tracking_modseq: state.tracking_modseq,
            modseq: 0,
            pos: (0, 0),
        }
    }

    /// The state to resume from later.
    pub(crate) fn state(&self) -> ApplierState {
        ApplierState {
            cur: self.cur,
            tracking_modseq: self.tracking_modseq,
        }
    }

    /// Applies one record; on error the record was applied only partly, as
    /// Dovecot does before flagging corruption.
    pub fn apply(&mut self, rec: &LogRecord<'_>) -> std::result::Result<(), String> {
        self.modseq = rec.modseq;
        let external = rec.is_external();
        match &rec.payload {
            Payload::Append(v) => {
                for &(uid, flags) in v {
                    self.append(uid, flags)?;
                }
            }
            Payload::Expunge(ranges) => {
                if external {
                    let mut idxs = Vec::new();
                    for &(a, b) in ranges {
                        let (s, e) = self.map.range_of_uids(a, b);
                        idxs.extend(s..e);
                    }
                    self.expunge(idxs);
                }
            }
            Payload::ExpungeGuid(v) => {
                if external {
                    let idxs = v
                        .iter()
                        .filter_map(|(uid, _)| self.map.position_of_uid(*uid).ok())
                        .collect();
                    self.expunge(idxs);
                }
            }
            Payload::FlagUpdate(v) => {
                for u in v {
                    let (s, e) = self.map.range_of_uids(u.uid1, u.uid2);
                    if s >= e {
                        continue;
                    }
                    if !u.is_internal() {
                        self.modseq_to_highest(s, e);
                    }
                    if u.add_flags & FLAG_DIRTY != 0 {
                        self.map.header.flags |= HDR_FLAG_HAVE_DIRTY;
                    }
                    let counted = (u.add_flags | u.remove_flags) & (FLAG_SEEN | FLAG_DELETED) != 0;
                    for idx in s..e {
                        let old = self.map.flags_at(idx);
                        let new = (old & !u.remove_flags) | u.add_flags;
                        self.map.record_mut(idx)[4] = new;
                        if counted {
                            let uid = self.map.uid_at(idx);
                            self.lowwaters(uid, new);
                            self.update_counts(old, new)?;
                        }
                    }
                }
            }
            Payload::HeaderUpdate(blocks) => {
                for b in blocks {
                    self.header_update(b.offset as usize, b.data)?;
                }
            }
            Payload::ExtIntro(intros) => {
                for i in intros {
                    self.ext_intro(i, false)?;
                }
            }
            Payload::ExtReset {
                new_reset_id,
                preserve_data,
            } => {
                let idx = match self.cur {
                    CurExt::None => return Err(fail("extension reset without intro prefix")),
                    CurExt::Broken => return Err(fail("extension reset after a broken intro")),
                    CurExt::Selected { idx, .. } => idx,
                };
                let ext = &mut self.map.extensions[idx];
                ext.reset_id = *new_reset_id;
                if !preserve_data {
                    ext.hdr.iter_mut().for_each(|b| *b = 0);
                    let (off, size) =
                        (usize::from(ext.record_offset), usize::from(ext.record_size));
                    let is_kw = ext.name == EXT_KEYWORDS;
                    if size > 0 {
                        let rs = self.map.rec_size();
                        for r in self.map.records_mut().chunks_exact_mut(rs) {
                            r[off..off + size].iter_mut().for_each(|b| *b = 0);
                        }
                    }
                    if is_kw {
                        self.map.keywords.clear();
                    }
                }
            }
            Payload::ExtHdrUpdate { blocks, .. } => {
                let idx = match self.cur {
                    CurExt::None => {
                        return Err(fail("extension header update without intro prefix"))
                    }
                    CurExt::Broken | CurExt::Selected { ignore: true, .. } => return Ok(()),
                    CurExt::Selected { idx, .. } => idx,
                };
                for b in blocks {
                    let ext = &mut self.map.extensions[idx];
                    let off = b.offset as usize;
                    if off + b.data.len() > ext.hdr.len() {
                        return Err(fail("extension header update points outside header size"));
                    }
                    ext.hdr[off..off + b.data.len()].copy_from_slice(b.data);
                    if ext.name == EXT_MODSEQ && !self.tracking_modseq {
                        self.start_modseq_tracking();
                    }
                }
            }
            Payload::ExtRecUpdate(raw) => {
                let (idx, rsize) = match self.cur {
                    CurExt::None => {
                        return Err(fail("extension record updated without intro prefix"))
                    }
                    CurExt::Broken | CurExt::Selected { ignore: true, .. } => return Ok(()),
                    CurExt::Selected {
                        idx, record_size, ..
                    } => (idx, usize::from(record_size)),
                };
                let entry = (4 + rsize + 3) & !3;
                let mut i = 0;
                while i < raw.len() {
                    if i + entry > raw.len() {
                        return Err(fail("ext rec update: invalid record size"));
                    }
                    let uid = u32_at(raw, i).unwrap_or(0);
                    if uid == 0 || uid >= self.map.header.next_uid {
                        return Err(fail(format!(
                            "extension record update for invalid uid={uid}"
                        )));
                    }
                    if let Ok(pos) = self.map.position_of_uid(uid) {
                        let ext = &self.map.extensions[idx];
                        let (off, esize) =
                            (usize::from(ext.record_offset), usize::from(ext.record_size));
                        let n = rsize.min(esize);
                        let r = self.map.record_mut(pos);
                        r[off..off + n].copy_from_slice(&raw[i + 4..i + 4 + n]);
                        r[off + n..off + esize].iter_mut().for_each(|b| *b = 0);
                    }
                    i += entry;
                }
            }
            Payload::ExtAtomicInc(v) => {
                let (idx, rsize) = match self.cur {
                    CurExt::None => return Err(fail("extension record inc without intro prefix")),
                    CurExt::Broken | CurExt::Selected { ignore: true, .. } => return Ok(()),
                    CurExt::Selected {
                        idx, record_size, ..
                    } => (idx, usize::from(record_size)),
                };
                for &(uid, diff) in v {
                    if uid == 0 || uid >= self.map.header.next_uid {
                        return Err(fail(format!("extension record inc for invalid uid={uid}")));
                    }
                    let Ok(pos) = self.map.position_of_uid(uid) else {
                        continue;
                    };
                    let ext = &self.map.extensions[idx];
                    let off = usize::from(ext.record_offset);
                    if !matches!(rsize, 1 | 2 | 4 | 8) || rsize > usize::from(ext.record_size) {
                        return Err(fail(format!(
                            "extension record inc with invalid size={rsize}"
                        )));
                    }
                    let r = self.map.record_mut(pos);
                    let mut buf = [0u8; 8];
                    buf[..rsize].copy_from_slice(&r[off..off + rsize]);
                    let orig = u64::from_le_bytes(buf);
                    let max = if rsize == 8 {
                        u64::MAX
                    } else {
                        (1u64 << (rsize * 8)) - 1
                    };
                    let new = if diff >= 0 {
                        orig.checked_add(diff as u64).filter(|n| *n <= max)
                    } else {
                        orig.checked_sub(u64::from(diff.unsigned_abs()))
                    };
                    let Some(new) = new else {
                        return Err(fail(format!("extension record inc out of range (uid={uid}, diff={diff}, orig={orig})")));
                    };
                    r[off..off + rsize].copy_from_slice(&new.to_le_bytes()[..rsize]);
                }
            }
            Payload::KeywordUpdate { add, name, ranges } => {
                self.keyword_update(*add, name, ranges)?;
            }
            Payload::KeywordReset(ranges) => {
                if let Some(ki) = self.map.ext_index(EXT_KEYWORDS) {
                    for &(a, b) in ranges {
                        let (s, e) = self.map.range_of_uids(a, b);
                        if s >= e {
                            continue;
                        }
                        self.modseq_to_highest(s, e);
                        let ext = &self.map.extensions[ki];
                        let (off, size) =
                            (usize::from(ext.record_offset), usize::from(ext.record_size));
                        for idx in s..e {
                            self.map.record_mut(idx)[off..off + size]
                                .iter_mut()
                                .for_each(|b| *b = 0);
                        }
                    }
                }
            }
            Payload::ModseqUpdate(v) => {
                for &(uid, modseq) in v {
                    if uid == 0 {
                        continue;
                    }
                    let Ok(pos) = self.map.position_of_uid(uid) else {
                        continue;
                    };
                    let Some(mi) = self.map.ext_index(EXT_MODSEQ) else {
                        return Err(fail("modseqs updated before they were enabled"));
                    };
                    let off = usize::from(self.map.extensions[mi].record_offset);
                    let r = self.map.record_mut(pos);
                    if u64_at(r, off).unwrap_or(0) <= modseq {
                        r[off..off + 8].copy_from_slice(&modseq.to_le_bytes());
                    }
                }
            }
            Payload::IndexDeleted
            | Payload::IndexUndeleted
            | Payload::Boundary(_)
            | Payload::AttributeUpdate(_) => {}
        }
        Ok(())
    }

    fn append(&mut self, uid: u32, flags: u8) -> std::result::Result<(), String> {
        let h = &mut self.map.header;
        if uid < h.next_uid {
            return Err(fail(format!(
                "append with uid {uid}, but next_uid = {}",
                h.next_uid
            )));
        }
        let rs = h.record_size as usize;
        let start = self.map.records().len();
        if (start + rs) as u64 > MAX_RECORDS_BYTES {
            return Err(fail("record area would grow beyond 1 GiB"));
        }
        let records = self.map.records_mut();
        records.resize(start + rs, 0);
        records[start..start + 4].copy_from_slice(&uid.to_le_bytes());
        records[start + 4] = flags;
        let h = &mut self.map.header;
        h.messages_count += 1;
        h.next_uid = uid.wrapping_add(1).max(uid);
        if flags & FLAG_DIRTY != 0 {
            h.flags |= HDR_FLAG_HAVE_DIRTY;
        }
        let idx = self.map.messages_count() - 1;
        self.modseq_to_highest(idx, idx + 1);
        self.lowwaters(uid, flags);
        self.update_counts(0, flags)
    }

    fn lowwaters(&mut self, uid: u32, flags: u8) {
        let h = &mut self.map.header;
        if flags & FLAG_SEEN == 0 && uid < h.first_unseen_uid_lowwater {
            h.first_unseen_uid_lowwater = uid;
        }
        if flags & FLAG_DELETED != 0 && uid < h.first_deleted_uid_lowwater {
            h.first_deleted_uid_lowwater = uid;
        }
    }

    fn update_counts(&mut self, old: u8, new: u8) -> std::result::Result<(), String> {
        let h = &mut self.map.header;
        if (old ^ new) & FLAG_SEEN != 0 {
            if old & FLAG_SEEN != 0 {
                h.seen_messages_count = h
                    .seen_messages_count
                    .checked_sub(1)
                    .ok_or("seen counter wrong")?;
            } else {
                if h.seen_messages_count >= h.messages_count {
                    return Err(fail("seen counter wrong"));
                }
                h.seen_messages_count += 1;
                if h.seen_messages_count == h.messages_count {
                    h.first_unseen_uid_lowwater = h.next_uid;
                }
            }
        }
        if (old ^ new) & FLAG_DELETED != 0 {
            if old & FLAG_DELETED == 0 {
                h.deleted_messages_count += 1;
                if h.deleted_messages_count > h.messages_count {
                    return Err(fail("deleted counter wrong"));
                }
            } else {
                if h.deleted_messages_count == 0 || h.deleted_messages_count > h.messages_count {
                    return Err(fail("deleted counter wrong"));
                }
                h.deleted_messages_count -= 1;
                if h.deleted_messages_count == 0 {
                    h.first_deleted_uid_lowwater = h.next_uid;
                }
            }
        }
        Ok(())
    }

    fn expunge(&mut self, mut idxs: Vec<usize>) {
        if idxs.is_empty() {
            return;
        }
        idxs.sort_unstable();
        idxs.dedup();
        for &i in &idxs {
            let f = self.map.flags_at(i);
            // Counters can only go wrong on an already inconsistent map; ignore like a skipped record.
            let _ = self.update_counts(f, 0);
        }
        // Close the gaps in place: each run of kept records after the first
        // expunged one moves down once; nothing before it is touched.
        let rs = self.map.rec_size();
        let n = self.map.messages_count();
        let records = self.map.records_mut();
        let total = records.len().checked_div(rs).unwrap_or(0);
        let mut write = idxs[0].min(total) * rs;
        for (k, &gone) in idxs.iter().enumerate() {
            let run_start = (gone + 1) * rs;
            let run_end = idxs.get(k + 1).map_or(total, |&next| next.min(total)) * rs;
            if run_start < run_end {
                records.copy_within(run_start..run_end, write);
                write += run_end - run_start;
            }
        }
        records.truncate(write);
        self.map.header.messages_count = (n - idxs.len()) as u32;
    }

    fn header_update(&mut self, off: usize, data: &[u8]) -> std::result::Result<(), String> {
        let base = usize::from(self.map.header.base_header_size);
        if off >= base || off + data.len() > base {
            return Err(fail(format!(
                "header update outside range: {off} + {} > {base}",
                data.len()
            )));
        }
        let old = self.map.header.clone();
        let mut bytes = old.encode();
        bytes[off..off + data.len()].copy_from_slice(data);
        let mut h = crate::index_file::IndexHeader::decode(&bytes);
        // Structural fields describe our buffers; Dovecot never updates them through the log.
        h.major_version = old.major_version;
        h.minor_version = old.minor_version;
        h.base_header_size = old.base_header_size;
        h.header_size = old.header_size;
        h.record_size = old.record_size;
        h.compat_flags = old.compat_flags;
        h.messages_count = old.messages_count;
        h.seen_messages_count = old.seen_messages_count;
        h.deleted_messages_count = old.deleted_messages_count;
        h.log_file_tail_offset = old.log_file_tail_offset;
        if h.next_uid < old.next_uid {
            h.next_uid = old.next_uid;
        }
        self.map.header = h;
        Ok(())
    }

    fn ext_intro(&mut self, u: &ExtIntro, internal: bool) -> std::result::Result<(), String> {
        self.cur = CurExt::Broken;
        let count = self.map.extensions.len();
        if u.ext_id != u32::MAX && u.ext_id as usize >= count {
            return Err(fail(format!(
                "extension introduction for unknown id {}",
                u.ext_id
            )));
        }
        if u.ext_id == u32::MAX && u.name.is_empty() {
            return Err(fail("extension introduction without id or name"));
        }
        let (idx, name) = if u.ext_id != u32::MAX {
            (
                Some(u.ext_id as usize),
                self.map.extensions[u.ext_id as usize].name.clone(),
            )
        } else {
            let name = String::from_utf8_lossy(&u.name).into_owned();
            (self.map.ext_index(&name), name)
        };
        if !internal && name == EXT_KEYWORDS {
            return Err(fail("extension introduction for keywords"));
        }
        ext_hdr_check(
            self.map.header.record_size,
            u.hdr_size,
            u.record_size,
            0,
            u.record_align,
            name.as_bytes(),
            true,
        )
        .map_err(|e| format!("broken extension introduction: {e}"))?;
        // Bound what a log can make us allocate: Dovecot's record layout
        // keeps offsets in 16 bits, and no real index has thousands of
        // extensions or tens of MiB of extension headers.
        let (mut hdr_total, mut rec_total) = (u64::from(u.hdr_size), u32::from(u.record_size) + 8);
        for (i, e) in self.map.extensions.iter().enumerate() {
            if Some(i) != idx {
                hdr_total += e.hdr.len() as u64;
                rec_total += u32::from(e.record_size) + 8;
            }
        }
        if idx.is_none() && self.map.extensions.len() >= MAX_EXTENSIONS {
            return Err(fail(format!("more than {MAX_EXTENSIONS} extensions")));
        }
        if (self.map.messages_count() as u64) * u64::from(rec_total) > MAX_RECORDS_BYTES {
            return Err(fail(format!(
                "extension {name} would make the record area larger than 1 GiB"
            )));
        }
        if hdr_total > MAX_EXT_HDR_TOTAL || rec_total > 60_000 {
            return Err(fail(format!(
                "extension {name} would make headers {hdr_total} bytes and records up to {rec_total} bytes"
            )));
        }
        match idx {
            Some(idx) => {
                let ignore = u.reset_id != self.map.extensions[idx].reset_id;
                if !ignore {
                    self.resize_ext(idx, u);
                }
                self.cur = CurExt::Selected {
                    idx,
                    record_size: u.record_size,
                    ignore,
                };
            }
            None => {
                self.map.extensions.push(Extension {
                    name,
                    hdr: vec![0; u.hdr_size as usize],
                    reset_id: u.reset_id,
                    record_offset: 0,
                    record_size: u.record_size,
                    record_align: u.record_align,
                });
                let idx = self.map.extensions.len() - 1;
                self.map.recompute_header_size();
                self.map.reorder_records(None);
                self.cur = if internal {
                    CurExt::None
                } else {
                    CurExt::Selected {
                        idx,
                        record_size: u.record_size,
                        ignore: false,
                    }
                };
            }
        }
        Ok(())
    }

    fn resize_ext(&mut self, idx: usize, u: &ExtIntro) {
        let no_shrink = u.flags & 1 != 0;
        let ext = &mut self.map.extensions[idx];
        let old_padded = align8(ext.hdr.len());
        let new_padded = align8(u.hdr_size as usize);
        if ext.record_align == u.record_align && ext.record_size == u.record_size {
            if new_padded < old_padded {
                if no_shrink {
                    return;
                }
            } else if ext.hdr.len() == u.hdr_size as usize {
                return;
            }
        }
        if new_padded < old_padded {
            if !no_shrink {
                ext.hdr.truncate(u.hdr_size as usize);
            }
        } else {
            ext.hdr.resize(u.hdr_size as usize, 0);
        }
        let mut reorder = false;
        if ext.record_align < u.record_align || (ext.record_align > u.record_align && !no_shrink) {
            ext.record_align = u.record_align;
            reorder = true;
        }
        let old_record_size = ext.record_size;
        if ext.record_size < u.record_size || (ext.record_size > u.record_size && !no_shrink) {
            ext.record_size = u.record_size;
            reorder = true;
        }
        self.map.recompute_header_size();
        if reorder {
            self.map.reorder_records(Some((idx, old_record_size)));
        }
    }

    fn keyword_update(
        &mut self,
        add: bool,
        name: &[u8],
        ranges: &[(u32, u32)],
    ) -> std::result::Result<(), String> {
        let name = String::from_utf8_lossy(name).into_owned();
        let kw_idx = match self
            .map
            .keywords
            .iter()
            .position(|k| k.eq_ignore_ascii_case(&name))
        {
            Some(i) if self.map.ext_index(EXT_KEYWORDS).is_some() => i,
            _ => self.keywords_header_add(&name)?,
        };
        let ki = self
            .map
            .ext_index(EXT_KEYWORDS)
            .ok_or("keywords extension missing")?;
        if kw_idx / 8 >= usize::from(self.map.extensions[ki].record_size) {
            if !add {
                return Ok(());
            }
            let (reset_id, hdr_size) = (
                self.map.extensions[ki].reset_id,
                self.map.extensions[ki].hdr.len() as u32,
            );
            self.keywords_ext_register(Some(ki), reset_id, hdr_size, self.map.keywords.len())?;
        }
        let ext = &self.map.extensions[ki];
        let byte = usize::from(ext.record_offset) + kw_idx / 8;
        let mask = 1u8 << (kw_idx % 8);
        for &(a, b) in ranges {
            let (s, e) = self.map.range_of_uids(a, b);
            if s >= e {
                continue;
            }
            self.modseq_to_highest(s, e);
            for idx in s..e {
                let r = self.map.record_mut(idx);
                if add {
                    r[byte] |= mask;
                } else {
                    r[byte] &= !mask;
                }
            }
        }
        Ok(())
    }

    fn keywords_ext_register(
        &mut self,
        idx: Option<usize>,
        reset_id: u32,
        hdr_size: u32,
        count: usize,
    ) -> std::result::Result<(), String> {
        let mut record_size = count.div_ceil(8) as u16;
        if !record_size.is_multiple_of(4) {
            record_size += 1;
        }
        let intro = ExtIntro {
            ext_id: idx.map_or(u32::MAX, |i| i as u32),
            reset_id,
            hdr_size,
            record_size,
            record_align: 1,
            flags: 0,
            name: if idx.is_none() {
                EXT_KEYWORDS.as_bytes().to_vec()
            } else {
                Vec::new()
            },
        };
        let saved = self.cur;
        let r = self.ext_intro(&intro, true);
        // An internal intro leaves no extension selected.
        self.cur = match saved {
            CurExt::Selected { .. } => CurExt::None,
            other => other,
        };
        r
    }

    fn keywords_header_add(&mut self, name: &str) -> std::result::Result<usize, String> {
        let ki = self.map.ext_index(EXT_KEYWORDS);
        let mut names = match ki {
            Some(i) => parse_keywords_header(&self.map.extensions[i].hdr).unwrap_or_default(),
            None => Vec::new(),
        };
        names.push(name.to_string());
        let mut buf = build_keywords_header(&names);
        buf.resize((buf.len() + 3) & !3, 0);
        let need_grow = match ki {
            None => true,
            Some(i) => {
                let e = &self.map.extensions[i];
                buf.len() > e.hdr.len() || usize::from(e.record_size) * 8 < names.len()
            }
        };
        if need_grow {
            buf.resize(buf.len() + 128, 0);
            let reset_id = ki.map_or(0, |i| self.map.extensions[i].reset_id);
            self.keywords_ext_register(ki, reset_id, buf.len() as u32, names.len())?;
        }
        let ki = self
            .map
            .ext_index(EXT_KEYWORDS)
            .ok_or("keywords extension missing")?;
        let hdr = &mut self.map.extensions[ki].hdr;
        let n = buf.len().min(hdr.len());
        hdr[..n].copy_from_slice(&buf[..n]);
        self.map.keywords = names;
        Ok(self.map.keywords.len() - 1)
    }

    fn start_modseq_tracking(&mut self) {
        self.tracking_modseq = true;
        // mail_index_modseq_sync_init(): when the header's position lies
        // before this record, the log between them was not seen with
        // modseqs on; existing messages get the header's highest modseq.
        if let Some((highest, hseq, hoff)) = self.map.modseq_header() {
            if (hseq, hoff) < self.pos {
                raise_all_modseqs(self.map, highest);
            }
        }
    }

    fn modseq_to_highest(&mut self, s: usize, e: usize) {
        if !self.tracking_modseq {
            return;
        }
        let Some(mi) = self.map.ext_index(EXT_MODSEQ) else {
            return;
        };
        let ext = &self.map.extensions[mi];
        if ext.record_size < 8 {
            return;
        }
        let off = usize::from(ext.record_offset);
        let m = self.modseq;
        for idx in s..e {
            let r = self.map.record_mut(idx);
            let cur = u64_at(r, off).unwrap_or(0);
            if cur < m {
                r[off..off + 8].copy_from_slice(&m.to_le_bytes());
            }
        }
    }
}

fn raise_all_modseqs(map: &mut IndexMap, value: u64) {
    let Some(mi) = map.ext_index(EXT_MODSEQ) else {
        return;
    };
    let off = usize::from(map.extensions[mi].record_offset);
    if map.extensions[mi].record_size < 8 {
        return;
    }
    let rs = map.rec_size();
    for r in map.records_mut().chunks_exact_mut(rs) {
        if u64_at(r, off).unwrap_or(0) < value {
            r[off..off + 8].copy_from_slice(&value.to_le_bytes());
        }
    }
}

/// Replaces zero per-message modseqs with `value` (Dovecot does this when
/// modseqs were just enabled and the log is complete).
fn fill_zero_modseqs(map: &mut IndexMap, value: u64) {
    let Some(mi) = map.ext_index(EXT_MODSEQ) else {
        return;
    };
    let off = usize::from(map.extensions[mi].record_offset);
    if map.extensions[mi].record_size < 8 {
        return;
    }
    let rs = map.rec_size();
    for r in map.records_mut().chunks_exact_mut(rs) {
        if u64_at(r, off) == Some(0) {
            r[off..off + 8].copy_from_slice(&value.to_le_bytes());
        }
    }
}

fn wrap(file: &LogFile, rec: &LogRecord<'_>, reason: String) -> Error {
    Error::corrupt(file.kind, rec.offset, reason)
}

/// Replays `logs` (oldest first, e.g. `[.log.2, .log]`) onto `map`, starting
/// at the position its header records, and moves the header to the end.
pub fn replay(map: &mut IndexMap, logs: &[&LogFile]) -> Result<SyncReport> {
    replay_inner(map, logs, false)
}

/// Like [`replay`], but a corrupt log record ends the replay instead of
/// failing it: the map holds the state up to the last valid transaction
/// and [`SyncReport::stopped`] the error (for showing a broken mailbox).
pub fn replay_lenient(map: &mut IndexMap, logs: &[&LogFile]) -> Result<SyncReport> {
    replay_inner(map, logs, true)
}

fn replay_inner(map: &mut IndexMap, logs: &[&LogFile], lenient: bool) -> Result<SyncReport> {
    let (mut report, reached) = replay_unfinished(map, logs, lenient)?;
    reached.finish(map);
    report.highest_modseq = reached.modseq;
    report.max_tail_offset = reached.max_tail;
    Ok(report)
}

/// Where a replay stands: what it needs to go on with records appended to
/// the head log later, and to move the map's header to its position.
///
/// The map a replay leaves behind together with this is exactly the state
/// the walk over the records had reached; [`Reached::finish`] on a copy of
/// it gives what [`replay`] returns. Going on with [`Reached::resume`]
/// over the bytes appended since gives what a replay from scratch over the
/// longer file would (nothing in the walk depends on where it started
/// other than what is kept here).
#[derive(Debug, Clone)]
pub(crate) struct Reached {
    /// The map's `log_file_seq` before the replay (it decides whether the
    /// snapshot's tail offset still counts).
    start_seq: u32,
    /// End of the committed records walked: (file seq, offset).
    pub(crate) end: (u32, u32),
    /// Log modseq at `end`.
    pub(crate) modseq: u64,
    /// Highest offset in the head log the storage is known to be in sync with.
    pub(crate) max_tail: u32,
    /// The applier's state between records.
    applier: ApplierState,
    /// The log marks the mailbox deleted.
    pub(crate) mailbox_deleted: bool,
    /// Offset of the head log's last client change the storage has to
    /// carry out (see [`needs_storage`]).
    pub(crate) last_storage_change: Option<u32>,
}

impl Reached {
    /// Moves `map`'s header to the replay's end: log position, tail offset
    /// and the modseq header.
    pub(crate) fn finish(&self, map: &mut IndexMap) {
        let (seq, end_pos) = (self.start_seq, self.end);
        let max_tail = self.max_tail;
        let h = &mut map.header;
        h.log_file_seq = end_pos.0;
        h.log_file_head_offset = end_pos.1;
        if h.log_file_tail_offset < max_tail || h.log_file_seq != seq {
            h.log_file_tail_offset = max_tail.max(if h.log_file_seq == seq {
                h.log_file_tail_offset
            } else {
                0
            });
        }
        // The modseq header follows the sync position.
        if let Some(mi) = map.ext_index(EXT_MODSEQ) {
            if let Some((_, hseq, hoff)) = map.modseq_header() {
                if (hseq, hoff) < end_pos {
                    let hdr = &mut map.extensions[mi].hdr;
                    hdr[0..8].copy_from_slice(&self.modseq.to_le_bytes());
                    hdr[8..12].copy_from_slice(&end_pos.0.to_le_bytes());
                    hdr[12..16].copy_from_slice(&end_pos.1.to_le_bytes());
                }
            }
        }
    }

    /// Goes on with the committed records `head` (the head log this replay
    /// ended in, holding at least the bytes up to [`Reached::end`]) has past
    /// the end, applying them to `map` (the unfinished map the replay left).
    /// A record that cannot be applied is added to `skipped`; a corrupt one
    /// fails, and `map` must then be thrown away.
    pub(crate) fn resume(
        &mut self,
        map: &mut IndexMap,
        head: &LogFile,
        skipped: &mut Vec<Error>,
    ) -> Result<usize> {
        if head.header.file_seq != self.end.0 {
            return Err(Error::Invalid(format!(
                "resuming a replay that ended in log seq {} with log seq {}",
                self.end.0, head.header.file_seq
            )));
        }
        let mut a = Applier::resume(map, self.applier);
        let mut walk = Walk {
            tracked: Tracked {
                max_tail: self.max_tail,
                mailbox_deleted: self.mailbox_deleted,
                last_storage_change: self.last_storage_change,
            },
            applied: 0,
            skipped,
        };
        let done = walk_committed(head, self.end.1, self.modseq, false, |rec| {
            walk.record(&mut a, head, rec, true, true);
        })?;
        self.applier = a.state();
        self.end.1 = done.end;
        self.modseq = done.modseq;
        self.max_tail = walk.tracked.max_tail;
        self.mailbox_deleted = walk.tracked.mailbox_deleted;
        self.last_storage_change = walk.tracked.last_storage_change;
        Ok(walk.applied)
    }
}

/// What a walk over the head log's records tracks besides the map.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tracked {
    /// See [`Reached::max_tail`].
    pub(crate) max_tail: u32,
    /// See [`Reached::mailbox_deleted`].
    pub(crate) mailbox_deleted: bool,
    /// See [`Reached::last_storage_change`].
    pub(crate) last_storage_change: Option<u32>,
}

impl Tracked {
    /// Tracking that starts with the tail offset `max_tail`.
    pub(crate) fn from_tail(max_tail: u32) -> Tracked {
        Tracked {
            max_tail,
            mailbox_deleted: false,
            last_storage_change: None,
        }
    }

    /// Notes one committed record: tail and storage tracking for the
    /// head log (`is_head`), deletion tracking always.
    pub(crate) fn note(&mut self, rec: &LogRecord<'_>, is_head: bool) {
        if is_head {
            track_tail(rec, &mut self.max_tail);
            if needs_storage(rec) {
                self.last_storage_change = Some(rec.offset);
            }
        }
        match rec.payload {
            Payload::IndexDeleted if rec.is_external() => self.mailbox_deleted = true,
            Payload::IndexUndeleted => self.mailbox_deleted = false,
            _ => {}
        }
    }
}

/// What the walk over the records tracks besides the map.
struct Walk<'s> {
    tracked: Tracked,
    applied: usize,
    skipped: &'s mut Vec<Error>,
}

impl Walk<'_> {
    /// One committed record: tracked always, the change itself applied
    /// when `apply` (records the snapshot already holds are not).
    fn record(
        &mut self,
        a: &mut Applier<'_>,
        l: &LogFile,
        rec: &LogRecord<'_>,
        is_head: bool,
        apply: bool,
    ) {
        self.tracked.note(rec, is_head);
        if !apply {
            return;
        }
        self.applied += 1;
        a.pos = (l.header.file_seq, rec.offset);
        if let Err(why) = a.apply(rec) {
            self.skipped.push(wrap(l, rec, why));
        }
    }
}

/// Where [`walk_committed`] ended.
pub(crate) struct Walked {
    /// Offset just past the last complete transaction.
    pub(crate) end: u32,
    /// Log modseq there.
    pub(crate) modseq: u64,
    /// Lenient walks only: the corruption that ended the walk.
    pub(crate) stopped: Option<Error>,
}

/// Walks `log` from `from` (where a transaction starts; the log modseq
/// there is `modseq`) and hands `each` the records of every complete
/// transaction, in order. The records of a transaction still being written
/// (or left half-written by a crashed writer) are not handed out: Dovecot
/// reads a log only up to its committed end. A corrupt record fails the
/// walk, or with `lenient` ends it (in [`Walked::stopped`]).
pub(crate) fn walk_committed<'a>(
    log: &'a LogFile,
    from: u32,
    modseq: u64,
    lenient: bool,
    each: impl FnMut(&LogRecord<'a>),
) -> Result<Walked> {
    walk_committed_summarising(log, from, modseq, lenient, 0, each)
}

/// [`walk_committed`] handing out the records that start before
/// `summaries_before` with summarised payloads (see
/// [`crate::log_file::decode_checked`]): for records that are walked over
/// but not applied.
pub(crate) fn walk_committed_summarising<'a>(
    log: &'a LogFile,
    from: u32,
    modseq: u64,
    lenient: bool,
    summaries_before: u32,
    mut each: impl FnMut(&LogRecord<'a>),
) -> Result<Walked> {
    let mut it = log
        .records_from(from, modseq)
        .summarising_before(summaries_before);
    let mut done = Walked {
        end: it.committed_end(),
        modseq,
        stopped: None,
    };
    let mut pending: Vec<LogRecord<'a>> = Vec::new();
    while let Some(rec) = it.next() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) if lenient => {
                done.stopped = Some(e);
                break;
            }
            Err(e) => return Err(e),
        };
        if it.committed_end() != rec.end() {
            pending.push(rec);
            continue;
        }
        for p in pending.drain(..) {
            each(&p);
        }
        each(&rec);
        done.end = rec.end();
        done.modseq = rec.modseq;
    }
    Ok(done)
}

/// The walk of [`replay`] without moving the header to the end: the map is
/// left as the walk reached it, and [`Reached`] says where that is.
pub(crate) fn replay_unfinished(
    map: &mut IndexMap,
    logs: &[&LogFile],
    lenient: bool,
) -> Result<(SyncReport, Reached)> {
    replay_unfinished_after(map, logs, lenient, None)
}

/// The head log's records before some point, walked without applying them
/// (the snapshot holds them): see [`crate::log_prefix`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct WalkedPrefix {
    /// Where the walk stopped: the first record boundary at or past the
    /// index's head offset, with no transaction open there.
    pub(crate) end: u32,
    /// The log modseq there.
    pub(crate) modseq: u64,
    /// What the walk tracked.
    pub(crate) tracked: Tracked,
}

/// [`replay_unfinished`] where the head log, which the index's position
/// points into, was walked up to `prefix.end` already (and may be held
/// from there on only). Fails with [`Error::Invalid`] when the prefix
/// cannot stand for that walk (the index points into another log, or
/// its modseqs lag behind and need the records before its position).
pub(crate) fn replay_unfinished_after(
    map: &mut IndexMap,
    logs: &[&LogFile],
    lenient: bool,
    prefix: Option<WalkedPrefix>,
) -> Result<(SyncReport, Reached)> {
    let mut report = SyncReport::default();
    if logs.is_empty() {
        return Err(Error::LogLost("no transaction log file".into()));
    }
    for w in logs.windows(2) {
        if w[1].header.prev_file_seq != 0 && w[1].header.prev_file_seq != w[0].header.file_seq {
            return Err(Error::LogLost(format!(
                "log seq {} follows seq {}, expected prev_file_seq {}",
                w[1].header.file_seq, w[0].header.file_seq, w[1].header.prev_file_seq
            )));
        }
    }
    let seq = map.header.log_file_seq;
    let mut start_file = logs.iter().position(|l| l.header.file_seq == seq);
    if start_file.is_none() {
        // A reset log newer than the snapshot replaces it.
        if let Some(i) = logs
            .iter()
            .rposition(|l| l.header.prev_file_seq == 0 && l.header.file_seq > seq)
        {
            let indexid = if map.header.indexid != 0 {
                map.header.indexid
            } else {
                logs[i].header.indexid
            };
            *map = IndexMap::new(indexid);
            map.header.log_file_seq = logs[i].header.file_seq;
            report.reset = true;
            start_file = Some(i);
        }
    }
    let Some(start_file) = start_file else {
        return Err(Error::LogLost(format!(
            "no log file with seq {seq} (index points to it) and no reset log"
        )));
    };
    for l in &logs[start_file..] {
        if map.header.indexid != 0 && l.header.indexid != map.header.indexid && !report.reset {
            return Err(Error::corrupt(
                l.kind,
                4,
                format!(
                    "indexid {} does not match the index's {}",
                    l.header.indexid, map.header.indexid
                ),
            ));
        }
    }
    let mut start_offset = map.header.log_file_head_offset;
    let first = logs[start_file];
    if start_offset < u32::from(first.header.hdr_size) {
        start_offset = u32::from(first.header.hdr_size);
    }

    // Bring per-message modseqs up to the start position if the modseq header lags.
    if let Some((highest, hseq, hoff)) = map.modseq_header() {
        if (hseq, hoff) < (first.header.file_seq, start_offset) {
            if prefix.is_some() {
                return Err(Error::Invalid(
                    "modseqs lag behind the index: the whole log is needed".into(),
                ));
            }
            fill_zero_modseqs(map, highest);
            let mut a = Applier::new(map);
            for l in logs {
                if l.header.file_seq < hseq || l.header.file_seq > first.header.file_seq {
                    continue;
                }
                for rec in l.records() {
                    let rec = match rec {
                        Ok(r) => r,
                        Err(_) if lenient => break,
                        Err(e) => return Err(e),
                    };
                    let pos = (l.header.file_seq, rec.offset);
                    if pos < (hseq, hoff) || pos >= (first.header.file_seq, start_offset) {
                        continue;
                    }
                    a.modseq = rec.modseq;
                    a.modseq_only(&rec);
                }
            }
        }
    }

    let max_tail = if map.header.log_file_seq == logs[logs.len() - 1].header.file_seq {
        map.header.log_file_tail_offset
    } else {
        0
    };
    if prefix.is_some() && start_file != logs.len() - 1 {
        return Err(Error::Invalid(
            "a walked prefix of the head log, but the index points into another log".into(),
        ));
    }
    let mut a = Applier::new(map);
    let mut end_pos = (first.header.file_seq, start_offset);
    let mut modseq = first.header.initial_modseq;
    let mut walk = Walk {
        tracked: Tracked::from_tail(max_tail),
        applied: 0,
        skipped: &mut report.skipped,
    };
    for (fi, l) in logs.iter().enumerate().skip(start_file) {
        let is_head = fi == logs.len() - 1;
        if is_head && fi != start_file {
            walk.tracked.max_tail = 0;
        }
        let skip_before = if fi == start_file { start_offset } else { 0 };
        let (from, from_modseq) = match prefix {
            Some(p) if is_head => {
                walk.tracked = p.tracked;
                (p.end, p.modseq)
            }
            _ => (u32::from(l.header.hdr_size), l.header.initial_modseq),
        };
        let done = walk_committed_summarising(l, from, from_modseq, lenient, skip_before, |rec| {
            walk.record(&mut a, l, rec, is_head, rec.offset >= skip_before)
        })?;
        modseq = done.modseq;
        if fi == start_file && start_offset > done.end {
            return Err(Error::corrupt(
                FileKind::Index,
                68,
                format!(
                    "log_file_head_offset {start_offset} is beyond the end ({}) of log seq {}",
                    done.end, first.header.file_seq
                ),
            ));
        }
        end_pos = (l.header.file_seq, done.end);
        if let Some(e) = done.stopped {
            report.stopped = Some(e);
            break;
        }
    }
    report.applied = walk.applied;
    report.mailbox_deleted = walk.tracked.mailbox_deleted;
    let reached = Reached {
        start_seq: seq,
        end: end_pos,
        modseq,
        max_tail: walk.tracked.max_tail,
        applier: a.state(),
        mailbox_deleted: walk.tracked.mailbox_deleted,
        last_storage_change: walk.tracked.last_storage_change,
    };
    Ok((report, reached))
}

/// A client's change the storage still has to carry out (a flag, keyword
/// or expunge request, ...); external records report what it already did.
pub(crate) fn needs_storage(rec: &LogRecord<'_>) -> bool {
    !rec.is_external()
        && matches!(
            rec.payload,
            Payload::FlagUpdate(_)
                | Payload::KeywordUpdate { .. }
                | Payload::KeywordReset(_)
                | Payload::Expunge(_)
                | Payload::ExpungeGuid(_)
                | Payload::Append(_)
                | Payload::IndexDeleted
        )
}

fn track_tail(rec: &LogRecord<'_>, max_tail: &mut u32) {
    if !rec.is_external() {
        return;
    }
    if let Payload::HeaderUpdate(blocks) = &rec.payload {
        if let [b] = blocks.as_slice() {
            if b.offset == 64 && b.data.len() == 4 {
                let t = u32_at(b.data, 0).unwrap_or(0);
                if t > *max_tail {
                    *max_tail = t;
                }
                return;
            }
        }
    }
    if *max_tail == rec.offset {
        *max_tail = rec.end();
    }
}

impl Applier<'_> {
    /// Applies only the modseq effect of a record (`mail_index_modseq_update_old_rec`).
    fn modseq_only(&mut self, rec: &LogRecord<'_>) {
        let ranges: Vec<(u32, u32)> = match &rec.payload {
            Payload::Append(v) => v.iter().map(|(u, _)| (*u, *u)).collect(),
            Payload::FlagUpdate(v) => v.iter().map(|u| (u.uid1, u.uid2)).collect(),
            Payload::KeywordUpdate { ranges, .. } => ranges.clone(),
            Payload::KeywordReset(r) => r.clone(),
            _ => return,
        };
        for (a, b) in ranges {
            let (s, e) = self.map.range_of_uids(a, b);
            if s < e {
                self.modseq_to_highest(s, e);
            }
        }
    }
}

/// The `rtype` of a record, for callers matching on raw types.
pub fn record_kind(rec: &LogRecord<'_>) -> u32 {
    rec.type_word & rtype::MASK
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log_file::LogHeader;
    use crate::transaction::push_record;

    fn log_with(records: &[(u32, Vec<u8>)]) -> LogFile {
        let h = LogHeader {
            major_version: 1,
            minor_version: 3,
            hdr_size: 40,
            indexid: 7,
            file_seq: 1,
            prev_file_seq: 0,
            prev_file_offset: 0,
            create_stamp: 0,
            initial_modseq: 1,
            compat_flags: 1,
        };
        let mut b = h.encode().to_vec();
        for (t, p) in records {
            push_record(&mut b, *t, p).unwrap();
        }
        LogFile::parse(FileKind::Log, b).unwrap()
    }

    fn intro(name: &str, hdr_size: u32, rec: u16, align: u16) -> Vec<u8> {
        let mut p = Vec::new();
        p.extend_from_slice(&u32::MAX.to_le_bytes());
        p.extend_from_slice(&0u32.to_le_bytes());
        p.extend_from_slice(&hdr_size.to_le_bytes());
        p.extend_from_slice(&rec.to_le_bytes());
        p.extend_from_slice(&align.to_le_bytes());
        p.extend_from_slice(&1u16.to_le_bytes());
        p.extend_from_slice(&(name.len() as u16).to_le_bytes());
        p.extend_from_slice(name.as_bytes());
        p
    }

    #[test]
    fn atomic_inc_hdr_update32_and_keyword_reset() {
        let ext = rtype::EXTERNAL;
        let mut appends = Vec::new();
        for uid in 1..=3u32 {
            appends.extend_from_slice(&uid.to_le_bytes());
            appends.extend_from_slice(&[0, 0, 0, 0]);
        }
        let mut inc = Vec::new();
        for (uid, diff) in [(1u32, 5i32), (2, 7), (1, -2)] {
            inc.extend_from_slice(&uid.to_le_bytes());
            inc.extend_from_slice(&diff.to_le_bytes());
        }
        let mut hdr32 = Vec::new();
        hdr32.extend_from_slice(&4u32.to_le_bytes());
        hdr32.extend_from_slice(&4u32.to_le_bytes());
        hdr32.extend_from_slice(b"abcd");
        let mut kw = vec![0u8, 0, 2, 0, b'k', b'w', 0, 0];
        kw.extend_from_slice(&1u32.to_le_bytes());
        kw.extend_from_slice(&3u32.to_le_bytes());
        let mut reset = Vec::new();
        reset.extend_from_slice(&2u32.to_le_bytes());
        reset.extend_from_slice(&2u32.to_le_bytes());
        let log = log_with(&[
            (rtype::APPEND | ext, appends),
            (rtype::EXT_INTRO | ext, intro("counter", 8, 4, 4)),
            (rtype::EXT_ATOMIC_INC | ext, inc),
            (rtype::EXT_HDR_UPDATE32 | ext, hdr32),
            (rtype::KEYWORD_UPDATE, kw),
            (rtype::KEYWORD_RESET, reset),
        ]);
        let mut map = IndexMap::new(7);
        let report = replay(&mut map, &[&log]).unwrap();
        assert!(report.skipped.is_empty(), "{:?}", report.skipped);
        let ci = map.ext_index("counter").unwrap();
        assert_eq!(map.ext_record(ci, 0).unwrap(), &3u32.to_le_bytes());
        assert_eq!(map.ext_record(ci, 1).unwrap(), &7u32.to_le_bytes());
        assert_eq!(
            &map.extensions[ci].hdr,
            &[0, 0, 0, 0, b'a', b'b', b'c', b'd']
        );
        assert_eq!(map.keywords_at(0), vec!["kw"]);
        assert!(map.keywords_at(1).is_empty());
        assert_eq!(map.keywords_at(2), vec!["kw"]);
        // Append, keyword update and keyword reset each raise the log modseq.
        assert_eq!(report.highest_modseq, 4);
    }

    #[test]
    fn atomic_inc_below_zero_is_skipped_as_corruption() {
        let ext = rtype::EXTERNAL;
        let mut inc = Vec::new();
        inc.extend_from_slice(&1u32.to_le_bytes());
        inc.extend_from_slice(&(-1i32).to_le_bytes());
        let log = log_with(&[
            (rtype::APPEND | ext, vec![1, 0, 0, 0, 0, 0, 0, 0]),
            (rtype::EXT_INTRO | ext, intro("counter", 0, 4, 4)),
            (rtype::EXT_ATOMIC_INC | ext, inc),
        ]);
        let mut map = IndexMap::new(7);
        let report = replay(&mut map, &[&log]).unwrap();
        assert_eq!(report.skipped.len(), 1);
        assert!(report.skipped[0].to_string().contains("out of range"));
    }
}

//! `dovecot.index` (format 7.3): base header, extension headers, records.
//!
//! [`IndexMap`] is the in-memory form of the file and also the state that
//! log replay ([`crate::sync`]) updates.

use std::sync::Arc;

use crate::bytes::{align8, put_u16, put_u32, u16_at, u32_at, u64_at};
use crate::error::{Error, FileKind, Result};

/// `MAIL_INDEX_MAJOR_VERSION`.
pub const MAJOR_VERSION: u8 = 7;
/// `MAIL_INDEX_MINOR_VERSION`.
pub const MINOR_VERSION: u8 = 3;
/// Size of the 2.3 base header (`sizeof(struct mail_index_header)`).
pub const BASE_HEADER_SIZE: usize = 120;
/// Smallest record a writer creates (uid + flags + padding).
pub const MIN_RECORD_SIZE: usize = 8;
/// Extension names are shorter than this (`MAIL_INDEX_EXT_NAME_MAX_LENGTH`).
pub const EXT_NAME_MAX_LENGTH: usize = 64;
/// Largest extension header data (`16 MiB - 1`).
pub const EXT_HDR_MAX_SIZE: u32 = 0x00ff_ffff;

/// Header flag: in-memory corruption marker; a file carrying it is rejected.
pub const HDR_FLAG_CORRUPTED: u32 = 0x1;
/// Header flag: some record has the DIRTY flag.
pub const HDR_FLAG_HAVE_DIRTY: u32 = 0x2;
/// Header flag: the index was repaired by fsck.
pub const HDR_FLAG_FSCKD: u32 = 0x4;

/// Message flag `\Answered`.
pub const FLAG_ANSWERED: u8 = 0x01;
/// Message flag `\Flagged`.
pub const FLAG_FLAGGED: u8 = 0x02;
/// Message flag `\Deleted`.
pub const FLAG_DELETED: u8 = 0x04;
/// Message flag `\Seen`.
pub const FLAG_SEEN: u8 = 0x08;
/// Message flag `\Draft`.
pub const FLAG_DRAFT: u8 = 0x10;
/// Storage-private flag bit (`MAIL_INDEX_MAIL_FLAG_BACKEND`).
pub const FLAG_BACKEND: u8 = 0x40;
/// Change not yet written to the storage (`MAIL_INDEX_MAIL_FLAG_DIRTY`).
pub const FLAG_DIRTY: u8 = 0x80;
/// The five IMAP system flags.
pub const SYSTEM_FLAGS_MASK: u8 = 0x1f;

/// The base header of `dovecot.index` (`struct mail_index_header`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexHeader {
    /// Major version (7).
    pub major_version: u8,
    /// Minor version (3 for 2.3).
    pub minor_version: u8,
    /// Base header size as written (120).
    pub base_header_size: u16,
    /// Offset of the first record.
    pub header_size: u32,
    /// Bytes per record.
    pub record_size: u32,
    /// Byte-order marker (1 = little endian).
    pub compat_flags: u8,
    /// Index identity, shared with the log and the cache.
    pub indexid: u32,
    /// `HDR_FLAG_*` bits.
    pub flags: u32,
    /// IMAP UIDVALIDITY.
    pub uid_validity: u32,
    /// Next UID to assign.
    pub next_uid: u32,
    /// Number of records.
    pub messages_count: u32,
    /// Records with `\Seen`.
    pub seen_messages_count: u32,
    /// Records with `\Deleted`.
    pub deleted_messages_count: u32,
    /// UIDs at or above this are `\Recent`.
    pub first_recent_uid: u32,
    /// Hint: no UID below this lacks `\Seen`.
    pub first_unseen_uid_lowwater: u32,
    /// Hint: no UID below this has `\Deleted`.
    pub first_deleted_uid_lowwater: u32,
    /// Log file sequence this snapshot belongs to.
    pub log_file_seq: u32,
    /// Log offset up to which the storage (Maildir) is in sync.
    pub log_file_tail_offset: u32,
    /// Log offset up to which this snapshot contains the changes.
    pub log_file_head_offset: u32,
    /// Obsolete, kept as read.
    pub unused_old_sync_size_part1: u32,
    /// When `.log` was rotated to `.log.2` (0xffffffff: no `.log.2`).
    pub log2_rotate_time: u32,
    /// Last scan of the Maildir `tmp/`.
    pub last_temp_file_scan: u32,
    /// Start of the day of the last append.
    pub day_stamp: u32,
    /// First UID appended on each of the last 8 days with appends.
    pub day_first_uid: [u32; 8],
    /// Base-header bytes beyond the 120 this version knows, carried through.
    pub trailing: Vec<u8>,
}

impl IndexHeader {
    /// The header of a brand-new, empty index (`mail_index_header_init`).
    pub fn new(indexid: u32) -> IndexHeader {
        IndexHeader {
            major_version: MAJOR_VERSION,
            minor_version: MINOR_VERSION,
            base_header_size: BASE_HEADER_SIZE as u16,
            header_size: BASE_HEADER_SIZE as u32,
            record_size: MIN_RECORD_SIZE as u32,
            compat_flags: 1,
            indexid,
            flags: 0,
            uid_validity: 0,
            next_uid: 1,
            messages_count: 0,
            seen_messages_count: 0,
            deleted_messages_count: 0,
            first_recent_uid: 1,
            first_unseen_uid_lowwater: 0,
            first_deleted_uid_lowwater: 0,
            log_file_seq: 1,
            log_file_tail_offset: 0,
            log_file_head_offset: 0,
            unused_old_sync_size_part1: 0,
            log2_rotate_time: 0,
            last_temp_file_scan: 0,
            day_stamp: 0,
            day_first_uid: [0; 8],
            trailing: Vec::new(),
        }
    }

    /// Decodes a base header from `b` (at least 120 bytes; shorter input
    /// reads the missing fields as 0 like Dovecot does for small
    /// `base_header_size`).
    pub fn decode(b: &[u8]) -> IndexHeader {
        let mut full = [0u8; BASE_HEADER_SIZE];
        let n = b.len().min(BASE_HEADER_SIZE);
        full[..n].copy_from_slice(&b[..n]);
        let f = &full[..];
        let g = |off| u32_at(f, off).unwrap_or(0);
        let mut day_first_uid = [0u32; 8];
        for (i, d) in day_first_uid.iter_mut().enumerate() {
            *d = g(88 + 4 * i);
        }
        IndexHeader {
            major_version: f[0],
            minor_version: f[1],
            base_header_size: u16_at(f, 2).unwrap_or(0),
            header_size: g(4),
            record_size: g(8),
            compat_flags: f[12],
            indexid: g(16),
            flags: g(20),
            uid_validity: g(24),
            next_uid: g(28),
            messages_count: g(32),
            seen_messages_count: g(40),
            deleted_messages_count: g(44),
            first_recent_uid: g(48),
            first_unseen_uid_lowwater: g(52),
            first_deleted_uid_lowwater: g(56),
            log_file_seq: g(60),
            log_file_tail_offset: g(64),
            log_file_head_offset: g(68),
            unused_old_sync_size_part1: g(72),
            log2_rotate_time: g(76),
            last_temp_file_scan: g(80),
            day_stamp: g(84),
            day_first_uid,
            trailing: b.get(BASE_HEADER_SIZE..).unwrap_or(&[]).to_vec(),
        }
    }

    /// Encodes the base header (120 bytes plus any carried trailing bytes).
    pub fn encode(&self) -> Vec<u8> {
        let mut b = vec![0u8; BASE_HEADER_SIZE];
        b[0] = self.major_version;
        b[1] = self.minor_version;
        put_u16(&mut b, 2, self.base_header_size);
        put_u32(&mut b, 4, self.header_size);
        put_u32(&mut b, 8, self.record_size);
        b[12] = self.compat_flags;
        for (off, v) in [
            (16, self.indexid),
            (20, self.flags),
            (24, self.uid_validity),
            (28, self.next_uid),
            (32, self.messages_count),
            (40, self.seen_messages_count),
            (44, self.deleted_messages_count),
            (48, self.first_recent_uid),
            (52, self.first_unseen_uid_lowwater),
            (56, self.first_deleted_uid_lowwater),
            (60, self.log_file_seq),
            (64, self.log_file_tail_offset),
            (68, self.log_file_head_offset),
            (72, self.unused_old_sync_size_part1),
            (76, self.log2_rotate_time),
            (80, self.last_temp_file_scan),
            (84, self.day_stamp),
        ] {
            put_u32(&mut b, off, v);
        }
        for (i, d) in self.day_first_uid.iter().enumerate() {
            put_u32(&mut b, 88 + 4 * i, *d);
        }
        b.extend_from_slice(&self.trailing);
        b
    }
}

/// One extension: a named header blob and/or a per-record field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    /// Extension name (`keywords`, `modseq`, `cache`, `maildir`, ...).
    pub name: String,
    /// Header data (`hdr_size` bytes).
    pub hdr: Vec<u8>,
    /// Generation of the extension's data.
    pub reset_id: u32,
    /// Offset of the field inside each record (0 if none).
    pub record_offset: u16,
    /// Size of the per-record field (0 = header-only).
    pub record_size: u16,
    /// Alignment of the per-record field.
    pub record_align: u16,
}

/// Checks a name the way `mail_index_ext_name_is_valid()` does.
pub fn ext_name_is_valid(name: &[u8]) -> bool {
    !name.is_empty()
        && name.len() < EXT_NAME_MAX_LENGTH
        && name
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b' '))
}

/// Name of the keywords extension.
pub const EXT_KEYWORDS: &str = "keywords";
/// Name of the modseq extension.
pub const EXT_MODSEQ: &str = "modseq";
/// Name of the cache-offset extension.
pub const EXT_CACHE: &str = "cache";

/// A mailbox index in memory: header, extensions, keyword names, records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexMap {
    /// The base header; `messages_count`, `record_size` and `header_size`
    /// always describe `records` and `extensions`.
    pub header: IndexHeader,
    /// Extensions in file order (the "map extension index").
    pub extensions: Vec<Extension>,
    /// Keyword names in index order (from the `keywords` extension).
    pub keywords: Vec<String>,
    /// `messages_count * record_size` bytes of records, shared between
    /// copies of the map until one of them changes them (copying a map,
    /// e.g. a view of a remembered replay, does not copy the records).
    records: Arc<Vec<u8>>,
}

fn corrupt(offset: usize, reason: impl Into<String>) -> Error {
    Error::corrupt(FileKind::Index, offset, reason)
}

impl IndexMap {
    /// An empty index with the given identity.
    pub fn new(indexid: u32) -> IndexMap {
        IndexMap {
            header: IndexHeader::new(indexid),
            extensions: Vec::new(),
            keywords: Vec::new(),
            records: Arc::default(),
        }
    }

    /// Parses and validates a whole `dovecot.index` file.
    pub fn parse(b: &[u8]) -> Result<IndexMap> {
        let head = IndexHead::parse(b, b.len())?;
        let start = head.records_offset();
        let records = b[start..start + head.records_len()].to_vec();
        head.with_records(records)
    }

    fn check_records(&self) -> Result<()> {
        let rs = self.header.record_size as usize;
        let next_uid = self.header.next_uid;
        let (mut prev, mut seen, mut deleted) = (0u32, 0u32, 0u32);
        // A tight loop over every record; what is wrong is worked out
        // after it, for the first record that is.
        let mut bad = None;
        for (i, r) in self.records.chunks_exact(rs).enumerate() {
            let uid = u32::from_le_bytes([r[0], r[1], r[2], r[3]]);
            if uid <= prev || uid >= next_uid {
                bad = Some((i, uid, prev));
                break;
            }
            seen += u32::from(r[4] & FLAG_SEEN != 0);
            deleted += u32::from(r[4] & FLAG_DELETED != 0);
            prev = uid;
        }
        if let Some((i, uid, prev)) = bad {
            let off = self.header.header_size as usize + i * rs;
            if uid == 0 || uid <= prev {
                return Err(corrupt(
                    off,
                    format!("record {} has uid {uid} after uid {prev}", i + 1),
                ));
            }
            return Err(corrupt(
                off,
                format!("record uid {uid} >= next_uid {next_uid}"),
            ));
        }
        if seen != self.header.seen_messages_count {
            return Err(corrupt(
                40,
                format!(
                    "seen_messages_count {} but {seen} records are \\Seen",
                    self.header.seen_messages_count
                ),
            ));
        }
        if deleted != self.header.deleted_messages_count {
            return Err(corrupt(
                44,
                format!(
                    "deleted_messages_count {} but {deleted} records are \\Deleted",
                    self.header.deleted_messages_count
                ),
            ));
        }
        Ok(())
    }

    /// Byte offset in the file of an extension's header data.
    fn ext_hdr_file_offset(&self, name: &str) -> Option<usize> {
        let mut off = align8(usize::from(self.header.base_header_size));
        for e in &self.extensions {
            let data = off + align8(16 + e.name.len());
            if e.name == name {
                return Some(data);
            }
            off = data + align8(e.hdr.len());
        }
        None
    }

    /// Parses the keyword names from the `keywords` extension header.
    /// Errors carry an offset relative to the header data.
    pub(crate) fn parse_keywords(&self) -> std::result::Result<Vec<String>, (usize, String)> {
        let Some(ext) = self.ext(EXT_KEYWORDS) else {
            return Ok(Vec::new());
        };
        parse_keywords_header(&ext.hdr)
    }

    /// Index of the extension named `name` in [`IndexMap::extensions`].
    pub fn ext_index(&self, name: &str) -> Option<usize> {
        self.extensions.iter().position(|e| e.name == name)
    }

    /// The extension named `name`.
    pub fn ext(&self, name: &str) -> Option<&Extension> {
        self.extensions.iter().find(|e| e.name == name)
    }

    /// Number of messages.
    pub fn messages_count(&self) -> usize {
        self.header.messages_count as usize
    }

    pub(crate) fn rec_size(&self) -> usize {
        self.header.record_size as usize
    }

    /// The raw record bytes of sequence `seq` (1-based).
    pub fn record(&self, seq: usize) -> Option<&[u8]> {
        let rs = self.rec_size();
        let start = seq.checked_sub(1)?.checked_mul(rs)?;
        self.records.get(start..start + rs)
    }

    pub(crate) fn record_mut(&mut self, idx0: usize) -> &mut [u8] {
        let rs = self.rec_size();
        &mut self.records_mut()[idx0 * rs..(idx0 + 1) * rs]
    }

    /// The record area, read-only.
    pub(crate) fn records(&self) -> &[u8] {
        &self.records
    }

    /// The record area for changing it: copied first if another copy of
    /// the map shares it.
    pub(crate) fn records_mut(&mut self) -> &mut Vec<u8> {
        Arc::make_mut(&mut self.records)
    }

    /// The 0-based positions whose records differ between `earlier` and
    /// this map, for a reader that keeps per-message state and wants to
    /// update only what changed (a flag change of one message of 100,000
    /// touches one entry). Records this map has beyond `earlier`'s count
    /// (appended messages) are all reported. `None` when the two cannot be
    /// compared record by record: fewer messages than `earlier`, another
    /// record layout, or keyword names that are not `earlier`'s with new
    /// ones appended. A position whose UID changed is reported like any
    /// other change; the caller compares UIDs.
    pub fn changed_positions(&self, earlier: &IndexMap) -> Option<Vec<usize>> {
        let rs = self.rec_size();
        let same_layout = rs > 0
            && rs == earlier.rec_size()
            && self.messages_count() >= earlier.messages_count()
            && self.records.len() == self.messages_count() * rs
            && earlier.records.len() == earlier.messages_count() * rs
            && self.extensions.len() == earlier.extensions.len()
            && self
                .extensions
                .iter()
                .zip(&earlier.extensions)
                .all(|(a, b)| {
                    a.name == b.name
                        && a.record_offset == b.record_offset
                        && a.record_size == b.record_size
                })
            && self.keywords.starts_with(&earlier.keywords);
        if !same_layout {
            return None;
        }
        if Arc::ptr_eq(&self.records, &earlier.records) {
            return Some(Vec::new());
        }
        // whole blocks compared first (a memcmp), records only inside a
        // block that differs
        let block = rs * 64;
        let mut changed = Vec::new();
        let common = &self.records[..earlier.records.len()];
        for (b, (new, old)) in common
            .chunks(block)
            .zip(earlier.records.chunks(block))
            .enumerate()
        {
            if new == old {
                continue;
            }
            for (r, (n, o)) in new.chunks(rs).zip(old.chunks(rs)).enumerate() {
                if n != o {
                    changed.push(b * 64 + r);
                }
            }
        }
        changed.extend(earlier.messages_count()..self.messages_count());
        Some(changed)
    }

    /// UID of the message at 0-based position `idx`.
    pub fn uid_at(&self, idx: usize) -> u32 {
        let rs = self.rec_size();
        u32_at(&self.records, idx * rs).unwrap_or(0)
    }

    /// Flags byte of the message at 0-based position `idx`.
    pub fn flags_at(&self, idx: usize) -> u8 {
        let rs = self.rec_size();
        self.records.get(idx * rs + 4).copied().unwrap_or(0)
    }

    /// Iterates `(uid, flags)` of every message in sequence order.
    pub fn uids_and_flags(&self) -> impl Iterator<Item = (u32, u8)> + '_ {
        self.records
            .chunks_exact(self.rec_size())
            .map(|r| (u32::from_le_bytes([r[0], r[1], r[2], r[3]]), r[4]))
    }

    /// 0-based position of `uid`, or where it would be inserted.
    pub fn position_of_uid(&self, uid: u32) -> std::result::Result<usize, usize> {
        let (mut lo, mut hi) = (0usize, self.messages_count());
        while lo < hi {
            let mid = (lo + hi) / 2;
            let m = self.uid_at(mid);
            if m == uid {
                return Ok(mid);
            }
            if m < uid {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Err(lo)
    }

    /// 0-based positions `[start, end)` of the messages with `uid1 <= uid <= uid2`.
    pub fn range_of_uids(&self, uid1: u32, uid2: u32) -> (usize, usize) {
        let start = match self.position_of_uid(uid1) {
            Ok(i) | Err(i) => i,
        };
        let end = match self.position_of_uid(uid2) {
            Ok(i) => i + 1,
            Err(i) => i,
        };
        (start, end.max(start))
    }

    /// Bytes of an extension's record field for the message at `idx`.
    pub fn ext_record(&self, ext_idx: usize, idx: usize) -> Option<&[u8]> {
        let e = self.extensions.get(ext_idx)?;
        if e.record_size == 0 {
            return None;
        }
        let rs = self.rec_size();
        let start = idx.checked_mul(rs)? + usize::from(e.record_offset);
        self.records.get(start..start + usize::from(e.record_size))
    }

    /// Keyword names set on the message at `idx`.
    pub fn keywords_at(&self, idx: usize) -> Vec<&str> {
        self.keywords_with(self.ext_index(EXT_KEYWORDS), idx)
    }

    /// [`IndexMap::keywords_at`] with the `keywords` extension's index
    /// looked up once by the caller (a walk over every message).
    pub(crate) fn keywords_with(&self, ext: Option<usize>, idx: usize) -> Vec<&str> {
        let Some(ei) = ext else {
            return Vec::new();
        };
        let Some(bits) = self.ext_record(ei, idx) else {
            return Vec::new();
        };
        if bits.iter().all(|b| *b == 0) {
            return Vec::new();
        }
        let mut out = Vec::new();
        for (i, name) in self.keywords.iter().enumerate() {
            if bits.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0) {
                out.push(name.as_str());
            }
        }
        out
    }

    /// Stored modseq of the message at `idx` (`None` without the `modseq` extension).
    pub fn modseq_at(&self, idx: usize) -> Option<u64> {
        self.modseq_with(self.ext_index(EXT_MODSEQ), idx)
    }

    /// [`IndexMap::modseq_at`] with the extension's index looked up once.
    pub(crate) fn modseq_with(&self, ext: Option<usize>, idx: usize) -> Option<u64> {
        u64_at(self.ext_record(ext?, idx)?, 0)
    }

    /// Cache-file offset of the message at `idx` (0 = nothing cached).
    pub fn cache_offset_at(&self, idx: usize) -> Option<u32> {
        self.cache_offset_with(self.ext_index(EXT_CACHE), idx)
    }

    /// [`IndexMap::cache_offset_at`] with the extension's index looked up once.
    pub(crate) fn cache_offset_with(&self, ext: Option<usize>, idx: usize) -> Option<u32> {
        u32_at(self.ext_record(ext?, idx)?, 0)
    }

    /// The `modseq` extension header: (highest_modseq, log_seq, log_offset).
    pub fn modseq_header(&self) -> Option<(u64, u32, u32)> {
        let e = self.ext(EXT_MODSEQ)?;
        if e.hdr.len() != 16 {
            return None;
        }
        Some((u64_at(&e.hdr, 0)?, u32_at(&e.hdr, 8)?, u32_at(&e.hdr, 12)?))
    }

    /// Recomputes `header_size` from the extension list.
    pub(crate) fn recompute_header_size(&mut self) {
        let mut size = usize::from(self.header.base_header_size);
        if !self.extensions.is_empty() {
            size = align8(size);
            for e in &self.extensions {
                size += align8(16 + e.name.len()) + align8(e.hdr.len());
            }
        }
        self.header.header_size = size as u32;
    }

    /// Serializes the map into the exact bytes of a `dovecot.index` file.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = self.header.encode();
        b.truncate(usize::from(self.header.base_header_size).max(BASE_HEADER_SIZE));
        if !self.extensions.is_empty() {
            b.resize(align8(b.len()), 0);
        }
        for e in &self.extensions {
            let start = b.len();
            b.resize(start + 16, 0);
            put_u32(&mut b, start, e.hdr.len() as u32);
            put_u32(&mut b, start + 4, e.reset_id);
            put_u16(&mut b, start + 8, e.record_offset);
            put_u16(&mut b, start + 10, e.record_size);
            put_u16(&mut b, start + 12, e.record_align);
            put_u16(&mut b, start + 14, e.name.len() as u16);
            b.extend_from_slice(e.name.as_bytes());
            b.resize(start + align8(16 + e.name.len()), 0);
            let data = b.len();
            b.extend_from_slice(&e.hdr);
            b.resize(data + align8(e.hdr.len()), 0);
        }
        debug_assert_eq!(b.len(), self.header.header_size as usize);
        b.extend_from_slice(&self.records);
        b
    }

    /// Lays out record fields the way Dovecot's `sync_ext_reorder()` does and
    /// moves existing record data to the new offsets. `grown` names an
    /// extension whose field grew, so only its old size is copied.
    pub(crate) fn reorder_records(&mut self, grown: Option<(usize, u16)>) {
        let count = self.extensions.len();
        let old_offsets: Vec<u16> = self.extensions.iter().map(|e| e.record_offset).collect();
        let mut copy_sizes: Vec<u16> = self.extensions.iter().map(|e| e.record_size).collect();
        if let Some((i, old)) = grown {
            if copy_sizes[i] > old {
                copy_sizes[i] = old;
            }
        }
        for e in &mut self.extensions {
            e.record_offset = 0;
        }
        let mut sorted: Vec<usize> = (0..count).collect();
        sorted.sort_by(|a, b| {
            self.extensions[*b]
                .record_align
                .cmp(&self.extensions[*a].record_align)
        });
        let mut offset: u32 = 5;
        let mut max_align: u32 = 4;
        loop {
            let mut min_align = u32::MAX;
            let mut found = None;
            for &i in &sorted {
                let e = &self.extensions[i];
                max_align = max_align.max(u32::from(e.record_align));
                if e.record_offset == 0 && e.record_size > 0 {
                    let al = u32::from(e.record_align.max(1));
                    if offset.is_multiple_of(al) {
                        found = Some(i);
                        break;
                    }
                    min_align = min_align.min(al);
                }
            }
            match found {
                Some(i) => {
                    self.extensions[i].record_offset = offset as u16;
                    offset += u32::from(self.extensions[i].record_size);
                }
                None if min_align == u32::MAX => break,
                None => offset += min_align - offset % min_align,
            }
        }
        // A record always holds the uid and flags, whatever odd alignment
        // an extension without record data asked for.
        offset = offset.max(MIN_RECORD_SIZE as u32);
        if !offset.is_multiple_of(max_align) {
            offset += max_align - offset % max_align;
        }
        let new_rs = offset as usize;
        let old_rs = self.rec_size();
        // What moves where, the same for every record: the uid and flags,
        // then each field that had data (a later field wins where fields
        // overlap, as they would if copied one by one).
        let mut moves: Vec<(usize, usize, usize)> = vec![(0, 0, MIN_RECORD_SIZE)];
        for (i, e) in self.extensions.iter().enumerate() {
            let len = usize::from(copy_sizes[i]);
            if len == 0 || old_offsets[i] == 0 {
                continue;
            }
            let (so, d) = (usize::from(old_offsets[i]), usize::from(e.record_offset));
            if so + len <= old_rs && d + len <= new_rs {
                moves.push((so, d, len));
            }
        }
        moves.dedup_by(|next, prev| {
            let joins = next.0 == prev.0 + prev.2 && next.1 == prev.1 + prev.2;
            if joins {
                prev.2 += next.2;
            }
            joins
        });
        let n = self.messages_count();
        move_records(self.records_mut(), n, old_rs, new_rs, &moves);
        self.header.record_size = new_rs as u32;
    }
}

/// The part of `dovecot.index` before the records (base header and
/// extensions), parsed and checked against the file's size: what is needed
/// to read the records straight into the map's own buffer
/// ([`IndexHead::with_records`]) instead of copying them out of the file's.
#[derive(Debug)]
pub(crate) struct IndexHead {
    header: IndexHeader,
    extensions: Vec<Extension>,
    records_len: usize,
}

impl IndexHead {
    /// How many bytes from the start of the file [`IndexHead::parse`] needs
    /// to see: the whole header area, as far as `prefix` (at least the
    /// first 8 bytes of the file, if it has them) tells.
    pub(crate) fn len_needed(prefix: &[u8]) -> usize {
        let header_size = u32_at(prefix, 4).map_or(0, |n| n as usize);
        header_size.max(BASE_HEADER_SIZE)
    }

    /// Parses the header area from `b`, the start of a file of `file_len`
    /// bytes; `b` holds at least [`IndexHead::len_needed`] bytes or the
    /// whole file, whichever is shorter. Errors name the same offsets and
    /// reasons as [`IndexMap::parse`] of the whole file.
    pub(crate) fn parse(b: &[u8], file_len: usize) -> Result<IndexHead> {
        if b.len() < BASE_HEADER_SIZE {
            return Err(corrupt(
                b.len(),
                format!(
                    "file is {} bytes, shorter than the 120-byte header",
                    b.len()
                ),
            ));
        }
        let mut header = IndexHeader::decode(&b[..BASE_HEADER_SIZE]);
        if header.major_version != MAJOR_VERSION {
            return Err(corrupt(
                0,
                format!("major version {} is not 7", header.major_version),
            ));
        }
        if header.compat_flags != 1 {
            return Err(corrupt(
                12,
                format!(
                    "compat_flags {:#x}: not a little-endian index",
                    header.compat_flags
                ),
            ));
        }
        if header.flags & HDR_FLAG_CORRUPTED != 0 {
            return Err(corrupt(20, "header carries the CORRUPTED flag"));
        }
        let base = usize::from(header.base_header_size);
        if base < BASE_HEADER_SIZE {
            return Err(corrupt(2, format!("base_header_size {base} < 120")));
        }
        let header_size = header.header_size as usize;
        if header_size < base {
            return Err(corrupt(
                4,
                format!("header_size {header_size} < base_header_size {base}"),
            ));
        }
        if header_size > file_len {
            return Err(corrupt(
                4,
                format!("header_size {header_size} exceeds file size {file_len}"),
            ));
        }
        if header_size > b.len() {
            // Only when the file shrank while it was read.
            return Err(corrupt(
                b.len(),
                format!(
                    "header_size {header_size} but only {} bytes could be read",
                    b.len()
                ),
            ));
        }
        header.trailing = b[BASE_HEADER_SIZE..base].to_vec();
        // Minor-version upgrades done in memory by Dovecot.
        if header.minor_version == 0 && header.first_recent_uid == 0 {
            header.first_recent_uid = 1;
        }
        if header.minor_version <= 2 {
            header.unused_old_sync_size_part1 = 0;
            header.log2_rotate_time = 0;
            header.last_temp_file_scan = 0;
        }
        let record_size = header.record_size as usize;
        if record_size < MIN_RECORD_SIZE {
            return Err(corrupt(8, format!("record_size {record_size} < 8")));
        }
        check_header_counts(&header)?;

        let extensions = parse_extensions(&b[..header_size], base, record_size)?;
        let count = header.messages_count as usize;
        let records_len = count
            .checked_mul(record_size)
            .ok_or_else(|| corrupt(32, "messages_count * record_size overflows"))?;
        let avail = file_len - header_size;
        if records_len > avail {
            return Err(corrupt(
                file_len,
                format!("{count} records of {record_size} bytes need {records_len} bytes, file has {avail} after the header"),
            ));
        }
        Ok(IndexHead {
            header,
            extensions,
            records_len,
        })
    }

    /// Where the records start in the file.
    pub(crate) fn records_offset(&self) -> usize {
        self.header.header_size as usize
    }

    /// How many bytes of records follow the header area.
    pub(crate) fn records_len(&self) -> usize {
        self.records_len
    }

    /// The map with `records` ([`IndexHead::records_len`] bytes read from
    /// [`IndexHead::records_offset`]), once the records and the keyword
    /// names pass their checks.
    pub(crate) fn with_records(self, mut records: Vec<u8>) -> Result<IndexMap> {
        let IndexHead {
            mut header,
            extensions,
            records_len,
        } = self;
        if records.len() != records_len {
            let file_len = header.header_size as usize + records.len();
            return Err(corrupt(
                file_len,
                format!(
                    "{} records of {} bytes need {records_len} bytes, file has {} after the header",
                    header.messages_count,
                    header.record_size,
                    records.len()
                ),
            ));
        }
        let record_size = header.record_size as usize;
        if header.minor_version <= 1 {
            for r in records.chunks_exact_mut(record_size) {
                r[4] &= !0x20;
            }
        }
        header.minor_version = MINOR_VERSION.max(header.minor_version);
        let mut map = IndexMap {
            header,
            extensions,
            keywords: Vec::new(),
            records: Arc::new(records),
        };
        map.check_records()?;
        map.keywords = map.parse_keywords().map_err(|(off, why)| {
            let ext_off = map.ext_hdr_file_offset(EXT_KEYWORDS).unwrap_or(0);
            corrupt(ext_off + off, why)
        })?;
        Ok(map)
    }
}

/// Changes the record size of `records` (`n` records of `old_rs` bytes) to
/// `new_rs` in place: each record gets the `(from, to, len)` byte ranges of
/// its old self in `moves` order and zeros elsewhere. Growing works from
/// the last record back and shrinking from the first, so no record is
/// overwritten before it is moved.
fn move_records(
    records: &mut Vec<u8>,
    n: usize,
    old_rs: usize,
    new_rs: usize,
    moves: &[(usize, usize, usize)],
) {
    records.truncate(n * old_rs);
    if new_rs > old_rs {
        records.resize(n * new_rs, 0);
    }
    if let [(0, 0, len)] = *moves {
        // The fields that keep their data are where they were (a field
        // was added at the end, or the records grew): one copy per record
        // and the rest zeroed, with fixed sizes for the usual layouts.
        if new_rs > old_rs {
            match (len, new_rs) {
                (8, 12) => grow_kept::<8, 12>(records, n, old_rs),
                (8, 16) => grow_kept::<8, 16>(records, n, old_rs),
                (8, 24) => grow_kept::<8, 24>(records, n, old_rs),
                (12, 16) => grow_kept::<12, 16>(records, n, old_rs),
                (12, 24) => grow_kept::<12, 24>(records, n, old_rs),
                (16, 24) => grow_kept::<16, 24>(records, n, old_rs),
                (16, 32) => grow_kept::<16, 32>(records, n, old_rs),
                (24, 32) => grow_kept::<24, 32>(records, n, old_rs),
                _ => {
                    for idx in (0..n).rev() {
                        let dst = idx * new_rs;
                        records.copy_within(idx * old_rs..idx * old_rs + len, dst);
                        records[dst + len..dst + new_rs].fill(0);
                    }
                }
            }
            return;
        }
    }
    let mut one_record = vec![0u8; old_rs];
    let mut move_one = |records: &mut [u8], idx: usize| {
        let dst = idx * new_rs;
        one_record.copy_from_slice(&records[idx * old_rs..(idx + 1) * old_rs]);
        let r = &mut records[dst..dst + new_rs];
        r.fill(0);
        for &(from, to, len) in moves {
            r[to..to + len].copy_from_slice(&one_record[from..from + len]);
        }
    };
    if new_rs > old_rs {
        for idx in (0..n).rev() {
            move_one(records, idx);
        }
    } else {
        for idx in 0..n {
            move_one(records, idx);
        }
        records.truncate(n * new_rs);
    }
}

/// [`move_records`] growing records to `NEW` bytes that keep their first
/// `KEEP` bytes where they were (`records` already grown to `n * NEW`).
fn grow_kept<const KEEP: usize, const NEW: usize>(records: &mut [u8], n: usize, old_rs: usize) {
    for idx in (0..n).rev() {
        let mut kept = [0u8; KEEP];
        kept.copy_from_slice(&records[idx * old_rs..idx * old_rs + KEEP]);
        let dst = &mut records[idx * NEW..(idx + 1) * NEW];
        dst[..KEEP].copy_from_slice(&kept);
        dst[KEEP..].copy_from_slice(&[0u8; NEW][KEEP..]);
    }
}

fn check_header_counts(h: &IndexHeader) -> Result<()> {
    if h.uid_validity == 0 && h.next_uid != 1 {
        return Err(corrupt(
            24,
            format!("uid_validity 0 with next_uid {}", h.next_uid),
        ));
    }
    if h.next_uid == 0 {
        return Err(corrupt(28, "next_uid is 0"));
    }
    if h.seen_messages_count > h.messages_count {
        return Err(corrupt(40, "seen_messages_count > messages_count"));
    }
    if h.deleted_messages_count > h.messages_count {
        return Err(corrupt(44, "deleted_messages_count > messages_count"));
    }
    if h.first_recent_uid == 0 || h.first_recent_uid > h.next_uid {
        return Err(corrupt(
            48,
            format!("first_recent_uid {} out of range", h.first_recent_uid),
        ));
    }
    if h.first_unseen_uid_lowwater > h.next_uid {
        return Err(corrupt(52, "first_unseen_uid_lowwater > next_uid"));
    }
    if h.first_deleted_uid_lowwater > h.next_uid {
        return Err(corrupt(56, "first_deleted_uid_lowwater > next_uid"));
    }
    Ok(())
}

/// Validates an extension header like `mail_index_map_ext_hdr_check()`.
pub(crate) fn ext_hdr_check(
    index_record_size: u32,
    hdr_size: u32,
    record_size: u16,
    record_offset: u16,
    record_align: u16,
    name: &[u8],
    from_intro: bool,
) -> std::result::Result<(), String> {
    if record_size == 0 && hdr_size == 0 {
        return Err("extension has neither header nor record data".into());
    }
    if record_size != 0 {
        if record_align == 0 || record_align > 8 {
            return Err(format!("record_align {record_align} not in 1..8"));
        }
        if record_size >= 32768 {
            return Err(format!("record_size {record_size} too large"));
        }
        if record_offset == 0 {
            // An intro: the layout is computed afterwards.
            if from_intro {
                return check_hdr_and_name(hdr_size, name);
            }
            return Err("record field at offset 0 overlaps the uid".into());
        }
        if u32::from(record_offset) + u32::from(record_size) > index_record_size {
            return Err(format!(
                "record field {record_offset}+{record_size} exceeds record_size {index_record_size}"
            ));
        }
        if !record_offset.is_multiple_of(record_align)
            || !index_record_size.is_multiple_of(u32::from(record_align))
        {
            return Err(format!(
                "record field misaligned (offset {record_offset}, align {record_align})"
            ));
        }
    }
    check_hdr_and_name(hdr_size, name)
}

fn check_hdr_and_name(hdr_size: u32, name: &[u8]) -> std::result::Result<(), String> {
    if hdr_size > EXT_HDR_MAX_SIZE {
        return Err(format!("hdr_size {hdr_size} too large"));
    }
    if !ext_name_is_valid(name) {
        return Err(format!(
            "invalid extension name {:?}",
            String::from_utf8_lossy(name)
        ));
    }
    Ok(())
}

fn parse_extensions(b: &[u8], base: usize, record_size: usize) -> Result<Vec<Extension>> {
    let mut out: Vec<Extension> = Vec::new();
    let mut off = align8(base);
    while off < b.len() {
        let fixed_end = off + 16;
        if fixed_end > b.len() {
            return Err(corrupt(off, "extension header crosses header_size"));
        }
        let hdr_size = u32_at(b, off).unwrap_or(0);
        let reset_id = u32_at(b, off + 4).unwrap_or(0);
        let record_offset = u16_at(b, off + 8).unwrap_or(0);
        let ext_record_size = u16_at(b, off + 10).unwrap_or(0);
        let record_align = u16_at(b, off + 12).unwrap_or(0);
        let name_size = usize::from(u16_at(b, off + 14).unwrap_or(0));
        let name_end = fixed_end + name_size;
        if name_end > b.len() {
            return Err(corrupt(off + 14, "extension name crosses header_size"));
        }
        let name = &b[fixed_end..name_end];
        let data = off + align8(16 + name_size);
        let data_end = data
            .checked_add(align8(hdr_size as usize))
            .filter(|e| *e <= b.len())
            .ok_or_else(|| {
                corrupt(
                    off,
                    format!("extension header data ({hdr_size} bytes) crosses header_size"),
                )
            })?;
        ext_hdr_check(
            record_size as u32,
            hdr_size,
            ext_record_size,
            record_offset,
            record_align,
            name,
            false,
        )
        .map_err(|why| corrupt(off, why))?;
        let name = String::from_utf8_lossy(name).into_owned();
        if out.iter().any(|e| e.name == name) {
            return Err(corrupt(off, format!("duplicate extension {name}")));
        }
        out.push(Extension {
            name,
            hdr: b[data..data + hdr_size as usize].to_vec(),
            reset_id,
            record_offset,
            record_size: ext_record_size,
            record_align,
        });
        off = data_end;
    }
    Ok(out)
}

/// Parses the `keywords` extension header blob into names.
pub(crate) fn parse_keywords_header(h: &[u8]) -> std::result::Result<Vec<String>, (usize, String)> {
    if h.is_empty() {
        return Ok(Vec::new());
    }
    let count =
        u32_at(h, 0).ok_or((0, "keywords header shorter than 4 bytes".to_string()))? as usize;
    let names_start = count
        .checked_mul(8)
        .and_then(|n| n.checked_add(4))
        .filter(|n| *n <= h.len())
        .ok_or((0, format!("keywords_count {count} does not fit the header")))?;
    if count > 0 && h.last() != Some(&0) {
        return Err((
            h.len().saturating_sub(1),
            "keywords header does not end with NUL".into(),
        ));
    }
    let names = &h[names_start..];
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let name_off = u32_at(h, 4 + 8 * i + 4).unwrap_or(u32::MAX) as usize;
        let rest = names.get(name_off..).ok_or((
            4 + 8 * i + 4,
            format!("keyword {i} name offset {name_off} out of range"),
        ))?;
        let end = rest.iter().position(|c| *c == 0).ok_or((
            names_start + name_off,
            format!("keyword {i} is not NUL-terminated"),
        ))?;
        if end == 0 {
            return Err((names_start + name_off, format!("keyword {i} is empty")));
        }
        out.push(String::from_utf8_lossy(&rest[..end]).into_owned());
    }
    Ok(out)
}

/// Builds a keywords header blob for `names` (unpadded; callers pad).
pub(crate) fn build_keywords_header(names: &[String]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&(names.len() as u32).to_le_bytes());
    let mut off = 0u32;
    for n in names {
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&off.to_le_bytes());
        off += n.len() as u32 + 1;
    }
    for n in names {
        b.extend_from_slice(n.as_bytes());
        b.push(0);
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each record built afresh: zeros, then the moves one after another.
    fn moved_one_by_one(
        records: &[u8],
        n: usize,
        old_rs: usize,
        new_rs: usize,
        moves: &[(usize, usize, usize)],
    ) -> Vec<u8> {
        let mut out = vec![0u8; n * new_rs];
        for idx in 0..n {
            let src = &records[idx * old_rs..(idx + 1) * old_rs];
            let dst = &mut out[idx * new_rs..(idx + 1) * new_rs];
            for &(from, to, len) in moves {
                dst[to..to + len].copy_from_slice(&src[from..from + len]);
            }
        }
        out
    }

    #[test]
    fn records_move_in_place_as_if_copied_one_by_one() {
        let n = 37;
        for (old_rs, new_rs, moves) in [
            (8, 16, vec![(0, 0, 8)]),
            (16, 16, vec![(0, 0, 8), (8, 12, 4)]),
            (16, 24, vec![(0, 0, 8), (8, 16, 8)]),
            (24, 16, vec![(0, 0, 8), (16, 8, 8)]),
            (24, 8, vec![(0, 0, 8)]),
            (16, 32, vec![(0, 0, 8), (5, 20, 3), (8, 24, 8), (6, 6, 4)]),
            (32, 16, vec![(0, 0, 16)]),
            (12, 16, vec![(0, 0, 12)]),
            (16, 32, vec![(0, 0, 16)]),
            (8, 20, vec![(0, 0, 8)]),
            (12, 24, vec![(0, 0, 8), (8, 8, 4)]),
            (8, 12, vec![(0, 0, 8)]),
            (8, 24, vec![(0, 0, 8)]),
            (16, 24, vec![(0, 0, 16)]),
            (24, 32, vec![(0, 0, 24)]),
        ] {
            let records: Vec<u8> = (0..n * old_rs).map(|i| (i * 7 + 3) as u8).collect();
            let want = moved_one_by_one(&records, n, old_rs, new_rs, &moves);
            let mut got = records.clone();
            move_records(&mut got, n, old_rs, new_rs, &moves);
            assert_eq!(got, want, "{old_rs} -> {new_rs} with {moves:?}");
        }
    }

    fn map_of(count: u32) -> IndexMap {
        let mut map = IndexMap::new(1);
        map.header.next_uid = count + 1;
        let mut records = Vec::new();
        for uid in 1..=count {
            records.extend_from_slice(&uid.to_le_bytes());
            records.extend_from_slice(&[0, 0, 0, 0]);
        }
        map.records = Arc::new(records);
        map.header.messages_count = count;
        map
    }

    #[test]
    fn changed_positions_names_exactly_the_records_that_differ() {
        let earlier = map_of(1000);
        let mut now = earlier.clone();
        assert_eq!(now.changed_positions(&earlier), Some(vec![]));
        // one in the first block, two in one later block, the last one
        for idx in [3usize, 640, 700, 999] {
            now.record_mut(idx)[4] |= 0x08;
        }
        assert_eq!(
            now.changed_positions(&earlier),
            Some(vec![3, 640, 700, 999])
        );
        // new keyword names appended still compare; others do not
        let mut named = now.clone();
        named.keywords.push("$Junk".into());
        assert!(named.changed_positions(&earlier).is_some());
        let mut renamed = earlier.clone();
        renamed.keywords.push("a".into());
        let mut other = earlier.clone();
        other.keywords.push("b".into());
        assert_eq!(other.changed_positions(&renamed), None);
        // a message more is reported; a message fewer, or another record
        // size, gives no record-by-record answer
        assert_eq!(map_of(1001).changed_positions(&earlier), Some(vec![1000]));
        assert_eq!(map_of(999).changed_positions(&earlier), None);
        let mut wider = earlier.clone();
        wider.header.record_size = 16;
        assert_eq!(wider.changed_positions(&earlier), None);
    }

    #[test]
    fn adding_a_record_field_keeps_every_record() {
        let mut map = IndexMap::new(1);
        map.header.next_uid = 1001;
        let mut records = Vec::new();
        for uid in 1..=1000u32 {
            records.extend_from_slice(&uid.to_le_bytes());
            records.extend_from_slice(&[(uid % 32) as u8, 0xaa, 0xbb, 0xcc]);
        }
        map.records = Arc::new(records);
        map.header.messages_count = 1000;
        map.extensions.push(Extension {
            name: EXT_MODSEQ.into(),
            hdr: vec![0; 16],
            reset_id: 0,
            record_offset: 0,
            record_size: 8,
            record_align: 8,
        });
        map.recompute_header_size();
        map.reorder_records(None);
        assert_eq!(map.header.record_size, 16);
        assert_eq!(map.extensions[0].record_offset, 8);
        for idx in 0..1000 {
            let r = map.record(idx + 1).unwrap();
            assert_eq!(map.uid_at(idx), idx as u32 + 1);
            assert_eq!(r[4], ((idx + 1) % 32) as u8);
            // The padding after the flags is kept as it was, the new field is zero.
            assert_eq!(&r[5..8], &[0xaa, 0xbb, 0xcc]);
            assert_eq!(&r[8..], &[0; 8]);
        }
    }
}

//! `dovecot.index.log` / `.log.2` (format 1.3): header, record framing,
//! typed record payloads and modseq accounting.

use crate::bytes::{align4, decode_offset, u16_at, u32_at, u64_at};
use crate::error::{Error, FileKind, Result};

/// `MAIL_TRANSACTION_LOG_MAJOR_VERSION`.
pub const MAJOR_VERSION: u8 = 1;
/// `MAIL_TRANSACTION_LOG_MINOR_VERSION`.
pub const MINOR_VERSION: u8 = 3;
/// Size of the header written by 2.3.
pub const HEADER_SIZE: usize = 40;
/// Smallest acceptable `hdr_size`.
pub const HEADER_MIN_SIZE: usize = 24;

/// Record type values (`enum mail_transaction_type`, masked).
pub mod rtype {
    /// Legacy expunge of UID ranges.
    pub const EXPUNGE: u32 = 0x1;
    /// New messages.
    pub const APPEND: u32 = 0x2;
    /// System-flag changes.
    pub const FLAG_UPDATE: u32 = 0x4;
    /// Base-header byte updates.
    pub const HEADER_UPDATE: u32 = 0x20;
    /// Extension selection / creation / resize.
    pub const EXT_INTRO: u32 = 0x40;
    /// Extension reset.
    pub const EXT_RESET: u32 = 0x80;
    /// Extension header update (16-bit offsets).
    pub const EXT_HDR_UPDATE: u32 = 0x100;
    /// Extension record update.
    pub const EXT_REC_UPDATE: u32 = 0x200;
    /// Keyword add/remove.
    pub const KEYWORD_UPDATE: u32 = 0x400;
    /// Clear all keywords.
    pub const KEYWORD_RESET: u32 = 0x800;
    /// Atomic increment of an extension field.
    pub const EXT_ATOMIC_INC: u32 = 0x1000;
    /// Expunge with GUIDs.
    pub const EXPUNGE_GUID: u32 = 0x2000;
    /// Raise modseqs.
    pub const MODSEQ_UPDATE: u32 = 0x8000;
    /// Extension header update (32-bit offsets).
    pub const EXT_HDR_UPDATE32: u32 = 0x10000;
    /// Mailbox marked deleted.
    pub const INDEX_DELETED: u32 = 0x20000;
    /// Mailbox deletion undone.
    pub const INDEX_UNDELETED: u32 = 0x40000;
    /// Transaction boundary.
    pub const BOUNDARY: u32 = 0x80000;
    /// METADATA change notification.
    pub const ATTRIBUTE_UPDATE: u32 = 0x100000;
    /// Mask selecting the type.
    pub const MASK: u32 = 0x0fff_ffff;
    /// Protection bits required on expunges.
    pub const EXPUNGE_PROT: u32 = 0xcd90;
    /// The change already happened in the storage.
    pub const EXTERNAL: u32 = 0x1000_0000;
    /// Change from replication.
    pub const SYNC: u32 = 0x2000_0000;
}

/// `struct mail_transaction_log_header`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogHeader {
    /// 1.
    pub major_version: u8,
    /// 3.
    pub minor_version: u8,
    /// Header size; records start here.
    pub hdr_size: u16,
    /// Must match the index's indexid; 0 marks a corrupted file.
    pub indexid: u32,
    /// This file's sequence.
    pub file_seq: u32,
    /// Previous file's sequence, 0 for a reset log.
    pub prev_file_seq: u32,
    /// Previous file's size at rotation.
    pub prev_file_offset: u32,
    /// Creation time.
    pub create_stamp: u32,
    /// Highest modseq when this file started.
    pub initial_modseq: u64,
    /// 1 = little endian.
    pub compat_flags: u8,
}

impl LogHeader {
    /// Encodes the 40-byte header.
    pub fn encode(&self) -> [u8; HEADER_SIZE] {
        let mut b = [0u8; HEADER_SIZE];
        b[0] = self.major_version;
        b[1] = self.minor_version;
        b[2..4].copy_from_slice(&self.hdr_size.to_le_bytes());
        b[4..8].copy_from_slice(&self.indexid.to_le_bytes());
        b[8..12].copy_from_slice(&self.file_seq.to_le_bytes());
        b[12..16].copy_from_slice(&self.prev_file_seq.to_le_bytes());
        b[16..20].copy_from_slice(&self.prev_file_offset.to_le_bytes());
        b[20..24].copy_from_slice(&self.create_stamp.to_le_bytes());
        b[24..32].copy_from_slice(&self.initial_modseq.to_le_bytes());
        b[32] = self.compat_flags;
        b
    }

    /// `(major << 8) | minor`.
    pub fn version(&self) -> u16 {
        (u16::from(self.major_version) << 8) | u16::from(self.minor_version)
    }
}

/// One `{uid1, uid2}` inclusive range.
pub type UidRange = (u32, u32);

/// `struct mail_transaction_flag_update`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlagUpdate {
    /// First UID.
    pub uid1: u32,
    /// Last UID.
    pub uid2: u32,
    /// Bits to set.
    pub add_flags: u8,
    /// Bits to clear.
    pub remove_flags: u8,
    /// Bump modseq even without a change.
    pub modseq_inc_flag: u8,
}

impl FlagUpdate {
    /// True when it only touches BACKEND/DIRTY bits.
    pub fn is_internal(&self) -> bool {
        (self.add_flags | self.remove_flags) & 0x1f == 0 && self.modseq_inc_flag == 0
    }
}

/// `struct mail_transaction_ext_intro` plus name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtIntro {
    /// Map extension index, or `u32::MAX` to identify by name.
    pub ext_id: u32,
    /// Writer's view of the reset id.
    pub reset_id: u32,
    /// Wanted header size.
    pub hdr_size: u32,
    /// Wanted record size.
    pub record_size: u16,
    /// Wanted record alignment.
    pub record_align: u16,
    /// `EXT_INTRO_FLAG_NO_SHRINK` = 1.
    pub flags: u16,
    /// Name (empty when `ext_id` is given).
    pub name: Vec<u8>,
}

/// A `{offset, size, data}` block of a header update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HdrBlock<'a> {
    /// Offset inside the header.
    pub offset: u32,
    /// The bytes to write there.
    pub data: &'a [u8],
}

/// A decoded record payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload<'a> {
    /// Legacy expunge ranges.
    Expunge(Vec<UidRange>),
    /// Expunge of `(uid, guid_128)`.
    ExpungeGuid(Vec<(u32, [u8; 16])>),
    /// Appended `(uid, flags)`.
    Append(Vec<(u32, u8)>),
    /// Flag updates.
    FlagUpdate(Vec<FlagUpdate>),
    /// Base header updates.
    HeaderUpdate(Vec<HdrBlock<'a>>),
    /// Extension intros.
    ExtIntro(Vec<ExtIntro>),
    /// Extension reset.
    ExtReset {
        /// New reset id.
        new_reset_id: u32,
        /// Keep the data instead of zeroing it.
        preserve_data: bool,
    },
    /// Extension header updates (`wide` for the 32-bit variant).
    ExtHdrUpdate {
        /// The blocks.
        blocks: Vec<HdrBlock<'a>>,
        /// EXT_HDR_UPDATE32.
        wide: bool,
    },
    /// Extension record updates; entry layout depends on the preceding intro.
    ExtRecUpdate(&'a [u8]),
    /// `(uid, diff)` increments.
    ExtAtomicInc(Vec<(u32, i32)>),
    /// Keyword add (`add = true`) or remove.
    KeywordUpdate {
        /// Add or remove.
        add: bool,
        /// Keyword name.
        name: &'a [u8],
        /// UID ranges.
        ranges: Vec<UidRange>,
    },
    /// Clear all keywords.
    KeywordReset(Vec<UidRange>),
    /// `(uid, modseq)`.
    ModseqUpdate(Vec<(u32, u64)>),
    /// Mailbox deleted.
    IndexDeleted,
    /// Mailbox undeleted.
    IndexUndeleted,
    /// Transaction size.
    Boundary(u32),
    /// Attribute change (raw).
    AttributeUpdate(&'a [u8]),
}

/// One record of a log file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord<'a> {
    /// Byte offset of the record header in the file.
    pub offset: u32,
    /// Full type word (type, EXTERNAL, SYNC bits).
    pub type_word: u32,
    /// Total record size (header + payload).
    pub size: u32,
    /// The raw payload.
    pub raw: &'a [u8],
    /// The decoded payload.
    pub payload: Payload<'a>,
    /// Log modseq after this record.
    pub modseq: u64,
    /// Whether this record raised the modseq.
    pub modseq_changed: bool,
}

impl LogRecord<'_> {
    /// Masked type.
    pub fn kind(&self) -> u32 {
        self.type_word & rtype::MASK
    }
    /// EXTERNAL bit.
    pub fn is_external(&self) -> bool {
        self.type_word & rtype::EXTERNAL != 0
    }
    /// Offset just past this record.
    pub fn end(&self) -> u32 {
        self.offset + self.size
    }
}

/// A transaction-log file read into memory: the whole file, or (for the
/// head log a replay walked up to some point) its header and the bytes
/// from that point on.
#[derive(Debug, Clone)]
pub struct LogFile {
    /// Which file (for error messages).
    pub kind: FileKind,
    /// The file header.
    pub header: LogHeader,
    /// The file's bytes from offset `base` on.
    data: Vec<u8>,
    /// File offset of `data[0]`: 0, or an offset past the header.
    base: usize,
    /// The header's bytes as in the file, when `base` is not 0.
    header_bytes: Vec<u8>,
}

/// Parses the header of a log file.
pub fn parse_header(kind: FileKind, b: &[u8]) -> Result<LogHeader> {
    if b.len() < HEADER_MIN_SIZE {
        return Err(Error::corrupt(
            kind,
            b.len(),
            format!("file is {} bytes, shorter than a log header", b.len()),
        ));
    }
    let hdr_size = u16_at(b, 2).unwrap_or(0);
    if (hdr_size as usize) < HEADER_MIN_SIZE {
        return Err(Error::corrupt(kind, 2, format!("hdr_size {hdr_size} < 24")));
    }
    if hdr_size as usize > b.len() {
        return Err(Error::corrupt(
            kind,
            2,
            format!("hdr_size {hdr_size} exceeds file size {}", b.len()),
        ));
    }
    let mut full = [0u8; HEADER_SIZE];
    let n = (hdr_size as usize).min(HEADER_SIZE);
    full[..n].copy_from_slice(&b[..n]);
    let h = LogHeader {
        major_version: full[0],
        minor_version: full[1],
        hdr_size,
        indexid: u32_at(&full, 4).unwrap_or(0),
        file_seq: u32_at(&full, 8).unwrap_or(0),
        prev_file_seq: u32_at(&full, 12).unwrap_or(0),
        prev_file_offset: u32_at(&full, 16).unwrap_or(0),
        create_stamp: u32_at(&full, 20).unwrap_or(0),
        initial_modseq: u64_at(&full, 24).unwrap_or(0),
        compat_flags: full[32],
    };
    if h.major_version != MAJOR_VERSION {
        return Err(Error::corrupt(
            kind,
            0,
            format!("major version {} is not 1", h.major_version),
        ));
    }
    if h.version() >= 0x0102 && h.compat_flags & 1 != 1 {
        return Err(Error::corrupt(
            kind,
            32,
            "compat_flags: not a little-endian log",
        ));
    }
    if h.indexid == 0 {
        return Err(Error::corrupt(
            kind,
            4,
            "indexid is 0: file was marked corrupted",
        ));
    }
    if h.file_seq == 0 {
        return Err(Error::corrupt(kind, 8, "file_seq is 0"));
    }
    Ok(h)
}

fn ranges(
    kind: FileKind,
    off: usize,
    p: &[u8],
    what: &str,
    summary: bool,
) -> Result<Vec<UidRange>> {
    if !p.len().is_multiple_of(8) {
        return Err(Error::corrupt(
            kind,
            off,
            format!("{what}: payload size {} not a multiple of 8", p.len()),
        ));
    }
    let mut out = Vec::with_capacity(if summary { 0 } else { p.len() / 8 });
    let mut prev = 0u32;
    for (i, c) in p.chunks_exact(8).enumerate() {
        let a = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        let b = u32::from_le_bytes([c[4], c[5], c[6], c[7]]);
        if a == 0 || a > b || (i > 0 && a <= prev) {
            return Err(Error::corrupt(
                kind,
                off + i * 8,
                format!("{what}: invalid uid range {a}-{b}"),
            ));
        }
        prev = b;
        if !summary {
            out.push((a, b));
        }
    }
    Ok(out)
}

fn hdr_blocks<'a>(
    kind: FileKind,
    off: usize,
    p: &'a [u8],
    wide: bool,
    what: &str,
) -> Result<Vec<HdrBlock<'a>>> {
    let mut out = Vec::new();
    let mut i = 0usize;
    let fixed = if wide { 8 } else { 4 };
    while i < p.len() {
        if i + fixed > p.len() {
            return Err(Error::corrupt(
                kind,
                off + i,
                format!("{what}: truncated block header"),
            ));
        }
        let (o, s) = if wide {
            (u32_at(p, i).unwrap_or(0), u32_at(p, i + 4).unwrap_or(0))
        } else {
            (
                u32::from(u16_at(p, i).unwrap_or(0)),
                u32::from(u16_at(p, i + 2).unwrap_or(0)),
            )
        };
        let start = i + fixed;
        let end = start
            .checked_add(s as usize)
            .filter(|e| *e <= p.len())
            .ok_or_else(|| {
                Error::corrupt(
                    kind,
                    off + i,
                    format!("{what}: block of {s} bytes exceeds record"),
                )
            })?;
        out.push(HdrBlock {
            offset: o,
            data: &p[start..end],
        });
        i = align4(end);
    }
    Ok(out)
}

/// Decodes the payload of a record of type `t` (masked) starting at file offset `off`.
pub fn decode_payload(kind: FileKind, off: usize, type_word: u32, p: &[u8]) -> Result<Payload<'_>> {
    decode_checked(kind, off, type_word, p, false)
}

/// Checks a payload as [`decode_payload`] does, with the same errors, and
/// decodes it, or with `summary` keeps of its lists only what the walk
/// over records that are not applied reads ([`next_modseq`], the tail and
/// storage tracking): UID lists of expunges, appends and keyword changes
/// and the entries of increments stay empty, a flag update keeps one
/// update (one that is not internal, if there is one) and a modseq update
/// the entry with the highest modseq. A big append is then checked without
/// building its list.
pub(crate) fn decode_checked(
    kind: FileKind,
    off: usize,
    type_word: u32,
    p: &[u8],
    summary: bool,
) -> Result<Payload<'_>> {
    let keep = |n: usize| if summary { 0 } else { n };
    let t = type_word & rtype::MASK;
    let err = |at: usize, why: String| Error::corrupt(kind, off + at, why);
    if p.is_empty() {
        return Err(err(0, format!("record type {t:#x} with empty payload")));
    }
    Ok(match t {
        x if x == rtype::EXPUNGE | rtype::EXPUNGE_PROT => {
            Payload::Expunge(ranges(kind, off, p, "expunge", summary)?)
        }
        x if x == rtype::EXPUNGE_GUID | rtype::EXPUNGE_PROT => {
            if !p.len().is_multiple_of(20) {
                return Err(err(
                    0,
                    format!("expunge-guid: size {} not a multiple of 20", p.len()),
                ));
            }
            let mut v = Vec::with_capacity(keep(p.len() / 20));
            for (i, c) in p.chunks_exact(20).enumerate() {
                let uid = u32_at(c, 0).unwrap_or(0);
                if uid == 0 {
                    return Err(err(i * 20, "expunge-guid: uid 0".into()));
                }
                if !summary {
                    let mut g = [0u8; 16];
                    g.copy_from_slice(&c[4..20]);
                    v.push((uid, g));
                }
            }
            Payload::ExpungeGuid(v)
        }
        rtype::EXPUNGE | rtype::EXPUNGE_GUID => {
            return Err(err(
                0,
                "expunge record without expunge protection bits".into(),
            ));
        }
        rtype::APPEND => {
            if !p.len().is_multiple_of(8) {
                return Err(err(
                    0,
                    format!("append: size {} not a multiple of 8", p.len()),
                ));
            }
            let mut v = Vec::with_capacity(keep(p.len() / 8));
            let mut prev = 0;
            for (i, c) in p.chunks_exact(8).enumerate() {
                let uid = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                if uid == 0 || uid <= prev {
                    return Err(err(i * 8, format!("append: uid {uid} after {prev}")));
                }
                prev = uid;
                if !summary {
                    v.push((uid, c[4]));
                }
            }
            Payload::Append(v)
        }
        rtype::FLAG_UPDATE => {
            if !p.len().is_multiple_of(12) {
                return Err(err(
                    0,
                    format!("flag-update: size {} not a multiple of 12", p.len()),
                ));
            }
            let mut v: Vec<FlagUpdate> = Vec::with_capacity(if summary { 1 } else { p.len() / 12 });
            let mut prev = 0;
            for (i, c) in p.chunks_exact(12).enumerate() {
                let u = FlagUpdate {
                    uid1: u32_at(c, 0).unwrap_or(0),
                    uid2: u32_at(c, 4).unwrap_or(0),
                    add_flags: c[8],
                    remove_flags: c[9],
                    modseq_inc_flag: c[10],
                };
                if u.uid1 == 0 || u.uid1 > u.uid2 || (i > 0 && u.uid1 <= prev) {
                    return Err(err(
                        i * 12,
                        format!("flag-update: invalid uid range {}-{}", u.uid1, u.uid2),
                    ));
                }
                prev = u.uid2;
                match v.first_mut() {
                    Some(first) if summary => {
                        if first.is_internal() && !u.is_internal() {
                            *first = u;
                        }
                    }
                    _ => v.push(u),
                }
            }
            Payload::FlagUpdate(v)
        }
        rtype::HEADER_UPDATE => {
            Payload::HeaderUpdate(hdr_blocks(kind, off, p, false, "header-update")?)
        }
        rtype::EXT_INTRO => {
            let mut v = Vec::new();
            let mut i = 0usize;
            while i + 20 <= p.len() {
                let name_size = usize::from(u16_at(p, i + 18).unwrap_or(0));
                let end = i + 20 + name_size;
                if end > p.len() {
                    return Err(err(
                        i,
                        format!("ext-intro: name of {name_size} bytes exceeds record"),
                    ));
                }
                v.push(ExtIntro {
                    ext_id: u32_at(p, i).unwrap_or(0),
                    reset_id: u32_at(p, i + 4).unwrap_or(0),
                    hdr_size: u32_at(p, i + 8).unwrap_or(0),
                    record_size: u16_at(p, i + 12).unwrap_or(0),
                    record_align: u16_at(p, i + 14).unwrap_or(0),
                    flags: u16_at(p, i + 16).unwrap_or(0),
                    name: p[i + 20..end].to_vec(),
                });
                i = align4(end);
            }
            if v.is_empty() {
                return Err(err(0, "ext-intro: shorter than one intro".into()));
            }
            Payload::ExtIntro(v)
        }
        rtype::EXT_RESET => {
            if p.len() < 4 {
                return Err(err(0, "ext-reset: shorter than 4 bytes".into()));
            }
            Payload::ExtReset {
                new_reset_id: u32_at(p, 0).unwrap_or(0),
                preserve_data: p.get(4).is_some_and(|b| *b != 0),
            }
        }
        rtype::EXT_HDR_UPDATE => Payload::ExtHdrUpdate {
            blocks: hdr_blocks(kind, off, p, false, "ext-hdr")?,
            wide: false,
        },
        rtype::EXT_HDR_UPDATE32 => Payload::ExtHdrUpdate {
            blocks: hdr_blocks(kind, off, p, true, "ext-hdr32")?,
            wide: true,
        },
        rtype::EXT_REC_UPDATE => Payload::ExtRecUpdate(p),
        rtype::EXT_ATOMIC_INC => {
            if !p.len().is_multiple_of(8) {
                return Err(err(
                    0,
                    format!("ext-atomic-inc: size {} not a multiple of 8", p.len()),
                ));
            }
            Payload::ExtAtomicInc(
                p.chunks_exact(8)
                    .take(keep(p.len() / 8))
                    .map(|c| {
                        (
                            u32::from_le_bytes([c[0], c[1], c[2], c[3]]),
                            i32::from_le_bytes([c[4], c[5], c[6], c[7]]),
                        )
                    })
                    .collect(),
            )
        }
        rtype::KEYWORD_UPDATE => {
            if p.len() < 4 {
                return Err(err(0, "keyword-update: too short".into()));
            }
            let modify = p[0];
            let name_size = usize::from(u16_at(p, 2).unwrap_or(0));
            if modify > 1 {
                return Err(err(0, format!("keyword-update: modify_type {modify}")));
            }
            if name_size == 0 {
                return Err(err(2, "keyword-update: empty name".into()));
            }
            let seqset = align4(4 + name_size);
            if seqset >= p.len() {
                return Err(err(
                    2,
                    format!("keyword-update: name of {name_size} bytes leaves no uid ranges"),
                ));
            }
            Payload::KeywordUpdate {
                add: modify == 0,
                name: &p[4..4 + name_size],
                ranges: ranges(kind, off + seqset, &p[seqset..], "keyword-update", summary)?,
            }
        }
        rtype::KEYWORD_RESET => {
            Payload::KeywordReset(ranges(kind, off, p, "keyword-reset", summary)?)
        }
        rtype::MODSEQ_UPDATE => {
            if !p.len().is_multiple_of(12) {
                return Err(err(
                    0,
                    format!("modseq-update: size {} not a multiple of 12", p.len()),
                ));
            }
            let entries = p.chunks_exact(12).map(|c| {
                let uid = u32_at(c, 0).unwrap_or(0);
                let lo = u64::from(u32_at(c, 4).unwrap_or(0));
                let hi = u64::from(u32_at(c, 8).unwrap_or(0));
                (uid, (hi << 32) | lo)
            });
            Payload::ModseqUpdate(if summary {
                entries.max_by_key(|(_, m)| *m).into_iter().collect()
            } else {
                entries.collect()
            })
        }
        rtype::INDEX_DELETED => Payload::IndexDeleted,
        rtype::INDEX_UNDELETED => Payload::IndexUndeleted,
        rtype::BOUNDARY => {
            if p.len() != 4 {
                return Err(err(
                    0,
                    format!("boundary: payload {} bytes, not 4", p.len()),
                ));
            }
            Payload::Boundary(u32_at(p, 0).unwrap_or(0))
        }
        rtype::ATTRIBUTE_UPDATE => Payload::AttributeUpdate(p),
        other => {
            return Err(Error::corrupt(
                kind,
                off.saturating_sub(8),
                format!("record with unknown type {other:#x}"),
            ));
        }
    })
}

/// How a record changes the log's modseq (`mail_transaction_update_modseq`).
/// A log that claims the largest modseq already stays there.
pub fn next_modseq(cur: u64, version: u16, p: &Payload<'_>, type_word: u32) -> u64 {
    if cur == 0 {
        if let Payload::ExtIntro(v) = p {
            if v.first().is_some_and(|i| i.name == b"modseq") {
                return 1;
            }
        }
        return 0;
    }
    match p {
        Payload::Append(_)
        | Payload::KeywordUpdate { .. }
        | Payload::KeywordReset(_)
        | Payload::AttributeUpdate(_) => cur.saturating_add(1),
        Payload::Expunge(_) | Payload::ExpungeGuid(_) => {
            if type_word & rtype::EXTERNAL != 0 {
                cur.saturating_add(1)
            } else {
                cur
            }
        }
        Payload::FlagUpdate(v) => {
            if version < 0x0103 || v.iter().any(|u| !u.is_internal()) {
                cur.saturating_add(1)
            } else {
                cur
            }
        }
        Payload::ModseqUpdate(v) => v.iter().fold(cur, |m, (_, s)| m.max(*s)),
        _ => cur,
    }
}

impl LogFile {
    /// Parses a log file's header; records are decoded lazily by [`LogFile::records`].
    pub fn parse(kind: FileKind, data: Vec<u8>) -> Result<LogFile> {
        let header = parse_header(kind, &data)?;
        Ok(LogFile {
            kind,
            header,
            data,
            base: 0,
            header_bytes: Vec::new(),
        })
    }

    /// A log held from file offset `base` on (past the header):
    /// `header_bytes` are the file's first bytes (at least its header),
    /// `data` the bytes from `base`. Its records can be walked from record
    /// boundaries at or after `base` only.
    pub(crate) fn from_part(
        kind: FileKind,
        header_bytes: &[u8],
        base: usize,
        data: Vec<u8>,
    ) -> Result<LogFile> {
        let header = parse_header(kind, header_bytes)?;
        let hdr = usize::from(header.hdr_size);
        if base < hdr {
            return Err(Error::Invalid(format!(
                "log held from offset {base}, inside its {hdr}-byte header"
            )));
        }
        Ok(LogFile {
            kind,
            header,
            data,
            base,
            header_bytes: header_bytes[..hdr].to_vec(),
        })
    }

    /// The file's bytes (from [`LogFile::base`] on).
    pub fn bytes(&self) -> &[u8] {
        &self.data
    }

    /// File offset of the first byte of [`LogFile::bytes`]: 0 for a log
    /// read whole.
    pub fn base(&self) -> usize {
        self.base
    }

    /// Offset just past the bytes held.
    pub(crate) fn held_end(&self) -> usize {
        self.base + self.data.len()
    }

    /// The header's bytes as in the file.
    pub(crate) fn header_bytes(&self) -> &[u8] {
        if self.base == 0 {
            let hdr = usize::from(self.header.hdr_size).min(self.data.len());
            &self.data[..hdr]
        } else {
            &self.header_bytes
        }
    }

    /// Iterates all committed records from the start of the file (of a
    /// log held from [`LogFile::base`] on: none, see
    /// [`LogFile::records_from`]).
    pub fn records(&self) -> RecordIter<'_> {
        RecordIter {
            file: self,
            pos: self.header.hdr_size as usize,
            modseq: self.header.initial_modseq,
            done: self.base != 0,
            committed_end: self.header.hdr_size as usize,
            boundary_end: 0,
            summaries_before: 0,
        }
    }

    /// Iterates records starting at `offset` (a record boundary reached by an
    /// earlier walk) with the log modseq `modseq` valid there.
    pub fn records_from(&self, offset: u32, modseq: u64) -> RecordIter<'_> {
        let pos = (offset as usize).max(self.header.hdr_size as usize);
        RecordIter {
            file: self,
            pos,
            modseq,
            // Bytes before `base` are not held: nothing to walk there.
            done: pos < self.base,
            committed_end: pos,
            boundary_end: 0,
            summaries_before: 0,
        }
    }

    /// Appends bytes read from the end of the file at file offset
    /// `offset` (not before [`LogFile::base`]), dropping any held past it.
    pub(crate) fn extend_from(&mut self, offset: usize, bytes: &[u8]) {
        self.data.truncate(offset.saturating_sub(self.base));
        self.data.extend_from_slice(bytes);
    }

    /// Offset where committed data ends (an incomplete trailing transaction
    /// is not counted), or the corruption that stops the walk.
    pub fn committed_end(&self) -> Result<u32> {
        let mut it = self.records();
        for r in it.by_ref() {
            r?;
        }
        Ok(it.committed_end as u32)
    }
}

/// Iterator over a log file's records; see [`LogFile::records`].
#[derive(Debug)]
pub struct RecordIter<'a> {
    file: &'a LogFile,
    pos: usize,
    modseq: u64,
    done: bool,
    committed_end: usize,
    boundary_end: usize,
    /// Records starting before this offset get summarised payloads
    /// ([`decode_checked`]), checked as fully as the others.
    summaries_before: usize,
}

impl RecordIter<'_> {
    /// Summarises the payloads of the records that start before `offset`
    /// (for walks that only track the log modseq, the tail and the
    /// storage changes there, and apply only what follows).
    pub(crate) fn summarising_before(mut self, offset: u32) -> Self {
        self.summaries_before = offset as usize;
        self
    }

    /// Offset up to which whole transactions have been returned.
    pub fn committed_end(&self) -> u32 {
        self.committed_end as u32
    }

    /// The log modseq at the current position.
    pub fn modseq(&self) -> u64 {
        self.modseq
    }
}

impl<'a> Iterator for RecordIter<'a> {
    type Item = Result<LogRecord<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let b = &self.file.data;
        let base = self.file.base;
        let held_end = self.file.held_end();
        let kind = self.file.kind;
        let off = self.pos;
        if off < base || off + 8 > held_end {
            self.done = true;
            return None;
        }
        let r = off - base;
        let size = decode_offset([b[r], b[r + 1], b[r + 2], b[r + 3]]) as usize;
        if size == 0 {
            // Not yet written: the writer has not finished.
            self.done = true;
            return None;
        }
        let type_word = u32_at(b, r + 4).unwrap_or(0);
        if size < 8 {
            self.done = true;
            return Some(Err(Error::corrupt(
                kind,
                off,
                format!("record size {size} < 8"),
            )));
        }
        if off + size > held_end {
            self.done = true;
            return None;
        }
        let payload_bytes = &b[r + 8..r + size];
        let summary = off < self.summaries_before;
        let payload = match decode_checked(kind, off + 8, type_word, payload_bytes, summary) {
            Ok(p) => p,
            Err(e) => {
                self.done = true;
                return Some(Err(e));
            }
        };
        if let Payload::Boundary(tsize) = payload {
            let end = off.checked_add(tsize as usize);
            match end {
                Some(e) if e <= held_end && tsize as usize >= size => self.boundary_end = e,
                Some(e) if e > held_end => {
                    // Transaction not completely written yet.
                    self.done = true;
                    return None;
                }
                _ => {
                    self.done = true;
                    return Some(Err(Error::corrupt(
                        kind,
                        off + 8,
                        format!("boundary size {tsize} smaller than itself"),
                    )));
                }
            }
        }
        let prev = self.modseq;
        self.modseq = next_modseq(self.modseq, self.file.header.version(), &payload, type_word);
        self.pos = off + size;
        if self.pos >= self.boundary_end {
            self.committed_end = self.pos;
        }
        Some(Ok(LogRecord {
            offset: off as u32,
            type_word,
            size: size as u32,
            raw: payload_bytes,
            payload,
            modseq: self.modseq,
            modseq_changed: self.modseq > prev,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    fn logs_under(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                logs_under(&p, out);
            } else if p
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n == "dovecot.index.log" || n == "dovecot.index.log.2")
            {
                out.push(p);
            }
        }
    }

    /// Walks `log` fully decoded and summarised from `before` on and
    /// checks that both see the same records, errors, modseqs and end.
    fn same_walks(log: &LogFile, before: u32) {
        let mut full = log.records();
        let mut summarised = log.records().summarising_before(before);
        loop {
            match (full.next(), summarised.next()) {
                (None, None) => break,
                (Some(Ok(f)), Some(Ok(s))) => {
                    assert_eq!(
                        (
                            f.offset,
                            f.size,
                            f.type_word,
                            f.raw,
                            f.modseq,
                            f.modseq_changed
                        ),
                        (
                            s.offset,
                            s.size,
                            s.type_word,
                            s.raw,
                            s.modseq,
                            s.modseq_changed
                        )
                    );
                    assert_eq!(
                        std::mem::discriminant(&f.payload),
                        std::mem::discriminant(&s.payload)
                    );
                    if s.offset >= before
                        || matches!(
                            f.payload,
                            Payload::HeaderUpdate(_) | Payload::ExtIntro(_) | Payload::Boundary(_)
                        )
                    {
                        assert_eq!(f.payload, s.payload);
                    }
                }
                (Some(Err(f)), Some(Err(s))) => assert_eq!(f.to_string(), s.to_string()),
                (f, s) => panic!("full walk gave {f:?}, summarised one {s:?}"),
            }
        }
        assert_eq!(full.committed_end(), summarised.committed_end());
        assert_eq!(full.modseq(), summarised.modseq());
    }

    #[test]
    fn summarised_walks_check_and_count_as_full_ones() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/dovecot-2.3");
        let mut paths = Vec::new();
        logs_under(&root, &mut paths);
        assert!(
            paths.len() > 10,
            "{} logs under {}",
            paths.len(),
            root.display()
        );
        for (n, p) in paths.iter().enumerate() {
            let data = std::fs::read(p).unwrap();
            let Ok(log) = LogFile::parse(FileKind::Log, data.clone()) else {
                continue;
            };
            let end = data.len() as u32;
            for before in [0, end / 2, u32::MAX] {
                same_walks(&log, before);
            }
            // Damaged copies of a few: the same errors at the same records.
            if n % 4 == 0 {
                for i in (40..data.len()).step_by(3) {
                    for x in [0x01u8, 0x80, 0xff] {
                        let mut d = data.clone();
                        d[i] ^= x;
                        if let Ok(log) = LogFile::parse(FileKind::Log, d) {
                            same_walks(&log, u32::MAX);
                        }
                    }
                }
            }
        }
    }
}

//! `dovecot.index.cache` (format 1.1): header, field registry, record chains.

use crate::bytes::{align4, decode_offset, u32_at};
use crate::error::{Error, FileKind, Result};

/// Size of `struct mail_cache_header`.
pub const HEADER_SIZE: usize = 32;
/// Marks a variable-size field in the registry's size array.
pub const VARIABLE_SIZE: u32 = u32::MAX;

/// `enum mail_cache_field_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// Fixed size.
    Fixed,
    /// Variable size, binary.
    Variable,
    /// Variable size, text.
    String,
    /// Fixed size, ORed over the chain.
    Bitmask,
    /// Cached header lines.
    Header,
}

impl FieldType {
    /// From the on-disk byte.
    pub fn from_u8(v: u8) -> Option<FieldType> {
        Some(match v {
            0 => FieldType::Fixed,
            1 => FieldType::Variable,
            2 => FieldType::String,
            3 => FieldType::Bitmask,
            4 => FieldType::Header,
            _ => return None,
        })
    }
    /// The on-disk byte.
    pub fn as_u8(self) -> u8 {
        match self {
            FieldType::Fixed => 0,
            FieldType::Variable => 1,
            FieldType::String => 2,
            FieldType::Bitmask => 3,
            FieldType::Header => 4,
        }
    }
    /// Short name as `doveadm dump` prints it.
    pub fn short_name(self) -> &'static str {
        match self {
            FieldType::Fixed => "fix",
            FieldType::Variable => "var",
            FieldType::String => "str",
            FieldType::Bitmask => "bit",
            FieldType::Header => "hdr",
        }
    }
    /// Fixed-size types have no per-record length.
    pub fn is_fixed_size(self) -> bool {
        matches!(self, FieldType::Fixed | FieldType::Bitmask)
    }
}

/// Caching decision `NO`.
pub const DECISION_NO: u8 = 0;
/// Caching decision `TEMP`.
pub const DECISION_TEMP: u8 = 1;
/// Caching decision `YES`.
pub const DECISION_YES: u8 = 2;
/// Decision flag `FORCED`.
pub const DECISION_FORCED: u8 = 0x80;

/// One registered cache field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheField {
    /// Field name (`flags`, `hdr.Subject`, ...).
    pub name: String,
    /// Type.
    pub field_type: FieldType,
    /// Fixed size, or [`VARIABLE_SIZE`].
    pub size: u32,
    /// Caching decision (`DECISION_*`, possibly with `DECISION_FORCED`).
    pub decision: u8,
    /// Last intentional use (UNIX time).
    pub last_used: u32,
}

/// `struct mail_cache_header`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheHeader {
    /// 1.
    pub major_version: u8,
    /// 8.
    pub compat_sizeof_uoff_t: u8,
    /// 1.
    pub minor_version: u8,
    /// Must match the index.
    pub indexid: u32,
    /// Cache generation; equals the index `cache` extension's reset_id.
    pub file_seq: u32,
    /// Records chained behind another record.
    pub continued_record_count: u32,
    /// Messages with cache data.
    pub record_count: u32,
    /// Size written by the last purge.
    pub backwards_compat_used_file_size: u32,
    /// Records of expunged messages.
    pub deleted_record_count: u32,
    /// Encoded offset of the first field header.
    pub field_header_offset_raw: u32,
}

impl CacheHeader {
    /// Decoded offset of the first field header.
    pub fn field_header_offset(&self) -> u32 {
        decode_offset(self.field_header_offset_raw.to_le_bytes())
    }

    /// Encodes the 32-byte header.
    pub fn encode(&self) -> [u8; HEADER_SIZE] {
        let mut b = [0u8; HEADER_SIZE];
        b[0] = self.major_version;
        b[1] = self.compat_sizeof_uoff_t;
        b[2] = self.minor_version;
        for (off, v) in [
            (4, self.indexid),
            (8, self.file_seq),
            (12, self.continued_record_count),
            (16, self.record_count),
            (20, self.backwards_compat_used_file_size),
            (24, self.deleted_record_count),
            (28, self.field_header_offset_raw),
        ] {
            b[off..off + 4].copy_from_slice(&v.to_le_bytes());
        }
        b
    }
}

/// One cached field value inside a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedValue<'a> {
    /// File field index.
    pub field: u32,
    /// The data.
    pub data: &'a [u8],
}

/// One cache record (a link in a message's chain).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheRecord<'a> {
    /// Offset of this record.
    pub offset: u32,
    /// Older record of the same message, 0 = none.
    pub prev_offset: u32,
    /// Total size.
    pub size: u32,
    /// The values, in file order.
    pub values: Vec<CachedValue<'a>>,
}

/// A cache file read into memory.
#[derive(Debug, Clone)]
pub struct CacheFile {
    /// The header.
    pub header: CacheHeader,
    /// The current field registry (last field header of the chain).
    pub fields: Vec<CacheField>,
    /// Offsets of every field header in the chain.
    pub field_header_offsets: Vec<u32>,
    data: Vec<u8>,
}

fn corrupt(offset: usize, reason: impl Into<String>) -> Error {
    Error::corrupt(FileKind::Cache, offset, reason)
}

/// Parses one field header at `off`; returns (next_offset, fields).
fn parse_field_header(b: &[u8], off: usize) -> Result<(u32, Vec<CacheField>)> {
    let size = field_header_size(b.get(off..).unwrap_or_default(), off, b.len())?;
    parse_field_header_bytes(&b[off..off + size], off)
}

/// The size of the field header at `off` from its first 12 bytes
/// (`start`, which may be longer), checked against the field count and
/// the file's length.
pub(crate) fn field_header_size(start: &[u8], off: usize, file_len: usize) -> Result<usize> {
    u32_at(start, 0).ok_or_else(|| corrupt(off, "field header beyond end of file"))?;
    let size = u32_at(start, 4).ok_or_else(|| corrupt(off + 4, "field header truncated"))? as usize;
    let count =
        u32_at(start, 8).ok_or_else(|| corrupt(off + 8, "field header truncated"))? as usize;
    let need = count
        .checked_mul(10)
        .and_then(|n| n.checked_add(12))
        .ok_or_else(|| corrupt(off + 8, "fields_count overflows"))?;
    if size < need {
        return Err(corrupt(
            off + 4,
            format!("field header size {size} too small for {count} fields"),
        ));
    }
    off.checked_add(size)
        .filter(|e| *e <= file_len)
        .ok_or_else(|| {
            corrupt(
                off + 4,
                format!("field header of {size} bytes exceeds file"),
            )
        })?;
    Ok(size)
}

/// Parses the field header `h` (exactly its bytes, size checked by
/// [`field_header_size`]) found at `off`.
pub(crate) fn parse_field_header_bytes(h: &[u8], off: usize) -> Result<(u32, Vec<CacheField>)> {
    let end = off + h.len();
    let next_raw = u32_at(h, 0).ok_or_else(|| corrupt(off, "field header beyond end of file"))?;
    let count = u32_at(h, 8).ok_or_else(|| corrupt(off + 8, "field header truncated"))? as usize;
    if count
        .checked_mul(10)
        .and_then(|n| n.checked_add(12))
        .is_none_or(|n| n > h.len())
    {
        return Err(corrupt(
            off + 8,
            format!("field header too small for {count} fields"),
        ));
    }
    let mut names = &h[12 + 10 * count..];
    let mut fields = Vec::with_capacity(count);
    for i in 0..count {
        let last_used = u32_at(h, 12 + 4 * i).unwrap_or(0);
        let fsize = u32_at(h, 12 + 4 * count + 4 * i).unwrap_or(0);
        let t = h[12 + 8 * count + i];
        let decision = h[12 + 9 * count + i];
        let field_type = FieldType::from_u8(t).ok_or_else(|| {
            corrupt(
                off + 12 + 8 * count + i,
                format!("field {i}: invalid type {t}"),
            )
        })?;
        if !matches!(decision & 0x7f, 0..=2) {
            return Err(corrupt(
                off + 12 + 9 * count + i,
                format!("field {i}: invalid decision {decision:#x}"),
            ));
        }
        let nul = names
            .iter()
            .position(|c| *c == 0)
            .ok_or_else(|| corrupt(end, format!("field {i}: name not NUL-terminated")))?;
        if nul == 0 {
            return Err(corrupt(end - names.len(), format!("field {i}: empty name")));
        }
        let name = String::from_utf8_lossy(&names[..nul]).into_owned();
        names = &names[nul + 1..];
        if fields
            .iter()
            .any(|f: &CacheField| f.name.eq_ignore_ascii_case(&name))
        {
            return Err(corrupt(off, format!("duplicate field {name}")));
        }
        if field_type.is_fixed_size() && fsize == VARIABLE_SIZE {
            return Err(corrupt(
                off + 12 + 4 * count + 4 * i,
                format!("fixed field {name} has variable size"),
            ));
        }
        fields.push(CacheField {
            name,
            field_type,
            size: fsize,
            decision,
            last_used,
        });
    }
    Ok((decode_offset(next_raw.to_le_bytes()), fields))
}

/// Parses and checks the 32-byte header at the start of `b`.
pub(crate) fn parse_header(b: &[u8]) -> Result<CacheHeader> {
    if b.len() < HEADER_SIZE {
        return Err(corrupt(
            b.len(),
            format!("file is {} bytes, shorter than the 32-byte header", b.len()),
        ));
    }
    let header = CacheHeader {
        major_version: b[0],
        compat_sizeof_uoff_t: b[1],
        minor_version: b[2],
        indexid: u32_at(b, 4).unwrap_or(0),
        file_seq: u32_at(b, 8).unwrap_or(0),
        continued_record_count: u32_at(b, 12).unwrap_or(0),
        record_count: u32_at(b, 16).unwrap_or(0),
        backwards_compat_used_file_size: u32_at(b, 20).unwrap_or(0),
        deleted_record_count: u32_at(b, 24).unwrap_or(0),
        field_header_offset_raw: u32_at(b, 28).unwrap_or(0),
    };
    if header.major_version != 1 {
        return Err(corrupt(
            0,
            format!("major version {} is not 1", header.major_version),
        ));
    }
    if header.compat_sizeof_uoff_t != 8 {
        return Err(corrupt(
            1,
            format!(
                "compat_sizeof_uoff_t {} is not 8",
                header.compat_sizeof_uoff_t
            ),
        ));
    }
    if header.file_seq == 0 {
        return Err(corrupt(8, "file_seq is 0"));
    }
    Ok(header)
}

/// Follows the chain of field headers from the header's
/// `field_header_offset`; `parse_at(off)` parses the one at `off`.
/// Returns the last registry and every field header's offset.
pub(crate) fn parse_field_chain(
    header: &CacheHeader,
    mut parse_at: impl FnMut(usize) -> Result<(u32, Vec<CacheField>)>,
) -> Result<(Vec<CacheField>, Vec<u32>)> {
    let mut fields = Vec::new();
    let mut offsets = Vec::new();
    let mut off = header.field_header_offset() as usize;
    while off != 0 {
        if off < HEADER_SIZE || !off.is_multiple_of(4) {
            return Err(corrupt(28, format!("field header offset {off} invalid")));
        }
        if offsets.len() > 4096 {
            return Err(corrupt(off, "too many chained field headers"));
        }
        let (next, f) = parse_at(off)?;
        if f.len() < fields.len()
            || fields
                .iter()
                .zip(&f)
                .any(|(a, b): (&CacheField, &CacheField)| !a.name.eq_ignore_ascii_case(&b.name))
        {
            return Err(corrupt(
                off,
                "field header does not extend the previous one",
            ));
        }
        offsets.push(off as u32);
        fields = f;
        let next = next as usize;
        if next != 0 && next <= off && header.minor_version >= 1 {
            return Err(corrupt(
                off,
                format!("field header next_offset {next} does not increase"),
            ));
        }
        off = next;
    }
    Ok((fields, offsets))
}

impl CacheFile {
    /// Parses the header and the field registry chain.
    pub fn parse(data: Vec<u8>) -> Result<CacheFile> {
        let header = parse_header(&data)?;
        let b = &data;
        let (fields, offsets) = parse_field_chain(&header, |off| parse_field_header(b, off))?;
        Ok(CacheFile {
            header,
            fields,
            field_header_offsets: offsets,
            data,
        })
    }

    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.data
    }

    /// Parses the record at `offset`.
    pub fn record(&self, offset: u32) -> Result<CacheRecord<'_>> {
        let b = &self.data;
        let off = offset as usize;
        if off < HEADER_SIZE || !off.is_multiple_of(4) {
            return Err(corrupt(off, format!("cache record offset {off} invalid")));
        }
        let prev_offset =
            u32_at(b, off).ok_or_else(|| corrupt(off, "cache record beyond end of file"))?;
        let size = u32_at(b, off + 4)
            .ok_or_else(|| corrupt(off, "cache record beyond end of file"))?
            as usize;
        if size < 8 || !size.is_multiple_of(4) {
            return Err(corrupt(
                off + 4,
                format!("cache record size {size} invalid"),
            ));
        }
        let end = off
            .checked_add(size)
            .filter(|e| *e <= b.len())
            .ok_or_else(|| {
                corrupt(
                    off + 4,
                    format!("cache record of {size} bytes exceeds file"),
                )
            })?;
        let mut values = Vec::new();
        let mut p = off + 8;
        while p < end {
            let idx = u32_at(b, p).ok_or_else(|| corrupt(p, "truncated field"))?;
            let field = self
                .fields
                .get(idx as usize)
                .ok_or_else(|| corrupt(p, format!("unknown field index {idx}")))?;
            p += 4;
            let len = if field.size == VARIABLE_SIZE {
                let l = u32_at(b, p)
                    .filter(|_| p + 4 <= end)
                    .ok_or_else(|| corrupt(p, "truncated field length"))?;
                p += 4;
                l as usize
            } else {
                field.size as usize
            };
            let dend = p.checked_add(len).filter(|e| *e <= end).ok_or_else(|| {
                corrupt(
                    p,
                    format!("field {} of {len} bytes crosses the record end", field.name),
                )
            })?;
            values.push(CachedValue {
                field: idx,
                data: &b[p..dend],
            });
            p = align4(dend);
        }
        Ok(CacheRecord {
            offset,
            prev_offset,
            size: size as u32,
            values,
        })
    }

    /// The value of file field number `field` in the record at `offset`
    /// (without collecting the record's other values), and the record's
    /// `prev_offset`. Errors as [`CacheFile::record`].
    pub fn record_value(&self, offset: u32, field: u32) -> Result<(Option<&[u8]>, u32)> {
        let b = &self.data;
        let start = b.get(offset as usize..).unwrap_or_default();
        let (prev_offset, size) = record_bounds(start, offset, b.len())?;
        let off = offset as usize;
        let (value, _) = value_in_record(&self.fields, &b[off..off + size], off, field, false)?;
        Ok((value, prev_offset))
    }

    /// The whole chain of a message, newest record first.
    pub fn chain(&self, newest: u32) -> Result<Vec<CacheRecord<'_>>> {
        let mut out = Vec::new();
        let mut off = newest;
        while off != 0 {
            let r = self.record(off)?;
            if r.prev_offset >= off {
                return Err(corrupt(
                    off as usize,
                    format!(
                        "record chain loops (prev_offset {} >= {off})",
                        r.prev_offset
                    ),
                ));
            }
            off = r.prev_offset;
            out.push(r);
        }
        Ok(out)
    }

    /// Looks up a field's value for a message chain (first occurrence from the
    /// newest record; bitmasks ORed).
    pub fn lookup(&self, newest: u32, field_name: &str) -> Result<Option<Vec<u8>>> {
        let Some(idx) = self
            .fields
            .iter()
            .position(|f| f.name.eq_ignore_ascii_case(field_name))
        else {
            return Ok(None);
        };
        let bitmask = self.fields[idx].field_type == FieldType::Bitmask;
        let mut acc: Option<Vec<u8>> = None;
        for r in self.chain(newest)? {
            for v in r.values.iter().filter(|v| v.field as usize == idx) {
                if !bitmask {
                    return Ok(Some(v.data.to_vec()));
                }
                let a = acc.get_or_insert_with(|| vec![0; v.data.len()]);
                for (x, y) in a.iter_mut().zip(v.data) {
                    *x |= y;
                }
            }
        }
        Ok(acc)
    }
}

/// Record checks shared by every reader: `offset` is a valid record
/// offset, and `prev_offset` and `size` (the record's first 8 bytes, as
/// `start`) are sane for a file of `file_len` bytes. Returns
/// (prev_offset, size).
pub(crate) fn record_bounds(start: &[u8], offset: u32, file_len: usize) -> Result<(u32, usize)> {
    let off = offset as usize;
    if off < HEADER_SIZE || !off.is_multiple_of(4) {
        return Err(corrupt(off, format!("cache record offset {off} invalid")));
    }
    let prev_offset =
        u32_at(start, 0).ok_or_else(|| corrupt(off, "cache record beyond end of file"))?;
    let size =
        u32_at(start, 4).ok_or_else(|| corrupt(off, "cache record beyond end of file"))? as usize;
    if size < 8 || !size.is_multiple_of(4) {
        return Err(corrupt(
            off + 4,
            format!("cache record size {size} invalid"),
        ));
    }
    off.checked_add(size)
        .filter(|e| *e <= file_len)
        .ok_or_else(|| {
            corrupt(
                off + 4,
                format!("cache record of {size} bytes exceeds file"),
            )
        })?;
    Ok((prev_offset, size))
}

/// Finds file field number `field` in the record `rec` (exactly its bytes,
/// bounds checked by [`record_bounds`]) found at `off`: the first value,
/// and how many values of that field the record holds. Without `whole`,
/// stops at the first value (the rest of the record is not checked).
pub(crate) fn value_in_record<'a>(
    fields: &[CacheField],
    rec: &'a [u8],
    off: usize,
    field: u32,
    whole: bool,
) -> Result<(Option<&'a [u8]>, usize)> {
    let mut first = None;
    let mut count = 0;
    scan_record(fields, rec, off, field, |v| {
        count += 1;
        first.get_or_insert(v);
        whole
    })?;
    Ok((first, count))
}

/// Calls `on_value` with every value of file field number `field` in the
/// record `rec` (as [`value_in_record`]) until it returns false.
pub(crate) fn scan_record<'a>(
    fields: &[CacheField],
    rec: &'a [u8],
    off: usize,
    field: u32,
    mut on_value: impl FnMut(&'a [u8]) -> bool,
) -> Result<()> {
    let end = rec.len();
    let mut p = 8;
    while p < end {
        let idx = u32_at(rec, p).ok_or_else(|| corrupt(off + p, "truncated field"))?;
        let f = fields
            .get(idx as usize)
            .ok_or_else(|| corrupt(off + p, format!("unknown field index {idx}")))?;
        p += 4;
        let len = if f.size == VARIABLE_SIZE {
            let l = u32_at(rec, p)
                .filter(|_| p + 4 <= end)
                .ok_or_else(|| corrupt(off + p, "truncated field length"))?;
            p += 4;
            l as usize
        } else {
            f.size as usize
        };
        let dend = p.checked_add(len).filter(|e| *e <= end).ok_or_else(|| {
            corrupt(
                off + p,
                format!("field {} of {len} bytes crosses the record end", f.name),
            )
        })?;
        if idx == field && !on_value(&rec[p..dend]) {
            return Ok(());
        }
        p = align4(dend);
    }
    Ok(())
}

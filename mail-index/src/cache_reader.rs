//! [`CacheReader`]: `dovecot.index.cache` read where it is needed instead of
//! whole: the header and the field registry when opened, then only the
//! blocks that hold the records asked for (as Dovecot maps the file and
//! touches only those pages), with the same checks as [`CacheFile`].

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

#[cfg(doc)]
use crate::cache_file::CacheFile;
use crate::cache_file::{
    field_header_size, parse_field_chain, parse_field_header_bytes, parse_header, record_bounds,
    scan_record, CacheField, CacheHeader, FieldType, HEADER_SIZE,
};
use crate::error::{Error, FileKind, Result};

/// Bytes read at a time for records.
const BLOCK_SIZE: u64 = 64 * 1024;
/// Blocks kept in memory (4 MiB): a search over every message reads the
/// file once, front to back, without holding all of it.
const MAX_BLOCKS: usize = 64;
/// A field header larger than this is taken for corruption (Dovecot's
/// registry of a few hundred fields is a few kilobytes).
const MAX_FIELD_HEADER: usize = 16 << 20;

/// A cache file opened for lookups: header and fields parsed, records
/// read on demand. The file's length is taken when opened; records
/// appended later are not referenced by the index state the reader was
/// opened with.
#[derive(Debug)]
pub struct CacheReader {
    /// The header as it was when opened.
    pub header: CacheHeader,
    /// The current field registry (last field header of the chain).
    pub fields: Vec<CacheField>,
    /// Offsets of every field header in the chain.
    pub field_header_offsets: Vec<u32>,
    file: File,
    path: PathBuf,
    len: u64,
    blocks: Mutex<Blocks>,
}

#[derive(Debug, Default)]
struct Blocks {
    by_start: HashMap<u64, Vec<u8>>,
    order: VecDeque<u64>,
    bytes_read: u64,
}

fn corrupt(offset: usize, reason: impl Into<String>) -> Error {
    Error::corrupt(FileKind::Cache, offset, reason)
}

impl CacheReader {
    /// Opens the cache file at `path`; `None` if there is none.
    pub fn open(path: &Path) -> Result<Option<CacheReader>> {
        match File::open(path) {
            Ok(f) => CacheReader::from_file(f, path).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(path, e)),
        }
    }

    /// Reads the header and field registry of an open cache file.
    pub fn from_file(file: File, path: &Path) -> Result<CacheReader> {
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let file_len = usize::try_from(len).unwrap_or(usize::MAX);
        let head = pread(&file, path, 0, file_len.min(HEADER_SIZE))?;
        let header = parse_header(&head)?;
        let (fields, field_header_offsets) = parse_field_chain(&header, |off| {
            let start = pread(
                &file,
                path,
                off as u64,
                12.min(file_len.saturating_sub(off)),
            )?;
            let size = field_header_size(&start, off, file_len)?;
            if size > MAX_FIELD_HEADER {
                return Err(corrupt(
                    off + 4,
                    format!("field header of {size} bytes is implausibly large"),
                ));
            }
            let h = pread(&file, path, off as u64, size)?;
            parse_field_header_bytes(&h, off)
        })?;
        Ok(CacheReader {
            header,
            fields,
            field_header_offsets,
            file,
            path: path.to_path_buf(),
            len,
            blocks: Mutex::new(Blocks::default()),
        })
    }

    /// The file's length when it was opened.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True for a file of no bytes (never the case for a parsed one).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes read from the file for records so far (the header and
    /// registry not counted).
    pub fn bytes_read(&self) -> u64 {
        self.lock_blocks().bytes_read
    }

    /// The value of file field number `field` in the record at `offset`
    /// and the record's `prev_offset`, as [`CacheFile::record_value`].
    pub fn record_value(&self, offset: u32, field: u32) -> Result<(Option<Vec<u8>>, u32)> {
        let (prev, rec) = self.record_bytes(offset)?;
        let mut value = None;
        scan_record(&self.fields, &rec, offset as usize, field, |v| {
            value = Some(v.to_vec());
            false
        })?;
        Ok((value, prev))
    }

    /// Looks up a field's value for a message chain (first occurrence from
    /// the newest record; bitmasks ORed), as [`CacheFile::lookup`].
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
        let mut off = newest;
        while off != 0 {
            let (prev, rec) = self.record_bytes(off)?;
            if prev >= off {
                return Err(corrupt(
                    off as usize,
                    format!("record chain loops (prev_offset {prev} >= {off})"),
                ));
            }
            let mut found = None;
            scan_record(&self.fields, &rec, off as usize, idx as u32, |v| {
                if bitmask {
                    let a = acc.get_or_insert_with(|| vec![0; v.len()]);
                    for (x, y) in a.iter_mut().zip(v) {
                        *x |= y;
                    }
                    true
                } else {
                    found = Some(v.to_vec());
                    false
                }
            })?;
            if found.is_some() {
                return Ok(found);
            }
            off = prev;
        }
        Ok(acc)
    }

    /// The checked bytes of the record at `offset` and its `prev_offset`.
    fn record_bytes(&self, offset: u32) -> Result<(u32, Vec<u8>)> {
        let file_len = usize::try_from(self.len).unwrap_or(usize::MAX);
        let off = offset as usize;
        let start = if off < file_len {
            self.read_at(u64::from(offset), 8.min(file_len - off))?
        } else {
            Vec::new()
        };
        let (prev, size) = record_bounds(&start, offset, file_len)?;
        Ok((prev, self.read_at(u64::from(offset), size)?))
    }

    fn lock_blocks(&self) -> std::sync::MutexGuard<'_, Blocks> {
        self.blocks.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `len` bytes at `off` (inside the file, checked by the caller),
    /// through the block cache.
    fn read_at(&self, off: u64, len: usize) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(len);
        let end = off + len as u64;
        let mut pos = off;
        while pos < end {
            let start = pos - pos % BLOCK_SIZE;
            let mut blocks = self.lock_blocks();
            if !blocks.by_start.contains_key(&start) {
                let want = BLOCK_SIZE.min(self.len.saturating_sub(start)) as usize;
                drop(blocks);
                let data = pread(&self.file, &self.path, start, want)?;
                blocks = self.lock_blocks();
                blocks.bytes_read += data.len() as u64;
                if blocks.order.len() >= MAX_BLOCKS {
                    if let Some(old) = blocks.order.pop_front() {
                        blocks.by_start.remove(&old);
                    }
                }
                blocks.order.push_back(start);
                blocks.by_start.insert(start, data);
            }
            let block = &blocks.by_start[&start];
            let from = (pos - start) as usize;
            let to = ((end - start) as usize).min(block.len());
            if to <= from {
                return Err(corrupt(pos as usize, "cache file shorter than when opened"));
            }
            out.extend_from_slice(&block[from..to]);
            pos = start + to as u64;
        }
        Ok(out)
    }
}

/// Up to `len` bytes at `off` (fewer only at the end of the file),
/// straight from the file.
fn pread(file: &File, path: &Path, off: u64, len: usize) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    let mut done = 0;
    while done < len {
        match file.read_at(&mut buf[done..], off + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io(path, e)),
        }
    }
    buf.truncate(done);
    Ok(buf)
}

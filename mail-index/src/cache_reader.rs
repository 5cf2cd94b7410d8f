//! [`CacheReader`]: `dovecot.index.cache` read where it is needed instead of
//! whole: the header and the field registry when opened, then only the
//! blocks that hold the records asked for (as Dovecot maps the file and
//! touches only those pages), with the same checks as [`CacheFile`].

use std::collections::VecDeque;
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
    /// Indexed by block number (offset / BLOCK_SIZE).
    by_number: Vec<Option<Vec<u8>>>,
    order: VecDeque<usize>,
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
            blocks: Mutex::new(Blocks {
                by_number: vec![None; len.div_ceil(BLOCK_SIZE) as usize],
                ..Blocks::default()
            }),
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
        self.with_record(offset, |prev, rec| {
            let mut value = None;
            scan_record(&self.fields, rec, offset as usize, field, |v| {
                value = Some(v.to_vec());
                false
            })?;
            Ok((value, prev))
        })
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
            let mut found = None;
            let prev = self.with_record(off, |prev, rec| {
                if prev >= off {
                    return Err(corrupt(
                        off as usize,
                        format!("record chain loops (prev_offset {prev} >= {off})"),
                    ));
                }
                scan_record(&self.fields, rec, off as usize, idx as u32, |v| {
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
                Ok(prev)
            })?;
            if found.is_some() {
                return Ok(found);
            }
            off = prev;
        }
        Ok(acc)
    }

    /// Calls `f` with the record at `offset` (checked bytes) and its
    /// `prev_offset`: straight from its block when the record lies in one
    /// (the usual case), else from a copy.
    fn with_record<R>(&self, offset: u32, f: impl FnOnce(u32, &[u8]) -> Result<R>) -> Result<R> {
        let file_len = usize::try_from(self.len).unwrap_or(usize::MAX);
        let off = offset as usize;
        let mut blocks = self.lock_blocks();
        let head = if off < file_len {
            self.bytes_at(&mut blocks, off as u64, 8.min(file_len - off))?
        } else {
            std::borrow::Cow::Borrowed(&[][..])
        };
        let (prev, size) = record_bounds(&head, offset, file_len)?;
        drop(head);
        let start = u64::from(offset) - u64::from(offset) % BLOCK_SIZE;
        let from = off - start as usize;
        let block = self.load(&mut blocks, start)?;
        if from + size <= block.len() {
            return f(prev, &block[from..from + size]);
        }
        let rec = self
            .bytes_at(&mut blocks, u64::from(offset), size)?
            .into_owned();
        drop(blocks);
        f(prev, &rec)
    }

    fn lock_blocks(&self) -> std::sync::MutexGuard<'_, Blocks> {
        self.blocks.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes sure the block starting at `start` is in memory and returns it.
    fn load<'b>(&self, blocks: &'b mut Blocks, start: u64) -> Result<&'b [u8]> {
        let n = (start / BLOCK_SIZE) as usize;
        if n >= blocks.by_number.len() {
            return Err(corrupt(
                start as usize,
                "cache file shorter than when opened",
            ));
        }
        if blocks.by_number[n].is_none() {
            let want = BLOCK_SIZE.min(self.len.saturating_sub(start)) as usize;
            let data = pread(&self.file, &self.path, start, want)?;
            blocks.bytes_read += data.len() as u64;
            if blocks.order.len() >= MAX_BLOCKS {
                if let Some(old) = blocks.order.pop_front() {
                    blocks.by_number[old] = None;
                }
            }
            blocks.order.push_back(n);
            blocks.by_number[n] = Some(data);
        }
        Ok(blocks.by_number[n].as_deref().unwrap_or_default())
    }

    /// `len` bytes at `off` (inside the file, checked by the caller):
    /// borrowed from one block, or copied from several.
    fn bytes_at<'b>(
        &self,
        blocks: &'b mut Blocks,
        off: u64,
        len: usize,
    ) -> Result<std::borrow::Cow<'b, [u8]>> {
        let end = off + len as u64;
        let first = off - off % BLOCK_SIZE;
        if end <= first + BLOCK_SIZE {
            let block = self.load(blocks, first)?;
            let from = (off - first) as usize;
            return match block.get(from..from + len) {
                Some(b) => Ok(std::borrow::Cow::Borrowed(b)),
                None => Err(corrupt(off as usize, "cache file shorter than when opened")),
            };
        }
        let mut out = Vec::with_capacity(len);
        let mut pos = off;
        while pos < end {
            let start = pos - pos % BLOCK_SIZE;
            let block = self.load(blocks, start)?;
            let from = (pos - start) as usize;
            let to = ((end - start) as usize).min(block.len());
            if to <= from {
                return Err(corrupt(pos as usize, "cache file shorter than when opened"));
            }
            out.extend_from_slice(&block[from..to]);
            pos = start + to as u64;
        }
        Ok(std::borrow::Cow::Owned(out))
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

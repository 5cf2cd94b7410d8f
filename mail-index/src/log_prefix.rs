//! Walking the start of the head log without holding it in memory.
//!
//! A replay from `dovecot.index` applies only the head log's records after
//! the index's head offset, but walks the ones before it too: for the log
//! modseq, the tail offset and the storage changes, and to check them.
//! Reading those into memory costs a fresh buffer as large as the log
//! (800 KB after the first sync of 100,000 messages) only to drop it. This
//! walks them through one small buffer instead, with the same checks and
//! the same tracking ([`Tracked`]), and the caller then holds the log only
//! from where the walk stopped ([`LogFile::from_part`]).
//!
//! It gives up (`Ok(None)`) on anything it does not take for certain: a
//! damaged, unwritten or half-written record, a transaction still open
//! where it stops, a record larger than its buffer other than an append.
//! The caller then reads the whole log as before, whose walk reports the
//! same errors as always.

use std::fs::File;
use std::io::ErrorKind;
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::bytes::{decode_offset, u32_at};
use crate::error::{Error, FileKind, Result};
use crate::index_file::IndexMap;
use crate::log_file::{
    decode_checked, next_modseq, parse_header, rtype, LogFile, LogHeader, LogRecord, Payload,
};
use crate::sync::{Tracked, WalkedPrefix};

/// Bytes read at a time.
const CHUNK: usize = 64 * 1024;

/// How much of the log is read first for its header.
const HEADER_READ: usize = 4096;

/// How many bytes before the walk's end are held as well (at least the
/// overlap a later open compares, see `view_open`).
pub(crate) const HELD_BEFORE: u64 = 64;

/// Where the bytes come from: a file (positional reads, so a descriptor
/// shared with a lock keeps its position) or, for the fuzz target, memory.
pub(crate) trait ReadAt {
    /// Reads into `buf` from `offset`; 0 at the end.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize>;
}

impl ReadAt for File {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        FileExt::read_at(self, buf, offset)
    }
}

impl ReadAt for [u8] {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.len());
        let n = buf.len().min(self.len() - start);
        buf[..n].copy_from_slice(&self[start..start + n]);
        Ok(n)
    }
}

/// The head log (`len` bytes from `src`) from where the walk of its
/// records before `map`'s head offset stopped, and that walk; `None` when
/// the whole log must be read instead: the index points into another log,
/// is at the log's start, or lags behind in modseqs (their catching up
/// needs the records before its position), or the walk gave up.
pub(crate) fn read_after_prefix<R: ReadAt + ?Sized>(
    src: &R,
    path: &Path,
    map: &IndexMap,
    len: u64,
) -> Result<Option<(LogFile, WalkedPrefix)>> {
    let mut first = vec![0u8; len.min(HEADER_READ as u64) as usize];
    let got = read_at_most(src, path, &mut first, 0)?;
    first.truncate(got);
    let Ok(header) = parse_header(FileKind::Log, &first) else {
        return Ok(None);
    };
    let until = map.header.log_file_head_offset;
    if map.header.log_file_seq != header.file_seq || until <= u32::from(header.hdr_size) {
        return Ok(None);
    }
    if let Some((_, hseq, hoff)) = map.modseq_header() {
        if (hseq, hoff) < (header.file_seq, until) {
            return Ok(None);
        }
    }
    let tracked = Tracked::from_tail(map.header.log_file_tail_offset);
    let Some(prefix) = walk_prefix(src, path, &header, len, until, tracked)? else {
        return Ok(None);
    };
    // Held from a little before the walk's end too: a later open compares
    // the bytes before the end it remembers with the file's.
    let from = u64::from(prefix.end)
        .saturating_sub(HELD_BEFORE)
        .max(u64::from(header.hdr_size));
    let mut rest = vec![0u8; len.saturating_sub(from) as usize];
    let got = read_at_most(src, path, &mut rest, from)?;
    rest.truncate(got);
    Ok(
        LogFile::from_part(FileKind::Log, &first, from as usize, rest)
            .ok()
            .map(|log| (log, prefix)),
    )
}

/// Part of a file held in a reused buffer.
struct Window<'f, R: ReadAt + ?Sized> {
    file: &'f R,
    path: &'f Path,
    file_len: u64,
    buf: Vec<u8>,
    /// File offset of `buf[0]`.
    start: u64,
}

impl<R: ReadAt + ?Sized> Window<'_, R> {
    /// The file's bytes `[offset, offset + len)`, read unless already held;
    /// `None` when the file ends before.
    fn bytes(&mut self, offset: u64, len: usize) -> Result<Option<&[u8]>> {
        let end = offset + len as u64;
        if end > self.file_len {
            return Ok(None);
        }
        let held_end = self.start + self.buf.len() as u64;
        if offset < self.start || end > held_end {
            let want = (self.file_len - offset).min(CHUNK.max(len) as u64) as usize;
            self.buf.resize(want, 0);
            let got = read_at_most(self.file, self.path, &mut self.buf, offset)?;
            self.buf.truncate(got);
            self.start = offset;
            if got < len {
                return Ok(None);
            }
        }
        let from = (offset - self.start) as usize;
        Ok(Some(&self.buf[from..from + len]))
    }
}

/// Fills `buf` from `offset`, or less if the file ends first.
fn read_at_most<R: ReadAt + ?Sized>(
    file: &R,
    path: &Path,
    buf: &mut [u8],
    offset: u64,
) -> Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io(path, e)),
        }
    }
    Ok(done)
}

/// Whether the append payload of `len` bytes at `offset` passes the checks
/// [`decode_checked`] makes (UIDs not 0 and rising), read a chunk at a time.
fn append_is_valid<R: ReadAt + ?Sized>(
    w: &mut Window<'_, R>,
    offset: u64,
    len: usize,
) -> Result<bool> {
    if len == 0 || !len.is_multiple_of(8) {
        return Ok(false);
    }
    let mut prev = 0u32;
    let mut done = 0;
    while done < len {
        // CHUNK is a multiple of 8: entries never straddle two reads.
        let n = (len - done).min(CHUNK);
        let Some(part) = w.bytes(offset + done as u64, n)? else {
            return Ok(false);
        };
        for c in part.chunks_exact(8) {
            // Not 0 and rising: 0 is never above the previous UID.
            let uid = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
            if uid <= prev {
                return Ok(false);
            }
            prev = uid;
        }
        done += n;
    }
    Ok(true)
}

/// Walks the committed records of the head log `file` (`file_len` bytes,
/// with `header`) from its header up to the first record boundary at or
/// past `until`, tracking from `tracked`, as the replay's walk over records
/// it does not apply would. `Ok(None)`: the walk gave up (see the module
/// documentation); errors are I/O errors only.
pub(crate) fn walk_prefix<R: ReadAt + ?Sized>(
    file: &R,
    path: &Path,
    header: &LogHeader,
    file_len: u64,
    until: u32,
    mut tracked: Tracked,
) -> Result<Option<WalkedPrefix>> {
    let kind = FileKind::Log;
    let version = header.version();
    let mut w = Window {
        file,
        path,
        file_len,
        buf: Vec::new(),
        start: 0,
    };
    let mut pos = u64::from(header.hdr_size);
    let mut modseq = header.initial_modseq;
    let mut boundary_end = 0u64;
    while pos < u64::from(until) {
        let Some(head) = w.bytes(pos, 8)? else {
            return Ok(None);
        };
        let size = decode_offset([head[0], head[1], head[2], head[3]]) as usize;
        let type_word = u32_at(head, 4).unwrap_or(0);
        if size < 8 || pos + size as u64 > file_len.min(u64::from(u32::MAX)) {
            return Ok(None);
        }
        let offset = pos as usize;
        let checked = if size <= CHUNK {
            let Some(rec) = w.bytes(pos, size)? else {
                return Ok(None);
            };
            decode_checked(kind, offset + 8, type_word, &rec[8..], true)
                .ok()
                .map(|p| (p, size))
        } else if type_word & rtype::MASK == rtype::APPEND
            && append_is_valid(&mut w, pos + 8, size - 8)?
        {
            Some((Payload::Append(Vec::new()), size))
        } else {
            None
        };
        let Some((payload, size)) = checked else {
            return Ok(None);
        };
        if let Payload::Boundary(tsize) = payload {
            let end = pos + u64::from(tsize);
            if end > file_len || (tsize as usize) < size {
                return Ok(None);
            }
            boundary_end = end;
        }
        let next = next_modseq(modseq, version, &payload, type_word);
        let rec = LogRecord {
            offset: offset as u32,
            type_word,
            size: size as u32,
            raw: &[],
            payload,
            modseq: next,
            modseq_changed: next > modseq,
        };
        tracked.note(&rec, true);
        modseq = next;
        pos += size as u64;
    }
    if boundary_end > pos {
        // A transaction is still open where the walk stops.
        return Ok(None);
    }
    Ok(Some(WalkedPrefix {
        end: pos as u32,
        modseq,
        tracked,
    }))
}

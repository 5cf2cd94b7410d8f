//! `dovecot-uidlist`: the map from base file names to IMAP UIDs.
//!
//! Version 3 is read and written, version 1 (Courier-compatible) is read and
//! rewritten as version 3. Header keys and record extension fields this crate
//! does not interpret are kept verbatim.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::control_cache::{self, ControlCache, FileStamp, Lookup};
use crate::dotlock::{Dotlock, DotlockSettings};
use crate::error::{Error, IoContext, Result};
use crate::fsutil::{self, Perms};

/// Parsed uidlists of this process (see [`crate::control_cache`]).
static UIDLISTS: ControlCache<Uidlist> = ControlCache::new();

/// File name of the UID list inside a mailbox's control directory.
pub const UIDLIST_NAME: &str = "dovecot-uidlist";

/// One record: a UID, its extension fields and the base file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UidlistRecord {
    /// The message's IMAP UID.
    pub uid: u32,
    /// Extension fields as written (`S336`, `W340`, `G…`, `P…`, `O…`): one
    /// uppercase key letter directly followed by its value.
    pub extensions: Vec<String>,
    /// Base file name (up to, not including, the first `:`).
    pub base: String,
}

impl UidlistRecord {
    /// The value of extension field `key` (e.g. `b'S'`), if present.
    pub fn extension(&self, key: u8) -> Option<&str> {
        self.extensions
            .iter()
            .find(|e| e.as_bytes().first() == Some(&key))
            .map(|e| &e[1..])
    }
}

/// A record whose file name is not UTF-8 (Dovecot numbers such files as
/// any other): it cannot become a [`UidlistRecord`], so it is kept as read
/// and written back verbatim, in UID order, while its file exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UndecodableRecord {
    /// The message's IMAP UID.
    pub uid: u32,
    /// The base file name's bytes (up to, not including, the first `:`).
    pub base: Vec<u8>,
    /// The whole line as read (a version 1 line as version 3), without
    /// its newline.
    pub line: Vec<u8>,
}

/// A parsed `dovecot-uidlist`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uidlist {
    /// Format version read (1 or 3); always written as 3.
    pub version: u8,
    /// The mailbox's UIDVALIDITY (never 0).
    pub uid_validity: u32,
    /// `N` from the header. It may be stale: see [`Uidlist::next_uid`].
    pub header_next_uid: u32,
    /// Mailbox GUID (`G`), 16 bytes.
    pub guid: Option<[u8; 16]>,
    /// Other header fields (`key` letter, value), kept verbatim.
    pub header_extensions: Vec<(char, String)>,
    /// Records in ascending UID order.
    pub records: Vec<UidlistRecord>,
    /// Records whose file name is not UTF-8, in ascending UID order (their
    /// UIDs interleave with those of `records`).
    pub undecodable: Vec<UndecodableRecord>,
    /// Whether the file ended with a newline (appending is only safe then).
    pub complete_last_line: bool,
}

fn broken(line: usize, reason: impl Into<String>) -> Error {
    Error::Uidlist {
        line,
        reason: reason.into(),
    }
}

fn parse_u32(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses 32 hex digits into 16 bytes.
pub fn parse_guid(s: &str) -> Option<[u8; 16]> {
    if s.len() != 32 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&s[i * 2..i * 2 + 2], 16).ok()?;
    }
    Some(out)
}

/// 16 bytes as 32 lowercase hex digits.
pub fn format_guid(guid: &[u8; 16]) -> String {
    let mut s = String::with_capacity(32);
    for b in guid {
        let _ = write!(s, "{b:02x}");
    }
    s
}

impl Uidlist {
    /// A new, empty list.
    pub fn new(uid_validity: u32, guid: [u8; 16]) -> Uidlist {
        Uidlist {
            version: 3,
            uid_validity,
            header_next_uid: 1,
            guid: Some(guid),
            header_extensions: Vec::new(),
            records: Vec::new(),
            undecodable: Vec::new(),
            complete_last_line: true,
        }
    }

    /// Parses the file's bytes. Anything Dovecot would call a "broken file"
    /// is an [`Error::Uidlist`] with the line number; duplicate base names
    /// are resolved as Dovecot does (the later line wins).
    ///
    /// A record line that is not UTF-8 names a file whose name is not (see
    /// [`UndecodableRecord`]); only the header must be UTF-8.
    pub fn parse(data: &[u8]) -> Result<Uidlist> {
        let complete_last_line = data.is_empty() || data.ends_with(b"\n");
        // (splitting text finds line ends faster than splitting bytes)
        let mut lines = Lines::of(data);
        let header = match lines.next().unwrap_or(Ok("")) {
            Ok(header) => header,
            Err(bytes) => {
                let at = std::str::from_utf8(bytes)
                    .err()
                    .map_or(0, |e| e.valid_up_to());
                return Err(broken(1, format!("not UTF-8 at byte {at}")));
            }
        };
        let hb = header.as_bytes();
        if hb.len() < 2 || !hb[0].is_ascii_digit() || hb[1] != b' ' {
            return Err(broken(1, "corrupted header (invalid version number)"));
        }
        let version = hb[0] - b'0';
        let rest = &header[2..];
        let mut list = Uidlist {
            version,
            uid_validity: 0,
            header_next_uid: 0,
            guid: None,
            header_extensions: Vec::new(),
            // Records are ~50 bytes; bounded by the input's size.
            records: Vec::with_capacity(data.len() / 48),
            undecodable: Vec::new(),
            complete_last_line,
        };
        match version {
            1 => {
                let mut it = rest.split(' ').filter(|s| !s.is_empty());
                let (Some(v), Some(n)) = (it.next(), it.next()) else {
                    return Err(broken(1, "corrupted header (version 1)"));
                };
                list.uid_validity =
                    parse_u32(v).ok_or_else(|| broken(1, "bad uidvalidity (version 1)"))?;
                list.header_next_uid =
                    parse_u32(n).ok_or_else(|| broken(1, "bad next uid (version 1)"))?;
            }
            3 => {
                for field in rest.split(' ').filter(|s| !s.is_empty()) {
                    let mut chars = field.chars();
                    let key = chars.next().unwrap_or(' ');
                    let value = chars.as_str();
                    match key {
                        'V' => {
                            list.uid_validity = parse_u32(value)
                                .ok_or_else(|| broken(1, format!("bad uidvalidity {value:?}")))?
                        }
                        'N' => {
                            list.header_next_uid = parse_u32(value)
                                .ok_or_else(|| broken(1, format!("bad next uid {value:?}")))?
                        }
                        'G' => {
                            list.guid = Some(parse_guid(value).ok_or_else(|| {
                                broken(1, format!("invalid mailbox GUID {value:?}"))
                            })?)
                        }
                        _ => list.header_extensions.push((key, value.to_string())),
                    }
                }
            }
            v => return Err(broken(1, format!("unsupported version {v}"))),
        }
        if list.uid_validity == 0 || list.header_next_uid == 0 {
            return Err(broken(
                1,
                format!(
                    "broken header (uidvalidity = {}, next_uid = {})",
                    list.uid_validity, list.header_next_uid
                ),
            ));
        }
        let mut prev_uid = 0u32;
        let mut by_base: std::collections::HashMap<&str, usize> =
            std::collections::HashMap::with_capacity(data.len() / 48);
        let mut removed = false;
        for (idx, decoded) in lines.enumerate() {
            let lineno = idx + 2;
            let raw_line = match decoded {
                Ok(line) => line.as_bytes(),
                Err(bytes) => bytes,
            };
            if raw_line.is_empty() {
                // Only the (empty) remainder after the final newline.
                continue;
            }
            let digits = raw_line.iter().take_while(|b| b.is_ascii_digit()).count();
            let uid: u32 = raw_line[..digits]
                .iter()
                .try_fold(0u32, |n, d| {
                    n.checked_mul(10)?.checked_add(u32::from(d - b'0'))
                })
                .unwrap_or(0);
            if uid == 0 || raw_line.get(digits) != Some(&b' ') {
                return Err(broken(lineno, "invalid data (no UID followed by a space)"));
            }
            if uid <= prev_uid {
                return Err(broken(
                    lineno,
                    format!("UIDs not ordered ({uid} <= {prev_uid})"),
                ));
            }
            if uid == u32::MAX {
                return Err(broken(lineno, format!("UID too high ({uid})")));
            }
            if version == 1 && uid >= list.header_next_uid {
                return Err(broken(
                    lineno,
                    format!(
                        "UID larger than next_uid ({uid} >= {})",
                        list.header_next_uid
                    ),
                ));
            }
            prev_uid = uid;
            let (base, extensions) = match decoded {
                Ok(line) => record_fields(line, digits, version, lineno)?,
                Err(_) => {
                    let (fields, base) = raw_record_fields(raw_line, digits, version, lineno)?;
                    match std::str::from_utf8(base) {
                        // Only fields are not UTF-8: dropped, as Dovecot
                        // drops the fields it cannot use.
                        Ok(base) => {
                            let extensions = fields
                                .into_iter()
                                .filter_map(|f| std::str::from_utf8(f).ok())
                                .filter(|f| f.as_bytes()[0].is_ascii_uppercase())
                                .map(str::to_string)
                                .collect();
                            (base, extensions)
                        }
                        Err(_) => {
                            // written back as version 3
                            let line = match version {
                                1 => [format!("{uid} :").as_bytes(), base].concat(),
                                _ => raw_line.to_vec(),
                            };
                            list.undecodable.push(UndecodableRecord {
                                uid,
                                base: base.to_vec(),
                                line,
                            });
                            continue;
                        }
                    }
                }
            };
            if let Some(old) = by_base.insert(base, list.records.len()) {
                // Duplicate file entry: the later UID wins.
                list.records[old].uid = 0;
                removed = true;
            }
            list.records.push(UidlistRecord {
                uid,
                extensions,
                base: base.to_string(),
            });
        }
        if removed {
            list.records.retain(|r| r.uid != 0);
        }
        Ok(list)
    }

    /// The next UID to assign: `max(N, highest UID + 1)`.
    pub fn next_uid(&self) -> u32 {
        self.header_next_uid
            .max(self.highest_uid().saturating_add(1))
    }

    /// The highest UID of any record (0: none).
    fn highest_uid(&self) -> u32 {
        let decoded = self.records.last().map_or(0, |r| r.uid);
        let undecodable = self.undecodable.last().map_or(0, |r| r.uid);
        decoded.max(undecodable)
    }

    /// Looks up a record by base name (linear; build a map for many lookups).
    pub fn find_base(&self, base: &str) -> Option<&UidlistRecord> {
        self.records.iter().find(|r| r.base == base)
    }

    /// The record with this UID (binary search).
    pub fn find_uid(&self, uid: u32) -> Option<&UidlistRecord> {
        self.records
            .binary_search_by_key(&uid, |r| r.uid)
            .ok()
            .map(|i| &self.records[i])
    }

    /// The header line as version 3 (with its newline).
    pub fn header_line(&self) -> String {
        let mut s = format!("3 V{} N{}", self.uid_validity, self.header_next_uid);
        if let Some(g) = &self.guid {
            s.push_str(" G");
            s.push_str(&format_guid(g));
        }
        for (k, v) in &self.header_extensions {
            s.push(' ');
            s.push(*k);
            s.push_str(v);
        }
        s.push('\n');
        s
    }

    /// Appends one record line (version 3) to `out`.
    pub fn record_line(rec: &UidlistRecord, out: &mut String) {
        let _ = write!(out, "{}", rec.uid);
        for e in &rec.extensions {
            out.push(' ');
            out.push_str(e);
        }
        out.push_str(" :");
        out.push_str(&rec.base);
        out.push('\n');
    }

    /// The whole file as version 3 (records whose name is not UTF-8 as
    /// they were read, in UID order with the others).
    pub fn to_bytes(&self) -> Vec<u8> {
        if self.undecodable.is_empty() {
            let mut s = self.header_line();
            for r in &self.records {
                Uidlist::record_line(r, &mut s);
            }
            return s.into_bytes();
        }
        let mut out = self.header_line().into_bytes();
        let mut line = String::new();
        let mut undecodable = self.undecodable.iter().peekable();
        for r in &self.records {
            while let Some(u) = undecodable.next_if(|u| u.uid < r.uid) {
                out.extend_from_slice(&u.line);
                out.push(b'\n');
            }
            line.clear();
            Uidlist::record_line(r, &mut line);
            out.extend_from_slice(line.as_bytes());
        }
        for u in undecodable {
            out.extend_from_slice(&u.line);
            out.push(b'\n');
        }
        out
    }
}

/// The uidlist file of one mailbox: reading, locking and writing.
#[derive(Debug, Clone)]
pub struct UidlistFile {
    dir: PathBuf,
}

impl UidlistFile {
    /// The uidlist in `control_dir` (the mailbox directory by default).
    pub fn new(control_dir: &Path) -> UidlistFile {
        UidlistFile {
            dir: control_dir.to_path_buf(),
        }
    }

    /// Path of `dovecot-uidlist`.
    pub fn path(&self) -> PathBuf {
        self.dir.join(UIDLIST_NAME)
    }

    /// Reads and parses the file; `Ok(None)` if it does not exist (or is
    /// empty). See [`UidlistFile::read_shared`].
    pub fn read(&self) -> Result<Option<Uidlist>> {
        Ok(self.read_shared()?.map(|l| (*l).clone()))
    }

    /// Like [`UidlistFile::read`], without a copy: the parsed file is
    /// remembered process-wide (keyed by path, for a bounded number of
    /// files) and parsed again only when `stat()` shows another inode, size,
    /// mtime or ctime, the test Dovecot uses (`maildir_uidlist_refresh`).
    /// No lock is needed: the file is only ever replaced by rename or
    /// appended to under the lock, so any version read is a whole one but
    /// for an append caught half-way. An unterminated last line that does
    /// not parse is left out then, the list is marked
    /// `complete_last_line: false` (so a sync takes the lock and reads the
    /// file again) and is not remembered.
    pub fn read_shared(&self) -> Result<Option<Arc<Uidlist>>> {
        self.read_cached(true)
    }

    fn read_cached(&self, unlocked: bool) -> Result<Option<Arc<Uidlist>>> {
        let path = self.path();
        match UIDLISTS.lookup(&path)? {
            Lookup::Missing => return Ok(None),
            Lookup::Known(list) => return Ok(Some(list)),
            Lookup::Unknown => {}
        }
        let Some(read) = control_cache::read_file(&path)? else {
            return Ok(None);
        };
        if read.data.is_empty() {
            return Ok(None);
        }
        match Uidlist::parse(&read.data) {
            Ok(list) => Ok(Some(UIDLISTS.remember(&path, read, list))),
            // Another process may be appending right now (under the lock).
            Err(e) if unlocked && !read.data.ends_with(b"\n") => {
                let Some(end) = read.data.iter().rposition(|&b| b == b'\n') else {
                    return Err(e);
                };
                let mut list = Uidlist::parse(&read.data[..=end]).map_err(|_| e)?;
                list.complete_last_line = false;
                Ok(Some(Arc::new(list)))
            }
            Err(e) => Err(e),
        }
    }

    /// Takes `dovecot-uidlist.lock` as Dovecot does (stale after 120 s).
    pub fn lock(&self) -> Result<UidlistLock> {
        let mut settings = DotlockSettings::uidlist();
        if self.dir.join("tmp").is_dir() {
            settings.temp_prefix = Some(format!(
                "tmp/temp.{}.{}.",
                crate::filename::hostname(),
                std::process::id()
            ));
        }
        let lock = Dotlock::acquire(&self.path(), &settings)?;
        Ok(UidlistLock {
            file: self.clone(),
            lock,
        })
    }
}

/// `dovecot-uidlist.lock` held: the only state in which the uidlist (and
/// `dovecot-keywords`) may be changed.
#[derive(Debug)]
pub struct UidlistLock {
    file: UidlistFile,
    lock: Dotlock,
}

impl UidlistLock {
    /// Re-reads the uidlist under the lock (parsed again only when it
    /// changed; an unterminated last line that does not parse is an error
    /// here, as no append can be under way).
    pub fn read(&self) -> Result<Option<Uidlist>> {
        Ok(self.read_shared()?.map(|l| (*l).clone()))
    }

    /// Like [`UidlistLock::read`] without a copy (see
    /// [`UidlistFile::read_shared`]).
    pub fn read_shared(&self) -> Result<Option<Arc<Uidlist>>> {
        self.file.read_cached(false)
    }

    /// The directory holding the uidlist.
    pub fn dir(&self) -> &Path {
        &self.file.dir
    }

    /// Appends records to the existing file (`fdatasync`ed). The header's
    /// `N` is not changed, as Dovecot does for appends.
    pub fn append(&self, records: &[UidlistRecord]) -> Result<()> {
        self.lock.verify()?;
        let path = self.file.path();
        let mut s = String::new();
        for r in records {
            Uidlist::record_line(r, &mut s);
        }
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .ctx("open", &path)?;
        let before = FileStamp::of(&f.metadata().ctx("fstat", &path)?);
        f.write_all(s.as_bytes())
            .and_then(|()| f.sync_data())
            .ctx("write", &path)?;
        // The remembered parse plus these records is the new file when the
        // remembered one was exactly what we appended to (nobody writes
        // while we hold the lock) and parsing would give the same records.
        let after = f.metadata().map(|m| FileStamp::of(&m));
        // taken out of the cache, so that it is changed in place when no
        // reader holds it (a big uidlist is not copied for a few records)
        let updated = UIDLISTS.take_exact(&path, &before).and_then(|mut old| {
            let after = after.ok()?;
            (after.ino == before.ino && after.size == before.size + s.len() as u64).then_some(())?;
            appends_as_parsed(&old, records).then_some(())?;
            Arc::make_mut(&mut old).records.extend_from_slice(records);
            Some((old, after))
        });
        match updated {
            Some((list, after)) => UIDLISTS.insert(&path, f, after, list),
            None => UIDLISTS.forget(&path),
        }
        Ok(())
    }

    /// Rewrites the whole file: `dovecot-uidlist.tmp`, `fdatasync`,
    /// `rename()` over `dovecot-uidlist`.
    pub fn recreate(&self, list: &Uidlist) -> Result<()> {
        self.lock.verify()?;
        let perms = Perms::of_dir(&self.file.dir)?;
        let tmp = self.file.dir.join(format!("{UIDLIST_NAME}.tmp"));
        let path = self.file.path();
        let data = list.to_bytes();
        let file = fsutil::replace_file(&tmp, &path, &data, &perms)?;
        // Remember what was written, as a reader would parse it.
        match (file.metadata(), Uidlist::parse(&data)) {
            (Ok(meta), Ok(parsed)) => {
                UIDLISTS.insert(&path, file, FileStamp::of(&meta), Arc::new(parsed))
            }
            _ => UIDLISTS.forget(&path),
        }
        Ok(())
    }

    /// Refreshes the lock's mtime during long operations.
    pub fn touch(&self) -> Result<()> {
        self.lock.touch()
    }

    /// Releases the lock.
    pub fn unlock(self) -> Result<()> {
        self.lock.unlock()
    }
}

/// The lines of a uidlist, each as text, or as bytes when it is not UTF-8
/// (the whole file is checked at once when it is all text, the common
/// case; otherwise each line).
enum Lines<'a> {
    Text(std::str::Split<'a, char>),
    Bytes(std::slice::Split<'a, u8, fn(&u8) -> bool>),
}

impl<'a> Lines<'a> {
    fn of(data: &'a [u8]) -> Lines<'a> {
        match std::str::from_utf8(data) {
            Ok(text) => Lines::Text(text.split('\n')),
            Err(_) => Lines::Bytes(data.split(|&b| b == b'\n')),
        }
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = std::result::Result<&'a str, &'a [u8]>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Lines::Text(split) => split.next().map(Ok),
            Lines::Bytes(split) => split
                .next()
                .map(|line| std::str::from_utf8(line).map_err(|_| line)),
        }
    }
}

/// The extension fields and base name of a record line (its UID ends at
/// byte `digits`).
fn record_fields(
    line: &str,
    digits: usize,
    version: u8,
    lineno: usize,
) -> Result<(&str, Vec<String>)> {
    let mut rest = line[digits..].trim_start_matches(' ');
    let mut extensions = Vec::new();
    if version == 3 {
        while !rest.is_empty() && !rest.starts_with(':') {
            let end = rest.find(' ').unwrap_or(rest.len());
            let field = &rest[..end];
            // Dovecot drops invalid keys (with a warning) and keeps going.
            if field.as_bytes()[0].is_ascii_uppercase() {
                extensions.push(field.to_string());
            }
            rest = rest[end..].trim_start_matches(' ');
        }
        rest = rest.strip_prefix(':').unwrap_or(rest);
        if rest.is_empty() {
            return Err(broken(lineno, "invalid extended fields (no file name)"));
        }
    }
    if rest.is_empty() {
        return Err(broken(lineno, "no file name"));
    }
    if rest.contains('/') {
        return Err(broken(lineno, format!("broken file name {rest:?}")));
    }
    let base = match rest.find(':') {
        Some(i) if version == 1 => &rest[..i],
        _ => rest,
    };
    if base.is_empty() {
        return Err(broken(lineno, "empty file name"));
    }
    Ok((base, extensions))
}

/// [`record_fields`] of a line that is not UTF-8: the fields (any bytes)
/// and the base name's bytes, checked as those of other lines are.
fn raw_record_fields(
    line: &[u8],
    digits: usize,
    version: u8,
    lineno: usize,
) -> Result<(Vec<&[u8]>, &[u8])> {
    let skip_spaces = |r: &mut &[u8]| {
        while let [b' ', tail @ ..] = *r {
            *r = tail;
        }
    };
    let mut rest = &line[digits..];
    skip_spaces(&mut rest);
    let mut fields = Vec::new();
    if version == 3 {
        while !rest.is_empty() && rest[0] != b':' {
            let end = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
            fields.push(&rest[..end]);
            rest = &rest[end..];
            skip_spaces(&mut rest);
        }
        rest = rest.strip_prefix(b":").unwrap_or(rest);
        if rest.is_empty() {
            return Err(broken(lineno, "invalid extended fields (no file name)"));
        }
    }
    if rest.is_empty() {
        return Err(broken(lineno, "no file name"));
    }
    if rest.contains(&b'/') {
        return Err(broken(lineno, "broken file name (contains '/')"));
    }
    let base = match rest.iter().position(|&b| b == b':') {
        Some(i) if version == 1 => &rest[..i],
        _ => rest,
    };
    if base.is_empty() {
        return Err(broken(lineno, "empty file name"));
    }
    Ok((fields, base))
}

/// Whether `records` appended to `list` read back as exactly these records
/// (ordered UIDs, new base names, fields and names a parser keeps as is).
fn appends_as_parsed(list: &Uidlist, records: &[UidlistRecord]) -> bool {
    if list.version != 3 || !list.complete_last_line {
        return false;
    }
    let mut prev = list.highest_uid();
    let mut bases = std::collections::HashSet::with_capacity(records.len());
    for r in records {
        let field_ok = |e: &String| {
            e.as_bytes().first().is_some_and(u8::is_ascii_uppercase)
                && !e.bytes().any(|b| b == b' ' || b == b'\n')
        };
        if r.uid <= prev
            || r.uid == u32::MAX
            || r.base.is_empty()
            || r.base.bytes().any(|b| b == b'/' || b == b'\n')
            || !r.extensions.iter().all(field_ok)
            || !bases.insert(r.base.as_str())
        {
            return false;
        }
        prev = r.uid;
    }
    !list.records.iter().any(|r| bases.contains(r.base.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_v3_with_extensions() {
        let data = b"3 V1795907111 N17 G60f63735275e0b6bb05700009025be9a P1\n\
1 :1795907111.M892860P22448.h,S=552,W=567\n\
10 S336 :1705331715.M1P1.external-mda\n";
        let l = Uidlist::parse(data).unwrap();
        assert_eq!(l.uid_validity, 1795907111);
        assert_eq!(l.next_uid(), 17);
        assert_eq!(l.records[1].extension(b'S'), Some("336"));
        assert_eq!(l.header_extensions, vec![('P', "1".to_string())]);
        assert_eq!(l.to_bytes(), data.to_vec());
    }

    #[test]
    fn next_uid_takes_records_into_account() {
        let l = Uidlist::parse(b"3 V1 N1 G00000000000000000000000000000000\n5 :a\n").unwrap();
        assert_eq!(l.next_uid(), 6);
    }

    #[test]
    fn reads_v1() {
        let l = Uidlist::parse(b"1 1234 5\n1 a:2,S\n4 b\n").unwrap();
        assert_eq!(l.records[0].base, "a");
        assert_eq!(l.next_uid(), 5);
        assert!(Uidlist::parse(b"1 1234 3\n3 a\n").is_err());
    }

    #[test]
    fn rejects_broken() {
        for bad in [
            &b"x"[..],
            b"3 V0 N1\n",
            b"2 V1 N1\n",
            b"3 V1 N1\n2 :a\n1 :b\n",
            b"3 V1 N1\n0 :a\n",
            b"3 V1 N1\n1 :a/b\n",
            b"3 V1 N1\n1 S3\n",
            b"3 V1 N1\n99999999999 :a\n",
            b"3 V1 N1 Gxyz\n",
        ] {
            assert!(
                matches!(Uidlist::parse(bad), Err(Error::Uidlist { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn keeps_records_whose_name_is_not_utf8() {
        let data = b"3 V1 N1 G00000000000000000000000000000000\n1 :a\n4 :latin\xe9name\n7 W9 :b\n";
        let l = Uidlist::parse(data).unwrap();
        assert_eq!(l.records.len(), 2);
        assert_eq!(l.undecodable.len(), 1);
        assert_eq!(l.undecodable[0].uid, 4);
        assert_eq!(l.undecodable[0].base, b"latin\xe9name");
        assert_eq!(l.next_uid(), 8);
        assert_eq!(l.to_bytes(), data.to_vec());
        // the highest UID may be one of them
        let l = Uidlist::parse(b"3 V1 N1\n1 :a\n9 S3 :\xff\n").unwrap();
        assert_eq!(l.next_uid(), 10);
        assert_eq!(l.undecodable[0].base, b"\xff");
        // they are checked as the others
        assert!(Uidlist::parse(b"3 V1 N1\n5 :a\n4 :\xff\n").is_err());
        assert!(Uidlist::parse(b"3 V1 N1\n5 :\xff/x\n").is_err());
        assert!(Uidlist::parse(b"3 V1 \xff\n").is_err());
        // a version 1 line is written back as version 3
        let l = Uidlist::parse(b"1 1234 9\n4 latin\xe9:2,S\n").unwrap();
        assert_eq!(l.undecodable[0].base, b"latin\xe9");
        let again = Uidlist::parse(&l.to_bytes()).unwrap();
        assert_eq!(again.undecodable, l.undecodable);
        // only the info or a field not UTF-8: an ordinary record
        let l = Uidlist::parse(b"1 1234 5\n1 a:2,\xa5\n").unwrap();
        assert_eq!((l.records[0].base.as_str(), l.undecodable.len()), ("a", 0));
        let l = Uidlist::parse(b"3 V1 N1\n1 X\xff S3 :a\n").unwrap();
        assert_eq!(l.records[0].extensions, ["S3"]);
        assert_eq!(l.to_bytes(), b"3 V1 N1\n1 S3 :a\n");
    }

    #[test]
    fn duplicate_base_later_wins() {
        let l = Uidlist::parse(b"3 V1 N1\n1 :a\n2 :b\n3 :a\n").unwrap();
        assert_eq!(l.records.len(), 2);
        assert_eq!(l.find_base("a").unwrap().uid, 3);
    }
}

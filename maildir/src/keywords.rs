//! `dovecot-keywords`: which keyword each letter `a`..`z` stands for.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::control_cache::{self, ControlCache, Lookup};
use crate::dotlock::{Dotlock, DotlockSettings};
use crate::error::{Error, IoContext, Result};

/// Parsed keyword files of this process (see [`crate::control_cache`]).
static KEYWORD_FILES: ControlCache<Keywords> = ControlCache::new();

/// File name of the keyword map inside a mailbox's control directory.
pub const KEYWORDS_NAME: &str = "dovecot-keywords";

/// Number of keyword letters (`a`..`z`).
pub const MAX_KEYWORD_LETTERS: usize = 26;

/// A line of `dovecot-keywords` that was ignored, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedLine {
    /// 1-based line number.
    pub line: usize,
    /// Why Dovecot (and this crate) ignores it.
    pub reason: &'static str,
}

/// The keyword map of one mailbox.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keywords {
    slots: [Option<String>; MAX_KEYWORD_LETTERS],
    /// Lines that were ignored while parsing.
    pub skipped: Vec<SkippedLine>,
}

impl Keywords {
    /// An empty map.
    pub fn new() -> Keywords {
        Keywords::default()
    }

    /// Parses the file's bytes with Dovecot's tolerance: lines without a
    /// space, with a non-numeric or too large index, an empty name or a name
    /// already used (case-insensitively) are skipped and recorded in
    /// [`Keywords::skipped`]. Bytes that are not UTF-8 are replaced.
    pub fn parse(data: &[u8]) -> Keywords {
        let text = String::from_utf8_lossy(data);
        let mut kw = Keywords::new();
        for (i, line) in text.split('\n').enumerate() {
            let lineno = i + 1;
            if line.is_empty() {
                continue;
            }
            let Some((idx, name)) = line.split_once(' ') else {
                kw.skipped.push(SkippedLine {
                    line: lineno,
                    reason: "no space",
                });
                continue;
            };
            let Ok(idx) = idx.parse::<usize>() else {
                kw.skipped.push(SkippedLine {
                    line: lineno,
                    reason: "index is not a number",
                });
                continue;
            };
            if idx >= MAX_KEYWORD_LETTERS {
                kw.skipped.push(SkippedLine {
                    line: lineno,
                    reason: "index above 25",
                });
                continue;
            }
            if name.is_empty() {
                kw.skipped.push(SkippedLine {
                    line: lineno,
                    reason: "empty name",
                });
                continue;
            }
            if kw.index_of(name).is_some() {
                kw.skipped.push(SkippedLine {
                    line: lineno,
                    reason: "duplicate name",
                });
                continue;
            }
            kw.slots[idx] = Some(name.to_string());
        }
        kw
    }

    /// The file's content: `<index> <name>` lines in index order.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut s = String::new();
        for (i, n) in self.slots.iter().enumerate() {
            if let Some(n) = n {
                s.push_str(&format!("{i} {n}\n"));
            }
        }
        s.into_bytes()
    }

    /// The keyword of letter index `idx` (0 = `a`).
    pub fn get(&self, idx: usize) -> Option<&str> {
        self.slots.get(idx)?.as_deref()
    }

    /// The name Dovecot shows for a letter: the mapped keyword, or
    /// `unknown-<n>` for an empty slot.
    pub fn name_for_letter(&self, idx: usize) -> String {
        match self.get(idx) {
            Some(n) => n.to_string(),
            None => {
                let mut n = format!("unknown-{idx}");
                while self.index_of(&n).is_some() {
                    n.push('?');
                }
                n
            }
        }
    }

    /// The letter index of a keyword (case-insensitive, as Dovecot compares).
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.slots
            .iter()
            .position(|s| s.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(name)))
    }

    /// The letter index of a keyword, adding it at the lowest free slot.
    /// Returns (index, whether the map changed).
    pub fn index_or_add(&mut self, name: &str) -> Result<(usize, bool)> {
        if let Some(i) = self.index_of(name) {
            return Ok((i, false));
        }
        validate_keyword(name)?;
        let Some(free) = self.slots.iter().position(Option::is_none) else {
            return Err(Error::KeywordsFull(name.to_string()));
        };
        self.slots[free] = Some(name.to_string());
        Ok((free, true))
    }

    /// Keyword names for a bit set of letters (bit 0 = `a`), in letter order.
    pub fn names(&self, bits: u32) -> Vec<String> {
        (0..MAX_KEYWORD_LETTERS)
            .filter(|i| bits & (1 << i) != 0)
            .map(|i| self.name_for_letter(i))
            .collect()
    }

    /// Number of defined keywords.
    pub fn len(&self) -> usize {
        self.slots.iter().filter(|s| s.is_some()).count()
    }

    /// True when no keyword is defined.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An IMAP keyword is an atom: no spaces, controls or `(){%*"\]`, and not a
/// system flag (`\...`).
pub fn validate_keyword(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && name.bytes().all(|b| {
            b > 0x20
                && b < 0x7f
                && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
        });
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidKeyword(name.to_string()))
    }
}

/// `dovecot-keywords` on disk.
#[derive(Debug, Clone)]
pub struct KeywordsFile {
    path: PathBuf,
}

impl KeywordsFile {
    /// The keyword file in `control_dir`.
    pub fn new(control_dir: &Path) -> KeywordsFile {
        KeywordsFile {
            path: control_dir.join(KEYWORDS_NAME),
        }
    }

    /// Reads the map (empty if the file does not exist).
    pub fn read(&self) -> Result<Keywords> {
        Ok(self
            .read_shared()?
            .map(|k| (*k).clone())
            .unwrap_or_default())
    }

    /// Like [`KeywordsFile::read`] without a copy (`None`: no file): the
    /// parsed file is remembered process-wide and parsed again only when
    /// `stat()` shows it changed (see `UidlistFile::read_shared`).
    pub fn read_shared(&self) -> Result<Option<std::sync::Arc<Keywords>>> {
        match KEYWORD_FILES.lookup(&self.path)? {
            Lookup::Missing => return Ok(None),
            Lookup::Known(k) => return Ok(Some(k)),
            Lookup::Unknown => {}
        }
        let Some(read) = control_cache::read_file(&self.path)? else {
            return Ok(None);
        };
        let keywords = Keywords::parse(&read.data);
        Ok(Some(KEYWORD_FILES.remember(&self.path, read, keywords)))
    }

    /// Writes the map through `dovecot-keywords.lock` (content written into
    /// the lock, renamed over), forcing the mtime to grow so readers notice.
    /// Call only while holding the uidlist lock, as Dovecot does.
    pub fn write(
        &self,
        keywords: &Keywords,
        _uidlist_lock: &crate::uidlist::UidlistLock,
    ) -> Result<()> {
        let old_mtime = std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .ok();
        let lock = Dotlock::acquire(&self.path, &DotlockSettings::keywords())?;
        let lock_path = lock.lock_path().to_path_buf();
        if let Some(old) = old_mtime {
            // Make sure the new file's mtime is later than the old one's.
            let now = SystemTime::now();
            let want = if now <= old {
                old + Duration::from_secs(1)
            } else {
                now
            };
            let f = std::fs::File::options()
                .write(true)
                .open(&lock_path)
                .ctx("open", &lock_path)?;
            drop(f);
            lock.replace_with(&keywords.to_bytes())?;
            let f = std::fs::File::options()
                .write(true)
                .open(&self.path)
                .ctx("open", &self.path)?;
            f.set_modified(want).ctx("utime", &self.path)?;
            Ok(())
        } else {
            lock.replace_with(&keywords.to_bytes())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_skips_like_dovecot() {
        let k = Keywords::parse(b"0 $Label1\n1 Junk\nbogus\n30 x\n2 junk\n3 \n4 Work\n");
        assert_eq!(k.get(0), Some("$Label1"));
        assert_eq!(k.get(4), Some("Work"));
        assert_eq!(k.get(2), None);
        assert_eq!(k.skipped.len(), 4);
        assert_eq!(k.name_for_letter(2), "unknown-2");
        assert_eq!(k.to_bytes(), b"0 $Label1\n1 Junk\n4 Work\n");
    }

    #[test]
    fn adds_at_lowest_free_slot() {
        let mut k = Keywords::parse(b"0 a\n2 c\n");
        assert_eq!(k.index_or_add("b").unwrap(), (1, true));
        assert_eq!(k.index_or_add("C").unwrap(), (2, false));
        assert!(k.index_or_add("bad word").is_err());
    }
}

//! One Maildir mailbox directory (`cur/`, `new/`, `tmp/` and its control
//! files): listing, UID assignment, delivery, flag changes and expunges.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::dir_scan::{self, ScannedFile};
use crate::error::{Error, IoContext, Result};
use crate::file_problem::{FileProblem, SkippedFile, UnreadableFile};
use crate::filename::{self, Flags, Info, MaildirFilename};
use crate::fsutil::{self, Perms};
use crate::keywords::{Keywords, KeywordsFile};
use crate::listing_memo::{self, Inputs};
use crate::message_size;
use crate::uidlist::{Uidlist, UidlistFile, UidlistLock, UidlistRecord};
use crate::uidvalidity;

/// Stale `tmp/` files older than this are deleted (`MAILDIR_TMP_DELETE_SECS`).
pub const TMP_DELETE_AGE: Duration = Duration::from_secs(36 * 3600);
/// `tmp/` is scanned for stale files at most this often (judged by its atime).
pub const TMP_SCAN_INTERVAL: Duration = Duration::from_secs(7 * 24 * 3600);

/// Options for [`Mailbox::deliver`].
#[derive(Debug, Clone)]
pub struct DeliveryOptions {
    /// System flags to store (non-empty flags or keywords deliver into `cur/`).
    pub flags: Flags,
    /// Keywords to store (added to `dovecot-keywords` when new).
    pub keywords: Vec<String>,
    /// Assign a UID now, under `dovecot-uidlist.lock`, as dovecot-lda does.
    pub assign_uid: bool,
    /// `fdatasync` the message and `fsync` the directory (full durability).
    pub fsync: bool,
    /// Store CRLF line endings as given (`mail_save_crlf = yes`); by default
    /// CRLF is stored as LF, as Dovecot does.
    pub keep_crlf: bool,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        DeliveryOptions {
            flags: Flags::NONE,
            keywords: Vec::new(),
            assign_uid: true,
            fsync: true,
            keep_crlf: false,
        }
    }
}

/// What [`Mailbox::deliver`] stored.
#[derive(Debug, Clone)]
pub struct Delivered {
    /// The message's file name (in `new/` or `cur/`).
    pub file_name: MaildirFilename,
    /// Full path of the file.
    pub path: PathBuf,
    /// The UID, when one was assigned.
    pub uid: Option<u32>,
    /// Physical size as stored.
    pub size: u64,
    /// Virtual (CRLF) size.
    pub vsize: u64,
    /// Why no UID was assigned although one was asked for. The message is
    /// stored (durably) all the same; the next sync gives it a UID. A caller
    /// such as an MTA must treat the delivery as done, not retry it.
    pub uid_error: Option<String>,
}

/// One message as seen in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageEntry {
    /// UID from `dovecot-uidlist`, `None` if not assigned yet.
    pub uid: Option<u32>,
    /// Current file name.
    pub file_name: MaildirFilename,
    /// True when the file is in `new/` (Dovecot reports it `\Recent`).
    pub in_new: bool,
    /// System flags from the file name.
    pub flags: Flags,
    /// Keyword letters as bits (bit 0 = `a`).
    pub keyword_bits: u32,
    /// Keyword names, in letter order.
    pub keywords: Vec<String>,
    /// Physical size (file name `S=`, uidlist `S`, or the file's length;
    /// 0 when none of these is known: see [`Listing::unreadable`]).
    pub size: u64,
    /// Virtual size (file name `W=`, uidlist `W`, or computed; 0 when
    /// none of these is known).
    pub vsize: u64,
}

impl MessageEntry {
    /// The base name (Dovecot's GUID for Maildir messages).
    pub fn base(&self) -> &str {
        self.file_name.base()
    }
}

/// A mailbox listing.
#[derive(Debug, Clone)]
pub struct Listing {
    /// UIDVALIDITY, when the mailbox has a uidlist.
    pub uid_validity: Option<u32>,
    /// The next UID that will be assigned.
    pub next_uid: u32,
    /// Mailbox GUID from the uidlist.
    pub guid: Option<[u8; 16]>,
    /// Messages: those with UIDs in UID order, then unassigned ones in the
    /// order Dovecot would assign UIDs.
    pub messages: Vec<MessageEntry>,
    /// Entries of `new/` and `cur/` that are not messages (left alone).
    pub skipped: Vec<SkippedFile>,
    /// Messages listed although their file could not be read to learn a
    /// size the name does not carry (their unknown sizes are 0).
    pub unreadable: Vec<UnreadableFile>,
    /// UIDs of messages whose file is there but whose name is not UTF-8
    /// (Dovecot numbered them): not in `messages`, since names here are
    /// UTF-8, and not expunged either. Such a file gets no UID here.
    pub undecodable_uids: Vec<u32>,
    /// Which remembered state of the mailbox this listing shows (0: none,
    /// see [`Mailbox::unchanged_since`]).
    pub(crate) generation: u64,
}

/// A change of flags and keywords.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlagUpdate {
    /// Replace all flags and keywords.
    Replace(Flags, Vec<String>),
    /// Add flags and keywords.
    Add(Flags, Vec<String>),
    /// Remove flags and keywords.
    Remove(Flags, Vec<String>),
}

/// The result of [`Mailbox::update_flags`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlagOutcome {
    /// The file was renamed to this name.
    Renamed(MaildirFilename),
    /// The flags were already as requested.
    Unchanged(MaildirFilename),
    /// The message no longer exists (expunged by someone).
    Expunged,
}

/// One mailbox: a directory with `cur/`, `new/`, `tmp/`.
#[derive(Debug, Clone)]
pub struct Mailbox {
    dir: PathBuf,
    ns_root: PathBuf,
    name: String,
}

/// The files a full sync saw: their base names (to their place in the
/// scan) and the base names that are not UTF-8.
#[derive(Clone, Copy)]
struct Present<'a, 'b> {
    bases: &'b HashMap<&'a str, usize>,
    undecodable: &'b HashSet<&'a [u8]>,
}

/// What a sync must write to the uidlist, judged from the files present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct UidlistPlan {
    /// Fewer than 75 % of the records are still alive: drop the others.
    compress: bool,
    /// Write the whole file anew (missing, old version, no GUID, an
    /// incomplete last line, or compression).
    recreate: bool,
}

impl UidlistPlan {
    /// `records`: lines in the file, `alive`: those whose file is present,
    /// `added`: files to number now; `full`: every file was seen (a sync,
    /// not a single delivery).
    fn new(list: Option<&Uidlist>, records: usize, alive: usize, added: usize, full: bool) -> Self {
        let compress = full && (records + added) * 75 / 100 >= alive + added && alive < records;
        let recreate = match list {
            None => true,
            Some(l) => l.version != 3 || l.guid.is_none() || !l.complete_last_line || compress,
        };
        UidlistPlan { compress, recreate }
    }
}

impl Mailbox {
    /// A mailbox in `dir`, whose namespace root (holding
    /// `dovecot-uidvalidity`) is `ns_root`; `name` is its display name.
    pub fn at(dir: &Path, ns_root: &Path, name: &str) -> Mailbox {
        Mailbox {
            dir: dir.to_path_buf(),
            ns_root: ns_root.to_path_buf(),
            name: name.to_string(),
        }
    }

    /// The mailbox directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The mailbox name (`INBOX`, `Archive/2024`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The uidlist of this mailbox.
    pub fn uidlist_file(&self) -> UidlistFile {
        UidlistFile::new(&self.dir)
    }

    /// The keyword file of this mailbox.
    pub fn keywords_file(&self) -> KeywordsFile {
        KeywordsFile::new(&self.dir)
    }

    /// Reads `dovecot-keywords`.
    pub fn keywords(&self) -> Result<Keywords> {
        self.keywords_file().read()
    }

    /// Reads `dovecot-uidlist` (`None` when it does not exist yet).
    pub fn uidlist(&self) -> Result<Option<Uidlist>> {
        self.uidlist_file().read()
    }

    /// Reads `dovecot-uidlist` and `dovecot-keywords` (each parsed again
    /// only when it changed), then `new/` and `cur/` (each read again only
    /// when it may have changed: see [`DIR_SETTLE`](crate::DIR_SETTLE)).
    /// Dovecot only moves new -> cur, and `new/` is read first, so a file
    /// moved meanwhile is seen in one of the two, or in both.
    fn inputs(&self) -> Result<Inputs> {
        let uidlist = self.uidlist_file().read_shared()?;
        let keywords = self.keywords_file().read_shared()?;
        let new = dir_scan::scan(&self.dir, "new", true)?;
        let cur = dir_scan::scan(&self.dir, "cur", false)?;
        Ok(Inputs {
            uidlist,
            keywords,
            new,
            cur,
        })
    }

    /// Base name -> index into `files`; for a base seen twice (new/ and
    /// cur/) the later one, in `cur/`, wins and the earlier one is marked
    /// in the returned duplicate flags.
    fn index<'a>(files: &[&'a ScannedFile]) -> (HashMap<&'a str, usize>, Vec<bool>) {
        let mut idx = HashMap::with_capacity(files.len());
        let mut dup = vec![false; files.len()];
        for (i, f) in files.iter().enumerate() {
            if let Some(old) = idx.insert(f.name.base(), i) {
                dup[old] = true;
            }
        }
        (idx, dup)
    }

    fn file_path(&self, f: &ScannedFile) -> PathBuf {
        self.dir
            .join(if f.in_new { "new" } else { "cur" })
            .join(f.name.as_str())
    }

    /// The listing's entry for `f`, or `None` when its file vanished
    /// (expunged, or renamed by a flag change: a later listing sees it).
    /// Sizes the name and the uidlist record lack are read from the file;
    /// when it cannot be read the entry has them as 0 and comes with the
    /// problem, as Dovecot lists such a message and fails only when its
    /// body is needed.
    fn entry(
        &self,
        uid: Option<u32>,
        f: &ScannedFile,
        rec: Option<&UidlistRecord>,
        kw: &Keywords,
    ) -> Option<(MessageEntry, Option<FileProblem>)> {
        let info = f.name.info().unwrap_or_default();
        let from_rec = |key| {
            rec.and_then(|r| r.extension(key))
                .and_then(|v| v.parse().ok())
        };
        let known_size = f.name.size().or_else(|| from_rec(b'S'));
        let known_vsize = f.name.vsize().or_else(|| from_rec(b'W'));
        let (size, vsize, problem) = match (known_size, known_vsize) {
            (Some(s), Some(v)) => (s, v, None),
            _ => {
                let path = self.file_path(f);
                match measure(&path, known_vsize.is_none()) {
                    Ok((s, v)) => (
                        known_size.unwrap_or(s),
                        known_vsize.or(v).unwrap_or(0),
                        None,
                    ),
                    Err(e) => {
                        let problem = problem_of(&path, &e)?;
                        (
                            known_size.unwrap_or(0),
                            known_vsize.unwrap_or(0),
                            Some(problem),
                        )
                    }
                }
            }
        };
        let entry = MessageEntry {
            uid,
            in_new: f.in_new,
            flags: info.flags,
            keyword_bits: info.keyword_bits,
            keywords: kw.names(info.keyword_bits),
            file_name: f.name.clone(),
            size,
            vsize,
        };
        Some((entry, problem))
    }

    /// The listing of `inputs`, or the one built last time when the
    /// inputs are the same (unchanged files and settled directories).
    fn listing_of(&self, inputs: Inputs) -> Result<Listing> {
        if let Some(listing) = listing_memo::find(&self.dir, &inputs) {
            return Ok(listing);
        }
        let mut listing = self.build_listing(&inputs)?;
        listing_memo::keep(&self.dir, inputs, &mut listing);
        Ok(listing)
    }

    fn build_listing(&self, inputs: &Inputs) -> Result<Listing> {
        let uidlist = inputs.uidlist.as_deref();
        let no_keywords = Keywords::default();
        let kw = inputs.keywords.as_deref().unwrap_or(&no_keywords);
        let files = inputs.files();
        // (record, file) pairs in UID order, then files the uidlist lacks.
        let mut matched: Vec<(usize, usize)> = Vec::with_capacity(files.len());
        let (idx, mut in_list) = Mailbox::index(&files);
        if let Some(list) = uidlist {
            for (r, rec) in list.records.iter().enumerate() {
                if let Some(&i) = idx.get(rec.base.as_str()) {
                    if !in_list[i] {
                        in_list[i] = true;
                        matched.push((r, i));
                    }
                }
            }
        }
        drop(idx);
        let rest: Vec<usize> = {
            // each name parsed once, not on every comparison
            let mut keyed: Vec<(filename::SortKey, usize)> = (0..files.len())
                .filter(|&i| !in_list[i])
                .map(|i| (filename::SortKey::new(files[i].name.base()), i))
                .collect();
            keyed.sort_by(|a, b| a.0.cmp(&b.0));
            keyed.into_iter().map(|(_, i)| i).collect()
        };
        let mut messages = Vec::with_capacity(matched.len() + rest.len());
        let records = uidlist.map(|l| l.records.as_slice()).unwrap_or_default();
        let order = matched
            .into_iter()
            .map(|(r, i)| (Some(&records[r]), i))
            .chain(rest.into_iter().map(|i| (None, i)));
        let mut unreadable = Vec::new();
        for (rec, i) in order {
            // None: vanished between the scan and now (expunged)
            if let Some((e, problem)) = self.entry(rec.map(|r| r.uid), files[i], rec, kw) {
                if let Some(problem) = problem {
                    unreadable.push(UnreadableFile {
                        name: format!("{}/{}", if e.in_new { "new" } else { "cur" }, e.file_name),
                        uid: e.uid,
                        problem,
                    });
                }
                messages.push(e);
            }
        }
        Ok(Listing {
            uid_validity: uidlist.map(|l| l.uid_validity),
            next_uid: uidlist.map_or(1, Uidlist::next_uid),
            guid: uidlist.and_then(|l| l.guid),
            messages,
            skipped: inputs.skipped(),
            unreadable,
            undecodable_uids: match uidlist {
                Some(list) if !list.undecodable.is_empty() => {
                    let present = inputs.undecodable_bases();
                    list.undecodable
                        .iter()
                        .filter(|r| present.contains(r.base.as_slice()))
                        .map(|r| r.uid)
                        .collect()
                }
                _ => Vec::new(),
            },
            generation: 0,
        })
    }

    /// Lists the messages without writing anything or taking a lock: UIDs
    /// from the uidlist, files not in it yet have `uid: None`.
    ///
    /// Nothing unchanged is read twice: the parsed `dovecot-uidlist` and
    /// `dovecot-keywords` are remembered process-wide until `stat()` shows
    /// them changed, and so are the entries of `new/` and `cur/` while the
    /// directories provably did not change (see
    /// [`DIR_SETTLE`](crate::DIR_SETTLE)); when all four are unchanged the
    /// last listing of the mailbox is returned as it was.
    pub fn list(&self) -> Result<Listing> {
        let inputs = self.inputs()?;
        self.listing_of(inputs)
    }

    /// True when `listing` (from [`Mailbox::list`] or [`Mailbox::sync`] of
    /// this mailbox, in this process) still shows the mailbox as it is: the
    /// uidlist and keyword files are the ones it was built from and `new/`
    /// and `cur/` provably did not change (they had settled, see
    /// [`DIR_SETTLE`](crate::DIR_SETTLE)). Costs two `stat()`s and two
    /// `open()`+`fstat()`s when nothing changed, reads no directory then,
    /// and takes no lock. False means "maybe changed": list again. A
    /// caller that polls (NOOP, IDLE) can skip its sync work while this
    /// holds; files that are not numbered yet stay so until a sync.
    pub fn unchanged_since(&self, listing: &Listing) -> Result<bool> {
        if listing.generation == 0 {
            return Ok(false);
        }
        let inputs = self.inputs()?;
        Ok(listing_memo::is_current(
            &self.dir,
            listing.generation,
            &inputs,
        ))
    }

    /// Like Dovecot's maildir sync: gives new files UIDs (in Dovecot's
    /// order) and writes the uidlist (append, or a full rewrite when it is
    /// missing, old-format, or mostly expunged), then lists.
    ///
    /// As in Dovecot, the uidlist is first read without its lock; the lock
    /// is taken only when the directories hold files the uidlist does not
    /// number yet, or the uidlist must be rewritten. Under the lock the
    /// uidlist and the directories are read again (another process may
    /// have numbered the files meanwhile) before anything is written. A
    /// sync that finds nothing new takes no lock and writes nothing, so it
    /// never waits for another process's lock either.
    pub fn sync(&self) -> Result<Listing> {
        let inputs = self.inputs()?;
        if let Some(list) = inputs.uidlist.as_deref() {
            let files = inputs.files();
            let (idx, _) = Mailbox::index(&files);
            let alive = list
                .records
                .iter()
                .filter(|r| idx.contains_key(r.base.as_str()))
                .count();
            // Records have distinct base names, so every present base
            // that no record names is a file to number.
            let unnumbered = idx.len().saturating_sub(alive);
            let raw_alive = undecodable_alive(list, &inputs.undecodable_bases());
            let plan = UidlistPlan::new(
                Some(list),
                list.records.len() + list.undecodable.len(),
                alive + raw_alive,
                0,
                true,
            );
            if unnumbered == 0 && !plan.recreate {
                drop(idx);
                drop(files);
                return self.listing_of(inputs);
            }
        }
        let lock = self.uidlist_file().lock()?;
        let shared = lock.read_shared()?;
        // The scan made before the lock still stands when nobody changed
        // the uidlist meanwhile: whoever numbered or dropped a file would
        // have. Files that arrived since are numbered by the next sync.
        // (A first sync of a big Maildir then scans it once, not twice.)
        let unchanged = match (&inputs.uidlist, &shared) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        };
        let inputs = if unchanged {
            inputs
        } else {
            drop(inputs);
            self.inputs()?
        };
        let existing = shared.map(|l| (*l).clone());
        {
            let files = inputs.files();
            let (idx, _) = Mailbox::index(&files);
            let raw = inputs.undecodable_bases();
            let present = Present {
                bases: &idx,
                undecodable: &raw,
            };
            self.assign_uids(&lock, existing, Some(present), None)?;
        }
        drop(lock);
        // The uidlist as written (remembered by the write, or read again).
        let inputs = Inputs {
            uidlist: self.uidlist_file().read_shared()?,
            ..inputs
        };
        self.listing_of(inputs)
    }

    fn new_uidlist(&self) -> Result<Uidlist> {
        let validity = uidvalidity::allocate(&self.ns_root)?;
        Ok(Uidlist::new(validity, uidvalidity::generate_guid()))
    }

    /// Gives UIDs to the files that the uidlist lacks (all of `present`
    /// on a full sync, or only `only`) and writes the uidlist. Returns the
    /// new list and the UIDs given, in order.
    fn assign_uids(
        &self,
        lock: &UidlistLock,
        existing: Option<Uidlist>,
        present: Option<Present<'_, '_>>,
        only: Option<&str>,
    ) -> Result<(Uidlist, Vec<u32>)> {
        let empty = HashMap::new();
        let no_raw = HashSet::new();
        let (files, raw_files) = present.map_or((&empty, &no_raw), |p| (p.bases, p.undecodable));
        let was_missing = existing.is_none();
        let mut list = match existing {
            Some(l) => l,
            None => self.new_uidlist()?,
        };
        let known: std::collections::HashSet<&str> =
            list.records.iter().map(|r| r.base.as_str()).collect();
        let mut new: Vec<&str> = match only {
            Some(b) if !known.contains(b) => vec![b],
            Some(_) => vec![],
            None => files
                .keys()
                .copied()
                .filter(|b| !known.contains(b))
                .collect(),
        };
        drop(known);
        new.sort_by_cached_key(|b| filename::SortKey::new(b));
        let mut next = list.next_uid();
        let mut added = Vec::with_capacity(new.len());
        for base in &new {
            if next >= u32::MAX - 1 {
                return Err(Error::UidsExhausted);
            }
            added.push(UidlistRecord {
                uid: next,
                extensions: Vec::new(),
                base: (*base).to_string(),
            });
            next += 1;
        }
        let uids: Vec<u32> = added.iter().map(|r| r.uid).collect();
        let file_records = list.records.len() + list.undecodable.len();
        // Compress as Dovecot does when fewer than 75 % of the records are
        // still alive (only judged on a full sync, where we saw every file).
        let alive = if only.is_none() {
            list.records
                .iter()
                .filter(|r| files.contains_key(r.base.as_str()))
                .count()
                + undecodable_alive(&list, raw_files)
        } else {
            file_records
        };
        let plan = UidlistPlan::new(
            (!was_missing).then_some(&list),
            file_records,
            alive,
            added.len(),
            only.is_none(),
        );
        let (compress, needs_recreate) = (plan.compress, plan.recreate);
        if compress {
            list.header_next_uid = next;
            list.records.retain(|r| files.contains_key(r.base.as_str()));
            list.undecodable
                .retain(|r| raw_files.contains(r.base.as_slice()));
        }
        if needs_recreate {
            list.records.extend(added);
            list.version = 3;
            list.complete_last_line = true;
            if list.guid.is_none() {
                list.guid = Some(uidvalidity::generate_guid());
            }
            lock.recreate(&list)?;
        } else if !added.is_empty() {
            lock.append(&added)?;
            list.records.extend(added);
        }
        Ok((list, uids))
    }

    /// Deletes `tmp/` files older than 36 hours, at most once a week
    /// (judged by `tmp/`'s atime, as Dovecot does). Returns how many files
    /// were deleted.
    pub fn clean_stale_tmp(&self, force: bool) -> Result<usize> {
        use std::os::unix::fs::MetadataExt;
        let tmp = self.dir.join("tmp");
        let meta = match std::fs::metadata(&tmp) {
            Ok(m) => m,
            Err(_) => return Ok(0),
        };
        let now = SystemTime::now();
        let now_secs = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        if !force {
            // As Dovecot: nothing changed in tmp/ since the last scan, or
            // the last scan was less than the scan interval ago.
            let unchanged = meta.atime() > meta.ctime() + TMP_DELETE_AGE.as_secs() as i64;
            let recent = meta.atime() + TMP_SCAN_INTERVAL.as_secs() as i64 > now_secs;
            if unchanged || recent {
                return Ok(0);
            }
        }
        let mut removed = 0;
        for entry in std::fs::read_dir(&tmp).ctx("readdir", &tmp)? {
            let Ok(entry) = entry else { continue };
            let Ok(m) = entry.metadata() else { continue };
            if m.is_file()
                && m.ctime() + (TMP_DELETE_AGE.as_secs() as i64) < now_secs
                && std::fs::remove_file(entry.path()).is_ok()
            {
                removed += 1;
            }
        }
        if let Ok(d) = File::open(&tmp) {
            let _ = d.set_times(std::fs::FileTimes::new().set_accessed(now));
        }
        Ok(removed)
    }

    /// Delivers a message read from `input`: written to `tmp/` under a new
    /// unique name, `fdatasync`ed, linked into `new/` (or `cur/` when flags
    /// or keywords are given) with `,S=` and `,W=`, the directory
    /// `fsync`ed, and (with `assign_uid`) appended to `dovecot-uidlist`
    /// under its lock. A crash at any point leaves either no message or a
    /// whole one (plus possibly a `tmp/` file that is cleaned later).
    pub fn deliver(&self, input: impl Read, options: &DeliveryOptions) -> Result<Delivered> {
        let _ = self.clean_stale_tmp(false);
        let perms = Perms::of_dir(&self.dir)?;
        let host = filename::hostname();
        let tmp_dir = self.dir.join("tmp");
        let mut created = None;
        for _ in 0..100 {
            let base = filename::generate_base(&host);
            let path = tmp_dir.join(&base);
            match fsutil::create_new(&path, &perms) {
                Ok(f) => {
                    created = Some((base, path, f));
                    break;
                }
                Err(e) if e.io_kind() == Some(std::io::ErrorKind::AlreadyExists) => continue,
                Err(e) => return Err(e),
            }
        }
        let Some((base, tmp_path, file)) = created else {
            return Err(Error::Io {
                op: "create",
                path: tmp_dir,
                source: std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "no unique name found",
                ),
            });
        };
        let written = (|| -> Result<(u64, u64)> {
            let mut w = std::io::BufWriter::with_capacity(64 * 1024, &file);
            let sizes = message_size::copy_message(input, &mut w, options.keep_crlf)
                .ctx("write", &tmp_path)?;
            std::io::Write::flush(&mut w).ctx("write", &tmp_path)?;
            drop(w);
            if options.fsync {
                file.sync_data().ctx("fdatasync", &tmp_path)?;
            }
            Ok(sizes)
        })();
        drop(file);
        let (size, vsize) = match written {
            Ok(s) => s,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp_path);
                return Err(e);
            }
        };
        let result = self.publish(&base, &tmp_path, size, vsize, options);
        let _ = std::fs::remove_file(&tmp_path);
        result
    }

    fn publish(
        &self,
        base: &str,
        tmp_path: &Path,
        size: u64,
        vsize: u64,
        options: &DeliveryOptions,
    ) -> Result<Delivered> {
        let full_base = format!("{base},S={size},W={vsize}");
        let lock = if options.assign_uid || !options.keywords.is_empty() {
            Some(self.uidlist_file().lock()?)
        } else {
            None
        };
        let mut info = Info {
            flags: options.flags,
            ..Info::default()
        };
        if !options.keywords.is_empty() {
            let kwfile = self.keywords_file();
            let mut kw = kwfile.read()?;
            let mut changed = false;
            for k in &options.keywords {
                let (idx, added) = kw.index_or_add(k)?;
                changed |= added;
                info.keyword_bits |= 1 << idx;
            }
            if changed {
                if let Some(l) = &lock {
                    kwfile.write(&kw, l)?;
                }
            }
        }
        let flagged = !info.flags.is_empty() || info.keyword_bits != 0;
        let file_name = MaildirFilename::from_parts(&full_base, flagged.then_some(&info))?;
        let sub = if flagged { "cur" } else { "new" };
        let dest_dir = self.dir.join(sub);
        let dest = dest_dir.join(file_name.as_str());
        std::fs::hard_link(tmp_path, &dest).ctx("link", &dest)?;
        if options.fsync {
            fsutil::fsync_dir(&dest_dir)?;
        }
        // From here on the message is delivered: failures only leave it
        // without a UID for now.
        let mut uid = None;
        let mut uid_error = None;
        if let Some(lock) = lock {
            if options.assign_uid {
                match lock
                    .read()
                    .and_then(|existing| self.assign_uids(&lock, existing, None, Some(&full_base)))
                {
                    Ok((_, uids)) => uid = uids.first().copied(),
                    Err(e) => uid_error = Some(e.to_string()),
                }
            }
            if let Err(e) = lock.unlock() {
                uid_error.get_or_insert(e.to_string());
                uid = None;
            }
        }
        Ok(Delivered {
            path: dest,
            file_name,
            uid,
            size,
            vsize,
            uid_error,
        })
    }

    /// Finds a message's current file by its base name (`None`: expunged).
    pub fn find(&self, base: &str) -> Result<Option<(MaildirFilename, bool)>> {
        // new/ before cur/: files only ever move from new/ to cur/, so one
        // moved while we look is found in cur/. A rename within cur/ while
        // it is read may hide both names from that read: look twice.
        for _ in 0..2 {
            if let Some(found) = self.find_once(base)? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    fn find_once(&self, base: &str) -> Result<Option<(MaildirFilename, bool)>> {
        for (sub, in_new) in [("new", true), ("cur", false)] {
            let dir = self.dir.join(sub);
            let rd = match std::fs::read_dir(&dir) {
                Ok(rd) => rd,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e).ctx("readdir", &dir),
            };
            for entry in rd {
                let entry = entry.ctx("readdir", &dir)?;
                if let Some(name) = entry.file_name().to_str() {
                    let b = name.find(':').map_or(name, |i| &name[..i]);
                    if b == base {
                        if let Ok(f) = MaildirFilename::parse(name) {
                            return Ok(Some((f, in_new)));
                        }
                    }
                }
            }
        }
        Ok(None)
    }

    fn locate(
        &self,
        hint: &MaildirFilename,
        tried_hint: &mut bool,
    ) -> Result<Option<(MaildirFilename, bool)>> {
        if !*tried_hint {
            *tried_hint = true;
            for (sub, in_new) in [("cur", false), ("new", true)] {
                if self.dir.join(sub).join(hint.as_str()).exists() {
                    return Ok(Some((hint.clone(), in_new)));
                }
            }
        }
        self.find(hint.base())
    }

    /// Changes a message's flags and keywords by renaming its file (within
    /// the same directory, as Dovecot does). `current` is the name last
    /// seen; when another process renamed the file meanwhile, it is found
    /// again by its base name and the change is applied to its new flags. A
    /// file that no longer exists is [`FlagOutcome::Expunged`].
    pub fn update_flags(
        &self,
        current: &MaildirFilename,
        update: &FlagUpdate,
    ) -> Result<FlagOutcome> {
        let (flags_arg, names) = match update {
            FlagUpdate::Replace(f, k) | FlagUpdate::Add(f, k) | FlagUpdate::Remove(f, k) => (*f, k),
        };
        // Map keyword names to letters, adding new ones under the uidlist lock.
        let mut bits = 0u32;
        if !names.is_empty() {
            let kwfile = self.keywords_file();
            let mut kw = kwfile.read()?;
            let adding = !matches!(update, FlagUpdate::Remove(..));
            let missing = names.iter().any(|n| kw.index_of(n).is_none());
            if adding && missing {
                let lock = self.uidlist_file().lock()?;
                kw = kwfile.read()?;
                let mut changed = false;
                for n in names {
                    let (i, added) = kw.index_or_add(n)?;
                    changed |= added;
                    bits |= 1 << i;
                }
                if changed {
                    kwfile.write(&kw, &lock)?;
                }
                lock.unlock()?;
            } else {
                for n in names {
                    if let Some(i) = kw.index_of(n) {
                        bits |= 1 << i;
                    }
                }
            }
        }
        let mut tried_hint = false;
        for _ in 0..20 {
            let Some((name, in_new)) = self.locate(current, &mut tried_hint)? else {
                return Ok(FlagOutcome::Expunged);
            };
            let mut info = name.info().unwrap_or_default();
            match update {
                FlagUpdate::Replace(..) => {
                    info.flags = flags_arg;
                    info.keyword_bits = bits;
                }
                FlagUpdate::Add(..) => {
                    info.flags |= flags_arg;
                    info.keyword_bits |= bits;
                }
                FlagUpdate::Remove(..) => {
                    info.flags = info.flags - flags_arg;
                    info.keyword_bits &= !bits;
                }
            }
            let new_name = name.with_info(&info);
            if new_name == name {
                return Ok(FlagOutcome::Unchanged(name));
            }
            let dir = self.dir.join(if in_new { "new" } else { "cur" });
            match std::fs::rename(dir.join(name.as_str()), dir.join(new_name.as_str())) {
                Ok(()) => return Ok(FlagOutcome::Renamed(new_name)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e).ctx("rename", &dir.join(name.as_str())),
            }
        }
        Err(Error::Io {
            op: "rename",
            path: self.dir.join(current.as_str()),
            source: std::io::Error::other("file keeps being renamed by another process"),
        })
    }

    /// The path of a message file as last seen (it may have been renamed
    /// since; [`Mailbox::open_message`] copes with that).
    pub fn message_path(&self, entry: &MessageEntry) -> PathBuf {
        self.dir
            .join(if entry.in_new { "new" } else { "cur" })
            .join(entry.file_name.as_str())
    }

    /// Opens a message for reading, finding it again by its base name if
    /// it was renamed meanwhile. `Ok(None)` when it was expunged. Returns
    /// the file and its current name.
    pub fn open_message(
        &self,
        current: &MaildirFilename,
    ) -> Result<Option<(File, MaildirFilename)>> {
        let mut tried_hint = false;
        for _ in 0..20 {
            let Some((name, in_new)) = self.locate(current, &mut tried_hint)? else {
                return Ok(None);
            };
            let path = self
                .dir
                .join(if in_new { "new" } else { "cur" })
                .join(name.as_str());
            match File::open(&path) {
                Ok(f) => return Ok(Some((f, name))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e).ctx("open", &path),
            }
        }
        Ok(None)
    }

    /// Moves every message file of `new/` into `cur/`, as Dovecot does when
    /// a mailbox is opened read-write with `\Recent` being dropped (IMAP
    /// SELECT): under the uidlist lock, each file keeps its base name (so
    /// its uidlist record stays valid) and gets the `:2,` info it lacks. A
    /// file that vanished meanwhile is skipped; one whose target name already
    /// exists in `cur/` is left in `new/` rather than overwriting anything.
    /// Both directories are fsynced when something moved. Returns how many
    /// files moved.
    pub fn move_new_to_cur(&self) -> Result<usize> {
        use rustix::fs::{Mode, OFlags, RenameFlags};
        let new_dir = self.dir.join("new");
        let cur_dir = self.dir.join("cur");
        let names: Vec<std::ffi::OsString> = match std::fs::read_dir(&new_dir) {
            Ok(rd) => rd
                .filter_map(|e| e.ok())
                // a directory (or FIFO, socket, device) is not a message:
                // the scanner reports it and it stays where it is
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file() || t.is_symlink()))
                .map(|e| e.file_name())
                // hidden files are not messages; a name with an empty base
                // (`:2,...`) is left to the scanner, which reports it
                .filter(|n| !matches!(n.as_encoded_bytes().first(), Some(b'.' | b':')))
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e).ctx("readdir", &new_dir),
        };
        if names.is_empty() {
            return Ok(0);
        }
        let lock = self.uidlist_file().lock()?;
        let open_dir = |dir: &Path| {
            rustix::fs::open(
                dir,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(std::io::Error::from)
            .ctx("opendir", dir)
        };
        let new_fd = open_dir(&new_dir)?;
        let cur_fd = open_dir(&cur_dir)?;
        let mut moved = 0;
        for name in names {
            let mut target = name.clone();
            if !name.as_encoded_bytes().contains(&b':') {
                target.push(":2,");
            }
            match rustix::fs::renameat_with(
                &new_fd,
                &name,
                &cur_fd,
                &target,
                RenameFlags::NOREPLACE,
            ) {
                Ok(()) => moved += 1,
                Err(rustix::io::Errno::NOENT | rustix::io::Errno::EXIST) => {}
                // a file system without RENAME_NOREPLACE: look, then rename
                Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS)
                    if !cur_dir.join(&target).exists() =>
                {
                    match std::fs::rename(new_dir.join(&name), cur_dir.join(&target)) {
                        Ok(()) => moved += 1,
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(e).ctx("rename", &new_dir.join(&name)),
                    }
                }
                Err(e) => {
                    return Err(std::io::Error::from(e)).ctx("rename", &new_dir.join(&name));
                }
            }
        }
        if moved > 0 {
            fsutil::fsync_dir(&cur_dir)?;
            fsutil::fsync_dir(&new_dir)?;
        }
        lock.unlock()?;
        Ok(moved)
    }

    /// Expunges a message by deleting its file. Returns false when it was
    /// already gone.
    pub fn expunge(&self, current: &MaildirFilename) -> Result<bool> {
        let mut tried_hint = false;
        for _ in 0..20 {
            let Some((name, in_new)) = self.locate(current, &mut tried_hint)? else {
                return Ok(false);
            };
            let path = self
                .dir
                .join(if in_new { "new" } else { "cur" })
                .join(name.as_str());
            match std::fs::remove_file(&path) {
                Ok(()) => return Ok(true),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e).ctx("unlink", &path),
            }
        }
        Ok(false)
    }
}

/// The length of the message file at `path` and, with `vsize`, its
/// virtual (CRLF) size. The file is opened without blocking (a FIFO
/// behind a symlink must not hang the listing) and must be a regular file.
fn measure(path: &Path, vsize: bool) -> std::io::Result<(u64, Option<u64>)> {
    use rustix::fs::{Mode, OFlags};
    if !vsize {
        let m = std::fs::metadata(path)?;
        if !m.is_file() {
            return Err(std::io::ErrorKind::IsADirectory.into());
        }
        return Ok((m.len(), None));
    }
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let file = File::from(fd);
    let m = file.metadata()?;
    if !m.is_file() {
        return Err(std::io::ErrorKind::IsADirectory.into());
    }
    let (_, v) = message_size::sizes_of(std::io::BufReader::new(file))?;
    Ok((m.len(), Some(v)))
}

/// The problem of a message file that `measure` failed on, or `None`
/// when the file is simply gone (a dangling symlink is not gone: it is
/// still a message, as in Dovecot, whose body cannot be read).
fn problem_of(path: &Path, e: &std::io::Error) -> Option<FileProblem> {
    if e.kind() != std::io::ErrorKind::NotFound {
        return Some(FileProblem::of(e));
    }
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Some(FileProblem::DanglingSymlink),
        _ => None,
    }
}

/// How many of the uidlist's records of names that are not UTF-8 name a
/// file that is there (`present`: the base names of such files).
fn undecodable_alive(list: &Uidlist, present: &HashSet<&[u8]>) -> usize {
    list.undecodable
        .iter()
        .filter(|r| present.contains(r.base.as_slice()))
        .count()
}

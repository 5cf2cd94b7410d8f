//! [`MessageCache`]: one session's use of `dovecot.index.cache`, as Dovecot's
//! `index-mail.c` uses it: look a field up first (from Dovecot or from
//! Columba), read the message file only on a miss, and cache what was
//! computed, under Dovecot's field names, formats and caching decisions
//! (a field used for the first time is decided `TEMP`; a field decided
//! `NO` by configuration, such as `imap.envelope` in Dovecot 2.3, is never
//! written; lookups move decisions as `mail-cache-decisions.c` does).
//!
//! Values computed during the session are written by
//! [`MessageCache::flush`]: one cache append and one external log
//! transaction for the whole batch.
//!
//! ```
//! use columba_mail_store::search::{MessageFlags, SearchKey};
//! use columba_mail_store::store::{
//!     append, precache, sync, CachedItem, MailboxSnapshot, MessageCache, PrecacheFields,
//! };
//! use columba_maildir::Mailbox;
//!
//! let dir = tempfile::tempdir()?;
//! for sub in ["cur", "new", "tmp"] {
//!     std::fs::create_dir(dir.path().join(sub))?;
//! }
//! let inbox = Mailbox::at(dir.path(), dir.path(), "INBOX");
//! sync(&inbox)?;
//! let msg = b"From: Ann <ann@example.com>\nSubject: lunch?\n\nat noon\n";
//! let uid = append(&inbox, msg, MessageFlags::default(), &[], None)?.uid;
//! // the indexer, right after the delivery
//! precache(&inbox, Some(&[uid]), &PrecacheFields::default())?;
//! // a session
//! let mut snapshot = MailboxSnapshot::open(&inbox)?;
//! let mut cache = MessageCache::open(&inbox)?;
//! let envelope = cache.fetch(&mut snapshot, 1, &CachedItem::Envelope)?;
//! assert!(envelope.starts_with(b"NIL \"lunch?\""));
//! let hits = cache.search(&mut snapshot, &SearchKey::parse("SUBJECT lunch")?, 0, 0)?;
//! assert_eq!(hits, [1]);
//! assert_eq!(cache.files_opened(), 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{BTreeMap, HashMap};

use columba_mail_index::cache_file::{FieldType, DECISION_FORCED, DECISION_NO};
use columba_mail_index::index_file::EXT_CACHE;
use columba_mail_index::{CacheDecisions, CacheReader, CacheValues, FileKind, IndexDir};
use columba_maildir::Mailbox;

use super::cache::field_def;
use super::summary::{stamp, Stamp};
use crate::error::Result;
use crate::message::cached_header::{encode_field, rebuild_header};
use crate::message::Message;

/// Dovecot's `imap_envelope_headers`: the fields ENVELOPE is built from,
/// which Dovecot 2.3 caches as `hdr.*` instead of `imap.envelope`.
pub const ENVELOPE_HEADERS: [&str; 10] = [
    "Date",
    "Subject",
    "From",
    "Sender",
    "Reply-To",
    "To",
    "Cc",
    "Bcc",
    "In-Reply-To",
    "Message-ID",
];

/// Cache field names.
pub mod fields {
    /// ENVELOPE (never written by Dovecot 2.3's default configuration).
    pub const IMAP_ENVELOPE: &str = "imap.envelope";
    /// BODYSTRUCTURE without the outer parentheses.
    pub const IMAP_BODYSTRUCTURE: &str = "imap.bodystructure";
    /// BODY without the outer parentheses.
    pub const IMAP_BODY: &str = "imap.body";
    /// The serialized MIME part tree.
    pub const MIME_PARTS: &str = "mime.parts";
    /// RFC822.SIZE (u64).
    pub const SIZE_VIRTUAL: &str = "size.virtual";
    /// The file size (u64).
    pub const SIZE_PHYSICAL: &str = "size.physical";
    /// INTERNALDATE: the file's mtime (u32).
    pub const DATE_RECEIVED: &str = "date.received";
    /// The `Date:` field: Unix time (u32) and zone offset in minutes (i32).
    pub const DATE_SENT: &str = "date.sent";
    /// The save date: the file's ctime on Maildir (u32).
    pub const DATE_SAVE: &str = "date.save";
    /// The `mail_cache_record_flag` bits (u32, ORed over records).
    pub const FLAGS: &str = "flags";
}

fn now() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as u32)
}

/// The `hdr.<Name>` cache field of a header name.
pub fn header_field_name(name: &str) -> String {
    format!("hdr.{name}")
}

/// One session's reader and writer of a mailbox's cache file.
#[derive(Debug)]
pub struct MessageCache {
    index: IndexDir,
    /// The cache file, read where needed (header and fields when opened).
    cache: Option<CacheReader>,
    /// (uid, newest record offset), sorted by UID.
    offsets: Vec<(u32, u32)>,
    /// Every UID of the index, sorted.
    uids: Vec<u32>,
    /// Lower-cased field name -> file field number.
    numbers: HashMap<String, usize>,
    decisions: Option<CacheDecisions>,
    day_first_uid7: u32,
    now: u32,
    pending: BTreeMap<u32, CacheValues>,
    files_opened: u64,
    /// The index files as they were when read.
    stamps: [Stamp; 3],
}

impl MessageCache {
    /// Opens the mailbox's cache as the index shows it now. A mailbox
    /// without index or cache gives an empty cache (every lookup misses;
    /// [`MessageCache::flush`] creates the file when there is an index).
    /// A cache file that does not belong to the index is not used.
    pub fn open(mailbox: &Mailbox) -> Result<MessageCache> {
        MessageCache::load(IndexDir::new(mailbox.path()))
    }

    fn load(index: IndexDir) -> Result<MessageCache> {
        let has_log = index.path(FileKind::Log).exists();
        let mut c = MessageCache {
            index,
            cache: None,
            offsets: Vec::new(),
            uids: Vec::new(),
            numbers: HashMap::new(),
            decisions: None,
            day_first_uid7: 0,
            now: now(),
            pending: BTreeMap::new(),
            files_opened: 0,
            stamps: [None; 3],
        };
        c.stamps = c.current_stamps();
        if !has_log {
            return Ok(c);
        }
        // this thread's turn at the index files (their fcntl locks are
        // the process's)
        let log_path = c.index.path(FileKind::Log);
        let _turn = super::index_io::guard(log_path.parent().unwrap_or(&log_path));
        // the index without the cache file, then only the cache's header
        // and field registry: records are read when looked up
        let view = c.index.open_view_without_cache()?;
        let map = view.map();
        c.day_first_uid7 = view.header().day_first_uid[7];
        let cache = match CacheReader::open(&c.index.path(FileKind::Cache)) {
            Ok(Some(r)) if r.header.indexid == map.header.indexid => Some(r),
            Ok(_) => None,
            // a broken cache file is not used (as the full view leaves it)
            Err(e) if e.is_corruption() => None,
            Err(e) => return Err(e.into()),
        };
        let reset_ok = cache.as_ref().is_some_and(|r| {
            map.ext(EXT_CACHE)
                .is_some_and(|e| e.reset_id == r.header.file_seq)
        });
        let count = map.messages_count();
        c.uids = (0..count).map(|i| map.uid_at(i)).collect();
        if reset_ok {
            c.offsets = (0..count)
                .filter_map(|i| {
                    let off = map.cache_offset_at(i).unwrap_or(0);
                    (off != 0).then(|| (map.uid_at(i), off))
                })
                .collect();
        }
        if let Some(cache) = cache {
            c.numbers = cache
                .fields
                .iter()
                .enumerate()
                .map(|(i, f)| (f.name.to_ascii_lowercase(), i))
                .collect();
            c.decisions = Some(CacheDecisions::from_fields(&cache.fields));
            c.cache = Some(cache);
        }
        Ok(c)
    }

    fn current_stamps(&self) -> [Stamp; 3] {
        [
            stamp(&self.index.path(FileKind::Log)),
            stamp(&self.index.path(FileKind::Index)),
            stamp(&self.index.path(FileKind::Cache)),
        ]
    }

    /// Reads the cache and index again if another writer changed them since
    /// they were read (three `stat` calls otherwise), so that a session can
    /// keep one `MessageCache` per selected mailbox across commands. Values
    /// still queued are written first. Returns whether it read again.
    pub fn refresh(&mut self) -> Result<bool> {
        if !self.pending.is_empty() {
            self.flush()?;
            return Ok(true);
        }
        if self.current_stamps() == self.stamps {
            return Ok(false);
        }
        let files_opened = self.files_opened;
        *self = MessageCache::load(self.index.clone())?;
        self.files_opened = files_opened;
        Ok(true)
    }

    /// The UIDs of the index when the cache was opened, ascending.
    pub fn uids(&self) -> Vec<u32> {
        self.uids.clone()
    }

    /// The registered fields the cache file decides `YES` or `TEMP`
    /// (forced or not): what Dovecot caches for new mail.
    pub fn decided_fields(&self) -> Vec<String> {
        self.decisions
            .as_ref()
            .map(|d| {
                d.fields()
                    .iter()
                    .filter(|f| f.decision & !DECISION_FORCED != DECISION_NO)
                    .map(|f| f.name.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// How many message files this session read because the cache did
    /// not hold what was asked.
    pub fn files_opened(&self) -> u64 {
        self.files_opened
    }

    pub(crate) fn count_file_opened(&mut self) {
        self.files_opened += 1;
    }

    fn number(&self, field: &str) -> Option<usize> {
        if field.bytes().any(|b| b.is_ascii_uppercase()) {
            self.numbers.get(&field.to_ascii_lowercase()).copied()
        } else {
            self.numbers.get(field).copied()
        }
    }

    fn decision(&self, number: usize) -> Option<u8> {
        self.decisions
            .as_ref()
            .and_then(|d| d.fields().get(number))
            .map(|f| f.decision)
    }

    /// The stored value without touching decisions or counters.
    fn stored(&self, uid: u32, number: usize) -> Option<Vec<u8>> {
        let cache = self.cache.as_ref()?;
        let at = self.offsets.binary_search_by_key(&uid, |(u, _)| *u).ok()?;
        let mut off = self.offsets[at].1;
        let bitmask = cache.fields.get(number)?.field_type == FieldType::Bitmask;
        if bitmask {
            // ORed over the chain: not a single slice; answered by lookup()
            return None;
        }
        // Records are read defensively: a broken chain is a miss.
        let mut steps = 0;
        while off != 0 && steps < 1000 {
            let (value, prev) = cache.record_value(off, number as u32).ok()?;
            if value.is_some() {
                return value;
            }
            if prev >= off {
                return None;
            }
            off = prev;
            steps += 1;
        }
        None
    }

    /// The value of cache field `field` for `uid`: what this session added,
    /// else what the file holds (a corrupt record reads as a miss). The
    /// lookup counts for the field's caching decision.
    pub fn lookup(&mut self, uid: u32, field: &str) -> Option<Vec<u8>> {
        if let Some(v) = self.pending.get(&uid).and_then(|vals| {
            vals.iter()
                .find(|(f, _)| f.name.eq_ignore_ascii_case(field))
                .map(|(_, d)| d.clone())
        }) {
            return Some(v);
        }
        let number = self.number(field)?;
        if let Some(d) = self.decisions.as_mut() {
            d.on_lookup(number, uid, self.day_first_uid7, self.now);
        }
        match self.cache.as_ref() {
            Some(cache) if cache.fields[number].field_type == FieldType::Bitmask => self
                .offsets
                .binary_search_by_key(&uid, |(u, _)| *u)
                .ok()
                .and_then(|at| cache.lookup(self.offsets[at].1, field).ok().flatten()),
            _ => self.stored(uid, number),
        }
    }

    /// True if the cache file decides `field` `NO` by configuration: it is
    /// never written.
    pub fn refuses(&self, field: &str) -> bool {
        self.number(field)
            .is_some_and(|n| self.decision(n) == Some(DECISION_NO | DECISION_FORCED))
    }

    /// True if `field` is cached for `uid` (file or this session).
    pub fn contains(&self, uid: u32, field: &str) -> bool {
        if self
            .pending
            .get(&uid)
            .is_some_and(|vals| vals.iter().any(|(f, _)| f.name.eq_ignore_ascii_case(field)))
        {
            return true;
        }
        match self.number(field) {
            Some(n)
                if self
                    .cache
                    .as_ref()
                    .is_some_and(|c| c.fields[n].field_type == FieldType::Bitmask) =>
            {
                self.offsets
                    .binary_search_by_key(&uid, |(u, _)| *u)
                    .ok()
                    .and_then(|at| {
                        self.cache
                            .as_ref()?
                            .lookup(self.offsets[at].1, field)
                            .ok()
                            .flatten()
                    })
                    .is_some()
            }
            Some(n) => self.stored(uid, n).is_some(),
            None => false,
        }
    }

    /// The message header rebuilt from the cached `hdr.*` fields of
    /// `names` (every occurrence, in the message's line order, then the
    /// blank line), or `None` if any of them is not cached for `uid`.
    pub fn header(&mut self, uid: u32, names: &[&str]) -> Option<Vec<u8>> {
        let fields: Vec<String> = names.iter().map(|n| header_field_name(n)).collect();
        self.header_of_fields(uid, &fields)
    }

    /// [`MessageCache::header`] with the `hdr.*` field names already made.
    pub(crate) fn header_of_fields(&mut self, uid: u32, fields: &[String]) -> Option<Vec<u8>> {
        let mut values = Vec::with_capacity(fields.len());
        for f in fields {
            values.push(self.lookup(uid, f)?);
        }
        let refs: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
        rebuild_header(&refs).ok()
    }

    /// Queues `value` for cache field `field` of `uid`, unless the field is
    /// decided `NO` by configuration or already cached for the message.
    /// Returns whether it was queued.
    pub fn add(&mut self, uid: u32, field: &str, value: Vec<u8>) -> bool {
        let number = self.number(field);
        if let Some(n) = number {
            if self.decision(n) == Some(DECISION_NO | DECISION_FORCED) {
                return false;
            }
        }
        if self.contains(uid, field) {
            return false;
        }
        let def = field_def(field, self.now);
        if def.field_type.is_fixed_size() && value.len() != def.size as usize {
            return false;
        }
        // a field registered with another type or size (by another
        // writer) is left alone rather than failing the whole append
        if let (Some(n), Some(cache)) = (number, self.cache.as_ref()) {
            let f = &cache.fields[n];
            if f.field_type != def.field_type || f.size != def.size {
                return false;
            }
        }
        if let (Some(n), Some(d)) = (number, self.decisions.as_mut()) {
            d.on_add(n, uid, self.now);
        }
        self.pending.entry(uid).or_default().push((def, value));
        true
    }

    /// Queues the `hdr.*` fields of `names` as found in `msg` (an empty
    /// value for a field the message does not have, as Dovecot caches it).
    pub fn add_headers(&mut self, uid: u32, msg: &Message<'_>, names: &[&str]) {
        for n in names {
            if n.is_empty() || n.bytes().any(|b| b <= b' ' || b == b':' || b >= 0x7f) {
                continue;
            }
            let value = encode_field(msg, n);
            self.add(uid, &header_field_name(n), value);
        }
    }

    /// Number of messages with values waiting for [`MessageCache::flush`].
    pub fn pending_messages(&self) -> usize {
        self.pending.len()
    }

    /// Writes the changed decisions into the cache file's field header,
    /// then appends the queued values (one record per message, linked to
    /// its older records) and links them through one external log
    /// transaction. Messages expunged meanwhile are skipped.
    pub fn flush(&mut self) -> Result<()> {
        if !self.write_pending()? {
            return Ok(());
        }
        // Later lookups of this session read the file again.
        let files_opened = self.files_opened;
        *self = MessageCache::load(self.index.clone())?;
        self.files_opened = files_opened;
        Ok(())
    }

    /// [`MessageCache::flush`] for a session that ends here: nothing is
    /// read back.
    pub(crate) fn finish(mut self) -> Result<()> {
        self.write_pending().map(|_| ())
    }

    /// Writes decisions and queued values; true if values were appended.
    fn write_pending(&mut self) -> Result<bool> {
        let log_path = self.index.path(FileKind::Log);
        let _turn = super::index_io::guard(log_path.parent().unwrap_or(&log_path));
        if let Some(d) = &self.decisions {
            // Only hints: a cache purged or extended meanwhile drops them.
            self.index.cache_write_decisions(d)?;
        }
        if self.pending.is_empty() {
            return Ok(false);
        }
        let pending = std::mem::take(&mut self.pending);
        if !self.index.path(FileKind::Log).exists() {
            // no index (the mailbox was never synced): nothing to link
            // cache records to; the values are computed again next time
            return Ok(false);
        }
        let mut updates: Vec<(u32, CacheValues)> = pending.into_iter().collect();
        match self.index.cache_add(&updates) {
            Ok(()) => {}
            Err(columba_mail_index::Error::Invalid(reason))
                if reason.contains("does not exist") =>
            {
                // Some UIDs were expunged by another session: keep the rest.
                let view = self.index.open_view()?;
                let live: std::collections::HashSet<u32> = view.messages().map(|m| m.uid).collect();
                updates.retain(|(uid, _)| live.contains(uid));
                if !updates.is_empty() {
                    self.index.cache_add(&updates)?;
                }
            }
            Err(e) => return Err(e.into()),
        }
        Ok(true)
    }
}

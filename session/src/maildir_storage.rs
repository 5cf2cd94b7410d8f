//! [`MaildirStorage`]: [`MailStorage`] over `columba-mail-store` on a
//! Maildir++ root laid out as Dovecot lays it out.
//!
//! The mailbox a session reads keeps one [`MessageCache`] (Dovecot's
//! `dovecot.index.cache`, shared with Dovecot) and one snapshot, both read
//! again at the start of each command that reads messages and the cache
//! flushed at its end ([`MailStorage::command_done`]): FETCH of ENVELOPE,
//! BODY, BODYSTRUCTURE, `BODY[HEADER.FIELDS (...)]` and RFC822.SIZE and
//! the header SEARCH keys answer from the cache, and a message file is
//! opened only for what the cache does not hold (which is then cached).
//!
//! The selected mailbox is synced as Dovecot syncs it: a full sync (new
//! files, then the index) where Dovecot does one, and for the commands that
//! ask for a fast sync only the index's log, as long as the last full sync
//! of that mailbox is less than [`FULL_SYNC_INTERVAL`] old. A view that the
//! log shows unchanged is not read again: the session keeps its own, and
//! the next command's message reads start from it.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

use columba_mail_store::list::SpecialUse;
use columba_mail_store::search::SearchKey as StoreKey;
use columba_mail_store::store::{
    self, CachedItem, FlagsSnapshot, IndexMap, IndexState, MailboxSnapshot, MessageCache,
};
use columba_maildir::{Mailbox, Maildir};

use crate::append_spool::{self, SpooledAppend, StagedWrite};
use crate::error::{Error, Result};
use crate::storage::{
    AppendMeta, AppendSink, CopyOutcome, ListedMailbox, MailStorage, MailboxView, MessageFlags,
    QresyncRequest, Resync, SearchKey, StagedAppend, StagingSink, StatusInfo, StoreMode, SyncKind,
    ViewSummary, ViewSync,
};

/// Dovecot's `MAILBOX_FULL_SYNC_INTERVAL`: a fast sync within this long
/// of the last full sync of a mailbox reads only its index.
pub const FULL_SYNC_INTERVAL: Duration = Duration::from_secs(5);

/// What identifies one state of a transaction log: device, inode, size
/// and modification time of `dovecot.index.log`. The log is only appended
/// to and a rotation makes a new file, so every change logged by anyone
/// (another session, Dovecot, this storage) changes it; the in-place
/// writes Dovecot may do (cutting off a failed write's garbage before an
/// append, zeroing `indexid` of a corrupt log) change the modification
/// time. `None` without a log.
type LogStamp = Option<(u64, u64, u64, i64, i64)>;

fn log_stamp(mailbox: &Mailbox) -> LogStamp {
    let m = std::fs::metadata(mailbox.path().join("dovecot.index.log")).ok()?;
    Some((m.dev(), m.ino(), m.len(), m.mtime(), m.mtime_nsec()))
}

/// The clock that decides when a fast sync must be a full one.
struct SyncClock(Box<dyn Fn() -> Instant + Send>);

impl std::fmt::Debug for SyncClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SyncClock")
    }
}

/// The last view of a mailbox handed to the session (the session holds
/// the messages; this is what decides whether that view still stands).
#[derive(Debug)]
struct Synced {
    name: String,
    /// The view showed messages as `\Recent`.
    shows_recent: bool,
    /// The index kept per-message modseqs when the view was read.
    modseq_tracking: bool,
    /// The log as it was before the snapshot was read: the snapshot holds
    /// at least every change logged up to this state.
    log: LogStamp,
    /// When the mailbox was last fully synced.
    full_at: Instant,
    /// The snapshot shows messages as `\Recent` that no sync claimed yet
    /// (it was read without claiming).
    unclaimed: bool,
    /// The index map the view was read from (records shared), for
    /// [`MailStorage::sync_changes`] to find what changed since.
    map: Option<IndexMap>,
}

/// What a full sync gives back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wanted {
    /// The view, always (SELECT without a view in the session).
    Always,
    /// The view unless the session's still stands, with SELECT's rules
    /// (no `\Recent` shown, per-message modseqs on).
    Reselect,
    /// The view only if something changed (a sync of the selected
    /// mailbox).
    IfChanged,
}

/// One user's Maildir++ root (`maildir:~/Maildir`).
#[derive(Debug)]
pub struct MaildirStorage {
    maildir: Maildir,
    special_use: Vec<(String, SpecialUse)>,
    /// The mailbox the current (or last) command read messages of.
    reading: Option<Reading>,
    /// Message files read by closed [`Reading`]s and by whole-message reads.
    files_read: u64,
    /// The last view handed out, for [`MailStorage::sync_view`].
    synced: Option<Synced>,
    /// The mailbox this storage last stored new messages in (APPEND,
    /// COPY): its next full sync has recent messages to claim.
    added_to: Option<String>,
    clock: SyncClock,
    full_sync_interval: Duration,
    /// Full syncs of a mailbox, fast ones that read only the index, and
    /// syncs that found nothing to read.
    counts: SyncCounts,
    /// Files the syncs could not take, not yet handed out
    /// ([`MailStorage::take_problems`]).
    problems: Vec<String>,
    /// Every problem reported so far (each is reported once).
    reported: std::collections::HashSet<String>,
}

/// How a [`MaildirStorage`]'s syncs went ([`MaildirStorage::sync_counts`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncCounts {
    /// Syncs that scanned the Maildir (`cur/`, `new/`) and synced the index.
    pub full: u64,
    /// Fast syncs answered from the index alone.
    pub fast: u64,
    /// Syncs (of either kind) that found the log unchanged and read nothing.
    pub unchanged: u64,
}

/// The cache and snapshot of the mailbox whose messages are being read.
#[derive(Debug)]
struct Reading {
    name: String,
    mailbox: Mailbox,
    snapshot: MailboxSnapshot,
    cache: MessageCache,
    /// False once the command that read it is done: the next command
    /// reads the mailbox again.
    current: bool,
    /// The log when the snapshot was read: while it is unchanged, the
    /// next command keeps the snapshot and the files it found.
    log: LogStamp,
    /// The snapshot (and the file names it found) comes from an earlier
    /// command: a file that is not where it was may have been renamed by
    /// an outside client since, so a failed read is tried again on a
    /// snapshot read anew.
    carried: bool,
}

impl Reading {
    /// `f` on the snapshot; if it fails on a snapshot carried over from an
    /// earlier command, once more on one read anew.
    fn retrying<T>(&mut self, mut f: impl FnMut(&mut Reading) -> Result<T>) -> Result<T> {
        match f(self) {
            Err(_) if self.carried => {
                self.log = log_stamp(&self.mailbox);
                self.snapshot = MailboxSnapshot::open(&self.mailbox)?;
                self.carried = false;
                f(self)
            }
            other => other,
        }
    }

    /// The sequence number of `uid` in the snapshot.
    fn seq(&self, uid: u32) -> Result<u32> {
        self.snapshot
            .messages
            .binary_search_by_key(&uid, |m| m.uid)
            .map(|i| i as u32 + 1)
            .map_err(|_| Error::Refused(format!("uid {uid} is expunged")))
    }
}

/// Whether `key` compares save dates (the snapshot's search resolves them).
/// Refuses a mailbox name Dovecot 2.3 refuses with a namespace separator
/// of `/` over Maildir++ (whose own separator is `.`), with Dovecot's
/// words and in its order: a `.` anywhere, a leading separator, adjacent
/// or trailing separators, an empty name, a leading `~`. These names
/// would otherwise reach the file system as `..` or hidden paths.
fn verify_name(name: &str) -> Result<()> {
    if name.eq_ignore_ascii_case("INBOX") {
        return Ok(());
    }
    let invalid = |why: &str| {
        Err(Error::Refused(format!(
            "[CANNOT] Invalid mailbox name: {why}."
        )))
    };
    if name.contains('.') {
        return Err(Error::Refused(
            "[CANNOT] Character not allowed in mailbox name: '.'.".into(),
        ));
    }
    if name.starts_with('/') {
        return invalid("Begins with hierarchy separator");
    }
    if name.contains("//") {
        return invalid("Has adjacent hierarchy separators");
    }
    if name.ends_with('/') {
        return invalid("Ends with hierarchy separator");
    }
    if name.is_empty() {
        return invalid("Name is empty");
    }
    if name.starts_with('~') {
        return invalid("Begins with '~'");
    }
    Ok(())
}

fn uses_save_dates(key: &StoreKey) -> bool {
    match key {
        StoreKey::SavedDate(..) => true,
        StoreKey::Not(k) => uses_save_dates(k),
        StoreKey::Or(a, b) => uses_save_dates(a) || uses_save_dates(b),
        StoreKey::And(keys) => keys.iter().any(uses_save_dates),
        _ => false,
    }
}

impl MaildirStorage {
    /// Opens (creating if needed) the Maildir++ root at `root`.
    pub fn open(root: &Path) -> Result<MaildirStorage> {
        let maildir = match Maildir::open(root) {
            Ok(m) => m,
            Err(_) => Maildir::create(root)?,
        };
        Ok(MaildirStorage {
            maildir,
            special_use: Vec::new(),
            reading: None,
            files_read: 0,
            synced: None,
            added_to: None,
            clock: SyncClock(Box::new(Instant::now)),
            full_sync_interval: FULL_SYNC_INTERVAL,
            counts: SyncCounts::default(),
            problems: Vec::new(),
            reported: std::collections::HashSet::new(),
        })
    }

    /// Makes a fast sync a full one once the last full sync of the mailbox
    /// is `interval` old (default [`FULL_SYNC_INTERVAL`], Dovecot's).
    pub fn with_full_sync_interval(mut self, interval: Duration) -> MaildirStorage {
        self.full_sync_interval = interval;
        self
    }

    /// Reads the time for the full sync interval from `clock` instead of
    /// [`Instant::now`] (tests move time on without sleeping).
    pub fn with_clock(mut self, clock: impl Fn() -> Instant + Send + 'static) -> MaildirStorage {
        self.clock = SyncClock(Box::new(clock));
        self
    }

    /// How many syncs of each kind this storage did.
    pub fn sync_counts(&self) -> SyncCounts {
        self.counts
    }

    /// The view of `snapshot` as the session sees it.
    fn view_of(snap: FlagsSnapshot) -> MailboxView {
        MailboxView {
            messages: snap.messages.into(),
            uid_next: snap.uid_next,
            uid_validity: snap.uid_validity,
            highest_modseq: snap.highest_modseq,
        }
    }

    /// The view of `state` as the session sees it, its message list made
    /// when the session first looks at it (SELECT answers from the
    /// summary).
    fn view_of_state(state: IndexState) -> MailboxView {
        let (uid_next, uid_validity, highest_modseq) =
            (state.uid_next, state.uid_validity, state.highest_modseq);
        let summary = ViewSummary {
            recent: state.recent_uids(),
            first_unseen: state.first_unseen(),
            keywords: state.keywords(),
        };
        MailboxView {
            messages: crate::storage::Messages::lazy(state.len(), summary, move || {
                state.into_flags().messages
            }),
            uid_next,
            uid_validity,
            highest_modseq,
        }
    }

    /// The last view handed out of `name`, while the log shows no change
    /// since it was read.
    fn unchanged(&self, name: &str, mailbox: &Mailbox) -> Option<&Synced> {
        let s = self.synced.as_ref().filter(|s| s.name == name)?;
        let now = log_stamp(mailbox);
        (now.is_some() && now == s.log).then_some(s)
    }

    /// A full sync of `name`, then its view unless the log shows the
    /// session's view is still current (`Ok(None)`; never for
    /// [`Wanted::Always`]).
    fn full_sync(
        &mut self,
        name: &str,
        claim_recent: bool,
        wanted: Wanted,
    ) -> Result<Option<MailboxView>> {
        Ok(self
            .full_sync_state(name, claim_recent, wanted)?
            .map(|(state, selecting)| Self::view_from(state, selecting)))
    }

    /// The view of a state a sync read: for SELECT with its list made
    /// when first looked at, otherwise with its list.
    fn view_from(state: IndexState, selecting: bool) -> MailboxView {
        if selecting {
            Self::view_of_state(state)
        } else {
            Self::view_of(state.into_flags())
        }
    }

    /// [`MaildirStorage::full_sync`] giving the state it read, and whether
    /// it was read for SELECT.
    fn full_sync_state(
        &mut self,
        name: &str,
        claim_recent: bool,
        wanted: Wanted,
    ) -> Result<Option<(IndexState, bool)>> {
        self.stale();
        let mailbox = self.mailbox(name)?;
        let report = store::sync(&mailbox)?;
        self.counts.full += 1;
        self.note_problems(name, &report);
        // new messages (found by this sync or stored by this storage) are
        // recent: claimed in the one read
        let added = self.added_to.as_deref() == Some(name);
        if added {
            self.added_to = None;
        }
        let expect_recent = !report.appended.is_empty() || added;
        let now = (self.clock.0)();
        let log = log_stamp(&mailbox);
        let selecting = wanted != Wanted::IfChanged;
        if let Some(s) = self.synced.as_mut().filter(|s| s.name == name) {
            // nothing logged since the last view: it still stands, unless
            // it shows messages to claim, or (for SELECT) messages as
            // recent that an earlier claim took, or the index still lacks
            // per-message modseqs that SELECT turns on
            let stands = log.is_some()
                && log == s.log
                && !(claim_recent && s.unclaimed)
                && !(selecting && s.shows_recent)
                && !(selecting && claim_recent && !s.modseq_tracking);
            if stands {
                s.full_at = now;
                self.counts.unchanged += 1;
                if wanted != Wanted::Always {
                    return Ok(None);
                }
                // the session holds no copy: read the same state again
                let state = IndexState::open(&mailbox)?;
                s.map = state.index_map().cloned();
                return Ok(Some((state, true)));
            }
        }
        let state = if claim_recent && expect_recent {
            IndexState::open_select(&mailbox)?
        } else {
            let state = IndexState::open(&mailbox)?;
            // the claim takes the index lock: only when there is something
            // to claim (recent messages have the highest UIDs), or to turn
            // per-message modseqs on at SELECT
            let to_claim = state.shows_recent() || (selecting && !state.modseq_tracking);
            if claim_recent && to_claim {
                IndexState::open_select(&mailbox)?
            } else {
                state
            }
        };
        self.synced = Some(Synced {
            name: name.to_string(),
            shows_recent: state.shows_recent(),
            modseq_tracking: state.modseq_tracking,
            log,
            full_at: now,
            unclaimed: false,
            map: state.index_map().cloned(),
        });
        Ok(Some((state, selecting)))
    }

    /// What [`MailStorage::sync_view`] reads: the state and whether it was
    /// read for SELECT, or `None` when the session's view still stands.
    fn sync_state(
        &mut self,
        mailbox: &str,
        kind: SyncKind,
        claim_recent: bool,
    ) -> Result<Option<(IndexState, bool)>> {
        let now = (self.clock.0)();
        let recent_full = self.synced.as_ref().is_some_and(|s| {
            s.name == mailbox && now.saturating_duration_since(s.full_at) < self.full_sync_interval
        });
        if kind == SyncKind::Full || !recent_full {
            return self.full_sync_state(mailbox, claim_recent, Wanted::IfChanged);
        }
        // fast: the index alone, and only if something was logged
        let mb = self.mailbox(mailbox)?;
        let log = log_stamp(&mb);
        let Some(s) = self.synced.as_mut() else {
            return self.full_sync_state(mailbox, claim_recent, Wanted::IfChanged);
        };
        if log.is_some() && log == s.log {
            self.counts.unchanged += 1;
            return Ok(None);
        }
        self.counts.fast += 1;
        let mut state = IndexState::open(&mb)?;
        if claim_recent && state.shows_recent() {
            // Dovecot's fast sync claims \Recent too (from the index alone):
            // a message logged by another session is recent in one session only
            state = IndexState::open_select(&mb)?;
        }
        s.unclaimed |= state.shows_recent() && !claim_recent;
        s.shows_recent = state.shows_recent();
        s.modseq_tracking = state.modseq_tracking;
        s.log = log;
        s.map = state.index_map().cloned();
        Ok(Some((state, false)))
    }

    /// Keeps what a sync could not take for the log, each once.
    fn note_problems(&mut self, name: &str, report: &store::SyncReport) {
        let lines = report
            .unreadable
            .iter()
            .map(|u| format!("Mailbox {name}: cannot read message file {u}"))
            .chain(
                report
                    .skipped
                    .iter()
                    .map(|k| format!("Mailbox {name}: ignoring {k}")),
            );
        for line in lines {
            if self.reported.insert(line.clone()) {
                self.problems.push(line);
            }
        }
    }

    /// How many message files this storage has opened to answer FETCH and
    /// SEARCH because its cache did not hold what was asked (0 when every
    /// answer came from `dovecot.index.cache` and the index).
    pub fn files_opened(&self) -> u64 {
        self.files_read + self.reading.as_ref().map_or(0, |r| r.cache.files_opened())
    }

    /// The next read starts from the files again (another command, or a
    /// change made through this storage).
    fn stale(&mut self) {
        if let Some(r) = self.reading.as_mut() {
            r.current = false;
        }
    }

    /// Drops the mailbox being read (it may be deleted or renamed), writing
    /// what its cache learned first where that still works.
    fn forget(&mut self) {
        self.synced = None;
        if let Some(mut r) = self.reading.take() {
            let _ = r.cache.flush();
            self.files_read += r.cache.files_opened();
        }
    }

    /// The cache and snapshot of `name` for the current command: read
    /// again (the cache only if its files changed) at a command's first
    /// use, kept for the rest of the command.
    fn reading(&mut self, name: &str) -> Result<&mut Reading> {
        let same = self.reading.as_ref().is_some_and(|r| r.name == name);
        if !same {
            if let Some(mut old) = self.reading.take() {
                old.cache.flush()?;
                self.files_read += old.cache.files_opened();
            }
            let mailbox = self.mailbox(name)?;
            let cache = MessageCache::open(&mailbox)?;
            let log = log_stamp(&mailbox);
            let snapshot = MailboxSnapshot::open(&mailbox)?;
            self.reading = Some(Reading {
                name: name.to_string(),
                mailbox,
                snapshot,
                cache,
                current: true,
                log,
                carried: false,
            });
        }
        let Some(r) = self.reading.as_mut() else {
            return Err(Error::Refused("[SERVERBUG] no mailbox open".into()));
        };
        if !r.current {
            r.cache.refresh()?;
            let log = log_stamp(&r.mailbox);
            if log.is_some() && log == r.log {
                // nothing logged since: the snapshot and its files stand
                r.carried = true;
            } else {
                // the index read anew (from where this process last
                // read it); only the messages whose records changed are
                // looked at again
                r.snapshot.refresh()?;
                r.log = log;
                r.carried = false;
            }
            r.current = true;
        }
        Ok(r)
    }

    /// Marks `name` with a SPECIAL-USE attribute in LIST answers.
    pub fn with_special_use(mut self, name: &str, usage: SpecialUse) -> MaildirStorage {
        self.special_use.push((name.to_string(), usage));
        self
    }

    /// The Maildir++ root.
    pub fn maildir(&self) -> &Maildir {
        &self.maildir
    }

    fn mailbox(&self, name: &str) -> Result<Mailbox> {
        verify_name(name)?;
        self.maildir.folder(name).map_err(|e| match e {
            columba_maildir::Error::NoSuchFolder(n) => Error::NoSuchMailbox(n),
            columba_maildir::Error::FolderName { name, .. } => Error::NoSuchMailbox(name),
            other => Error::Maildir(other),
        })
    }

    fn snapshot(&self, name: &str, claim_recent: bool) -> Result<(Mailbox, MailboxSnapshot)> {
        let mailbox = self.mailbox(name)?;
        store::sync(&mailbox)?;
        let snap = if claim_recent {
            MailboxSnapshot::open_select(&mailbox)?
        } else {
            MailboxSnapshot::open(&mailbox)?
        };
        Ok((mailbox, snap))
    }
}

impl MailStorage for MaildirStorage {
    fn list(
        &mut self,
        reference: &str,
        pattern: &str,
        subscribed_only: bool,
    ) -> Result<Vec<ListedMailbox>> {
        let uses: Vec<(&str, SpecialUse)> = self
            .special_use
            .iter()
            .map(|(n, u)| (n.as_str(), *u))
            .collect();
        let tree = store::mailbox_tree(&self.maildir, &uses)?;
        let entries = if subscribed_only {
            tree.list_subscribed(reference, pattern)
        } else {
            tree.list(reference, pattern)
        };
        Ok(entries
            .into_iter()
            .map(|e| ListedMailbox {
                name: e.name,
                attributes: e
                    .attributes
                    .iter()
                    .map(|a| a.as_str().to_string())
                    .collect(),
            })
            .collect())
    }

    fn view(&mut self, mailbox: &str, claim_recent: bool) -> Result<MailboxView> {
        match self.full_sync(mailbox, claim_recent, Wanted::Always)? {
            Some(view) => Ok(view),
            None => Err(Error::Refused(
                "[SERVERBUG] the mailbox gave no view".into(),
            )),
        }
    }

    fn reselect(&mut self, mailbox: &str, claim_recent: bool) -> Result<Option<MailboxView>> {
        self.full_sync(mailbox, claim_recent, Wanted::Reselect)
    }

    fn take_problems(&mut self) -> Vec<String> {
        std::mem::take(&mut self.problems)
    }

    fn sync_view(
        &mut self,
        mailbox: &str,
        kind: SyncKind,
        claim_recent: bool,
    ) -> Result<Option<MailboxView>> {
        Ok(self
            .sync_state(mailbox, kind, claim_recent)?
            .map(|(state, selecting)| Self::view_from(state, selecting)))
    }

    fn sync_changes(
        &mut self,
        mailbox: &str,
        kind: SyncKind,
        claim_recent: bool,
    ) -> Result<Option<ViewSync>> {
        // the map of the view the session holds, before the sync replaces it
        let base = self
            .synced
            .as_ref()
            .filter(|s| s.name == mailbox)
            .and_then(|s| s.map.clone());
        let Some((state, selecting)) = self.sync_state(mailbox, kind, claim_recent)? else {
            return Ok(None);
        };
        if let Some(changes) = base.as_ref().and_then(|b| state.changes_since(b)) {
            return Ok(Some(ViewSync::Changed {
                changed: changes.changed,
                appended: changes.appended,
                uid_next: state.uid_next,
                uid_validity: state.uid_validity,
                highest_modseq: state.highest_modseq,
            }));
        }
        Ok(Some(ViewSync::Full(Self::view_from(state, selecting))))
    }

    fn status(&mut self, mailbox: &str, want_size: bool) -> Result<StatusInfo> {
        self.stale();
        let (_, mut snap) = self.snapshot(mailbox, false)?;
        let s = snap.status();
        let size = if want_size {
            Some(snap.total_size()?)
        } else {
            None
        };
        Ok(StatusInfo {
            messages: s.messages,
            recent: s.recent,
            unseen: s.unseen,
            uid_next: s.uid_next,
            uid_validity: s.uid_validity,
            highest_modseq: s.highest_modseq,
            size,
            deleted: snap.messages.iter().filter(|m| m.flags.deleted).count() as u32,
        })
    }

    fn message(&mut self, mailbox: &str, uid: u32) -> Result<(Vec<u8>, i64)> {
        let r = self.reading(mailbox)?;
        let answer = r.retrying(|r| {
            let seq = r.seq(uid)?;
            r.snapshot.resolve_file(seq)?;
            let m = &r.snapshot.messages[seq as usize - 1];
            Ok((m.read()?, m.internal_date()?))
        })?;
        self.files_read += 1;
        Ok(answer)
    }

    fn cached_item(
        &mut self,
        mailbox: &str,
        uid: u32,
        item: &CachedItem,
    ) -> Result<Option<Vec<u8>>> {
        let r = self.reading(mailbox)?;
        r.retrying(|r| {
            let seq = r.seq(uid)?;
            if *item == CachedItem::Rfc822Size {
                // the file name's `W=` (one directory listing while the
                // log is unchanged) answers before the cache, as in
                // Dovecot's Maildir
                r.snapshot.resolve_file(seq)?;
            }
            Ok(Some(r.cache.fetch(&mut r.snapshot, seq, item)?))
        })
    }

    fn internal_date(&mut self, mailbox: &str, uid: u32) -> Result<Option<i64>> {
        let r = self.reading(mailbox)?;
        r.retrying(|r| {
            let seq = r.seq(uid)?;
            r.snapshot.resolve_file(seq)?;
            Ok(Some(r.snapshot.messages[seq as usize - 1].internal_date()?))
        })
    }

    fn save_date(&mut self, mailbox: &str, uid: u32) -> Result<Option<i64>> {
        let r = self.reading(mailbox)?;
        r.seq(uid)?;
        Ok(r.snapshot.save_date(uid)?)
    }

    fn supports_save_date(&self) -> bool {
        true
    }

    fn command_done(&mut self) -> Result<()> {
        if let Some(r) = self.reading.as_mut() {
            r.current = false;
            r.cache.flush()?;
        }
        Ok(())
    }

    fn append(
        &mut self,
        mailbox: &str,
        data: &[u8],
        flags: MessageFlags,
        keywords: &[String],
        internal_date: Option<i64>,
    ) -> Result<(u32, u32)> {
        self.stale();
        let mb = self.mailbox(mailbox)?;
        // the index must exist so the message gets a log record at once
        if !mb.path().join("dovecot.index.log").exists() {
            store::sync(&mb)?;
        }
        let appended = store::append(&mb, data, flags, keywords, internal_date)?;
        self.added_to = Some(mailbox.to_string());
        Ok((appended.uid_validity, appended.uid))
    }

    fn append_sink(&mut self, mailbox: &str, size: u64) -> Result<Box<dyn AppendSink>> {
        let mb = self.mailbox(mailbox)?;
        Ok(Box::new(SpooledAppend::new(mb, size)?))
    }

    fn store(
        &mut self,
        mailbox: &str,
        uids: &[u32],
        mode: StoreMode,
        flags: MessageFlags,
        keywords: &[String],
        unchanged_since: Option<u64>,
    ) -> Result<Vec<u32>> {
        // flags are not what a reading keeps: it stays current
        let mb = self.mailbox(mailbox)?;
        let r =
            store::store_flags_unchanged_since(&mb, uids, mode, flags, keywords, unchanged_since)?;
        Ok(r.modified)
    }

    fn expunge(&mut self, mailbox: &str, uids: &[u32]) -> Result<Vec<u32>> {
        self.stale();
        let mb = self.mailbox(mailbox)?;
        Ok(store::expunge(&mb, uids)?)
    }

    fn copy(
        &mut self,
        mailbox: &str,
        dest: &str,
        uids: &[u32],
        remove_source: bool,
    ) -> Result<CopyOutcome> {
        self.stale();
        let src = self.mailbox(mailbox)?;
        let dst = self.mailbox(dest)?;
        // the destination needs an index for the copies' log records;
        // otherwise it is not synced, as in Dovecot
        if !dst.path().join("dovecot.index.log").exists() {
            store::sync(&dst)?;
        }
        let copied = if remove_source {
            store::move_messages(&src, &dst, uids)?
        } else {
            store::copy(&src, &dst, uids)?
        };
        if !copied.dest_uids.is_empty() {
            self.added_to = Some(dest.to_string());
        }
        let uid_validity = match copied.dest_uid_validity {
            0 => MailboxSnapshot::open(&dst)?.uid_validity,
            v => v,
        };
        Ok(CopyOutcome {
            uid_validity,
            source_uids: copied.source_uids,
            dest_uids: copied.dest_uids,
        })
    }

    fn search(&mut self, mailbox: &str, key: &SearchKey, now: i64) -> Result<Vec<u32>> {
        let r = self.reading(mailbox)?;
        let seqs = r.retrying(|r| {
            if uses_save_dates(key) {
                Ok(r.snapshot.search(key, 0, now)?)
            } else {
                // header keys from the cache; what it lacks is read and cached
                Ok(r.cache.search(&mut r.snapshot, key, 0, now)?)
            }
        })?;
        Ok(seqs
            .into_iter()
            .filter_map(|s| r.snapshot.messages.get(s as usize - 1).map(|m| m.uid))
            .collect())
    }

    fn create(&mut self, mailbox: &str) -> Result<()> {
        // IMAP CREATE drops one trailing separator, as Dovecot's does
        let name = mailbox.strip_suffix('/').unwrap_or(mailbox);
        verify_name(name)?;
        if name.eq_ignore_ascii_case("INBOX") {
            return Err(Error::MailboxExists(name.into()));
        }
        self.maildir.create_folder(name).map_err(|e| match e {
            columba_maildir::Error::FolderExists(n) => Error::MailboxExists(n),
            other => Error::Maildir(other),
        })?;
        Ok(())
    }

    fn delete(&mut self, mailbox: &str) -> Result<()> {
        self.forget();
        if mailbox.is_empty() {
            return Err(Error::Refused(
                "[CANNOT] Storage root can't be deleted.".into(),
            ));
        }
        verify_name(mailbox)?;
        if mailbox.eq_ignore_ascii_case("INBOX") {
            return Err(Error::Refused("INBOX can't be deleted.".into()));
        }
        self.maildir.delete_folder(mailbox).map_err(|e| match e {
            columba_maildir::Error::NoSuchFolder(n) => Error::NoSuchMailbox(n),
            other => Error::Maildir(other),
        })
    }

    fn rename(&mut self, from: &str, to: &str) -> Result<()> {
        self.forget();
        verify_name(from)?;
        verify_name(to)?;
        if from.eq_ignore_ascii_case("INBOX") {
            return Err(Error::Refused("Renaming INBOX isn't supported.".into()));
        }
        self.maildir.rename_folder(from, to).map_err(|e| match e {
            columba_maildir::Error::NoSuchFolder(n) => Error::NoSuchMailbox(n),
            columba_maildir::Error::FolderExists(n) => Error::MailboxExists(n),
            other => Error::Maildir(other),
        })
    }

    fn begin_append(
        &mut self,
        mailbox: &str,
        size: u64,
        meta: &AppendMeta,
    ) -> Result<Box<dyn StagingSink>> {
        let mb = self.mailbox(mailbox)?;
        Ok(Box::new(StagedWrite::new(&mb, size, meta)?))
    }

    fn resync(&mut self, mailbox: &str, request: &QresyncRequest) -> Result<Option<Resync>> {
        // SELECT (QRESYNC) asks right after its view: the same snapshot
        // answers while nothing was logged since
        let mb = self.mailbox(mailbox)?;
        if self.unchanged(mailbox, &mb).is_some() {
            return Ok(store::resync(&MailboxSnapshot::open(&mb)?, request)?);
        }
        let (_, snap) = self.snapshot(mailbox, false)?;
        Ok(store::resync(&snap, request)?)
    }

    fn commit_appends(
        &mut self,
        mailbox: &str,
        staged: Vec<StagedAppend>,
    ) -> Result<(u32, Vec<u32>)> {
        let mb = self.mailbox(mailbox)?;
        let committed = append_spool::commit(&mb, staged)?;
        self.added_to = Some(mailbox.to_string());
        Ok(committed)
    }

    fn subscribe(&mut self, mailbox: &str, subscribe: bool) -> Result<()> {
        if subscribe {
            self.maildir.subscribe(mailbox)?;
        } else {
            // Dovecot checks the name on UNSUBSCRIBE only (SUBSCRIBE asks
            // whether the mailbox exists first)
            verify_name(mailbox)?;
            self.maildir.unsubscribe(mailbox)?;
        }
        Ok(())
    }
}

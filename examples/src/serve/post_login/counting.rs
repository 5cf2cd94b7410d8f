//! [`CountingStorage`]: a [`MailStorage`] that counts what the session did
//! to the user's mail, for the `Disconnected:` log line (Dovecot's
//! `deleted=`, `expunged=`, `trashed=`) and the stats counters.

use std::sync::{Arc, Mutex};

use columba_session::storage::{
    AppendMeta, CachedItem, CopyOutcome, ListedMailbox, MailboxView, MessageFlags, QresyncRequest,
    Resync, SearchKey, StagedAppend, StagingSink, StatusInfo, StoreMode,
};
use columba_session::{AppendSink, MailStorage, Result};

/// What a session did, counted as Dovecot counts it for its logout line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MailCounters {
    /// Messages flagged `\Deleted` (`deleted=`).
    pub deleted: u64,
    /// Messages expunged (`expunged=`).
    pub expunged: u64,
    /// Messages copied or moved into the Trash mailbox (`trashed=`).
    pub trashed: u64,
    /// Messages stored by APPEND.
    pub appended: u64,
    /// Message bodies read (FETCH of a body section, RETR, TOP).
    pub messages_read: u64,
    /// Bytes of message bodies read.
    pub bytes_read: u64,
}

/// The counters, shared between the storage (inside the session) and
/// the adapter that logs them.
pub type SharedCounters = Arc<Mutex<MailCounters>>;

/// Wraps a storage and counts.
pub struct CountingStorage<S> {
    inner: S,
    counters: SharedCounters,
    trash: Option<String>,
    /// Where the storage's problems are logged (as warnings), if anywhere.
    log_prefix: Option<String>,
}

impl<S: MailStorage> CountingStorage<S> {
    /// Counts what passes through to `inner`; copies into `trash` (the
    /// mailbox with `special_use = \Trash`) count as trashed.
    pub fn new(inner: S, trash: Option<String>) -> (CountingStorage<S>, SharedCounters) {
        let counters = SharedCounters::default();
        (
            CountingStorage {
                inner,
                counters: counters.clone(),
                trash,
                log_prefix: None,
            },
            counters,
        )
    }

    /// Logs what the storage passed over (files it cannot read) as
    /// warnings under `prefix`, as Dovecot logs them.
    pub fn logging_problems(mut self, prefix: &str) -> CountingStorage<S> {
        self.log_prefix = Some(prefix.to_string());
        self
    }

    /// Writes the storage's new problems to the log.
    fn log_problems(&mut self) {
        let Some(prefix) = &self.log_prefix else {
            return;
        };
        for line in self.inner.take_problems() {
            crate::serve::log::warning(prefix, &line);
        }
    }

    fn count(&self, f: impl FnOnce(&mut MailCounters)) {
        if let Ok(mut c) = self.counters.lock() {
            f(&mut c);
        }
    }
}

impl<S: MailStorage> MailStorage for CountingStorage<S> {
    fn list(
        &mut self,
        reference: &str,
        pattern: &str,
        subscribed_only: bool,
    ) -> Result<Vec<ListedMailbox>> {
        self.inner.list(reference, pattern, subscribed_only)
    }

    fn view(&mut self, mailbox: &str, claim_recent: bool) -> Result<MailboxView> {
        let view = self.inner.view(mailbox, claim_recent);
        self.log_problems();
        view
    }

    fn sync_view(
        &mut self,
        mailbox: &str,
        kind: columba_session::SyncKind,
        claim_recent: bool,
    ) -> Result<Option<MailboxView>> {
        let view = self.inner.sync_view(mailbox, kind, claim_recent);
        self.log_problems();
        view
    }

    fn sync_changes(
        &mut self,
        mailbox: &str,
        kind: columba_session::SyncKind,
        claim_recent: bool,
    ) -> Result<Option<columba_session::ViewSync>> {
        let sync = self.inner.sync_changes(mailbox, kind, claim_recent);
        self.log_problems();
        sync
    }

    fn reselect(&mut self, mailbox: &str, claim_recent: bool) -> Result<Option<MailboxView>> {
        let view = self.inner.reselect(mailbox, claim_recent);
        self.log_problems();
        view
    }

    fn take_problems(&mut self) -> Vec<String> {
        self.inner.take_problems()
    }

    fn status(&mut self, mailbox: &str, want_size: bool) -> Result<StatusInfo> {
        self.inner.status(mailbox, want_size)
    }

    fn message(&mut self, mailbox: &str, uid: u32) -> Result<(Vec<u8>, i64)> {
        let r = self.inner.message(mailbox, uid)?;
        let n = r.0.len() as u64;
        self.count(|c| {
            c.messages_read += 1;
            c.bytes_read += n;
        });
        Ok(r)
    }

    fn append(
        &mut self,
        mailbox: &str,
        data: &[u8],
        flags: MessageFlags,
        keywords: &[String],
        internal_date: Option<i64>,
    ) -> Result<(u32, u32)> {
        let r = self
            .inner
            .append(mailbox, data, flags, keywords, internal_date)?;
        self.count(|c| c.appended += 1);
        Ok(r)
    }

    fn append_sink(&mut self, mailbox: &str, size: u64) -> Result<Box<dyn AppendSink>> {
        let sink = self.inner.append_sink(mailbox, size)?;
        Ok(Box::new(CountingSink {
            inner: sink,
            counters: self.counters.clone(),
        }))
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
        let unchanged = self
            .inner
            .store(mailbox, uids, mode, flags, keywords, unchanged_since)?;
        if flags.deleted && matches!(mode, StoreMode::Add | StoreMode::Replace) {
            let n = uids.len().saturating_sub(unchanged.len()) as u64;
            self.count(|c| c.deleted += n);
        }
        Ok(unchanged)
    }

    fn expunge(&mut self, mailbox: &str, uids: &[u32]) -> Result<Vec<u32>> {
        let removed = self.inner.expunge(mailbox, uids)?;
        let n = removed.len() as u64;
        self.count(|c| c.expunged += n);
        Ok(removed)
    }

    fn copy(
        &mut self,
        mailbox: &str,
        dest: &str,
        uids: &[u32],
        remove_source: bool,
    ) -> Result<CopyOutcome> {
        let outcome = self.inner.copy(mailbox, dest, uids, remove_source)?;
        let n = outcome.dest_uids.len() as u64;
        if self.trash.as_deref() == Some(dest) {
            self.count(|c| c.trashed += n);
        }
        if remove_source {
            // a MOVE expunges the source messages
            self.count(|c| c.expunged += n);
        }
        Ok(outcome)
    }

    fn search(&mut self, mailbox: &str, key: &SearchKey, now: i64) -> Result<Vec<u32>> {
        self.inner.search(mailbox, key, now)
    }

    fn create(&mut self, mailbox: &str) -> Result<()> {
        self.inner.create(mailbox)
    }

    fn delete(&mut self, mailbox: &str) -> Result<()> {
        self.inner.delete(mailbox)
    }

    fn rename(&mut self, from: &str, to: &str) -> Result<()> {
        self.inner.rename(from, to)
    }

    fn subscribe(&mut self, mailbox: &str, subscribe: bool) -> Result<()> {
        self.inner.subscribe(mailbox, subscribe)
    }

    // Every optional method is forwarded too: the trait's defaults would
    // silently turn off the cache, SAVEDATE, QRESYNC resync and atomic
    // MULTIAPPEND of the storage underneath.

    fn resync(&mut self, mailbox: &str, request: &QresyncRequest) -> Result<Option<Resync>> {
        self.inner.resync(mailbox, request)
    }

    fn cached_item(
        &mut self,
        mailbox: &str,
        uid: u32,
        item: &CachedItem,
    ) -> Result<Option<Vec<u8>>> {
        self.inner.cached_item(mailbox, uid, item)
    }

    fn internal_date(&mut self, mailbox: &str, uid: u32) -> Result<Option<i64>> {
        self.inner.internal_date(mailbox, uid)
    }

    fn save_date(&mut self, mailbox: &str, uid: u32) -> Result<Option<i64>> {
        self.inner.save_date(mailbox, uid)
    }

    fn supports_save_date(&self) -> bool {
        self.inner.supports_save_date()
    }

    fn command_done(&mut self) -> Result<()> {
        self.inner.command_done()
    }

    fn begin_append(
        &mut self,
        mailbox: &str,
        size: u64,
        meta: &AppendMeta,
    ) -> Result<Box<dyn StagingSink>> {
        self.inner.begin_append(mailbox, size, meta)
    }

    fn commit_appends(
        &mut self,
        mailbox: &str,
        staged: Vec<StagedAppend>,
    ) -> Result<(u32, Vec<u32>)> {
        let r = self.inner.commit_appends(mailbox, staged)?;
        let n = r.1.len() as u64;
        self.count(|c| c.appended += n);
        Ok(r)
    }
}

struct CountingSink {
    inner: Box<dyn AppendSink>,
    counters: SharedCounters,
}

impl AppendSink for CountingSink {
    fn write(&mut self, chunk: &[u8]) -> Result<()> {
        self.inner.write(chunk)
    }

    fn finish(
        self: Box<Self>,
        flags: MessageFlags,
        keywords: &[String],
        internal_date: Option<i64>,
    ) -> Result<(u32, u32)> {
        let r = self.inner.finish(flags, keywords, internal_date)?;
        if let Ok(mut c) = self.counters.lock() {
            c.appended += 1;
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use columba_session::MaildirStorage;

    #[test]
    fn deletes_expunges_and_trash_copies_are_counted() {
        let dir = tempfile::tempdir().unwrap();
        let inner = MaildirStorage::open(&dir.path().join("Maildir")).unwrap();
        let (mut s, counters) = CountingStorage::new(inner, Some("Trash".into()));
        s.create("Trash").unwrap();
        let mut uids = Vec::new();
        for i in 0..3 {
            let msg = format!("Subject: {i}\r\n\r\nbody {i}\r\n");
            let (_, uid) = s
                .append("INBOX", msg.as_bytes(), MessageFlags::default(), &[], None)
                .unwrap();
            uids.push(uid);
        }
        s.copy("INBOX", "Trash", &uids[..1], false).unwrap();
        let deleted = MessageFlags {
            deleted: true,
            ..MessageFlags::default()
        };
        s.store("INBOX", &uids[..2], StoreMode::Add, deleted, &[], None)
            .unwrap();
        s.expunge("INBOX", &uids[..2]).unwrap();
        let (body, _) = s.message("INBOX", uids[2]).unwrap();
        let c = *counters.lock().unwrap();
        assert_eq!(
            c,
            MailCounters {
                deleted: 2,
                expunged: 2,
                trashed: 1,
                appended: 3,
                messages_read: 1,
                bytes_read: body.len() as u64,
            }
        );
    }

    #[test]
    fn what_the_storage_underneath_can_do_stays_visible() {
        let dir = tempfile::tempdir().unwrap();
        let inner = MaildirStorage::open(&dir.path().join("Maildir")).unwrap();
        assert!(inner.supports_save_date());
        let (mut s, counters) = CountingStorage::new(inner, None);
        assert!(s.supports_save_date(), "SAVEDATE must reach the session");
        let meta = AppendMeta::default();
        let mut staged = Vec::new();
        for i in 0..2 {
            let mut sink = s.begin_append("INBOX", 7, &meta).unwrap();
            sink.write(format!("m{i}\r\n\r\nx").as_bytes()).unwrap();
            staged.push(sink.finish().unwrap());
        }
        let (_, uids) = s.commit_appends("INBOX", staged).unwrap();
        assert_eq!(uids.len(), 2);
        assert_eq!(counters.lock().unwrap().appended, 2);
        assert!(s.save_date("INBOX", uids[0]).unwrap().is_some());
        s.command_done().unwrap();
    }
}

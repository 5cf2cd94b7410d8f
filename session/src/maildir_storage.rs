//! [`MaildirStorage`]: [`MailStorage`] over `columba-mail-store` on a
//! Maildir++ root laid out as Dovecot lays it out.

use std::path::Path;

use columba_mail_store::list::SpecialUse;
use columba_mail_store::store::{self, MailboxSnapshot};
use columba_maildir::{Mailbox, Maildir};

use crate::append_spool::{self, SpooledAppend, StagedWrite};
use crate::error::{Error, Result};
use crate::storage::{
    AppendMeta, AppendSink, CopyOutcome, ListedMailbox, MailStorage, MailboxView, MessageFlags,
    MessageMeta, QresyncRequest, Resync, SearchKey, StagedAppend, StagingSink, StatusInfo,
    StoreMode,
};

/// One user's Maildir++ root (`maildir:~/Maildir`).
#[derive(Debug)]
pub struct MaildirStorage {
    maildir: Maildir,
    special_use: Vec<(String, SpecialUse)>,
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
        })
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
        let (_, snap) = self.snapshot(mailbox, claim_recent)?;
        Ok(MailboxView {
            messages: snap
                .messages
                .iter()
                .map(|m| MessageMeta {
                    uid: m.uid,
                    flags: m.flags,
                    keywords: m.keywords.clone(),
                    modseq: m.modseq,
                })
                .collect(),
            uid_next: snap.uid_next,
            uid_validity: snap.uid_validity,
            highest_modseq: snap.highest_modseq,
        })
    }

    fn status(&mut self, mailbox: &str, want_size: bool) -> Result<StatusInfo> {
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
        let mailbox = self.mailbox(mailbox)?;
        let mut snap = MailboxSnapshot::open(&mailbox)?;
        snap.resolve_files()?;
        let m = snap
            .messages
            .iter()
            .find(|m| m.uid == uid)
            .ok_or_else(|| Error::Refused(format!("uid {uid} is expunged")))?;
        Ok((m.read()?, m.internal_date()?))
    }

    fn append(
        &mut self,
        mailbox: &str,
        data: &[u8],
        flags: MessageFlags,
        keywords: &[String],
        internal_date: Option<i64>,
    ) -> Result<(u32, u32)> {
        let mb = self.mailbox(mailbox)?;
        // the index must exist so the message gets a log record at once
        store::sync(&mb)?;
        let appended = store::append(&mb, data, flags, keywords, internal_date)?;
        let validity = MailboxSnapshot::open(&mb)?.uid_validity;
        Ok((validity, appended.uid))
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
        let mb = self.mailbox(mailbox)?;
        let r =
            store::store_flags_unchanged_since(&mb, uids, mode, flags, keywords, unchanged_since)?;
        Ok(r.modified)
    }

    fn expunge(&mut self, mailbox: &str, uids: &[u32]) -> Result<Vec<u32>> {
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
        let src = self.mailbox(mailbox)?;
        let dst = self.mailbox(dest)?;
        store::sync(&dst)?;
        let copied = if remove_source {
            store::move_messages(&src, &dst, uids)?
        } else {
            store::copy(&src, &dst, uids)?
        };
        Ok(CopyOutcome {
            uid_validity: MailboxSnapshot::open(&dst)?.uid_validity,
            source_uids: copied.source_uids,
            dest_uids: copied.dest_uids,
        })
    }

    fn search(&mut self, mailbox: &str, key: &SearchKey, now: i64) -> Result<Vec<u32>> {
        let mb = self.mailbox(mailbox)?;
        let mut snap = MailboxSnapshot::open(&mb)?;
        let seqs = snap.search(key, 0, now)?;
        Ok(seqs
            .into_iter()
            .filter_map(|s| snap.messages.get(s as usize - 1).map(|m| m.uid))
            .collect())
    }

    fn create(&mut self, mailbox: &str) -> Result<()> {
        let name = mailbox.trim_end_matches('/');
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
        if mailbox.eq_ignore_ascii_case("INBOX") {
            return Err(Error::Refused("INBOX can't be deleted.".into()));
        }
        self.maildir.delete_folder(mailbox).map_err(|e| match e {
            columba_maildir::Error::NoSuchFolder(n) => Error::NoSuchMailbox(n),
            other => Error::Maildir(other),
        })
    }

    fn rename(&mut self, from: &str, to: &str) -> Result<()> {
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
        let (_, snap) = self.snapshot(mailbox, false)?;
        Ok(store::resync(&snap, request)?)
    }

    fn commit_appends(
        &mut self,
        mailbox: &str,
        staged: Vec<StagedAppend>,
    ) -> Result<(u32, Vec<u32>)> {
        let mb = self.mailbox(mailbox)?;
        append_spool::commit(&mb, staged)
    }

    fn subscribe(&mut self, mailbox: &str, subscribe: bool) -> Result<()> {
        if subscribe {
            self.maildir.subscribe(mailbox)?;
        } else {
            self.maildir.unsubscribe(mailbox)?;
        }
        Ok(())
    }
}

//! [`MailboxSnapshot`]: one mailbox's state read from the Maildir and the index.

use std::path::{Path, PathBuf};

use columba_mail_index::{
    IndexDir, IndexHeader, IndexMap, View, FLAG_ANSWERED, FLAG_DELETED, FLAG_DRAFT, FLAG_FLAGGED,
    FLAG_SEEN,
};
use columba_maildir::{Flags, Mailbox};

use crate::error::{Error, Result};
use crate::message::Message;
use crate::search::{
    match_index, match_message, needs_body, needs_message, MessageFlags, MessageInfo,
    SearchContext, SearchKey,
};

/// Offset of `first_recent_uid` in Dovecot's index base header.
const FIRST_RECENT_UID_OFFSET: u16 = 48;

/// One message of the view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotMessage {
    /// Sequence number.
    pub seq: u32,
    /// UID.
    pub uid: u32,
    /// System flags, `\Recent` included.
    pub flags: MessageFlags,
    /// Keywords, in the index's keyword order.
    pub keywords: Vec<String>,
    /// MODSEQ.
    pub modseq: u64,
    /// The message file: as found by a listing, or (for a view of the
    /// index, [`MailboxSnapshot::resolve_files`]) as its uidlist record and
    /// index flags name it, which another process may have renamed since.
    /// [`SnapshotMessage::locate`] gives the file as it is named now.
    /// `None`: the message has no file.
    pub path: Option<PathBuf>,
    /// RFC822.SIZE from the file name or uidlist (`W=`), if known.
    pub vsize: Option<u64>,
    /// SAVEDATE (Unix seconds), once looked up
    /// ([`MailboxSnapshot::resolve_save_dates`]).
    pub save_date: Option<i64>,
}

impl SnapshotMessage {
    /// The FLAGS list as Dovecot writes it: system flags in the order
    /// \Answered \Flagged \Deleted \Seen \Draft \Recent, then keywords.
    pub fn flags_imap(&self) -> String {
        let f = self.flags;
        let mut parts: Vec<&str> = Vec::new();
        for (set, name) in [
            (f.answered, "\\Answered"),
            (f.flagged, "\\Flagged"),
            (f.deleted, "\\Deleted"),
            (f.seen, "\\Seen"),
            (f.draft, "\\Draft"),
            (f.recent, "\\Recent"),
        ] {
            if set {
                parts.push(name);
            }
        }
        parts.extend(self.keywords.iter().map(String::as_str));
        format!("({})", parts.join(" "))
    }

    /// The message's file as it is named now: [`SnapshotMessage::path`]
    /// if it is still there, else the file with the same base name in
    /// `cur/` or `new/` (another process changed its flags, or moved it out
    /// of `new/`, since the path was found or guessed); `None` when the
    /// message has no file any more.
    pub fn locate(&self) -> Option<PathBuf> {
        let path = self.path.as_ref()?;
        if path.exists() {
            return Some(path.clone());
        }
        relocate(path)
    }

    /// Names the message's file as its uidlist record and index flags give
    /// it: in `new/` under the name `in_new` finds for its base name, else
    /// in `cur/`; RFC822.SIZE from the name's `W=` or the record. A UID the
    /// uidlist does not know keeps `path: None`.
    fn name_file(
        &mut self,
        hints: &super::file_hint::FileHints,
        dir: &Path,
        in_new: impl FnOnce(&str) -> Option<std::ffi::OsString>,
    ) {
        let keywords: Vec<&str> = self.keywords.iter().map(String::as_str).collect();
        let bits = super::append::index_flags(self.flags);
        let Some(name) = hints.expected(self.uid, bits, &keywords) else {
            return;
        };
        self.path = Some(match in_new(name.base()) {
            Some(found) => dir.join("new").join(found),
            None => dir.join("cur").join(name.as_str()),
        });
        self.vsize = name
            .vsize()
            .or_else(|| hints.recorded_vsize(self.uid))
            .filter(|&v| v > 0);
    }

    /// The current file, or the error a message without one gives.
    fn located(&self) -> Result<PathBuf> {
        self.locate().ok_or_else(|| Error::MessageFile {
            path: self.path.clone().unwrap_or_default(),
            reason: format!("uid {} has no file", self.uid),
        })
    }

    /// INTERNALDATE (the file's mtime) as Unix seconds.
    pub fn internal_date(&self) -> Result<i64> {
        let (path, meta) = match self.path.as_ref().map(std::fs::metadata) {
            Some(Ok(meta)) => (self.path.clone().unwrap_or_default(), meta),
            // renamed since (or never named): found by its base name
            _ => {
                let path = self.located()?;
                let meta = std::fs::metadata(&path).map_err(|e| file_error(&path, e))?;
                (path, meta)
            }
        };
        let path = &path;
        let mtime = meta.modified().map_err(|e| file_error(path, e))?;
        Ok(match mtime.duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => d.as_secs() as i64,
            Err(e) => -(e.duration().as_secs() as i64),
        })
    }

    /// The message bytes.
    pub fn read(&self) -> Result<Vec<u8>> {
        if let Some(path) = &self.path {
            match std::fs::read(path) {
                Ok(data) => return Ok(data),
                // renamed since: found again by its base name below
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(file_error(path, e)),
            }
        }
        let path = &self.located()?;
        std::fs::read(path).map_err(|e| file_error(path, e))
    }

    /// RFC822.SIZE: from the file name when it carries `W=`, else computed.
    pub fn rfc822_size(&self) -> Result<u64> {
        match self.vsize {
            Some(v) => Ok(v),
            None => Ok(Message::parse(&self.read()?).rfc822_size()),
        }
    }
}

/// The files of `dir`'s `new/`, by base name.
fn names_in_new(dir: &Path) -> Result<std::collections::HashMap<String, std::ffi::OsString>> {
    let new_dir = dir.join("new");
    let entries = match std::fs::read_dir(&new_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Default::default()),
        Err(e) => return Err(file_error(&new_dir, e)),
    };
    let mut names = std::collections::HashMap::new();
    for entry in entries {
        let name = entry.map_err(|e| file_error(&new_dir, e))?.file_name();
        if let Some(base) = name.to_str().and_then(|n| n.split(':').next()) {
            names.insert(base.to_string(), name.clone());
        }
    }
    Ok(names)
}

/// The file in `cur/` or `new/` (next to `stale`'s directory) with
/// `stale`'s base name, if any: a look-up by directory listing, for a name
/// that went stale.
fn relocate(stale: &Path) -> Option<PathBuf> {
    let name = stale.file_name()?.to_str()?;
    let base = name.split(':').next()?;
    let dir = stale.parent()?.parent()?;
    for sub in ["cur", "new"] {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for entry in entries.flatten() {
            let file_name = entry.file_name();
            let Some(n) = file_name.to_str() else {
                continue;
            };
            if n.split(':').next() == Some(base) {
                return Some(entry.path());
            }
        }
    }
    None
}

fn file_error(path: &Path, e: std::io::Error) -> Error {
    Error::MessageFile {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// STATUS items of a mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// MESSAGES.
    pub messages: u32,
    /// RECENT.
    pub recent: u32,
    /// UNSEEN (count).
    pub unseen: u32,
    /// Sequence of the first unseen message (SELECT's `[UNSEEN n]`).
    pub first_unseen: Option<u32>,
    /// UIDNEXT.
    pub uid_next: u32,
    /// UIDVALIDITY.
    pub uid_validity: u32,
    /// HIGHESTMODSEQ.
    pub highest_modseq: u64,
}

/// A position in a mailbox's transaction log: the log file's sequence
/// number and a byte offset in it (Dovecot's `log_file_head_seq` and
/// `log_file_head_offset` of a synced view).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LogPosition {
    /// `file_seq` of the log file.
    pub file_seq: u32,
    /// Byte offset just past the last record the view has applied.
    pub offset: u32,
}

/// A mailbox as Dovecot's index and the Maildir show it, read-only.
#[derive(Debug, Clone)]
pub struct MailboxSnapshot {
    /// Messages in sequence order.
    pub messages: Vec<SnapshotMessage>,
    /// UIDNEXT.
    pub uid_next: u32,
    /// UIDVALIDITY.
    pub uid_validity: u32,
    /// HIGHESTMODSEQ.
    pub highest_modseq: u64,
    /// Where in the transaction log this view is synced to: changes at or
    /// after this position are not in the view yet (see
    /// [`super::resync()`]). `None` without an index.
    pub log_position: Option<LogPosition>,
    /// Whether the index keeps a modseq per message (the `modseq`
    /// extension, [`super::enable_modseqs`]); without it every message's
    /// modseq is HIGHESTMODSEQ.
    pub modseq_tracking: bool,
    mailbox: Mailbox,
    files_resolved: bool,
    /// The cached `date.save` values were filled in.
    pub(super) cached_save_dates_read: bool,
    /// The index map the messages were read from (its records shared, not
    /// copied), for [`MailboxSnapshot::refresh`] to find what changed.
    base: Option<IndexMap>,
}

pub(super) fn flags_from_index(bits: u8) -> MessageFlags {
    MessageFlags {
        answered: bits & FLAG_ANSWERED != 0,
        flagged: bits & FLAG_FLAGGED != 0,
        deleted: bits & FLAG_DELETED != 0,
        seen: bits & FLAG_SEEN != 0,
        draft: bits & FLAG_DRAFT != 0,
        recent: false,
    }
}

fn flags_from_file(f: Flags) -> MessageFlags {
    MessageFlags {
        answered: f.contains(Flags::ANSWERED),
        flagged: f.contains(Flags::FLAGGED),
        deleted: f.contains(Flags::DELETED),
        seen: f.contains(Flags::SEEN),
        draft: f.contains(Flags::DRAFT),
        recent: false,
    }
}

impl MailboxSnapshot {
    /// Reads the mailbox. With an index (Dovecot has opened the mailbox),
    /// the index decides which messages exist and their flags, keywords
    /// and modseqs, and `\Recent` is every UID from the index's
    /// `first_recent_uid` on; without one, the uidlist and file names do and
    /// nothing is recent.
    ///
    /// With an index, message files are not looked up until something needs
    /// them ([`MailboxSnapshot::resolve_files`]; SEARCH does it when a key
    /// needs sizes, dates or content), so opening and reading flags costs
    /// only the index.
    pub fn open(mailbox: &Mailbox) -> Result<MailboxSnapshot> {
        open_view_of(mailbox)
    }

    /// The snapshot a view of the index shows.
    fn from_view(mailbox: &Mailbox, view: &View) -> Result<MailboxSnapshot> {
        let first_recent = view.header().first_recent_uid;
        let messages = view
            .messages()
            .map(|m| {
                let mut flags = flags_from_index(m.flags);
                flags.recent = first_recent != 0 && m.uid >= first_recent;
                SnapshotMessage {
                    seq: m.seq,
                    uid: m.uid,
                    flags,
                    keywords: m.keywords.iter().map(|k| k.to_string()).collect(),
                    modseq: m.modseq,
                    path: None,
                    vsize: None,
                    save_date: None,
                }
            })
            .collect();
        let c = ViewCounters::of(mailbox, view)?;
        Ok(MailboxSnapshot {
            messages,
            uid_next: c.uid_next,
            uid_validity: c.uid_validity,
            highest_modseq: c.highest_modseq,
            log_position: Some(c.log_position),
            modseq_tracking: c.modseq_tracking,
            mailbox: mailbox.clone(),
            files_resolved: false,
            cached_save_dates_read: false,
            base: Some(view.map().clone()),
        })
    }

    /// Reads the index again and brings this snapshot up to it, as
    /// [`MailboxSnapshot::open`] would, touching only the messages whose
    /// index records changed: after a flag change of one message of
    /// 100,000, one entry is updated (and its file named again when it is
    /// needed) instead of all 100,000 being read anew. When messages came
    /// or went, or the index's layout changed, the snapshot is read anew.
    pub fn refresh(&mut self) -> Result<()> {
        let dir = self.mailbox.path();
        let turn = super::index_io::guard(dir);
        let view = IndexDir::new(dir).open_view_without_cache();
        drop(turn);
        let (Ok(view), Some(base)) = (view, self.base.as_ref()) else {
            *self = MailboxSnapshot::open(&self.mailbox)?;
            return Ok(());
        };
        let c = ViewCounters::of(&self.mailbox, &view)?;
        let map = view.map();
        let changed = match map.changed_positions(base) {
            // without per-message modseqs every modseq is HIGHESTMODSEQ,
            // which any change moves
            Some(changed) if c.modseq_tracking && self.modseq_tracking => changed,
            _ => {
                *self = MailboxSnapshot::from_view(&self.mailbox, &view)?;
                return Ok(());
            }
        };
        if changed
            .iter()
            .any(|&i| self.messages.get(i).is_none_or(|m| m.uid != map.uid_at(i)))
        {
            *self = MailboxSnapshot::from_view(&self.mailbox, &view)?;
            return Ok(());
        }
        let first_recent = view.header().first_recent_uid;
        let recent_moved = base.header.first_recent_uid != first_recent;
        let highest = view.highest_modseq.max(1);
        for i in changed {
            let m = &mut self.messages[i];
            let mut flags = flags_from_index(map.flags_at(i));
            flags.recent = m.flags.recent;
            let keywords: Vec<String> = map.keywords_at(i).iter().map(|k| k.to_string()).collect();
            if flags != m.flags || keywords != m.keywords {
                // the file was renamed: named again when it is needed
                m.path = None;
                m.save_date = None;
                self.files_resolved = false;
                self.cached_save_dates_read = false;
            }
            m.flags = flags;
            m.keywords = keywords;
            m.modseq = match map.modseq_at(i) {
                Some(v) if v != 0 => v,
                _ => highest,
            };
        }
        if recent_moved {
            for m in &mut self.messages {
                m.flags.recent = first_recent != 0 && m.uid >= first_recent;
            }
        }
        self.uid_next = c.uid_next;
        self.uid_validity = c.uid_validity;
        self.highest_modseq = c.highest_modseq;
        self.log_position = Some(c.log_position);
        self.base = Some(map.clone());
        Ok(())
    }

    /// Opens the mailbox as SELECT does: the messages not yet claimed by any
    /// session (UID at or above the index's `first_recent_uid`) are
    /// `\Recent` in this view and are claimed, so no other session (Dovecot's
    /// or Columba's) sees them as recent again. The claim is a header update
    /// committed through the log under its lock.
    ///
    /// Per-message modseqs are turned on in the index if they were not yet
    /// ([`super::enable_modseqs`]), so later changes raise only the
    /// messages they touch.
    ///
    /// As in Dovecot's read-write sync that drops `\Recent`, the files of
    /// `new/` are moved into `cur/` (same base names, `:2,` added), so a
    /// later flag change renames them inside `cur/`; `new/` is read only
    /// when it changed since this process last found it settled.
    ///
    /// When modseqs are on and no message waits to be claimed, nothing is
    /// written and the log lock is not taken: the index is read once.
    pub fn open_select(mailbox: &Mailbox) -> Result<MailboxSnapshot> {
        open_select_view_of(mailbox)
    }

    /// Names each message's file without listing `cur/`, as Dovecot's
    /// Maildir guesses a file name: the base name from its
    /// `dovecot-uidlist` record with the flags and keywords the index
    /// holds, in `cur/`; only `new/` (empty once a SELECT moved its files
    /// into `cur/`) is listed, for the messages still there.
    /// RFC822.SIZE comes from the name's `W=` or the record. A guess can
    /// be stale (another process renamed the file): the readers
    /// ([`SnapshotMessage::read`], [`SnapshotMessage::locate`]) then find
    /// the file by its base name. Messages the uidlist does not know keep
    /// `path: None` (their file is gone).
    pub fn resolve_files(&mut self) -> Result<()> {
        if self.files_resolved {
            return Ok(());
        }
        let hints = super::file_hint::FileHints::read(&self.mailbox)?;
        let dir = self.mailbox.path();
        let in_new = names_in_new(dir)?;
        for m in &mut self.messages {
            m.name_file(&hints, dir, |base| in_new.get(base).cloned());
        }
        self.files_resolved = true;
        Ok(())
    }

    /// [`MailboxSnapshot::resolve_files`] for the message with sequence
    /// number `seq` alone, for a command that reads one message of a big
    /// mailbox: its file is named from its uidlist record and index flags
    /// (or found in `new/`), and no other message is looked at.
    pub fn resolve_file(&mut self, seq: u32) -> Result<()> {
        if self.files_resolved {
            return Ok(());
        }
        let Some(i) = (seq as usize)
            .checked_sub(1)
            .filter(|&i| i < self.messages.len())
        else {
            return Ok(());
        };
        if self.messages[i].path.is_some() {
            return Ok(());
        }
        let hints = super::file_hint::FileHints::read(&self.mailbox)?;
        let dir = self.mailbox.path();
        // still in new/ (under its base name, as delivered)?
        self.messages[i].name_file(&hints, dir, |base| {
            let name = std::ffi::OsString::from(base);
            dir.join("new").join(&name).exists().then_some(name)
        });
        Ok(())
    }

    /// [`MailboxSnapshot::resolve_files`] by a listing of `cur/` and
    /// `new/`: every path is one that existed during the scan.
    pub fn resolve_files_by_listing(&mut self) -> Result<()> {
        let listing = self.mailbox.list()?;
        let dir = self.mailbox.path();
        let by_uid: std::collections::HashMap<u32, &columba_maildir::MessageEntry> = listing
            .messages
            .iter()
            .filter_map(|m| Some((m.uid?, m)))
            .collect();
        for m in &mut self.messages {
            if let Some(e) = by_uid.get(&m.uid) {
                m.path = Some(
                    dir.join(if e.in_new { "new" } else { "cur" })
                        .join(e.file_name.as_str()),
                );
                m.vsize = Some(e.vsize).filter(|&v| v > 0);
            }
        }
        self.files_resolved = true;
        Ok(())
    }

    pub(super) fn open_without_index(mailbox: &Mailbox) -> Result<MailboxSnapshot> {
        let listing = mailbox.list()?;
        let mut by_uid: std::collections::HashMap<u32, &columba_maildir::MessageEntry> =
            std::collections::HashMap::new();
        for m in &listing.messages {
            if let Some(uid) = m.uid {
                by_uid.insert(uid, m);
            }
        }
        let dir = mailbox.path();
        let file_path = |m: &columba_maildir::MessageEntry| {
            dir.join(if m.in_new { "new" } else { "cur" })
                .join(m.file_name.as_str())
        };
        let mut entries: Vec<&columba_maildir::MessageEntry> = listing
            .messages
            .iter()
            .filter(|m| m.uid.is_some())
            .collect();
        entries.sort_by_key(|m| m.uid);
        let messages = entries
            .iter()
            .enumerate()
            .map(|(i, e)| SnapshotMessage {
                seq: i as u32 + 1,
                uid: e.uid.unwrap_or(0),
                flags: flags_from_file(e.flags),
                keywords: e.keywords.clone(),
                modseq: 1,
                path: Some(file_path(e)),
                vsize: Some(e.vsize).filter(|&v| v > 0),
                save_date: None,
            })
            .collect();
        Ok(MailboxSnapshot {
            messages,
            uid_next: listing.next_uid.max(1),
            uid_validity: listing.uid_validity.unwrap_or(0),
            highest_modseq: 1,
            log_position: None,
            modseq_tracking: false,
            mailbox: mailbox.clone(),
            files_resolved: true,
            cached_save_dates_read: false,
            base: None,
        })
    }

    /// The mailbox this view shows.
    pub fn mailbox(&self) -> &Mailbox {
        &self.mailbox
    }

    /// STATUS SIZE: the sum of the messages' RFC822.SIZE (from the file
    /// names where they carry it).
    pub fn total_size(&mut self) -> Result<u64> {
        self.resolve_files()?;
        let mut total = 0;
        for m in &self.messages {
            match m.vsize {
                Some(v) if m.path.is_some() => total += v,
                _ if m.locate().is_some() => total += m.rfc822_size()?,
                _ => {}
            }
        }
        Ok(total)
    }

    /// STATUS / SELECT counts.
    pub fn status(&self) -> Status {
        let unseen: Vec<&SnapshotMessage> =
            self.messages.iter().filter(|m| !m.flags.seen).collect();
        Status {
            messages: self.messages.len() as u32,
            recent: self.messages.iter().filter(|m| m.flags.recent).count() as u32,
            unseen: unseen.len() as u32,
            first_unseen: unseen.first().map(|m| m.seq),
            uid_next: self.uid_next,
            uid_validity: self.uid_validity,
            highest_modseq: self.highest_modseq,
        }
    }

    /// SEARCH: the sequence numbers of matching messages. Keys the index
    /// answers (flags, keywords, sets, modseq) are decided without touching
    /// files; sizes and dates read the file name or metadata; header and
    /// body keys read the message.
    pub fn search(&mut self, key: &SearchKey, tz_offset_secs: i64, now: i64) -> Result<Vec<u32>> {
        let needs_meta = needs_metadata(key);
        if needs_meta || needs_message(key) {
            self.resolve_files()?;
        }
        if needs_save_date(key) {
            self.resolve_save_dates()?;
        }
        let headers_only = !needs_body(key);
        let ctx = SearchContext {
            max_seq: self.messages.len() as u32,
            max_uid: self.messages.last().map_or(0, |m| m.uid),
            tz_offset_secs,
            now,
        };
        let mut out = Vec::new();
        for m in &self.messages {
            let mut info = MessageInfo {
                seq: m.seq,
                uid: m.uid,
                flags: m.flags,
                keywords: m.keywords.clone(),
                modseq: m.modseq,
                save_date: m.save_date,
                ..MessageInfo::default()
            };
            let located = if needs_meta || needs_message(key) {
                m.locate()
            } else {
                None
            };
            if needs_meta && located.is_some() {
                info.internal_date = m.internal_date()?;
                info.rfc822_size = m.rfc822_size()?;
            }
            let hit = match match_index(key, &info, &ctx) {
                Some(answer) => answer,
                None => match &located {
                    Some(path) => {
                        // header keys read up to the blank line only
                        let data = if headers_only {
                            super::cached_search::read_header(path)
                                .map_err(|e| file_error(path, e))?
                        } else {
                            m.read()?
                        };
                        let msg = if headers_only {
                            Message::parse_header(&data)
                        } else {
                            Message::parse(&data)
                        };
                        match_message(key, &info, &ctx, &msg)
                    }
                    None => false,
                },
            };
            if hit {
                out.push(m.seq);
            }
        }
        Ok(out)
    }
}

impl FromIndexView for MailboxSnapshot {
    fn from_view(mailbox: &Mailbox, view: View) -> Result<Self> {
        MailboxSnapshot::from_view(mailbox, &view)
    }

    fn without_index(mailbox: &Mailbox) -> Result<Self> {
        MailboxSnapshot::open_without_index(mailbox)
    }
}

/// A read-only state of a mailbox made from one view of its index
/// ([`MailboxSnapshot`], [`super::FlagsSnapshot`]).
pub(super) trait FromIndexView: Sized {
    /// The state `view` shows.
    fn from_view(mailbox: &Mailbox, view: View) -> Result<Self>;
    /// The state of a mailbox that has no index files yet.
    fn without_index(mailbox: &Mailbox) -> Result<Self>;
}

/// What every state read from a view of the index carries besides its
/// messages.
pub(super) struct ViewCounters {
    /// UIDNEXT.
    pub uid_next: u32,
    /// UIDVALIDITY.
    pub uid_validity: u32,
    /// HIGHESTMODSEQ (at least 1).
    pub highest_modseq: u64,
    /// Where in the log the view is synced to.
    pub log_position: LogPosition,
    /// Whether the index keeps a modseq per message.
    pub modseq_tracking: bool,
}

impl ViewCounters {
    /// The counters of `view`; UIDNEXT and UIDVALIDITY from the uidlist
    /// where an index that never synced a message does not carry them yet.
    pub fn of(mailbox: &Mailbox, view: &View) -> Result<ViewCounters> {
        let (uid_next, uid_validity) = uid_counters(mailbox, view.header())?;
        Ok(ViewCounters {
            uid_next,
            uid_validity,
            highest_modseq: view.highest_modseq.max(1),
            log_position: LogPosition {
                file_seq: view.header().log_file_seq,
                offset: view.header().log_file_head_offset,
            },
            modseq_tracking: super::modseq::tracks_modseqs(view),
        })
    }
}

/// UIDNEXT and UIDVALIDITY of an index header, taken from the uidlist
/// where an index that never synced a message does not carry them yet.
pub(super) fn uid_counters(mailbox: &Mailbox, header: &IndexHeader) -> Result<(u32, u32)> {
    let (mut uid_next, mut uid_validity) = (header.next_uid, header.uid_validity);
    if uid_next == 0 || uid_validity == 0 {
        let listing = mailbox.list()?;
        if uid_next == 0 {
            uid_next = listing.next_uid.max(1);
        }
        if uid_validity == 0 {
            uid_validity = listing.uid_validity.unwrap_or(0);
        }
    }
    Ok((uid_next, uid_validity))
}

/// [`MailboxSnapshot::open`] for any [`FromIndexView`].
pub(super) fn open_view_of<T: FromIndexView>(mailbox: &Mailbox) -> Result<T> {
    let dir = mailbox.path();
    // flags, keywords and modseqs only: the cache file is not read
    let turn = super::index_io::guard(dir);
    let view = IndexDir::new(dir).open_view_without_cache();
    drop(turn);
    match view {
        Ok(view) => T::from_view(mailbox, view),
        // no index files at all: a mailbox Dovecot never opened
        Err(columba_mail_index::Error::LogLost(_))
            if !dir.join("dovecot.index.log").exists() && !dir.join("dovecot.index").exists() =>
        {
            T::without_index(mailbox)
        }
        Err(e) => Err(e.into()),
    }
}

/// [`MailboxSnapshot::open_select`] for any [`FromIndexView`].
pub(super) fn open_select_view_of<T: FromIndexView>(mailbox: &Mailbox) -> Result<T> {
    let dir = mailbox.path();
    if !dir.join("dovecot.index.log").exists() {
        mailbox.move_new_to_cur()?;
        return open_view_of(mailbox);
    }
    // under the uidlist lock alone (it serialises new/ to cur/ moves);
    // never taken while the index lock is held, as Dovecot takes the
    // uidlist lock first and the index lock second
    let mut dirs = super::dir_stamps::DirChange::begin_both(dir);
    let moved = super::new_dir::move_new_to_cur(mailbox)?;
    if moved > 0 {
        // new/ as the header will record it: stat()ed, then found empty
        // (a file delivered after the stat changes the mtime again)
        let new_dir = dir.join("new");
        dirs.new_after = super::dir_stamps::mtime_of(&new_dir);
        let empty = std::fs::read_dir(&new_dir).is_ok_and(|mut d| d.next().is_none());
        if let (Some(after), true) = (dirs.new_after, empty) {
            super::new_dir_memo::remember(dir, after, Default::default());
        }
    }
    let index = super::index_io::index_for_writing(dir);
    let turn = super::index_io::guard(dir);
    let view = index.open_view_without_cache()?;
    drop(turn);
    let (first_recent, next_uid) = (view.header().first_recent_uid, view.header().next_uid);
    if super::modseq::tracks_modseqs(&view) && first_recent >= next_uid && moved == 0 {
        return T::from_view(mailbox, view);
    }
    drop(view);
    // something to write: decided again on the view under the lock
    let lock = super::index_io::lock(&index, dir)?;
    let mut view = index.open_view_locked(&lock)?;
    // per-message modseqs from here on, as after Dovecot's first CONDSTORE use
    if super::modseq::enable_modseqs_in(&index, &lock, &view)? {
        view = index.open_view_locked(&lock)?;
    }
    let (first_recent, next_uid) = (view.header().first_recent_uid, view.header().next_uid);
    let mut t = columba_mail_index::Transaction::new();
    if first_recent < next_uid {
        t.update_header(FIRST_RECENT_UID_OFFSET, &next_uid.to_le_bytes());
    }
    if moved > 0 {
        // the moves are this process's own: the next sync need not list
        // the directories for them, as after Dovecot's own sync
        dirs.record(dir, view.map(), &mut t);
    }
    let state = T::from_view(mailbox, view)?;
    if !t.is_empty() {
        let (before, after) = super::index_io::commit_measured(&index, &lock, &t)?;
        drop(lock);
        super::index_io::maintain_if_due(dir, before, after);
    }
    Ok(state)
}

/// True if `key` uses INTERNALDATE or RFC822.SIZE.
fn needs_metadata(key: &SearchKey) -> bool {
    use SearchKey as K;
    match key {
        K::InternalDate(..) | K::SavedDate(..) | K::Age(..) | K::Larger(_) | K::Smaller(_) => true,
        K::Not(k) => needs_metadata(k),
        K::Or(a, b) => needs_metadata(a) || needs_metadata(b),
        K::And(keys) => keys.iter().any(needs_metadata),
        _ => false,
    }
}

/// True if `key` uses the save date (SAVEDBEFORE, SAVEDON, SAVEDSINCE,
/// SAVEDATESUPPORTED).
fn needs_save_date(key: &SearchKey) -> bool {
    use SearchKey as K;
    match key {
        K::SavedDate(..) | K::SaveDateSupported => true,
        K::Not(k) => needs_save_date(k),
        K::Or(a, b) => needs_save_date(a) || needs_save_date(b),
        K::And(keys) => keys.iter().any(needs_save_date),
        _ => false,
    }
}

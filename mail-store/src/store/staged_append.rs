//! APPEND that streams: a message is written to `tmp/` chunk by chunk as
//! it arrives ([`MessageWriter`]), `fdatasync`ed, and kept there as a
//! [`StagedMessage`]; [`commit_appends`] then makes one or several staged
//! messages visible together (MULTIAPPEND), the way Dovecot's Maildir save
//! keeps a transaction's files in `tmp/` until the commit.
//!
//! The commit takes the uidlist lock and then the index log lock, in
//! Dovecot's order, and holds both while it renames every file into `new/`
//! or `cur/` (never over an existing name), `fsync`s the directories it
//! renamed into, gives the UIDs in `dovecot-uidlist` and commits one index
//! transaction with all the appends; anyone who syncs (Dovecot or
//! Columba) waits for those locks, so all the messages become visible at
//! once or none do. A failure before the UIDs are written removes what was
//! moved (and the rest, as dropping a staged message or a writer removes
//! its `tmp/` file). A crash after the renames and before the uidlist
//! write leaves whole messages without UIDs that the next sync indexes,
//! as with Dovecot: no message is ever lost or half written.
//!
//! Memory stays bounded whatever the message size: a writer holds one
//! 64 KiB buffer.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use columba_mail_index::Transaction;
use columba_maildir::filename::{generate_base, hostname};
use columba_maildir::message_size::VsizeCounter;
use columba_maildir::uidlist::{Uidlist, UidlistLock, UidlistRecord};
use columba_maildir::{Info, Mailbox, MaildirFilename};

use super::append::{index_flags, maildir_flags, Appended};
use super::append_limit::AppendLimit;
use crate::error::{Error, Result};
use crate::search::MessageFlags;

/// Size of the write buffer of a [`MessageWriter`].
const WRITE_BUFFER: usize = 64 * 1024;

/// How an appended message is to be stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppendMeta {
    /// System flags (`recent` is ignored).
    pub flags: MessageFlags,
    /// Keywords.
    pub keywords: Vec<String>,
    /// INTERNALDATE as Unix seconds (the file's mtime); `None`: now.
    pub internal_date: Option<i64>,
}

/// A message on its way into `tmp/`. Write the bytes in order with
/// [`MessageWriter::write`], then [`MessageWriter::finish`]. Dropping an
/// unfinished writer removes its `tmp/` file.
#[derive(Debug)]
pub struct MessageWriter {
    mailbox: Mailbox,
    meta: AppendMeta,
    limit: AppendLimit,
    base: String,
    tmp_path: PathBuf,
    out: Option<BufWriter<File>>,
    counter: VsizeCounter,
    received: u64,
    pending_cr: bool,
    keep_crlf: bool,
}

impl MessageWriter {
    /// Creates the `tmp/` file of a new message for `mailbox`. `limit` is
    /// enforced on the bytes as written (CRLF counted as sent).
    pub fn new(mailbox: &Mailbox, meta: AppendMeta, limit: AppendLimit) -> Result<MessageWriter> {
        let _ = mailbox.clean_stale_tmp(false);
        let tmp_dir = mailbox.path().join("tmp");
        let mode = std::fs::metadata(mailbox.path())
            .map(|m| m.permissions().mode() & 0o666)
            .unwrap_or(0o600)
            | 0o600;
        // looked up once per process, as Dovecot's my_hostname
        static HOST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let host = HOST.get_or_init(hostname);
        for _ in 0..100 {
            let base = generate_base(host);
            let tmp_path = tmp_dir.join(&base);
            match File::options()
                .write(true)
                .create_new(true)
                .mode(mode)
                .open(&tmp_path)
            {
                Ok(f) => {
                    return Ok(MessageWriter {
                        mailbox: mailbox.clone(),
                        meta,
                        limit,
                        base,
                        tmp_path,
                        out: Some(BufWriter::with_capacity(WRITE_BUFFER, f)),
                        counter: VsizeCounter::new(),
                        received: 0,
                        pending_cr: false,
                        keep_crlf: false,
                    })
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(file_error(&tmp_path, e)),
            }
        }
        Err(Error::Append {
            reason: format!("no unique file name in {}", tmp_dir.display()),
        })
    }

    /// Stores the bytes exactly as given (COPY keeps the source's bytes).
    pub(super) fn keeping_crlf(mut self) -> MessageWriter {
        self.keep_crlf = true;
        self
    }

    /// Bytes received so far (as sent, before CRLF becomes LF).
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Writes the next bytes of the message. CRLF is stored as LF, as
    /// Dovecot stores APPENDs. Fails with [`Error::TooBig`] once the bytes
    /// received pass the APPENDLIMIT (the writer is then useless; drop it).
    pub fn write(&mut self, chunk: &[u8]) -> Result<()> {
        self.received = self.received.saturating_add(chunk.len() as u64);
        if let Err(e) = self.limit.check(self.received) {
            self.out = None;
            return Err(e);
        }
        let out = self.out.as_mut().ok_or_else(|| Error::Append {
            reason: "message writer already failed".into(),
        })?;
        if self.keep_crlf {
            self.counter.update(chunk);
            return out.write_all(chunk).map_err(|e| {
                self.out = None;
                file_error(&self.tmp_path, e)
            });
        }
        // CRLF becomes LF: the bytes between CRs go out as they are
        let mut rest = chunk;
        let mut result = Ok(());
        if self.pending_cr && !rest.is_empty() {
            self.pending_cr = false;
            if rest[0] != b'\n' {
                result = emit(out, &mut self.counter, b"\r");
            }
        }
        while result.is_ok() && !rest.is_empty() {
            match rest.iter().position(|&b| b == b'\r') {
                None => {
                    result = emit(out, &mut self.counter, rest);
                    rest = &[];
                }
                Some(i) => {
                    result = emit(out, &mut self.counter, &rest[..i]);
                    match rest.get(i + 1) {
                        None => self.pending_cr = true,
                        Some(b'\n') => {}
                        Some(_) if result.is_ok() => {
                            result = emit(out, &mut self.counter, b"\r");
                        }
                        Some(_) => {}
                    }
                    rest = &rest[i + 1..];
                }
            }
        }
        result.map_err(|e| {
            self.out = None;
            file_error(&self.tmp_path, e)
        })
    }

    /// Copies everything `reader` yields into the message, 64 KiB at a time.
    pub fn write_from(&mut self, mut reader: impl Read) -> Result<()> {
        let mut buf = vec![0u8; WRITE_BUFFER];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(Error::Append {
                        reason: format!("reading the message: {e}"),
                    })
                }
            };
            self.write(&buf[..n])?;
        }
    }

    /// Ends the message: flushed, `fdatasync`ed, INTERNALDATE set, kept in
    /// `tmp/` until [`commit_appends`].
    pub fn finish(mut self) -> Result<StagedMessage> {
        let mut out = self.out.take().ok_or_else(|| Error::Append {
            reason: "message writer already failed".into(),
        })?;
        let path = self.tmp_path.clone();
        if self.pending_cr {
            self.counter.update(b"\r");
            out.write_all(b"\r").map_err(|e| file_error(&path, e))?;
        }
        let file = out
            .into_inner()
            .map_err(|e| file_error(&path, e.into_error()))?;
        file.sync_data().map_err(|e| file_error(&path, e))?;
        if let Some(t) = self.meta.internal_date {
            file.set_modified(system_time(t))
                .map_err(|e| file_error(&path, e))?;
        }
        drop(file);
        Ok(StagedMessage {
            mailbox: self.mailbox.clone(),
            meta: std::mem::take(&mut self.meta),
            base: std::mem::take(&mut self.base),
            tmp_path: Some(std::mem::take(&mut self.tmp_path)),
            size: self.counter.size(),
            vsize: self.counter.vsize(),
        })
    }
}

impl Drop for MessageWriter {
    fn drop(&mut self) {
        if !self.tmp_path.as_os_str().is_empty() {
            self.out = None;
            let _ = std::fs::remove_file(&self.tmp_path);
        }
    }
}

/// A whole message durably in `tmp/`, not yet visible. Dropping it removes
/// the file.
#[derive(Debug)]
pub struct StagedMessage {
    mailbox: Mailbox,
    meta: AppendMeta,
    base: String,
    tmp_path: Option<PathBuf>,
    size: u64,
    vsize: u64,
}

impl StagedMessage {
    /// Size as stored (LF line endings).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// RFC822.SIZE (CRLF line endings).
    pub fn vsize(&self) -> u64 {
        self.vsize
    }

    /// The `tmp/` file.
    pub fn tmp_path(&self) -> Option<&Path> {
        self.tmp_path.as_deref()
    }
}

impl Drop for StagedMessage {
    fn drop(&mut self) {
        if let Some(p) = self.tmp_path.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// APPEND from a reader: the message streams into `tmp/` (bounded memory),
/// then is committed as [`super::append`] commits. [`Error::TooBig`] as
/// soon as more than `limit` bytes arrive; nothing is left behind.
pub fn append_from_reader(
    mailbox: &Mailbox,
    message: impl Read,
    meta: AppendMeta,
    limit: AppendLimit,
) -> Result<Appended> {
    let mut writer = MessageWriter::new(mailbox, meta, limit)?;
    writer.write_from(message)?;
    let staged = writer.finish()?;
    let mut appended = commit_appends(mailbox, vec![staged])?;
    appended.pop().ok_or_else(|| Error::Append {
        reason: "commit returned no message".into(),
    })
}

/// Makes the staged messages visible in `mailbox`, all together, in the
/// given order (consecutive UIDs). On an error before the UIDs are given,
/// none becomes visible and every `tmp/` file is removed.
pub fn commit_appends(mailbox: &Mailbox, mut staged: Vec<StagedMessage>) -> Result<Vec<Appended>> {
    if staged.is_empty() {
        return Ok(Vec::new());
    }
    let dir = mailbox.path();
    if let Some(other) = staged.iter().find(|s| s.mailbox.path() != dir) {
        return Err(Error::Append {
            reason: format!(
                "a message staged for {} cannot be committed to {}",
                other.mailbox.path().display(),
                dir.display()
            ),
        });
    }
    if !dir.join("dovecot.index.log").exists() {
        // the index must exist so the messages get log records at once
        super::sync::sync(mailbox)?;
    }
    let index = super::index_io::index_for_writing(dir);
    // Dovecot's order (maildir-save.c, maildir-sync.c): the uidlist lock
    // first, then the index log lock; both are held until the index commit
    let uidlist_lock = mailbox.uidlist_file().lock()?;
    let lock = super::index_io::lock(&index, dir)?;
    let list = uidlist_lock.read_shared()?.ok_or_else(|| Error::Append {
        reason: format!("{} has no dovecot-uidlist after a sync", dir.display()),
    })?;
    let uid_validity = list.uid_validity;
    let view = index.open_view_locked(&lock)?;
    // external, as Dovecot's save writes it: the files are already there,
    // so a storage sync has nothing to carry out for these records
    let mut t = Transaction::external();
    // UIDs given in the uidlist but not indexed (a killed append's, or a
    // sync's that did not reach the index) go first, so UIDs reach the
    // index in order
    let indexed_next = view.header().next_uid;
    if list.next_uid() > indexed_next {
        let listing = mailbox.list()?;
        let mut left: Vec<_> = listing
            .messages
            .iter()
            .filter(|e| e.uid.is_some_and(|u| u >= indexed_next))
            .collect();
        left.sort_by_key(|e| e.uid);
        for e in left {
            let uid = e.uid.unwrap_or(0);
            t.append(uid, e.flags.bits() & 0x1f);
            for k in &e.keywords {
                t.add_keyword(k, &[(uid, uid)]);
            }
        }
    }
    let dirs = super::dir_stamps::DirChange::begin_both(dir);
    let (uids, paths) = publish(mailbox, &uidlist_lock, list, &mut staged)?;
    drop(staged);
    for (meta, &uid) in paths.iter().map(|(m, _)| m).zip(&uids) {
        t.append(uid, index_flags(meta.flags));
        for k in &meta.keywords {
            t.add_keyword(k, &[(uid, uid)]);
        }
    }
    // the index holds what was added: the next sync need not list the
    // directories for it, as after Dovecot's own save
    dirs.record(dir, view.map(), &mut t);
    drop(view);
    // the UIDs are given: from here on the messages are delivered; a
    // failed index commit leaves them to the next sync
    let committed = super::index_io::commit_measured(&index, &lock, &t);
    drop(lock);
    let _ = uidlist_lock.unlock();
    let (before, after) = committed?;
    super::index_io::maintain_if_due(dir, before, after);
    Ok(paths
        .into_iter()
        .zip(uids)
        .map(|((_, path), uid)| Appended {
            uid,
            path,
            uid_validity,
            indexed: true,
        })
        .collect())
}

/// Moves every staged file into place and writes their UIDs to the
/// uidlist (whose lock the caller holds). Returns the UIDs and, per
/// message, its meta and final path. On an error none of them stays
/// visible.
#[allow(clippy::type_complexity)]
fn publish(
    mailbox: &Mailbox,
    uidlist_lock: &UidlistLock,
    list: Arc<Uidlist>,
    staged: &mut [StagedMessage],
) -> Result<(Vec<u32>, Vec<(AppendMeta, PathBuf)>)> {
    let dir = mailbox.path();
    if list.version != 3 || !list.complete_last_line {
        return Err(Error::Append {
            reason: "dovecot-uidlist must be rewritten by a sync before appending".into(),
        });
    }
    let mut keywords = mailbox.keywords_file().read()?;
    let mut keywords_changed = false;
    let mut linked: Vec<PathBuf> = Vec::new();
    // the directories moved into (only those are synced, as Dovecot syncs
    // the one it renames into)
    let mut into_new = false;
    let mut into_cur = false;
    let mut out = Vec::new();
    let mut records = Vec::new();
    let mut next = list.next_uid();
    let result = (|| -> Result<()> {
        for s in staged.iter_mut() {
            let mut info = Info {
                flags: maildir_flags(s.meta.flags),
                ..Info::default()
            };
            for k in &s.meta.keywords {
                let (idx, added) = keywords.index_or_add(k)?;
                keywords_changed |= added;
                if idx < 26 {
                    info.keyword_bits |= 1 << idx;
                }
            }
            let full_base = format!("{},S={},W={}", s.base, s.size, s.vsize);
            let flagged = !info.flags.is_empty() || info.keyword_bits != 0;
            let name = MaildirFilename::from_parts(&full_base, flagged.then_some(&info))?;
            let dest = dir
                .join(if flagged { "cur" } else { "new" })
                .join(name.as_str());
            let tmp = s.tmp_path.take().ok_or_else(|| Error::Append {
                reason: "staged message without a file".into(),
            })?;
            if let Err(e) = move_into_place(&tmp, &dest) {
                s.tmp_path = Some(tmp);
                return Err(e);
            }
            if flagged {
                into_cur = true;
            } else {
                into_new = true;
            }
            linked.push(dest.clone());
            if next >= u32::MAX - 1 {
                return Err(Error::Append {
                    reason: "UIDs exhausted".into(),
                });
            }
            records.push(UidlistRecord {
                uid: next,
                extensions: Vec::new(),
                base: full_base,
            });
            out.push((s.meta.clone(), dest));
            next += 1;
        }
        if keywords_changed {
            mailbox.keywords_file().write(&keywords, uidlist_lock)?;
        }
        for (sub, used) in [("new", into_new), ("cur", into_cur)] {
            if used {
                fsync_dir(&dir.join(sub))?;
            }
        }
        // the parse is not held while the records are appended to it, so
        // the remembered copy grows in place
        drop(list);
        uidlist_lock.append(&records)?;
        Ok(())
    })();
    if let Err(e) = result {
        // the uidlist is still locked: nobody has seen these files
        for p in &linked {
            let _ = std::fs::remove_file(p);
        }
        return Err(e);
    }
    Ok((records.iter().map(|r| r.uid).collect(), out))
}

/// Writes stored bytes and counts them.
fn emit(
    out: &mut BufWriter<File>,
    counter: &mut VsizeCounter,
    bytes: &[u8],
) -> std::io::Result<()> {
    counter.update(bytes);
    out.write_all(bytes)
}

/// Renames a staged file from `tmp/` to its place in `new/` or `cur/`, as
/// Dovecot does, never over an existing file (`RENAME_NOREPLACE`; on a
/// file system without it, a hard link, which fails on an existing name,
/// then the `tmp/` name is removed).
fn move_into_place(tmp: &Path, dest: &Path) -> Result<()> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    match renameat_with(CWD, tmp, CWD, dest, RenameFlags::NOREPLACE) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS) => {
            std::fs::hard_link(tmp, dest).map_err(|e| file_error(dest, e))?;
            let _ = std::fs::remove_file(tmp);
            Ok(())
        }
        Err(e) => Err(file_error(dest, e.into())),
    }
}

fn fsync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| file_error(dir, e))
}

fn system_time(t: i64) -> std::time::SystemTime {
    if t >= 0 {
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(t as u64)
    } else {
        std::time::UNIX_EPOCH - std::time::Duration::from_secs(t.unsigned_abs())
    }
}

fn file_error(path: &Path, e: std::io::Error) -> Error {
    Error::MessageFile {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The chunked CRLF filter stores exactly what the Maildir crate's
    /// one-pass filter stores, with the same sizes, however the bytes are cut.
    #[test]
    fn chunked_line_endings_match_the_one_pass_filter() {
        let tmp = tempfile::tempdir().unwrap();
        for d in ["new", "cur", "tmp"] {
            std::fs::create_dir_all(tmp.path().join(d)).unwrap();
        }
        let mailbox = Mailbox::at(tmp.path(), tmp.path(), "INBOX");
        let inputs: [&[u8]; 7] = [
            b"a\r\nb\r\n",
            b"bare\rcr\r\r\nend\r",
            b"\r\r\r\n\n\r",
            b"no line end",
            b"\r",
            b"lf only\nline\n",
            b"",
        ];
        for input in inputs {
            let mut expected = Vec::new();
            let sizes =
                columba_maildir::message_size::copy_message(input, &mut expected, false).unwrap();
            for chunk in 1..=7 {
                let mut w =
                    MessageWriter::new(&mailbox, AppendMeta::default(), AppendLimit::NONE).unwrap();
                for piece in input.chunks(chunk) {
                    w.write(piece).unwrap();
                }
                let staged = w.finish().unwrap();
                let stored = std::fs::read(staged.tmp_path().unwrap()).unwrap();
                assert_eq!(stored, expected, "{input:?} in {chunk}-byte pieces");
                assert_eq!((staged.size(), staged.vsize()), sizes, "{input:?}");
            }
        }
    }
}

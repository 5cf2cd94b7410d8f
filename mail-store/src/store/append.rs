//! APPEND into a Maildir++ mailbox that Dovecot also serves: the message is
//! delivered durably first (tmp/, fsync, link into cur/ or new/, fsync dir,
//! UID assigned in `dovecot-uidlist` under its lock), then the index learns
//! of it through one transaction-log commit, so a crash in between leaves a
//! message that the next sync (Columba's or Dovecot's) indexes from the
//! uidlist, never an index record without a file.

use std::path::PathBuf;

use columba_mail_index::{
    IndexDir, Transaction, FLAG_ANSWERED, FLAG_DELETED, FLAG_DRAFT, FLAG_FLAGGED, FLAG_SEEN,
};
use columba_maildir::{DeliveryOptions, Flags, Mailbox};

use crate::error::{Error, Result};
use crate::search::MessageFlags;

/// What an append stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// The UID (APPENDUID).
    pub uid: u32,
    /// The message file.
    pub path: PathBuf,
    /// The mailbox's UIDVALIDITY when the UID was given (APPENDUID's first
    /// number), from the `dovecot-uidlist` header.
    pub uid_validity: u32,
    /// Whether the index was updated (false when the mailbox has no index
    /// yet; Dovecot then indexes the message at its first sync).
    pub indexed: bool,
}

pub(super) fn maildir_flags(f: MessageFlags) -> Flags {
    let mut out = Flags::NONE;
    for (set, flag) in [
        (f.answered, Flags::ANSWERED),
        (f.flagged, Flags::FLAGGED),
        (f.deleted, Flags::DELETED),
        (f.seen, Flags::SEEN),
        (f.draft, Flags::DRAFT),
    ] {
        if set {
            out |= flag;
        }
    }
    out
}

pub(super) fn index_flags(f: MessageFlags) -> u8 {
    let mut out = 0;
    for (set, bit) in [
        (f.answered, FLAG_ANSWERED),
        (f.flagged, FLAG_FLAGGED),
        (f.deleted, FLAG_DELETED),
        (f.seen, FLAG_SEEN),
        (f.draft, FLAG_DRAFT),
    ] {
        if set {
            out |= bit;
        }
    }
    out
}

/// APPENDLIMIT: refuses a message larger than `limit` before anything is
/// written (the session answers `NO [TOOBIG]`, or rejects the literal).
pub fn check_append_limit(size: u64, limit: Option<u64>) -> Result<()> {
    match limit {
        Some(limit) if size > limit => Err(Error::TooBig { size, limit }),
        _ => Ok(()),
    }
}

/// Appends `message` with `flags` (`recent` is ignored), `keywords` and an
/// optional INTERNALDATE (Unix seconds, stored as the file's mtime).
/// CRLF line endings are stored as LF, as Dovecot stores APPENDs.
pub fn append(
    mailbox: &Mailbox,
    message: &[u8],
    flags: MessageFlags,
    keywords: &[String],
    internal_date: Option<i64>,
) -> Result<Appended> {
    append_with(mailbox, message, flags, keywords, internal_date, false)
}

/// [`append`], keeping the bytes exactly as given when `keep_crlf` (copies).
pub(super) fn append_with(
    mailbox: &Mailbox,
    message: &[u8],
    flags: MessageFlags,
    keywords: &[String],
    internal_date: Option<i64>,
    keep_crlf: bool,
) -> Result<Appended> {
    let options = DeliveryOptions {
        flags: maildir_flags(flags),
        keywords: keywords.to_vec(),
        assign_uid: true,
        fsync: true,
        keep_crlf,
    };
    // Under the log lock: first index what a killed append may have left
    // (a UID in the uidlist, not yet in the index), so UIDs reach the index
    // in order; then deliver and index this message.
    let dir = mailbox.path();
    let indexed = dir.join("dovecot.index.log").exists();
    let index = IndexDir::new(dir);
    let lock = if indexed { Some(index.lock()?) } else { None };
    if let Some(lock) = &lock {
        super::sync::sync_locked(mailbox, &index, lock, &mut Default::default())?;
    }
    let delivered = mailbox.deliver(message, &options)?;
    let uid = delivered.uid.ok_or_else(|| Error::Append {
        reason: delivered
            .uid_error
            .clone()
            .unwrap_or_else(|| "no UID assigned".into()),
    })?;
    if let Some(t) = internal_date {
        let when = if t >= 0 {
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(t as u64)
        } else {
            std::time::UNIX_EPOCH - std::time::Duration::from_secs(t.unsigned_abs())
        };
        std::fs::File::options()
            .write(true)
            .open(&delivered.path)
            .and_then(|f| f.set_modified(when))
            .map_err(|e| Error::MessageFile {
                path: delivered.path.clone(),
                reason: e.to_string(),
            })?;
    }
    if let Some(lock) = &lock {
        let mut t = Transaction::new();
        t.append(uid, index_flags(flags));
        for k in keywords {
            t.add_keyword(k, &[(uid, uid)]);
        }
        index.commit_locked(lock, &t)?;
    }
    let uid_validity = uid_validity_of(mailbox)?;
    Ok(Appended {
        uid,
        uid_validity,
        path: delivered.path,
        indexed,
    })
}

/// The UIDVALIDITY in the `dovecot-uidlist` header (the first line only is
/// read: the rest can be large). 0 when the mailbox has no uidlist yet.
/// Version 3 headers carry it as `V<n>`, version 1 as the second number.
pub(super) fn uid_validity_of(mailbox: &Mailbox) -> Result<u32> {
    use std::io::Read;
    let path = mailbox.uidlist_file().path();
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => {
            return Err(Error::MessageFile {
                path,
                reason: e.to_string(),
            })
        }
    };
    let mut head = Vec::with_capacity(256);
    file.take(4096)
        .read_to_end(&mut head)
        .map_err(|e| Error::MessageFile {
            path: path.clone(),
            reason: e.to_string(),
        })?;
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut fields = line.split_ascii_whitespace();
    let value = match fields.next() {
        Some("1") => fields.next(),
        Some(_) => fields.find_map(|f| f.strip_prefix('V')),
        None => None,
    };
    value
        .and_then(|v| v.parse().ok())
        .ok_or(Error::Maildir(columba_maildir::Error::Uidlist {
            line: 1,
            reason: "header has no UIDVALIDITY".into(),
        }))
}

//! APPEND into a Maildir++ mailbox that Dovecot also serves: the message is
//! written durably to `tmp/` first, then, holding the uidlist lock and the
//! index log lock (Dovecot's order), renamed into cur/ or new/ (fsync dir),
//! given its UID in `dovecot-uidlist` and indexed through one
//! transaction-log commit ([`super::commit_appends`]), so a crash in
//! between leaves a message that the next sync (Columba's or Dovecot's)
//! indexes from the uidlist, never an index record without a file.

use std::path::PathBuf;

use columba_mail_index::{FLAG_ANSWERED, FLAG_DELETED, FLAG_DRAFT, FLAG_FLAGGED, FLAG_SEEN};
use columba_maildir::{DeliveryOptions, Flags, Mailbox};

use super::append_limit::AppendLimit;
use super::staged_append::{commit_appends, AppendMeta, MessageWriter};
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
    let dir = mailbox.path();
    if dir.join("dovecot.index.log").exists() {
        // file to tmp/, then linked, UID given and indexed in one commit
        // under the uidlist and index locks (Dovecot's order)
        let meta = AppendMeta {
            flags,
            keywords: keywords.to_vec(),
            internal_date,
        };
        let mut writer = MessageWriter::new(mailbox, meta, AppendLimit::NONE)?;
        if keep_crlf {
            writer = writer.keeping_crlf();
        }
        writer.write(message)?;
        let staged = writer.finish()?;
        return commit_appends(mailbox, vec![staged])?
            .pop()
            .ok_or_else(|| Error::Append {
                reason: "commit returned no message".into(),
            });
    }
    // No index yet: deliver with a UID; Dovecot indexes it at its first sync.
    let options = DeliveryOptions {
        flags: maildir_flags(flags),
        keywords: keywords.to_vec(),
        assign_uid: true,
        fsync: true,
        keep_crlf,
    };
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
    let uid_validity = uid_validity_of(mailbox)?;
    Ok(Appended {
        uid,
        uid_validity,
        path: delivered.path,
        indexed: false,
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

//! COPY and MOVE between Maildir++ mailboxes with UIDPLUS results. The
//! messages are streamed into the destination's `tmp/` (same bytes, flags,
//! keywords and INTERNALDATE) and committed there together, as one
//! MULTIAPPEND ([`super::commit_appends`]), before anything happens to the
//! source;
//! MOVE expunges the source messages only after every copy is stored, so a
//! crash can leave a message in both mailboxes, never in neither. With an
//! APPENDLIMIT, every message's size is checked before the first copy.

use columba_maildir::Mailbox;

use super::append::uid_validity_of;
use super::append_limit::AppendLimit;
use super::expunge::expunge;
use super::snapshot::MailboxSnapshot;
use super::staged_append::{commit_appends, AppendMeta, MessageWriter};
use crate::error::{Error, Result};

/// UIDPLUS `COPYUID`: source UIDs and the destination UIDs they became, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Copied {
    /// Source UIDs that were copied (UIDs without a message are skipped).
    pub source_uids: Vec<u32>,
    /// Their UIDs in the destination.
    pub dest_uids: Vec<u32>,
    /// The destination's UIDVALIDITY (COPYUID's first number), read when
    /// its UIDs were given; 0 only when nothing was copied into a mailbox
    /// that has no `dovecot-uidlist` yet.
    pub dest_uid_validity: u32,
}

/// Copies the messages with `uids` (ascending) from `source` to `dest`.
pub fn copy(source: &Mailbox, dest: &Mailbox, uids: &[u32]) -> Result<Copied> {
    copy_limited(source, dest, uids, AppendLimit::NONE)
}

/// [`copy`] into a store with an APPENDLIMIT: if any of the messages is
/// larger (RFC822.SIZE) than `limit`, nothing is copied and the error is
/// [`crate::Error::TooBig`].
pub fn copy_limited(
    source: &Mailbox,
    dest: &Mailbox,
    uids: &[u32],
    limit: AppendLimit,
) -> Result<Copied> {
    let mut snap = MailboxSnapshot::open(source)?;
    snap.resolve_files()?;
    let mut wanted = uids.to_vec();
    wanted.sort_unstable();
    wanted.dedup();
    if limit.max_message_size.is_some() {
        for m in snap.messages.iter().filter(|m| m.path.is_some()) {
            if wanted.binary_search(&m.uid).is_ok() {
                limit.check(m.rfc822_size()?)?;
            }
        }
    }
    let mut out = Copied::default();
    let mut staged = Vec::new();
    for uid in wanted {
        let Some(m) = snap.messages.iter().find(|m| m.uid == uid) else {
            continue;
        };
        // the file as it is named now (None: expunged meanwhile)
        let Some(path) = &m.locate() else {
            continue;
        };
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            // expunged meanwhile: skipped, as a UID without a message
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(Error::MessageFile {
                    path: path.clone(),
                    reason: e.to_string(),
                })
            }
        };
        let mut flags = m.flags;
        flags.recent = false;
        let meta = AppendMeta {
            flags,
            keywords: m.keywords.clone(),
            internal_date: Some(m.internal_date()?),
        };
        let mut writer = MessageWriter::new(dest, meta, AppendLimit::NONE)?.keeping_crlf();
        writer.write_from(file)?;
        staged.push(writer.finish()?);
        out.source_uids.push(uid);
    }
    if staged.is_empty() {
        out.dest_uid_validity = uid_validity_of(dest)?;
        return Ok(out);
    }
    let appended = commit_appends(dest, staged)?;
    out.dest_uids = appended.iter().map(|a| a.uid).collect();
    out.dest_uid_validity = appended.first().map_or(0, |a| a.uid_validity);
    Ok(out)
}

/// Moves the messages: [`copy`], then expunge the copied ones from `source`.
pub fn move_messages(source: &Mailbox, dest: &Mailbox, uids: &[u32]) -> Result<Copied> {
    move_messages_limited(source, dest, uids, AppendLimit::NONE)
}

/// [`move_messages`] into a store with an APPENDLIMIT: a message over
/// `limit` fails the whole MOVE before anything is copied or expunged.
pub fn move_messages_limited(
    source: &Mailbox,
    dest: &Mailbox,
    uids: &[u32],
    limit: AppendLimit,
) -> Result<Copied> {
    let copied = copy_limited(source, dest, uids, limit)?;
    expunge(source, &copied.source_uids)?;
    Ok(copied)
}

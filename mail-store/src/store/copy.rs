//! COPY and MOVE between Maildir++ mailboxes with UIDPLUS results. Each
//! message is appended to the destination (same bytes, flags, keywords and
//! INTERNALDATE; file, then index) before anything happens to the source;
//! MOVE expunges the source messages only after every copy is stored, so a
//! crash can leave a message in both mailboxes, never in neither.

use columba_maildir::Mailbox;

use super::append::{append_with, uid_validity_of};
use super::expunge::expunge;
use super::snapshot::MailboxSnapshot;
use crate::error::Result;

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
    let mut snap = MailboxSnapshot::open(source)?;
    snap.resolve_files()?;
    let mut wanted = uids.to_vec();
    wanted.sort_unstable();
    wanted.dedup();
    let mut out = Copied::default();
    for uid in wanted {
        let Some(m) = snap.messages.iter().find(|m| m.uid == uid) else {
            continue;
        };
        if m.path.is_none() {
            continue;
        }
        let data = m.read()?;
        let mut flags = m.flags;
        flags.recent = false;
        let a = append_with(
            dest,
            &data,
            flags,
            &m.keywords,
            Some(m.internal_date()?),
            true,
        )?;
        out.source_uids.push(uid);
        out.dest_uids.push(a.uid);
        out.dest_uid_validity = a.uid_validity;
    }
    if out.dest_uids.is_empty() {
        out.dest_uid_validity = uid_validity_of(dest)?;
    }
    Ok(out)
}

/// Moves the messages: [`copy`], then expunge the copied ones from `source`.
pub fn move_messages(source: &Mailbox, dest: &Mailbox, uids: &[u32]) -> Result<Copied> {
    let copied = copy(source, dest, uids)?;
    expunge(source, &copied.source_uids)?;
    Ok(copied)
}

//! What another session changed: the untagged responses a session owes its
//! client when it syncs (or while it IDLEs), computed from the view it last
//! showed and the current one. Sans-IO: two snapshots in, changes out.

use super::snapshot::MailboxSnapshot;

/// One change to report, in the order IMAP wants them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// `* n EXPUNGE`: sequence numbers as they are when the line is sent
    /// (each one already accounts for the expunges sent before it).
    Expunge(u32),
    /// `* VANISHED uid-set` for QRESYNC clients (all expunged UIDs).
    Vanished(Vec<u32>),
    /// `* n EXISTS`.
    Exists(u32),
    /// `* n RECENT`.
    Recent(u32),
    /// `* n FETCH (UID u FLAGS (...) MODSEQ (m))`: flags or keywords changed.
    Flags {
        /// Sequence number in the new view.
        seq: u32,
        /// UID.
        uid: u32,
        /// The FLAGS list as sent.
        flags: String,
        /// The new modseq.
        modseq: u64,
    },
}

/// The changes from `old` to `new`. With `qresync`, expunges are one
/// `Vanished` instead of `Expunge` lines. When both views have
/// per-message modseqs, a message whose modseq moved is reported even if
/// its flags ended as they were, as Dovecot reports every flag change
/// record it syncs.
pub fn changes(old: &MailboxSnapshot, new: &MailboxSnapshot, qresync: bool) -> Vec<Change> {
    let mut out = Vec::new();
    let new_uids: std::collections::HashSet<u32> = new.messages.iter().map(|m| m.uid).collect();
    let expunged: Vec<u32> = old
        .messages
        .iter()
        .map(|m| m.uid)
        .filter(|u| !new_uids.contains(u))
        .collect();
    if qresync {
        if !expunged.is_empty() {
            out.push(Change::Vanished(expunged.clone()));
        }
    } else {
        // highest sequence first, so the numbers stay valid as they are applied
        let mut seqs: Vec<u32> = old
            .messages
            .iter()
            .filter(|m| !new_uids.contains(&m.uid))
            .map(|m| m.seq)
            .collect();
        seqs.sort_unstable_by(|a, b| b.cmp(a));
        out.extend(seqs.into_iter().map(Change::Expunge));
    }
    let old_max_uid = old.messages.last().map_or(0, |m| m.uid);
    let old_by_uid: std::collections::HashMap<u32, &super::SnapshotMessage> =
        old.messages.iter().map(|m| (m.uid, m)).collect();
    if new.messages.len() != old.messages.len() - expunged.len()
        || new.messages.iter().any(|m| m.uid > old_max_uid)
    {
        out.push(Change::Exists(new.messages.len() as u32));
        out.push(Change::Recent(new.status().recent));
    }
    for m in &new.messages {
        if let Some(o) = old_by_uid.get(&m.uid) {
            // with per-message modseqs a changed modseq is a change even
            // when the flags ended where they were (set, then cleared)
            let touched = old.modseq_tracking && new.modseq_tracking && o.modseq != m.modseq;
            if touched || o.flags != m.flags || o.keywords != m.keywords {
                out.push(Change::Flags {
                    seq: m.seq,
                    uid: m.uid,
                    flags: m.flags_imap(),
                    modseq: m.modseq,
                });
            }
        }
    }
    out
}

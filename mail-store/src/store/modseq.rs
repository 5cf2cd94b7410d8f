//! Per-message modseq tracking in the index, as Dovecot's
//! `mail_index_modseq_enable()` turns it on.
//!
//! Until the index has the `modseq` extension, Dovecot (and this crate)
//! report every message's MODSEQ as the mailbox's HIGHESTMODSEQ, so each
//! change anywhere makes every message look changed. Dovecot adds the
//! extension the first time a client uses CONDSTORE; from then on each
//! message keeps the modseq of its own last change. Columba adds it on a
//! read-write SELECT ([`super::MailboxSnapshot::open_select`]) and whenever
//! a session calls [`enable_modseqs`] (ENABLE CONDSTORE or QRESYNC, SELECT
//! with CONDSTORE).

use columba_mail_index::{ExtDef, IndexDir, LogLock, Transaction, View};
use columba_maildir::Mailbox;

use crate::error::Result;

/// Name of Dovecot's modseq extension.
const EXT_MODSEQ: &str = "modseq";

/// Turns on per-message modseqs in the mailbox's index, as Dovecot does
/// when a client first uses CONDSTORE: one transaction introduces the
/// `modseq` extension (16-byte header, 8-byte records) with the current
/// HIGHESTMODSEQ in its header, so every existing message starts at that
/// value and later changes raise only the messages they touch. Returns
/// true if it was turned on now, false if it already was or the mailbox
/// has no index yet.
pub fn enable_modseqs(mailbox: &Mailbox) -> Result<bool> {
    let dir = mailbox.path();
    if !dir.join("dovecot.index.log").exists() {
        return Ok(false);
    }
    let index = super::index_io::index_for_writing(dir);
    let lock = super::index_io::lock(&index, dir)?;
    enable_modseqs_locked(&index, &lock)
}

/// [`enable_modseqs`] with the log lock held.
pub(super) fn enable_modseqs_locked(index: &IndexDir, lock: &LogLock) -> Result<bool> {
    let view = index.open_view_locked(lock)?;
    enable_modseqs_in(index, lock, &view)
}

/// True if the index keeps a modseq per message.
pub(super) fn tracks_modseqs(view: &View) -> bool {
    view.map().ext_index(EXT_MODSEQ).is_some()
}

/// [`enable_modseqs`] with the log lock held and `view` read under it.
/// Returns true if it committed (the view is then out of date).
pub(super) fn enable_modseqs_in(index: &IndexDir, lock: &LogLock, view: &View) -> Result<bool> {
    if tracks_modseqs(view) {
        return Ok(false);
    }
    let mut header = [0u8; 16];
    header[..8].copy_from_slice(&view.highest_modseq.max(1).to_le_bytes());
    let mut t = Transaction::new();
    t.ext_intro(ExtDef {
        name: EXT_MODSEQ.to_string(),
        hdr_size: 16,
        record_size: 8,
        record_align: 8,
    });
    t.ext_hdr_update(EXT_MODSEQ, 0, &header);
    index.commit_locked(lock, &t)?;
    Ok(true)
}

//! STORE flags and keywords on a Maildir++ mailbox Dovecot also serves: the
//! change is committed to the transaction log first, then the message files
//! are renamed. A crash between the two leaves the change in the log, and
//! the next index sync (Dovecot's, which applies log records beyond the
//! synced tail offset to the files) renames the files.

use columba_mail_index::{IndexDir, Transaction};
use columba_maildir::{FlagOutcome, FlagUpdate, Mailbox};

use super::append::{index_flags, maildir_flags};
use crate::error::Result;
use crate::search::MessageFlags;

/// How STORE combines the given flags with the message's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMode {
    /// `+FLAGS`.
    Add,
    /// `-FLAGS`.
    Remove,
    /// `FLAGS`.
    Replace,
}

/// Changes the flags and keywords of the messages with `uids`. Returns the
/// UIDs whose files were found (changed or already as asked); a UID whose
/// file is gone (expunged meanwhile) is left out.
pub fn store_flags(
    mailbox: &Mailbox,
    uids: &[u32],
    mode: StoreMode,
    flags: MessageFlags,
    keywords: &[String],
) -> Result<Vec<u32>> {
    let dir = mailbox.path();
    if dir.join("dovecot.index.log").exists() {
        let bits = index_flags(flags);
        let mut t = Transaction::new();
        for &uid in uids {
            match mode {
                StoreMode::Add => {
                    t.add_flags(uid, uid, bits);
                    for k in keywords {
                        t.add_keyword(k, &[(uid, uid)]);
                    }
                }
                StoreMode::Remove => {
                    t.remove_flags(uid, uid, bits);
                    for k in keywords {
                        t.remove_keyword(k, &[(uid, uid)]);
                    }
                }
                StoreMode::Replace => {
                    t.replace_flags(uid, uid, bits);
                    t.reset_keywords(uid, uid);
                    for k in keywords {
                        t.add_keyword(k, &[(uid, uid)]);
                    }
                }
            }
        }
        IndexDir::new(dir).commit(&t)?;
    }
    let listing = mailbox.list()?;
    let update = match mode {
        StoreMode::Add => FlagUpdate::Add(maildir_flags(flags), keywords.to_vec()),
        StoreMode::Remove => FlagUpdate::Remove(maildir_flags(flags), keywords.to_vec()),
        StoreMode::Replace => FlagUpdate::Replace(maildir_flags(flags), keywords.to_vec()),
    };
    let mut done = Vec::new();
    for &uid in uids {
        let Some(entry) = listing.messages.iter().find(|m| m.uid == Some(uid)) else {
            continue;
        };
        match mailbox.update_flags(&entry.file_name, &update)? {
            FlagOutcome::Renamed(_) | FlagOutcome::Unchanged(_) => done.push(uid),
            FlagOutcome::Expunged => {}
        }
    }
    Ok(done)
}

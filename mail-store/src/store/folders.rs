//! The mailbox list of a Maildir++ root as a [`MailboxTree`]: folders from
//! the `.Name` directories (parents without a directory are left to the
//! tree, which shows them `\NonExistent`), subscriptions from the
//! `subscriptions` file, special-use from configuration; and the list's
//! changes (create, delete, rename with children, subscribe, unsubscribe)
//! and each mailbox's GUID, on the same files Dovecot uses.

use columba_maildir::{Mailbox, Maildir};

use crate::error::{Error, Result};
use crate::list::{MailboxTree, SpecialUse};

/// Builds the LIST view of `maildir` (separator `/`, names in UTF-8).
pub fn mailbox_tree(maildir: &Maildir, special_use: &[(&str, SpecialUse)]) -> Result<MailboxTree> {
    let mut tree = MailboxTree::new('/');
    for (name, usage) in special_use {
        tree.set_special_use(name, *usage);
    }
    for f in maildir.folders()? {
        if f.selectable {
            tree.add_mailbox(&f.name);
        }
    }
    for s in maildir.subscribed()? {
        tree.subscribe(&s);
    }
    Ok(tree)
}

/// Creates the mailbox `name` (`/`-separated, UTF-8): its Maildir++
/// directory with `cur/`, `new/`, `tmp/` and `maildirfolder`. Missing
/// parents are not created (LIST shows them `\NonExistent` with children,
/// as Dovecot does). A trailing separator is ignored, as in IMAP CREATE.
pub fn create_mailbox(maildir: &Maildir, name: &str) -> Result<Mailbox> {
    let name = name.trim_end_matches('/');
    if name.eq_ignore_ascii_case("INBOX") {
        return Err(Error::MailboxRefused {
            name: name.into(),
            reason: "mailbox already exists",
        });
    }
    Ok(maildir.create_folder(name)?)
}

/// Deletes the mailbox `name` and its messages; its children stay
/// mailboxes of their own. INBOX cannot be deleted.
pub fn delete_mailbox(maildir: &Maildir, name: &str) -> Result<()> {
    if name.eq_ignore_ascii_case("INBOX") {
        return Err(Error::MailboxRefused {
            name: name.into(),
            reason: "INBOX can't be deleted",
        });
    }
    Ok(maildir.delete_folder(name)?)
}

/// Renames the mailbox `from` to `to` together with its children
/// (`from/x` becomes `to/x`). Each keeps its messages, UIDVALIDITY and GUID
/// (they live in its directory). Fails when `to` or a child's new name
/// exists. Renaming INBOX is refused.
pub fn rename_mailbox(maildir: &Maildir, from: &str, to: &str) -> Result<()> {
    if from.eq_ignore_ascii_case("INBOX") {
        return Err(Error::MailboxRefused {
            name: from.into(),
            reason: "renaming INBOX isn't supported",
        });
    }
    if to.eq_ignore_ascii_case("INBOX") {
        return Err(Error::MailboxRefused {
            name: to.into(),
            reason: "mailbox already exists",
        });
    }
    Ok(maildir.rename_folder(from, to.trim_end_matches('/'))?)
}

/// Subscribes to `name`, in Dovecot's `subscriptions` file. As in Dovecot
/// 2.3, the mailbox must exist.
pub fn subscribe(maildir: &Maildir, name: &str) -> Result<()> {
    maildir.folder(name)?;
    Ok(maildir.subscribe(name)?)
}

/// Removes the subscription to `name`.
pub fn unsubscribe(maildir: &Maildir, name: &str) -> Result<()> {
    Ok(maildir.unsubscribe(name)?)
}

/// The mailbox GUID, as `doveadm mailbox status guid` shows it: from the
/// `dovecot-uidlist` header. A mailbox whose uidlist is missing or has no
/// GUID gets one the way Dovecot gives it (the uidlist is written under its
/// lock), so both see the same GUID from then on.
pub fn mailbox_guid(mailbox: &Mailbox) -> Result<[u8; 16]> {
    if let Some(guid) = mailbox.uidlist()?.and_then(|l| l.guid) {
        return Ok(guid);
    }
    mailbox.sync()?.guid.ok_or(Error::MailboxRefused {
        name: mailbox.name().to_string(),
        reason: "the uidlist was written without a GUID",
    })
}

/// [`mailbox_guid`] as the 32 lowercase hex digits Dovecot prints.
pub fn mailbox_guid_hex(mailbox: &Mailbox) -> Result<String> {
    Ok(columba_maildir::uidlist::format_guid(&mailbox_guid(
        mailbox,
    )?))
}

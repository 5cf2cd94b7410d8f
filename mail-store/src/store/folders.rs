//! The mailbox list of a Maildir++ root as a [`MailboxTree`]: folders from
//! the `.Name` directories (parents without a directory are left to the
//! tree, which shows them `\NonExistent`), subscriptions from the
//! `subscriptions` file, special-use from configuration.

use columba_maildir::Maildir;

use crate::error::Result;
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

//! Flag changes, appends and expunges keep the index small to open: once
//! their log records pass Dovecot's `mail_index_rewrite_min_log_bytes`,
//! `dovecot.index` is written (as Dovecot does after a sync), so opening
//! the mailbox does not replay an ever longer log.

use columba_mail_index::IndexDir;
use columba_mail_store::search::MessageFlags;
use columba_mail_store::store::{self, MailboxSnapshot, StoreMode};
use columba_maildir::Maildir;

#[test]
fn many_flag_changes_get_the_index_written() {
    let tmp = tempfile::tempdir().unwrap();
    let maildir = Maildir::create(&tmp.path().join("Maildir")).unwrap();
    let mailbox = maildir.inbox();
    store::sync(&mailbox).unwrap();
    let uid = store::append(
        &mailbox,
        b"Subject: x\n\nx\n",
        MessageFlags::default(),
        &[],
        None,
    )
    .unwrap()
    .uid;
    MailboxSnapshot::open_select(&mailbox).unwrap();
    let index_file = mailbox.path().join("dovecot.index");
    assert!(!index_file.exists());
    let flagged = MessageFlags {
        flagged: true,
        ..MessageFlags::default()
    };
    let mut rounds = 0;
    while !index_file.exists() {
        rounds += 1;
        assert!(rounds < 2000, "no dovecot.index after {rounds} STOREs");
        let mode = if rounds % 2 == 1 {
            StoreMode::Add
        } else {
            StoreMode::Remove
        };
        store::store_flags(&mailbox, &[uid], mode, flagged, &[]).unwrap();
    }
    // the index written agrees with the log it summarises
    let view = IndexDir::new(mailbox.path()).open_view().unwrap();
    assert!(view.had_index_file);
    let snap = MailboxSnapshot::open(&mailbox).unwrap();
    assert_eq!(snap.messages.len(), 1);
    assert_eq!(snap.messages[0].flags.flagged, rounds % 2 == 1);
}

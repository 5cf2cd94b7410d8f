//! What a storage passes over reaches the server's log: a directory entry
//! in `cur/` that is no message leaves the other messages served, and is
//! reported once, not at every sync.

use columba_session::storage::{MailStorage, MessageFlags};
use columba_session::{MaildirStorage, SyncKind};

#[test]
fn an_entry_that_is_no_message_is_reported_once_and_the_rest_is_served() {
    let home = tempfile::tempdir().unwrap();
    let root = home.path().join("Maildir");
    let mut storage = MaildirStorage::open(&root).unwrap();
    storage
        .append(
            "INBOX",
            b"Subject: one\r\n\r\nbody\r\n",
            MessageFlags::default(),
            &[],
            None,
        )
        .unwrap();
    std::fs::create_dir(root.join("cur").join("1700000000.M1P1.host:2,S")).unwrap();

    let view = storage.view("INBOX", true).unwrap();
    assert_eq!(view.messages.len(), 1, "the message is still served");
    let problems = storage.take_problems();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("Mailbox INBOX: ignoring cur/1700000000.M1P1.host:2,S"),
        "{problems:?}"
    );

    // a later full sync finds it again, but it was already reported
    storage.sync_view("INBOX", SyncKind::Full, true).unwrap();
    assert!(storage.take_problems().is_empty());
    assert!(root.join("cur").join("1700000000.M1P1.host:2,S").is_dir());
}

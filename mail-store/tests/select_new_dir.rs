//! SELECT reads `new/` only when it changed since this process last found
//! nothing to move there. A message delivered afterwards is still moved
//! into `cur/` and shown, even when the delivery leaves `new/`'s mtime as
//! it was (a coarse timestamp tick, or a clock set back).

use std::time::{Duration, SystemTime};

use columba_mail_store::search::MessageFlags;
use columba_mail_store::store::{self, MailboxSnapshot};
use columba_maildir::Maildir;

fn set_mtime(dir: &std::path::Path, t: SystemTime) {
    std::fs::File::open(dir).unwrap().set_modified(t).unwrap();
}

#[test]
fn a_delivery_after_a_settled_select_is_moved_and_shown() {
    let tmp = tempfile::tempdir().unwrap();
    let maildir = Maildir::create(&tmp.path().join("Maildir")).unwrap();
    let inbox = maildir.inbox();
    store::sync(&inbox).unwrap();
    store::append(
        &inbox,
        b"Subject: 1\n\none\n",
        MessageFlags::default(),
        &[],
        None,
    )
    .unwrap();
    let new_dir = inbox.path().join("new");
    let long_ago = SystemTime::now() - Duration::from_secs(3600);
    // SELECT moves the first message; new/ then looks settled (old mtime)
    let first = MailboxSnapshot::open_select(&inbox).unwrap();
    assert_eq!(first.messages.len(), 1);
    set_mtime(&new_dir, long_ago);
    let again = MailboxSnapshot::open_select(&inbox).unwrap();
    assert_eq!(again.messages.len(), 1);
    assert_eq!(std::fs::read_dir(&new_dir).unwrap().count(), 0);

    // a delivery that even restores new/'s old mtime
    inbox
        .deliver(&b"Subject: 2\n\ntwo\n"[..], &Default::default())
        .unwrap();
    set_mtime(&new_dir, long_ago);
    store::sync(&inbox).unwrap();
    let after = MailboxSnapshot::open_select(&inbox).unwrap();
    assert_eq!(after.messages.len(), 2);
    assert!(after.messages[1].flags.recent);
    assert_eq!(
        std::fs::read_dir(&new_dir).unwrap().count(),
        0,
        "the delivered file was moved into cur/"
    );
}

//! A delivery into `new/` of a mailbox whose `cur/` is as the index last
//! recorded it is synced by listing `new/` alone, as Dovecot's partial
//! sync does: the delivered messages get UIDs and flags from their names,
//! and `cur/` is not read (a file slipped into it without changing its
//! mtime stays unseen until `cur/` changes). A file gone from `new/` makes
//! it a full scan.

use std::time::{Duration, SystemTime};

use columba_mail_store::search::MessageFlags;
use columba_mail_store::store::{append, sync, FlagsSnapshot};
use columba_maildir::Mailbox;

/// Past the one-second window in which a directory's mtime is not trusted.
const SETTLE: Duration = Duration::from_millis(2200);

fn uids(inbox: &Mailbox) -> Vec<u32> {
    FlagsSnapshot::open(inbox)
        .unwrap()
        .messages
        .iter()
        .map(|m| m.uid)
        .collect()
}

fn mtime(path: &std::path::Path) -> SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

#[test]
fn a_delivery_to_new_is_synced_without_listing_cur() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for d in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    let inbox = Mailbox::at(dir, dir, "INBOX");
    sync(&inbox).unwrap();
    for i in 1..=3 {
        let msg = format!("Subject: {i}\n\nbody\n");
        append(&inbox, msg.as_bytes(), MessageFlags::default(), &[], None).unwrap();
    }
    // every file in cur/, the stamps recorded by a settled full scan
    inbox.move_new_to_cur().unwrap();
    std::thread::sleep(SETTLE);
    assert!(sync(&inbox).unwrap().scanned);
    assert!(!sync(&inbox).unwrap().scanned);

    // a file slipped into cur/ with cur/'s mtime put back: the stamps say
    // cur/ is unchanged
    let cur = dir.join("cur");
    let before = mtime(&cur);
    std::fs::write(
        cur.join("1700000100.M1P1.slipped:2,"),
        "Subject: cur\n\nx\n",
    )
    .unwrap();
    std::fs::File::open(&cur)
        .unwrap()
        .set_modified(before)
        .unwrap();
    assert_eq!(mtime(&cur), before);

    // two deliveries into new/, one already flagged by its deliverer
    std::fs::write(dir.join("new/1700000200.M2P1.lda"), "Subject: a\n\nx\n").unwrap();
    std::fs::write(dir.join("new/1700000201.M3P1.lda:2,S"), "Subject: b\n\nx\n").unwrap();
    let report = sync(&inbox).unwrap();
    assert!(report.scanned, "{report:?}");
    assert_eq!(report.appended, [4, 5], "{report:?}");
    assert_eq!(uids(&inbox), [1, 2, 3, 4, 5], "cur/ was not listed");
    let flags = FlagsSnapshot::open(&inbox).unwrap();
    assert!(!flags.messages[3].flags.seen);
    assert!(flags.messages[4].flags.seen);
    // the uidlist names them as a full scan would
    let list = inbox.uidlist_file().read().unwrap().unwrap();
    assert_eq!(list.find_uid(4).unwrap().base, "1700000200.M2P1.lda");
    assert_eq!(list.find_uid(5).unwrap().base, "1700000201.M3P1.lda");
    // nothing more to do until a directory changes
    assert!(!sync(&inbox).unwrap().scanned);

    // one of them leaves new/ (another process expunged it): the listing
    // of new/ alone cannot tell where it went, so the full scan is made
    std::fs::remove_file(dir.join("new/1700000200.M2P1.lda")).unwrap();
    sync(&inbox).unwrap();
    sync(&inbox).unwrap();
    let now = uids(&inbox);
    assert!(!now.contains(&4), "{now:?}");
    assert!(now.contains(&5) && now.contains(&6), "{now:?}");

    // once cur/ changes, the full scan finds the slipped file
    std::thread::sleep(SETTLE);
    std::fs::write(cur.join("1700000300.M4P1.later:2,"), "Subject: c\n\nx\n").unwrap();
    let report = sync(&inbox).unwrap();
    assert_eq!(report.appended.len(), 1, "{report:?}");
    assert_eq!(uids(&inbox).len(), 6);
}

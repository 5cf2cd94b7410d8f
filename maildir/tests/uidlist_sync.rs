//! How a sync maintains `dovecot-uidlist` the way Dovecot does: version 1
//! upgraded to 3 with the same UIDs, unknown fields kept, appends that do
//! not touch the header, compression of mostly-expunged lists, stale
//! locks of dead processes overridden.

use std::path::Path;

use columba_maildir::{Maildir, Uidlist};

fn touch(dir: &Path, sub: &str, name: &str) {
    std::fs::write(dir.join(sub).join(name), "Subject: x\n\nbody\n").unwrap();
}

fn uidlist(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("dovecot-uidlist")).unwrap()
}

#[test]
fn version_1_is_upgraded_keeping_uids() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let maildir = Maildir::create(dir).unwrap();
    touch(dir, "cur", "1000.M1P1.h:2,S");
    touch(dir, "cur", "1001.M1P1.h:2,");
    std::fs::write(
        dir.join("dovecot-uidlist"),
        "1 12345 10\n4 1000.M1P1.h:2,S\n7 1001.M1P1.h\n",
    )
    .unwrap();
    touch(dir, "new", "1002.M1P1.h");
    let listing = maildir.inbox().sync().unwrap();
    let uids: Vec<_> = listing
        .messages
        .iter()
        .map(|m| (m.uid.unwrap(), m.base().to_string()))
        .collect();
    assert_eq!(
        uids,
        [
            (4, "1000.M1P1.h".into()),
            (7, "1001.M1P1.h".into()),
            (10, "1002.M1P1.h".to_string())
        ]
    );
    let text = uidlist(dir);
    let parsed = Uidlist::parse(text.as_bytes()).unwrap();
    assert_eq!(parsed.version, 3);
    assert_eq!(parsed.uid_validity, 12345);
    assert!(parsed.guid.is_some(), "a GUID is added on upgrade");
    assert!(
        text.ends_with("4 :1000.M1P1.h\n7 :1001.M1P1.h\n10 :1002.M1P1.h\n"),
        "{text}"
    );
}

#[test]
fn appends_keep_header_and_unknown_fields() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let maildir = Maildir::create(dir).unwrap();
    touch(dir, "cur", "1000.M1P1.h,S=17:2,S");
    let original =
        "3 V5 N3 G0b1ef93084520b6ba93b000083ecc375 P1 Zfuture\n2 S17 Xkeep :1000.M1P1.h,S=17\n";
    std::fs::write(dir.join("dovecot-uidlist"), original).unwrap();
    touch(dir, "new", "1001.M5P1.h");
    touch(dir, "new", "1001.M10P1.h");
    touch(dir, "new", "999.M1P1.h");
    maildir.inbox().sync().unwrap();
    // Appended in Dovecot's order (seconds, then microseconds numerically),
    // header untouched.
    assert_eq!(
        uidlist(dir),
        format!("{original}3 :999.M1P1.h\n4 :1001.M5P1.h\n5 :1001.M10P1.h\n")
    );
    // A second sync with nothing new writes nothing.
    let before = std::fs::metadata(dir.join("dovecot-uidlist"))
        .unwrap()
        .len();
    maildir.inbox().sync().unwrap();
    assert_eq!(
        std::fs::metadata(dir.join("dovecot-uidlist"))
            .unwrap()
            .len(),
        before
    );
}

#[test]
fn mostly_expunged_list_is_compressed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let maildir = Maildir::create(dir).unwrap();
    for i in 0..10 {
        touch(dir, "cur", &format!("{}.M1P1.h:2,", 1000 + i));
    }
    maildir.inbox().sync().unwrap();
    for i in 0..8 {
        std::fs::remove_file(dir.join("cur").join(format!("{}.M1P1.h:2,", 1000 + i))).unwrap();
    }
    maildir.inbox().sync().unwrap();
    let parsed = Uidlist::parse(uidlist(dir).as_bytes()).unwrap();
    assert_eq!(
        parsed.records.iter().map(|r| r.uid).collect::<Vec<_>>(),
        [9, 10]
    );
    assert_eq!(
        parsed.header_next_uid, 11,
        "N keeps the UIDs of expunged messages used"
    );
}

#[test]
fn stale_lock_of_a_dead_process_is_overridden() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let maildir = Maildir::create(dir).unwrap();
    touch(dir, "new", "1000.M1P1.h");
    let lock = dir.join("dovecot-uidlist.lock");
    std::fs::write(
        &lock,
        format!("99999999:{}", columba_maildir::filename::hostname()),
    )
    .unwrap();
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(30);
    std::fs::File::options()
        .write(true)
        .open(&lock)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let listing = maildir.inbox().sync().unwrap();
    assert_eq!(listing.messages[0].uid, Some(1));
    assert!(!lock.exists());
}

#[test]
fn broken_uidlist_is_an_error_not_a_rewrite() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let maildir = Maildir::create(dir).unwrap();
    std::fs::write(dir.join("dovecot-uidlist"), "3 V1 N1\n5 :a\n2 :b\n").unwrap();
    let err = maildir.inbox().sync().unwrap_err();
    assert!(err.to_string().contains("line 3"), "{err}");
    assert_eq!(uidlist(dir), "3 V1 N1\n5 :a\n2 :b\n");
    assert!(!dir.join("dovecot-uidlist.lock").exists());
}

#[test]
fn renamed_message_is_opened_by_base_name() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let inbox = Maildir::create(dir).unwrap().inbox();
    let d = inbox
        .deliver(
            &b"Subject: x\n\nbody\n"[..],
            &columba_maildir::DeliveryOptions::default(),
        )
        .unwrap();
    std::fs::rename(
        &d.path,
        dir.join("cur").join(format!("{}:2,S", d.file_name.base())),
    )
    .unwrap();
    let (_, name) = inbox.open_message(&d.file_name).unwrap().unwrap();
    assert_eq!(name.info().unwrap().letters(), "S");
    std::fs::remove_file(dir.join("cur").join(name.as_str())).unwrap();
    assert!(inbox.open_message(&d.file_name).unwrap().is_none());
}

fn age_dirs(dir: &Path) {
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
    for sub in ["new", "cur"] {
        std::fs::File::open(dir.join(sub))
            .unwrap()
            .set_modified(old)
            .unwrap();
    }
}

#[test]
fn remembered_listing_follows_every_change() {
    use columba_maildir::{DeliveryOptions, FlagUpdate, Flags};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let inbox = Maildir::create(dir).unwrap().inbox();
    let a = inbox
        .deliver(&b"Subject: a\n\na\n"[..], &DeliveryOptions::default())
        .unwrap();
    age_dirs(dir);
    let first = inbox.list().unwrap();
    assert_eq!(first.messages.len(), 1);
    // Same handle, nothing changed: same answer.
    assert_eq!(inbox.list().unwrap().messages, first.messages);
    // A flag change (rename) by another handle is seen.
    let other = Maildir::open(dir).unwrap().inbox();
    other
        .update_flags(&a.file_name, &FlagUpdate::Add(Flags::SEEN, vec![]))
        .unwrap();
    assert_eq!(inbox.list().unwrap().messages[0].flags, Flags::SEEN);
    age_dirs(dir);
    inbox.list().unwrap();
    // A delivery is seen.
    other
        .deliver(&b"Subject: b\n\nb\n"[..], &DeliveryOptions::default())
        .unwrap();
    assert_eq!(inbox.list().unwrap().messages.len(), 2);
    age_dirs(dir);
    inbox.list().unwrap();
    // An expunge is seen.
    let current = inbox.list().unwrap().messages[0].file_name.clone();
    other.expunge(&current).unwrap();
    assert_eq!(inbox.list().unwrap().messages.len(), 1);
    age_dirs(dir);
    inbox.list().unwrap();
    // A uidlist change alone (a new record for an old file) is seen.
    touch(dir, "cur", "1.M1P1.h:2,");
    age_dirs(dir);
    let before = inbox.list().unwrap();
    assert_eq!(
        before.messages.iter().filter(|m| m.uid.is_none()).count(),
        1
    );
    other.sync().unwrap();
    age_dirs(dir);
    assert!(inbox
        .list()
        .unwrap()
        .messages
        .iter()
        .all(|m| m.uid.is_some()));
}

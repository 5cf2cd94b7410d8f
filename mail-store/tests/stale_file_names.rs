//! STORE and EXPUNGE go to a message's file by the name its uidlist
//! record and index flags give, without listing the mailbox. When that
//! name is stale (another process renamed the file, or it is still in
//! `new/`), the message is found by its base name all the same.

use std::path::{Path, PathBuf};

use columba_mail_store::search::MessageFlags;
use columba_mail_store::store::{self, MailboxSnapshot, StoreMode};
use columba_maildir::{Mailbox, Maildir};

/// A mailbox with three indexed messages (no flags); with `select`, a
/// SELECT has moved them into `cur/`.
fn mailbox_with_three(root: &Path, select: bool) -> (Mailbox, Vec<u32>) {
    let maildir = Maildir::create(&root.join("Maildir")).unwrap();
    let mailbox = maildir.inbox();
    store::sync(&mailbox).unwrap();
    let uids = (0..3)
        .map(|i| {
            let body = format!("Subject: {i}\n\nbody {i}\n");
            store::append(
                &mailbox,
                body.as_bytes(),
                MessageFlags::default(),
                &[],
                None,
            )
            .unwrap()
            .uid
        })
        .collect();
    if select {
        MailboxSnapshot::open_select(&mailbox).unwrap();
    }
    (mailbox, uids)
}

/// Every file of the message with `uid`, wherever it is.
fn files_of(mailbox: &Mailbox, uid: u32) -> Vec<PathBuf> {
    let list = mailbox.uidlist().unwrap().unwrap();
    let base = list.find_uid(uid).unwrap().base.clone();
    let mut found = Vec::new();
    for sub in ["new", "cur"] {
        for e in std::fs::read_dir(mailbox.path().join(sub)).unwrap() {
            let name = e.unwrap().file_name().into_string().unwrap();
            if name.split(':').next() == Some(base.as_str()) {
                found.push(mailbox.path().join(sub).join(name));
            }
        }
    }
    found
}

/// Renames the message's only file to carry `letters` as its flags, as
/// another process changing flags behind the index's back does.
fn rename_behind_the_index(mailbox: &Mailbox, uid: u32, letters: &str) -> PathBuf {
    let [old] = files_of(mailbox, uid).try_into().unwrap();
    let name = old.file_name().unwrap().to_str().unwrap();
    let base = name.split(':').next().unwrap();
    let new = mailbox
        .path()
        .join("cur")
        .join(format!("{base}:2,{letters}"));
    std::fs::rename(&old, &new).unwrap();
    new
}

fn seen() -> MessageFlags {
    MessageFlags {
        seen: true,
        ..MessageFlags::default()
    }
}

#[test]
fn store_finds_a_file_renamed_behind_the_index() {
    let tmp = tempfile::tempdir().unwrap();
    let (mailbox, uids) = mailbox_with_three(tmp.path(), true);
    rename_behind_the_index(&mailbox, uids[1], "F");
    let stored = store::store_flags(&mailbox, &[uids[1]], StoreMode::Add, seen(), &[]).unwrap();
    assert_eq!(stored, vec![uids[1]]);
    let [file] = files_of(&mailbox, uids[1]).try_into().unwrap();
    // the other process's \Flagged is kept, \Seen is added
    assert!(file.to_str().unwrap().ends_with(":2,FS"), "{file:?}");
    // the untouched messages keep their names
    for uid in [uids[0], uids[2]] {
        let [f] = files_of(&mailbox, uid).try_into().unwrap();
        assert!(f.to_str().unwrap().ends_with(":2,"), "{f:?}");
    }
}

#[test]
fn store_finds_a_file_still_in_new() {
    let tmp = tempfile::tempdir().unwrap();
    let (mailbox, uids) = mailbox_with_three(tmp.path(), false);
    let [before] = files_of(&mailbox, uids[0]).try_into().unwrap();
    assert!(before.starts_with(mailbox.path().join("new")), "{before:?}");
    let stored = store::store_flags(&mailbox, &[uids[0]], StoreMode::Add, seen(), &[]).unwrap();
    assert_eq!(stored, vec![uids[0]]);
    let [file] = files_of(&mailbox, uids[0]).try_into().unwrap();
    assert!(file.to_str().unwrap().ends_with(":2,S"), "{file:?}");
}

#[test]
fn store_names_keywords_and_removes_them_again() {
    let tmp = tempfile::tempdir().unwrap();
    let (mailbox, uids) = mailbox_with_three(tmp.path(), true);
    let work = vec!["$Work".to_string()];
    let none = MessageFlags::default();
    store::store_flags(&mailbox, &[uids[2]], StoreMode::Add, seen(), &work).unwrap();
    let [file] = files_of(&mailbox, uids[2]).try_into().unwrap();
    assert!(file.to_str().unwrap().ends_with(":2,Sa"), "{file:?}");
    // the expected name now carries the keyword's letter
    let stored = store::store_flags(&mailbox, &[uids[2]], StoreMode::Remove, none, &work).unwrap();
    assert_eq!(stored, vec![uids[2]]);
    let [file] = files_of(&mailbox, uids[2]).try_into().unwrap();
    assert!(file.to_str().unwrap().ends_with(":2,S"), "{file:?}");
    let snap = MailboxSnapshot::open(&mailbox).unwrap();
    let m = snap.messages.iter().find(|m| m.uid == uids[2]).unwrap();
    assert!(m.keywords.is_empty() && m.flags.seen, "{m:?}");
}

#[test]
fn store_of_an_expunged_message_reports_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (mailbox, uids) = mailbox_with_three(tmp.path(), true);
    let [file] = files_of(&mailbox, uids[0]).try_into().unwrap();
    std::fs::remove_file(file).unwrap();
    let stored = store::store_flags(&mailbox, &[uids[0]], StoreMode::Add, seen(), &[]).unwrap();
    assert!(stored.is_empty(), "{stored:?}");
}

#[test]
fn expunge_finds_a_file_renamed_behind_the_index() {
    let tmp = tempfile::tempdir().unwrap();
    let (mailbox, uids) = mailbox_with_three(tmp.path(), true);
    rename_behind_the_index(&mailbox, uids[0], "DS");
    let removed = store::expunge(&mailbox, &[uids[0]]).unwrap();
    assert_eq!(removed, vec![uids[0]]);
    assert!(files_of(&mailbox, uids[0]).is_empty());
    let snap = MailboxSnapshot::open(&mailbox).unwrap();
    let left: Vec<u32> = snap.messages.iter().map(|m| m.uid).collect();
    assert_eq!(left, vec![uids[1], uids[2]]);
}

#[test]
fn expunge_finds_a_file_still_in_new() {
    let tmp = tempfile::tempdir().unwrap();
    let (mailbox, uids) = mailbox_with_three(tmp.path(), false);
    let removed = store::expunge(&mailbox, &[uids[1]]).unwrap();
    assert_eq!(removed, vec![uids[1]]);
    assert!(files_of(&mailbox, uids[1]).is_empty());
    assert_eq!(files_of(&mailbox, uids[0]).len(), 1);
    assert_eq!(files_of(&mailbox, uids[2]).len(), 1);
}

#[test]
fn a_snapshot_reads_a_file_renamed_after_its_name_was_guessed() {
    let tmp = tempfile::tempdir().unwrap();
    let (mailbox, uids) = mailbox_with_three(tmp.path(), true);
    let mut snap = MailboxSnapshot::open(&mailbox).unwrap();
    snap.resolve_files().unwrap();
    let m = snap
        .messages
        .iter()
        .find(|m| m.uid == uids[1])
        .unwrap()
        .clone();
    let guessed = m.path.clone().unwrap();
    assert!(guessed.exists(), "the guess is right while nothing changed");
    let date = m.internal_date().unwrap();
    let renamed = rename_behind_the_index(&mailbox, uids[1], "FT");
    assert_eq!(m.locate(), Some(renamed));
    assert_eq!(m.read().unwrap(), b"Subject: 1\n\nbody 1\n");
    assert_eq!(m.internal_date().unwrap(), date);
    assert_eq!(m.rfc822_size().unwrap(), 22);
    // the total counts every message, whatever its file is called now
    assert_eq!(snap.total_size().unwrap(), 3 * 22);
    // gone for good: no file, no bytes
    std::fs::remove_file(m.locate().unwrap()).unwrap();
    assert_eq!(m.locate(), None);
    assert!(m.read().is_err());
}

#[test]
fn a_snapshot_finds_messages_still_in_new() {
    let tmp = tempfile::tempdir().unwrap();
    let (mailbox, uids) = mailbox_with_three(tmp.path(), false);
    let mut snap = MailboxSnapshot::open(&mailbox).unwrap();
    snap.resolve_files().unwrap();
    for (i, uid) in uids.iter().enumerate() {
        let m = snap.messages.iter().find(|m| m.uid == *uid).unwrap();
        let path = m.path.clone().unwrap();
        assert!(path.starts_with(mailbox.path().join("new")), "{path:?}");
        assert_eq!(
            m.read().unwrap(),
            format!("Subject: {i}\n\nbody {i}\n").as_bytes()
        );
    }
}

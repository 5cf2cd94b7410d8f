//! `SnapshotCache`: a mailbox opened again while unchanged gives the same
//! view without reading the index; any change (Columba's or Dovecot's) is
//! seen at once.

use std::path::Path;

use columba_mail_store::search::MessageFlags;
use columba_mail_store::store::{
    append, store_flags, sync, MailboxSnapshot, SnapshotCache, StoreMode,
};
use columba_maildir::Mailbox;

/// Moves the mtimes of the mailbox's control files ten seconds back, as
/// if they were written a while ago (a fresh file is not trusted by its
/// stamp).
fn age(dir: &Path) {
    let then = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        - 10;
    let ts = rustix::fs::Timespec {
        tv_sec: then,
        tv_nsec: 0,
    };
    let times = rustix::fs::Timestamps {
        last_access: ts,
        last_modification: ts,
    };
    for name in ["dovecot.index", "dovecot.index.log", "dovecot-uidlist"] {
        let p = dir.join(name);
        if p.exists() {
            rustix::fs::utimensat(rustix::fs::CWD, &p, &times, rustix::fs::AtFlags::empty())
                .unwrap();
        }
    }
}

fn mailbox(dir: &Path) -> Mailbox {
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    let inbox = Mailbox::at(dir, dir, "INBOX");
    sync(&inbox).unwrap();
    inbox
}

#[test]
fn unchanged_mailbox_is_answered_from_memory_and_changes_are_seen() {
    let tmp = tempfile::tempdir().unwrap();
    let inbox = mailbox(tmp.path());
    for i in 0..5 {
        let msg = format!("Subject: m{i}\n\nbody {i}\n");
        append(&inbox, msg.as_bytes(), MessageFlags::default(), &[], None).unwrap();
    }
    age(tmp.path());
    let mut views = SnapshotCache::default();
    let first = views.open(&inbox).unwrap();
    assert_eq!(views.hits(), 0);
    let again = views.open(&inbox).unwrap();
    assert_eq!(views.hits(), 1);
    let direct = MailboxSnapshot::open(&inbox).unwrap();
    assert_eq!(again.messages, direct.messages);
    assert_eq!(first.messages, direct.messages);
    assert_eq!(
        (again.uid_next, again.uid_validity, again.highest_modseq),
        (direct.uid_next, direct.uid_validity, direct.highest_modseq)
    );
    assert_eq!(again.log_position, direct.log_position);

    // a flag change goes through the log: read again, not from memory
    let seen = MessageFlags {
        seen: true,
        ..MessageFlags::default()
    };
    store_flags(&inbox, &[2], StoreMode::Add, seen, &[]).unwrap();
    let changed = views.open(&inbox).unwrap();
    assert_eq!(views.hits(), 1);
    assert!(changed.messages[1].flags.seen);
    assert_eq!(
        changed.messages,
        MailboxSnapshot::open(&inbox).unwrap().messages
    );

    // files can be found from a remembered view
    age(tmp.path());
    views.open(&inbox).unwrap();
    let mut from_memory = views.open(&inbox).unwrap();
    assert_eq!(views.hits(), 2);
    from_memory.resolve_files().unwrap();
    assert!(from_memory.messages.iter().all(|m| m.path.is_some()));
}

#[test]
fn fresh_files_are_read_every_time() {
    let tmp = tempfile::tempdir().unwrap();
    let inbox = mailbox(tmp.path());
    append(
        &inbox,
        b"Subject: a\n\nx\n",
        MessageFlags::default(),
        &[],
        None,
    )
    .unwrap();
    let mut views = SnapshotCache::default();
    views.open(&inbox).unwrap();
    views.open(&inbox).unwrap();
    // written within the last two seconds: a same-size change in the same
    // timestamp tick would be invisible, so nothing was remembered
    assert_eq!(views.hits(), 0);
}

#[test]
fn capacity_forgets_the_least_recently_opened() {
    let tmp = tempfile::tempdir().unwrap();
    let boxes: Vec<Mailbox> = (0..3)
        .map(|i| {
            let d = tmp.path().join(format!("m{i}"));
            let m = mailbox(&d);
            append(&m, b"Subject: a\n\nx\n", MessageFlags::default(), &[], None).unwrap();
            age(&d);
            m
        })
        .collect();
    let mut views = SnapshotCache::with_capacity(2);
    views.open(&boxes[0]).unwrap();
    views.open(&boxes[1]).unwrap();
    views.open(&boxes[0]).unwrap(); // hit; m1 is now the oldest
    views.open(&boxes[2]).unwrap(); // m1 forgotten
    assert_eq!(views.hits(), 1);
    views.open(&boxes[0]).unwrap();
    assert_eq!(views.hits(), 2);
    views.open(&boxes[1]).unwrap();
    assert_eq!(views.hits(), 2);
}

#[test]
fn dovecot_changes_to_a_remembered_mailbox_are_seen() {
    use columba_interop::{require_tool, DovecotConfig, PrivateDovecot};
    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    let dir = dovecot.maildir("alice");
    let inbox = mailbox(&dir);
    for i in 0..4 {
        let msg = format!("Subject: m{i}\n\nbody {i}\n");
        append(&inbox, msg.as_bytes(), MessageFlags::default(), &[], None).unwrap();
    }
    dovecot.fix_ownership("alice").unwrap();
    age(&dir);
    let mut views = SnapshotCache::default();
    views.open(&inbox).unwrap();
    assert_eq!(views.open(&inbox).unwrap().messages.len(), 4);
    assert_eq!(views.hits(), 1);

    let out = dovecot.doveadm(&[
        "flags",
        "add",
        "-u",
        "alice",
        "\\Flagged",
        "mailbox",
        "INBOX",
        "uid",
        "3",
    ]);
    assert!(out.status.success(), "{out:?}");
    let out = dovecot.doveadm(&["expunge", "-u", "alice", "mailbox", "INBOX", "uid", "1"]);
    assert!(out.status.success(), "{out:?}");

    let view = views.open(&inbox).unwrap();
    let uids: Vec<u32> = view.messages.iter().map(|m| m.uid).collect();
    assert_eq!(uids, [2, 3, 4]);
    assert!(view.messages[1].flags.flagged);
    assert_eq!(
        view.messages,
        MailboxSnapshot::open(&inbox).unwrap().messages
    );
    let fetched = dovecot.doveadm(&[
        "fetch",
        "-u",
        "alice",
        "uid flags",
        "mailbox",
        "INBOX",
        "all",
    ]);
    let text = String::from_utf8_lossy(&fetched.stdout);
    assert!(text.contains("uid: 3\nflags: \\Flagged"), "{text}");
}

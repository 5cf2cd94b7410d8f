//! Without Dovecot: a sync of a Maildir whose `cur/` holds a file the mail
//! user may not read, a directory named like a message, a dangling
//! symlink and a name without `:2,` with odd characters succeeds, reports
//! the bad entries in its [`SyncReport`](columba_mail_store::store::SyncReport),
//! puts every message into the index with its UID and flags, and a second
//! sync neither expunges nor adds anything.
//!
//! The sync runs in a child process (this test binary again) as the mail
//! owner: root reads every file.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use columba_interop::{chown_tree, MailOwner};
use columba_mail_store::store::{sync, MailboxSnapshot};
use columba_maildir::{DeliveryOptions, Flags, Maildir};

const CHILD_DIR: &str = "COLUMBA_STORE_UNREADABLE_UNIT_CHILD_DIR";

/// Worker: two syncs and a read-write open of the Maildir named by the
/// environment, each finding printed after `@@`. Does nothing in a normal
/// test run.
#[test]
fn child_syncs_twice() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let inbox = Maildir::open(Path::new(&dir)).unwrap().inbox();
    let first = sync(&inbox).unwrap();
    println!("@@appended\t{:?}", first.appended);
    for s in &first.skipped {
        println!("@@skipped\t{}\t{:?}", s.name, s.kind);
    }
    for u in &first.unreadable {
        println!("@@unreadable\t{}\t{:?}\t{:?}", u.name, u.uid, u.problem);
    }
    let second = sync(&inbox).unwrap();
    println!("@@second\t{}", second.changed_nothing());
    let snapshot = MailboxSnapshot::open_select(&inbox).unwrap();
    for m in &snapshot.messages {
        println!("@@message\t{}\t{}", m.uid, m.flags.seen);
    }
}

#[test]
fn sync_reports_bad_entries_and_keeps_every_message() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = tmp.path().join("Maildir");
    let inbox = Maildir::create(&path).unwrap().inbox();
    for flags in [Flags::NONE, Flags::SEEN] {
        let options = DeliveryOptions {
            flags,
            ..DeliveryOptions::default()
        };
        inbox.deliver(&b"Subject: a\n\nb\n"[..], &options).unwrap();
    }
    let cur = path.join("cur");
    // sorted by name, the order UIDs are given in
    std::fs::write(cur.join("1700000001.M1P1.host:2,S"), "Subject: x\n\ny\n").unwrap();
    std::os::unix::fs::symlink(
        "/nonexistent/columba-test",
        cur.join("1700000002.M1P1.host:2,"),
    )
    .unwrap();
    std::fs::create_dir(cur.join("1700000003.M1P1.host:2,")).unwrap();
    std::fs::write(
        cur.join("1700000004 odd \"name\" \u{fc}"),
        "Subject: z\n\nz\n",
    )
    .unwrap();
    chown_tree(tmp.path(), MailOwner::for_tests()).unwrap();
    std::fs::set_permissions(
        cur.join("1700000001.M1P1.host:2,S"),
        std::fs::Permissions::from_mode(0o000),
    )
    .unwrap();

    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "child_syncs_twice",
        "--test-threads=1",
        "--nocapture",
    ])
    .env(CHILD_DIR, &path);
    MailOwner::for_tests().apply(&mut cmd);
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_once("@@").map(|(_, l)| l))
        .collect();
    assert_eq!(
        lines,
        [
            "appended\t[1, 2, 3, 4, 5]",
            "skipped\tcur/1700000003.M1P1.host:2,\tNotAFile",
            "unreadable\tcur/1700000001.M1P1.host:2,S\tSome(3)\tPermissionDenied",
            "unreadable\tcur/1700000002.M1P1.host:2,\tSome(4)\tDanglingSymlink",
            "second\ttrue",
            "message\t1\tfalse",
            "message\t2\ttrue",
            "message\t3\ttrue",
            "message\t4\tfalse",
            "message\t5\tfalse",
        ],
        "{text}"
    );
    assert!(cur.join("1700000003.M1P1.host:2,").is_dir());
    assert!(std::fs::symlink_metadata(cur.join("1700000002.M1P1.host:2,")).is_ok());
}

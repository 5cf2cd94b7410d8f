//! A sync that finds nothing to number takes no `dovecot-uidlist.lock`
//! (as Dovecot's maildir sync), so it never waits for another holder; one
//! that finds new files waits for the lock and numbers them. What a live
//! Dovecot writes meanwhile (appends, expunges, rewrites of the uidlist,
//! files it numbered in a directory this process remembers) is seen by the
//! very next sync or listing in the same process.

use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use columba_interop::{require_tool, DovecotConfig, PrivateDovecot};
use columba_maildir::{DeliveryOptions, Listing, Mailbox, Maildir, Uidlist, DIR_SETTLE};

fn deliver(inbox: &Mailbox, subject: &str) {
    inbox
        .deliver(
            format!("Subject: {subject}\n\nbody\n").as_bytes(),
            &DeliveryOptions::default(),
        )
        .unwrap();
}

/// Runs a sync on another thread; `None` if it did not finish in `limit`.
fn sync_within(inbox: &Mailbox, limit: Duration) -> Option<Listing> {
    let (tx, rx) = mpsc::channel();
    let mb = inbox.clone();
    std::thread::spawn(move || {
        let _ = tx.send(mb.sync().unwrap());
    });
    rx.recv_timeout(limit).ok()
}

fn uids(listing: &Listing) -> Vec<(Option<u32>, String)> {
    listing
        .messages
        .iter()
        .map(|m| (m.uid, m.base().to_string()))
        .collect()
}

/// Waits until a directory change made now is settled.
fn settle() {
    std::thread::sleep(DIR_SETTLE + Duration::from_millis(100));
}

#[test]
fn sync_with_nothing_new_does_not_wait_for_a_held_lock() {
    let tmp = tempfile::tempdir().unwrap();
    let inbox = Maildir::create(tmp.path()).unwrap().inbox();
    deliver(&inbox, "a");
    deliver(&inbox, "b");
    let first = inbox.sync().unwrap();
    // Another holder (a thread here; a process waits the same way) takes
    // the uidlist lock and keeps it.
    let held = inbox.uidlist_file().lock().unwrap();
    assert!(tmp.path().join("dovecot-uidlist.lock").exists());
    for _ in 0..3 {
        let again = sync_within(&inbox, Duration::from_secs(10))
            .expect("a sync with nothing new waited for the lock");
        assert_eq!(uids(&again), uids(&first));
        assert_eq!(again.next_uid, 3);
    }
    // A flag change (rename) needs no UID: still no wait.
    let name = &first.messages[0].file_name;
    std::fs::rename(
        tmp.path().join("new").join(name.as_str()),
        tmp.path().join("cur").join(format!("{}:2,S", name.base())),
    )
    .unwrap();
    let renamed = sync_within(&inbox, Duration::from_secs(10)).expect("waited for the lock");
    assert_eq!(uids(&renamed), uids(&first));
    assert!(renamed.messages[0]
        .flags
        .contains(columba_maildir::Flags::SEEN));

    // A new file must be numbered: that sync waits for the lock ...
    std::fs::write(
        tmp.path().join("new").join("1700000000.M1P1.other"),
        "Subject: c\n\nc\n",
    )
    .unwrap();
    let (tx, rx) = mpsc::channel();
    let mb = inbox.clone();
    std::thread::spawn(move || {
        let _ = tx.send(mb.sync().unwrap());
    });
    assert!(
        rx.recv_timeout(Duration::from_millis(700)).is_err(),
        "a sync with a file to number did not wait for the lock"
    );
    // ... and numbers it once the holder is done.
    held.unlock().unwrap();
    let numbered = rx.recv_timeout(Duration::from_secs(30)).unwrap();
    let last = numbered.messages.last().unwrap();
    assert_eq!((last.uid, last.base()), (Some(3), "1700000000.M1P1.other"));
    assert!(!tmp.path().join("dovecot-uidlist.lock").exists());
}

#[test]
fn files_arriving_between_syncs_are_numbered_in_dovecots_order() {
    let tmp = tempfile::tempdir().unwrap();
    let inbox = Maildir::create(tmp.path()).unwrap().inbox();
    deliver(&inbox, "a");
    assert_eq!(inbox.sync().unwrap().messages.len(), 1);
    for name in [
        "1700000002.M1P1.h",
        "1700000001.M5P1.h",
        "1700000001.M40P1.h",
    ] {
        std::fs::write(tmp.path().join("new").join(name), "Subject: x\n\nx\n").unwrap();
    }
    let listing = inbox.sync().unwrap();
    let got: Vec<_> = uids(&listing).into_iter().skip(1).collect();
    assert_eq!(
        got,
        [
            (Some(2), "1700000001.M5P1.h".to_string()),
            (Some(3), "1700000001.M40P1.h".to_string()),
            (Some(4), "1700000002.M1P1.h".to_string()),
        ]
    );
    // What this process remembers of the uidlist is what the file says.
    let on_disk = Uidlist::parse(&std::fs::read(tmp.path().join("dovecot-uidlist")).unwrap());
    assert_eq!(
        inbox.uidlist_file().read_shared().unwrap().as_deref(),
        Some(&on_disk.unwrap())
    );
}

/// Sets a directory's mtime to `mtime` (nanoseconds included).
fn set_mtime(dir: &Path, mtime: SystemTime) {
    std::fs::File::open(dir)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
}

#[test]
fn settled_directories_are_remembered_and_every_change_is_still_seen() {
    use columba_maildir::{FlagUpdate, Flags};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let inbox = Maildir::create(dir).unwrap().inbox();
    deliver(&inbox, "a");
    let a = inbox.sync().unwrap().messages[0].clone();
    settle();
    let first = inbox.list().unwrap();
    assert_eq!(inbox.list().unwrap().messages, first.messages);

    // A file added with the directory's mtime put back exactly as it was
    // (as a second change within one clock tick would leave it): the
    // ctime still differs, so the directory is read again.
    let new_dir = dir.join("new");
    let mtime = std::fs::metadata(&new_dir).unwrap().modified().unwrap();
    std::fs::write(new_dir.join("1700000000.M1P1.h"), "Subject: b\n\nb\n").unwrap();
    set_mtime(&new_dir, mtime);
    assert_eq!(
        std::fs::metadata(&new_dir).unwrap().modified().unwrap(),
        mtime
    );
    let listing = inbox.list().unwrap();
    assert_eq!(listing.messages.len(), 2);
    assert_eq!(listing.messages[1].uid, None);
    assert_eq!(inbox.sync().unwrap().messages[1].uid, Some(2));
    settle();
    inbox.list().unwrap();

    // A flag change by another handle, after the directory settled.
    let other = Maildir::open(dir).unwrap().inbox();
    other
        .update_flags(&a.file_name, &FlagUpdate::Add(Flags::FLAGGED, vec![]))
        .unwrap();
    assert_eq!(inbox.list().unwrap().messages[0].flags, Flags::FLAGGED);
    settle();
    inbox.list().unwrap();

    // An expunge.
    let current = inbox.list().unwrap().messages[0].file_name.clone();
    other.expunge(&current).unwrap();
    let listing = inbox.sync().unwrap();
    assert_eq!(listing.messages.len(), 1);
    assert_eq!(listing.messages[0].uid, Some(2));

    // A directory replaced by another one (a mailbox deleted and made
    // again under the same name) is read anew.
    settle();
    inbox.list().unwrap();
    std::fs::rename(dir.join("cur"), dir.join("cur.old")).unwrap();
    std::fs::create_dir(dir.join("cur")).unwrap();
    std::fs::write(dir.join("cur/1700000009.M1P1.h:2,S"), "Subject: c\n\nc\n").unwrap();
    let listing = inbox.list().unwrap();
    assert!(listing
        .messages
        .iter()
        .any(|m| m.base() == "1700000009.M1P1.h" && m.flags == Flags::SEEN));
}

fn start() -> PrivateDovecot {
    PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap()
}

fn doveadm_save(dovecot: &PrivateDovecot, message: &str) {
    use std::io::Write;
    let mut child = std::process::Command::new(columba_interop::find_tool("doveadm").unwrap())
        .arg("-c")
        .arg(dovecot.config_path())
        .args(["save", "-u", "alice", "-m", "INBOX"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(message.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
}

/// UID -> GUID (the base file name) as doveadm reports INBOX.
fn dovecot_uids(dovecot: &PrivateDovecot) -> Vec<(Option<u32>, String)> {
    let out = dovecot.doveadm(&[
        "-f", "tab", "fetch", "-u", "alice", "uid guid", "mailbox", "INBOX", "all",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (uid, guid) = l.split_once('\t').unwrap();
            (Some(uid.parse().unwrap()), guid.to_string())
        })
        .collect()
}

fn doveadm_ok(dovecot: &PrivateDovecot, args: &[&str]) {
    let out = dovecot.doveadm(args);
    assert!(
        out.status.success(),
        "doveadm {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn what_a_live_dovecot_writes_is_seen_by_the_next_sync() {
    require_tool!("dovecot");
    let dovecot = start();
    for i in 0..6 {
        doveadm_save(&dovecot, &format!("Subject: m{i}\n\nbody {i}\n"));
    }
    let maildir = Maildir::open(&dovecot.maildir("alice")).unwrap();
    let inbox = maildir.inbox();
    assert_eq!(uids(&inbox.sync().unwrap()), dovecot_uids(&dovecot));

    // Dovecot appends to the uidlist.
    doveadm_save(&dovecot, "Subject: m6\n\nbody 6\n");
    let listing = inbox.sync().unwrap();
    assert_eq!(listing.messages.len(), 7);
    assert_eq!(uids(&listing), dovecot_uids(&dovecot));

    // A file dropped into new/ by an outside MDA, numbered by Dovecot
    // while this process remembers new/ and cur/ unchanged.
    settle();
    inbox.list().unwrap();
    let new_dir = dovecot.maildir("alice").join("new");
    std::fs::write(
        new_dir.join("1700000000.M1P1.outside"),
        "Subject: outside\n\nx\n",
    )
    .unwrap();
    dovecot.fix_ownership("alice").unwrap();
    settle();
    let seen = inbox.list().unwrap();
    assert_eq!(seen.messages.last().unwrap().uid, None);
    let dovecot_view = dovecot_uids(&dovecot); // Dovecot numbers it now
    assert_eq!(dovecot_view.len(), 8);
    assert_eq!(uids(&inbox.list().unwrap()), dovecot_view);
    assert_eq!(uids(&inbox.sync().unwrap()), dovecot_view);

    // Dovecot expunges most messages (and rewrites its uidlist when it
    // compresses it): the next sync agrees, with no UID given twice.
    doveadm_ok(
        &dovecot,
        &["expunge", "-u", "alice", "mailbox", "INBOX", "uid", "1:6"],
    );
    doveadm_save(&dovecot, "Subject: m9\n\nbody 9\n");
    let dovecot_view = dovecot_uids(&dovecot);
    assert_eq!(dovecot_view.len(), 3);
    assert_eq!(uids(&inbox.sync().unwrap()), dovecot_view);
    // Columba numbers a new file after Dovecot's last UID.
    std::fs::write(new_dir.join("1700000001.M1P1.outside"), "Subject: y\n\ny\n").unwrap();
    dovecot.fix_ownership("alice").unwrap();
    let listing = inbox.sync().unwrap();
    let next = dovecot_view.last().unwrap().0.unwrap() + 1;
    assert_eq!(listing.messages.last().unwrap().uid, Some(next));
    assert_eq!(uids(&listing), dovecot_uids(&dovecot));
    let problems = dovecot.log_problems();
    assert!(problems.is_empty(), "Dovecot log: {problems:#?}");
}

#[test]
fn unchanged_since_holds_until_anything_changes() {
    use columba_maildir::{FlagUpdate, Flags};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let inbox = Maildir::create(dir).unwrap().inbox();
    deliver(&inbox, "a");
    let synced = inbox.sync().unwrap();
    // Just changed: not provably unchanged yet.
    assert!(!inbox.unchanged_since(&synced).unwrap());
    settle();
    let listing = inbox.list().unwrap();
    assert!(inbox.unchanged_since(&listing).unwrap());
    assert!(inbox.unchanged_since(&inbox.sync().unwrap()).unwrap());
    // Another handle (the same goes for another process) renames a file.
    let other = Maildir::open(dir).unwrap().inbox();
    other
        .update_flags(
            &listing.messages[0].file_name,
            &FlagUpdate::Add(Flags::SEEN, vec![]),
        )
        .unwrap();
    assert!(!inbox.unchanged_since(&listing).unwrap());
    settle();
    let listing = inbox.list().unwrap();
    assert!(inbox.unchanged_since(&listing).unwrap());
    // A new file in new/.
    std::fs::write(dir.join("new/1700000000.M1P1.h"), "Subject: b\n\nb\n").unwrap();
    assert!(!inbox.unchanged_since(&listing).unwrap());
    settle();
    let listing = inbox.list().unwrap();
    assert!(inbox.unchanged_since(&listing).unwrap());
    // Only the uidlist changes (another process numbers that file).
    other.sync().unwrap();
    assert!(!inbox.unchanged_since(&listing).unwrap());
    let listing = inbox.list().unwrap();
    assert_eq!(listing.messages[1].uid, Some(2));
    assert!(inbox.unchanged_since(&listing).unwrap());
    // A new keyword name.
    std::fs::write(dir.join("dovecot-keywords"), "0 $Work\n").unwrap();
    assert!(!inbox.unchanged_since(&listing).unwrap());
}

#[test]
fn an_append_caught_half_way_is_neither_an_error_nor_trusted() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let inbox = Maildir::create(dir).unwrap().inbox();
    std::fs::write(dir.join("cur/1700000000.M1P1.h:2,"), "Subject: a\n\na\n").unwrap();
    std::fs::write(dir.join("new/1700000001.M1P1.h"), "Subject: b\n\nb\n").unwrap();
    let header = "3 V7 N1 G0b1ef93084520b6ba93b000083ecc375\n1 :1700000000.M1P1.h\n";
    // Another process holds the lock and has written part of its line.
    let held = inbox.uidlist_file().lock().unwrap();
    std::fs::write(dir.join("dovecot-uidlist"), format!("{header}2")).unwrap();
    let listing = inbox.list().unwrap();
    assert_eq!(
        uids(&listing),
        [
            (Some(1), "1700000000.M1P1.h".to_string()),
            (None, "1700000001.M1P1.h".to_string())
        ]
    );
    // A sync waits for the lock, then reads the finished line.
    let (tx, rx) = mpsc::channel();
    let mb = inbox.clone();
    std::thread::spawn(move || {
        let _ = tx.send(mb.sync().unwrap());
    });
    std::thread::sleep(Duration::from_millis(300));
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join("dovecot-uidlist"))
        .unwrap();
    std::io::Write::write_all(&mut f, b" :1700000001.M1P1.h\n").unwrap();
    held.unlock().unwrap();
    let synced = rx.recv_timeout(Duration::from_secs(30)).unwrap();
    assert_eq!(synced.messages[1].uid, Some(2));
    assert_eq!(
        std::fs::read_to_string(dir.join("dovecot-uidlist")).unwrap(),
        format!("{header}2 :1700000001.M1P1.h\n"),
        "nothing rewritten"
    );
}

//! One bad entry in `cur/` does not break a sync: a file the mail user may
//! not read, a directory named like a message, a dangling symlink, a name
//! without `:2,` and with odd characters. The other messages keep their
//! UIDs and flags, nothing is renamed or removed, and the problem comes
//! back typed in the listing.
//!
//! The listing runs in a child process (this test binary again) as the
//! mail owner: root reads every file, so a permission problem only shows
//! for the user Dovecot and Columba run mail access as.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use columba_interop::{chown_tree, maildir_entries, MailOwner};
use columba_maildir::{DeliveryOptions, FileProblem, Flags, Maildir, SkipKind};

const CHILD_DIR: &str = "COLUMBA_MAILDIR_UNREADABLE_CHILD_DIR";

/// What the mail owner's sync shows (skipped and unreadable names as
/// `escape_debug` prints them).
#[derive(Debug, Default, PartialEq, Eq)]
struct Seen {
    /// uid -> (flag letters, file name)
    messages: BTreeMap<u32, (String, String)>,
    /// (name, kind)
    skipped: Vec<(String, String)>,
    /// (name, uid, problem)
    unreadable: Vec<(String, Option<u32>, String)>,
    /// name -> error of opening the message for reading
    open_errors: BTreeMap<String, String>,
}

/// Worker: syncs the Maildir named by the environment and prints what it
/// saw, one line per item, each after `@@`. Does nothing in a normal test run.
#[test]
fn child_syncs_and_prints() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let inbox = Maildir::open(Path::new(&dir)).unwrap().inbox();
    let listing = match inbox.sync() {
        Ok(l) => l,
        Err(e) => {
            println!("@@ERR\t{e}");
            return;
        }
    };
    for m in &listing.messages {
        let uid = m.uid.map_or("-".to_string(), |u| u.to_string());
        println!("@@M\t{uid}\t{}\t{}", m.flags.letters(), m.file_name);
        if let Err(e) = inbox.open_message(&m.file_name) {
            println!("@@O\t{}\t{:?}", m.file_name, e.io_kind());
        }
    }
    for s in &listing.skipped {
        println!("@@S\t{}\t{:?}", s.name.escape_debug(), s.kind);
    }
    for u in &listing.unreadable {
        let uid = u.uid.map_or("-".to_string(), |u| u.to_string());
        println!("@@U\t{}\t{uid}\t{:?}", u.name.escape_debug(), u.problem);
    }
}

fn sync_as_owner(dir: &Path) -> Seen {
    let owner = MailOwner::for_tests();
    chown_tree(dir, owner).unwrap();
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "child_syncs_and_prints",
        "--test-threads=1",
        "--nocapture",
    ])
    .env(CHILD_DIR, dir);
    owner.apply(&mut cmd);
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut seen = Seen::default();
    // (libtest's own "test ... " may precede the first line)
    for line in text
        .lines()
        .filter_map(|l| l.split_once("@@").map(|(_, l)| l))
    {
        let cols: Vec<&str> = line.split('\t').collect();
        match cols[0] {
            "ERR" => panic!("the sync failed: {}", cols[1]),
            "M" => {
                let uid = cols[1].parse().expect("every message has a UID");
                seen.messages
                    .insert(uid, (cols[2].to_string(), cols[3].to_string()));
            }
            "O" => {
                seen.open_errors
                    .insert(cols[1].to_string(), cols[2].to_string());
            }
            "S" => seen
                .skipped
                .push((cols[1].to_string(), cols[2].to_string())),
            "U" => seen.unreadable.push((
                cols[1].to_string(),
                cols[2].parse().ok(),
                cols[3].to_string(),
            )),
            _ => {}
        }
    }
    seen
}

/// A Maildir with three delivered messages (UIDs 1-3, the second \Seen).
fn three_messages() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = tmp.path().join("Maildir");
    let inbox = Maildir::create(&path).unwrap().inbox();
    for (i, flags) in [Flags::NONE, Flags::SEEN, Flags::NONE]
        .into_iter()
        .enumerate()
    {
        let msg = format!("Subject: m{i}\n\nbody {i}\n");
        let options = DeliveryOptions {
            flags,
            ..DeliveryOptions::default()
        };
        assert_eq!(
            inbox.deliver(msg.as_bytes(), &options).unwrap().uid,
            Some(i as u32 + 1)
        );
    }
    inbox.move_new_to_cur().unwrap();
    (tmp, path)
}

/// The three delivered messages, as the owner's sync must still show them.
fn assert_first_three(seen: &Seen) {
    let flags: Vec<(u32, &str)> = seen
        .messages
        .iter()
        .filter(|(&uid, _)| uid <= 3)
        .map(|(&uid, (f, _))| (uid, f.as_str()))
        .collect();
    assert_eq!(flags, [(1, ""), (2, "S"), (3, "")], "{seen:#?}");
}

fn uidlist_bases(maildir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(maildir.join("dovecot-uidlist")).unwrap();
    text.lines()
        .skip(1)
        .filter_map(|l| l.split_once(':').map(|(_, b)| b.to_string()))
        .collect()
}

#[test]
fn file_the_mail_user_may_not_read_is_listed_and_reported() {
    let (_tmp, maildir) = three_messages();
    // delivered by something that adds no sizes to the name, then locked
    let name = "1700000000.M1P1.host:2,S";
    let path = maildir.join("cur").join(name);
    std::fs::write(&path, "Subject: x\n\nsecret\n").unwrap();
    chown_tree(&path, MailOwner::for_tests()).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
    let before = maildir_entries(&maildir);

    let seen = sync_as_owner(&maildir);
    assert_first_three(&seen);
    assert_eq!(seen.messages[&4], ("S".to_string(), name.to_string()));
    assert_eq!(
        seen.unreadable,
        [(
            format!("cur/{name}"),
            Some(4),
            format!("{:?}", FileProblem::PermissionDenied)
        )]
    );
    // reading its body fails with a typed error, as Dovecot's FETCH does
    assert_eq!(
        seen.open_errors,
        BTreeMap::from([(name.to_string(), "Some(PermissionDenied)".to_string())])
    );
    assert!(seen.skipped.is_empty(), "{seen:#?}");
    assert_eq!(
        maildir_entries(&maildir),
        before,
        "nothing renamed or removed"
    );
    assert_eq!(uidlist_bases(&maildir)[3], "1700000000.M1P1.host");

    // Once repaired it reads as any other message (the listing with the
    // problem was not kept).
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let seen = sync_as_owner(&maildir);
    assert!(seen.unreadable.is_empty(), "{seen:#?}");
    assert!(seen.open_errors.is_empty(), "{seen:#?}");
}

#[test]
fn unreadable_file_with_sizes_in_its_name_is_listed_without_reading_it() {
    let (_tmp, maildir) = three_messages();
    // UID 2's file, made unreadable after it was numbered
    let second = std::fs::read_dir(maildir.join("cur"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(":2,S"))
        .unwrap();
    std::fs::set_permissions(&second, std::fs::Permissions::from_mode(0o000)).unwrap();
    let seen = sync_as_owner(&maildir);
    assert_first_three(&seen);
    assert_eq!(seen.messages.len(), 3);
    // as in Dovecot, found only when the body is read
    assert!(seen.unreadable.is_empty(), "{seen:#?}");
    assert_eq!(seen.open_errors.len(), 1, "{seen:#?}");
}

#[test]
fn directory_named_like_a_message_is_skipped_and_left_alone() {
    let (_tmp, maildir) = three_messages();
    let name = "123.M1P1.host:2,";
    std::fs::create_dir(maildir.join("cur").join(name)).unwrap();
    std::fs::write(maildir.join("cur").join(name).join("inner"), "x").unwrap();
    // one in new/ too: SELECT's move of new/ into cur/ leaves it there
    std::fs::create_dir(maildir.join("new/124.M1P1.host")).unwrap();
    let before = maildir_entries(&maildir);

    let seen = sync_as_owner(&maildir);
    assert_first_three(&seen);
    assert_eq!(seen.messages.len(), 3, "{seen:#?}");
    let mut skipped = seen.skipped.clone();
    skipped.sort();
    assert_eq!(
        skipped,
        [
            (format!("cur/{name}"), format!("{:?}", SkipKind::NotAFile)),
            (
                "new/124.M1P1.host".to_string(),
                format!("{:?}", SkipKind::NotAFile)
            ),
        ]
    );
    assert!(seen.unreadable.is_empty(), "{seen:#?}");
    let inbox = Maildir::open(&maildir).unwrap().inbox();
    assert_eq!(inbox.move_new_to_cur().unwrap(), 0);
    assert_eq!(
        maildir_entries(&maildir),
        before,
        "nothing renamed or removed"
    );
    assert_eq!(uidlist_bases(&maildir).len(), 3, "no UID for a directory");
}

#[test]
fn dangling_symlink_keeps_its_uid_and_flags() {
    let (_tmp, maildir) = three_messages();
    let name = "124.M1P1.host:2,S";
    std::os::unix::fs::symlink("/nonexistent/columba-test", maildir.join("cur").join(name))
        .unwrap();
    let before = maildir_entries(&maildir);

    let seen = sync_as_owner(&maildir);
    assert_first_three(&seen);
    // as Dovecot: a message with UID 4, \Seen from its name
    assert_eq!(seen.messages[&4], ("S".to_string(), name.to_string()));
    assert_eq!(
        seen.unreadable,
        [(
            format!("cur/{name}"),
            Some(4),
            format!("{:?}", FileProblem::DanglingSymlink)
        )]
    );
    assert_eq!(
        maildir_entries(&maildir),
        before,
        "nothing renamed or removed"
    );
    // a second sync keeps it: it is not taken for expunged
    let again = sync_as_owner(&maildir);
    assert_eq!(again.messages, seen.messages);
}

#[test]
fn name_without_info_and_with_odd_characters_is_a_message() {
    let (_tmp, maildir) = three_messages();
    let odd = "odd name; with \"quotes\" & \u{fc},x=y";
    std::fs::write(maildir.join("cur").join(odd), "Subject: odd\n\nodd\n").unwrap();
    // a name with a line feed cannot go into the uidlist: Dovecot ignores
    // it with a warning, and so does the listing
    std::fs::write(maildir.join("cur/bad\nname"), "Subject: nl\n\nnl\n").unwrap();
    let before = maildir_entries(&maildir);

    let seen = sync_as_owner(&maildir);
    assert_first_three(&seen);
    assert_eq!(seen.messages[&4], (String::new(), odd.to_string()));
    assert_eq!(seen.messages.len(), 4);
    assert_eq!(
        seen.skipped,
        [(
            "cur/bad\\nname".to_string(),
            format!("{:?}", SkipKind::InvalidName)
        )]
    );
    assert!(seen.unreadable.is_empty(), "{seen:#?}");
    assert_eq!(
        maildir_entries(&maildir),
        before,
        "nothing renamed or removed"
    );
    assert_eq!(uidlist_bases(&maildir)[3], odd);
    // sizes computed from the file, as Dovecot's RFC822.SIZE 21
    let listing = Maildir::open(&maildir).unwrap().inbox().list().unwrap();
    let m = listing.messages.iter().find(|m| m.uid == Some(4)).unwrap();
    assert_eq!((m.size, m.vsize), (18, 21));
}

#[test]
fn name_that_is_not_utf8_keeps_the_uid_dovecot_gave_it() {
    use std::ffi::OsStr;
    use std::io::Write;
    use std::os::unix::ffi::OsStrExt;
    let (_tmp, maildir) = three_messages();
    // Dovecot numbers a Latin-1 name as any other and writes its bytes
    // into the uidlist
    let raw = b"1700000000.M1P1.latin\xe9:2,S";
    std::fs::write(
        maildir.join("cur").join(OsStr::from_bytes(raw)),
        "Subject: l\n\nl\n",
    )
    .unwrap();
    std::fs::OpenOptions::new()
        .append(true)
        .open(maildir.join("dovecot-uidlist"))
        .unwrap()
        .write_all(b"4 :1700000000.M1P1.latin\xe9\n")
        .unwrap();
    let uidlist_before = std::fs::read(maildir.join("dovecot-uidlist")).unwrap();
    let before = maildir_entries(&maildir);

    let seen = sync_as_owner(&maildir);
    assert_first_three(&seen);
    assert_eq!(seen.messages.len(), 3, "{seen:#?}");
    assert_eq!(
        seen.skipped,
        [(
            "cur/1700000000.M1P1.latin\u{fffd}:2,S".to_string(),
            format!("{:?}", SkipKind::NotUtf8)
        )]
    );
    assert_eq!(
        maildir_entries(&maildir),
        before,
        "nothing renamed or removed"
    );
    let inbox = Maildir::open(&maildir).unwrap().inbox();
    let listing = inbox.sync().unwrap();
    assert_eq!(listing.undecodable_uids, [4]);
    assert_eq!(
        std::fs::read(maildir.join("dovecot-uidlist")).unwrap(),
        uidlist_before
    );
    // the next message gets UID 5, after the record of the Latin-1 name
    let d = inbox
        .deliver(&b"Subject: next\n\nx\n"[..], &DeliveryOptions::default())
        .unwrap();
    assert_eq!(d.uid, Some(5));
    let uidlist = std::fs::read(maildir.join("dovecot-uidlist")).unwrap();
    let needle = b"\n4 :1700000000.M1P1.latin\xe9\n5 :";
    assert!(
        uidlist.windows(needle.len()).any(|w| w == needle),
        "{:?}",
        String::from_utf8_lossy(&uidlist)
    );
}

#[test]
fn records_of_names_that_are_not_utf8_are_dropped_with_their_file() {
    use std::ffi::OsStr;
    use std::io::Write;
    use std::os::unix::ffi::OsStrExt;
    let (_tmp, maildir) = three_messages();
    let inbox = Maildir::open(&maildir).unwrap().inbox();
    // a record of a file that is gone, one of a file that is there, and
    // enough expunges that the next sync rewrites (compresses) the uidlist
    std::fs::OpenOptions::new()
        .append(true)
        .open(maildir.join("dovecot-uidlist"))
        .unwrap()
        .write_all(b"4 :gone\xe9\n5 :here\xe9\n")
        .unwrap();
    std::fs::write(
        maildir.join("cur").join(OsStr::from_bytes(b"here\xe9:2,")),
        "x\n",
    )
    .unwrap();
    for m in inbox.list().unwrap().messages.iter().take(2) {
        assert!(inbox.expunge(&m.file_name).unwrap());
    }
    let listing = inbox.sync().unwrap();
    assert_eq!(listing.undecodable_uids, [5]);
    let uidlist = std::fs::read(maildir.join("dovecot-uidlist")).unwrap();
    let text = String::from_utf8_lossy(&uidlist);
    assert!(!text.contains("gone"), "{text:?}");
    assert!(uidlist.ends_with(b"\n5 :here\xe9\n"), "{text:?}");
    assert_eq!(text.lines().count(), 3, "compressed: {text:?}");
    assert_eq!(listing.next_uid, 6);
    assert_eq!(listing.messages.len(), 1);
}

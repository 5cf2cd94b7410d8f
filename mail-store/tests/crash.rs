//! Crash tests: a process appending, copying, moving, changing flags of or
//! expunging messages is killed (SIGKILL) at arbitrary points; afterwards
//! no message is lost, Columba's sync and view account for every file, and
//! Dovecot opens the mailboxes without complaint and agrees on the counts
//! (and, for copy, flag change and expunge, on every UID and its flags).
//!
//! The killed process is this test binary re-executed in a child mode.

mod common;

use std::process::Command;
use std::time::Duration;

use columba_interop::{require_tool, DovecotConfig, PrivateDovecot};
use columba_mail_store::search::MessageFlags;
use columba_mail_store::store::{
    append, copy, expunge, expunge_deleted, move_messages, store_flags, sync, MailboxSnapshot,
    StoreMode,
};
use columba_maildir::{Mailbox, Maildir};
use common::*;

const CHILD: &str = "COLUMBA_CRASH_CHILD";

fn child_main(kind: &str, root: &str) {
    let maildir = Maildir::open(std::path::Path::new(root)).unwrap();
    let inbox = maildir.inbox();
    match kind {
        "append" => {
            for i in 0.. {
                let msg = format!("Subject: crash {i}\n\nbody {i}\n");
                let flags = MessageFlags {
                    seen: i % 2 == 0,
                    ..MessageFlags::default()
                };
                append(&inbox, msg.as_bytes(), flags, &["$Crash".to_string()], None).unwrap();
            }
        }
        "move" => {
            let archive = maildir.folder("Archive").unwrap();
            loop {
                for (from, to) in [(&inbox, &archive), (&archive, &inbox)] {
                    let uids: Vec<u32> = MailboxSnapshot::open(from)
                        .unwrap()
                        .messages
                        .iter()
                        .map(|m| m.uid)
                        .take(3)
                        .collect();
                    move_messages(from, to, &uids).unwrap();
                }
            }
        }
        "copy" => {
            let archive = maildir.folder("Archive").unwrap();
            for i in 0u32.. {
                let first = i % 10 + 1;
                copy(&inbox, &archive, &[first, first + 1, first + 2]).unwrap();
            }
        }
        "flags" => {
            let modes = [StoreMode::Add, StoreMode::Remove, StoreMode::Replace];
            for i in 0usize.. {
                let flags = MessageFlags {
                    seen: i % 2 == 0,
                    flagged: i % 3 == 0,
                    answered: i % 5 == 0,
                    ..MessageFlags::default()
                };
                let keywords = [format!("$K{}", i % 3)];
                let uids: Vec<u32> = (1..=12)
                    .filter(|u| !(*u as usize + i).is_multiple_of(3))
                    .collect();
                store_flags(&inbox, &uids, modes[i % 3], flags, &keywords).unwrap();
            }
        }
        "expunge" => {
            for i in 0u32.. {
                for j in 0..3 {
                    let msg = format!("Subject: temp {i} {j}\n\nbody\n");
                    append(&inbox, msg.as_bytes(), MessageFlags::default(), &[], None).unwrap();
                }
                let temps: Vec<u32> = MailboxSnapshot::open(&inbox)
                    .unwrap()
                    .messages
                    .iter()
                    .map(|m| m.uid)
                    .filter(|&u| u > 12)
                    .collect();
                let (by_flag, by_uid) = temps.split_at(temps.len() / 2);
                let deleted = MessageFlags {
                    deleted: true,
                    ..MessageFlags::default()
                };
                store_flags(&inbox, by_flag, StoreMode::Add, deleted, &[]).unwrap();
                expunge_deleted(&inbox).unwrap();
                expunge(&inbox, by_uid).unwrap();
            }
        }
        _ => unreachable!(),
    }
}

/// Runs the child mode `kind` on `root` and kills it after `ms` milliseconds.
fn run_and_kill(kind: &str, root: &std::path::Path, ms: u64) {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args(["--exact", "crash_child", "--nocapture"])
        .env(CHILD, format!("{kind}:{}", root.display()))
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(ms));
    child.kill().unwrap();
    child.wait().unwrap();
}

/// The child entry point (does nothing in a normal test run).
#[test]
fn crash_child() {
    if let Ok(spec) = std::env::var(CHILD) {
        let (kind, root) = spec.split_once(':').unwrap();
        child_main(kind, root);
    }
}

fn subjects(mailbox: &Mailbox) -> Vec<String> {
    let mut snap = MailboxSnapshot::open(mailbox).unwrap();
    snap.resolve_files().unwrap();
    snap.messages
        .iter()
        .filter(|m| m.path.is_some())
        .map(|m| {
            let data = m.read().unwrap();
            String::from_utf8_lossy(&data)
                .lines()
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

fn dovecot_count(dovecot: &PrivateDovecot, mailbox: &str) -> u32 {
    let mut imap = ImapClient::connect(dovecot.imap_port);
    assert!(imap.command("LOGIN alice alicepw").1.starts_with("OK"));
    let (untagged, ok) = imap.command(&format!("STATUS {mailbox} (MESSAGES)"));
    assert!(ok.starts_with("OK"), "{ok}");
    let line = String::from_utf8_lossy(&untagged[0]).to_string();
    line.split("MESSAGES ")
        .nth(1)
        .unwrap()
        .trim_end_matches(")\r\n")
        .parse()
        .unwrap()
}

#[test]
fn killed_appends_lose_nothing() {
    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    let root = dovecot.maildir("alice");
    let maildir = Maildir::create(&root).unwrap();
    let inbox = maildir.inbox();
    sync(&inbox).unwrap();
    for ms in [150, 260, 370, 480, 600] {
        run_and_kill("append", &root, ms);
    }
    // every file that reached cur/ or new/ is indexed after a sync
    let report = sync(&inbox).unwrap();
    assert!(report.missing_files.is_empty(), "{report:?}");
    let listing = inbox.list().unwrap();
    let snap = MailboxSnapshot::open(&inbox).unwrap();
    assert!(
        !snap.messages.is_empty(),
        "no append completed before the kills"
    );
    assert_eq!(snap.messages.len(), listing.messages.len());
    let subjects = subjects(&inbox);
    assert!(subjects.iter().all(|s| s.starts_with("Subject: crash ")));
    dovecot.fix_ownership("alice").unwrap();
    assert_eq!(
        dovecot_count(&dovecot, "INBOX") as usize,
        snap.messages.len()
    );
    let problems = dovecot.log_problems();
    assert!(problems.is_empty(), "{problems:?}");
}

#[test]
fn killed_moves_lose_nothing() {
    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    let root = dovecot.maildir("alice");
    let maildir = Maildir::create(&root).unwrap();
    let inbox = maildir.inbox();
    let archive = maildir.create_folder("Archive").unwrap();
    sync(&inbox).unwrap();
    sync(&archive).unwrap();
    for i in 0..12 {
        let msg = format!("Subject: keep {i:02}\n\nbody\n");
        append(&inbox, msg.as_bytes(), MessageFlags::default(), &[], None).unwrap();
    }
    for ms in [150, 260, 370, 480] {
        run_and_kill("move", &root, ms);
    }
    let r1 = sync(&inbox).unwrap();
    let r2 = sync(&archive).unwrap();
    eprintln!("after the kills: inbox {r1:?}, archive {r2:?}");
    let mut all: Vec<String> = subjects(&inbox);
    all.extend(subjects(&archive));
    all.sort();
    all.dedup();
    let expected: Vec<String> = (0..12).map(|i| format!("Subject: keep {i:02}")).collect();
    assert_eq!(all, expected, "a message was lost");
    dovecot.fix_ownership("alice").unwrap();
    let (n_inbox, n_archive) = (
        dovecot_count(&dovecot, "INBOX"),
        dovecot_count(&dovecot, "Archive"),
    );
    let ours_inbox = MailboxSnapshot::open(&inbox).unwrap().messages.len();
    let ours_archive = MailboxSnapshot::open(&archive).unwrap().messages.len();
    let problems = dovecot.log_problems();
    assert!(problems.is_empty(), "{problems:?}");
    // both sides expunged the records whose file a killed move had unlinked
    assert_eq!(
        (n_inbox as usize, n_archive as usize),
        (ours_inbox, ours_archive)
    );
    assert!(n_inbox + n_archive >= 12);
}

/// UIDs and flags (without `\Recent`, sorted) as Dovecot shows them over
/// IMAP after opening the mailbox read-only.
fn dovecot_flags(dovecot: &PrivateDovecot, mailbox: &str) -> Vec<(u32, Vec<String>)> {
    let mut imap = ImapClient::connect(dovecot.imap_port);
    assert!(imap.command("LOGIN alice alicepw").1.starts_with("OK"));
    let (_, ok) = imap.command(&format!("EXAMINE {mailbox}"));
    assert!(ok.starts_with("OK"), "{ok}");
    let (untagged, ok) = imap.command("UID FETCH 1:* (UID FLAGS)");
    assert!(ok.starts_with("OK"), "{ok}");
    let mut out = Vec::new();
    for u in untagged {
        let line = String::from_utf8_lossy(&u).into_owned();
        if !line.contains(" FETCH ") {
            continue;
        }
        let uid: u32 = line
            .split("UID ")
            .nth(1)
            .and_then(|r| r.split([' ', ')']).next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{line}"));
        let flags = line
            .split("FLAGS (")
            .nth(1)
            .and_then(|r| r.split(')').next())
            .unwrap_or_else(|| panic!("{line}"));
        out.push((uid, normalized(flags)));
    }
    out.sort();
    out
}

fn normalized(flags: &str) -> Vec<String> {
    let mut v: Vec<String> = flags
        .trim_matches(|c| c == '(' || c == ')')
        .split_ascii_whitespace()
        .filter(|f| *f != "\\Recent")
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

/// Columba's view of the same, after a sync.
fn columba_flags(mailbox: &Mailbox) -> Vec<(u32, Vec<String>)> {
    let snap = MailboxSnapshot::open(mailbox).unwrap();
    let mut out: Vec<(u32, Vec<String>)> = snap
        .messages
        .iter()
        .map(|m| (m.uid, normalized(&m.flags_imap())))
        .collect();
    out.sort();
    out
}

/// A fresh private Dovecot whose alice has an INBOX with twelve messages
/// `keep 00`..`keep 11` and an empty `Archive`, indexed by Columba.
fn twelve_kept() -> (PrivateDovecot, std::path::PathBuf, Mailbox, Mailbox) {
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    let root = dovecot.maildir("alice");
    let maildir = Maildir::create(&root).unwrap();
    let inbox = maildir.inbox();
    let archive = maildir.create_folder("Archive").unwrap();
    sync(&inbox).unwrap();
    sync(&archive).unwrap();
    for i in 0..12 {
        let msg = format!("Subject: keep {i:02}\n\nbody\n");
        append(&inbox, msg.as_bytes(), MessageFlags::default(), &[], None).unwrap();
    }
    (dovecot, root, inbox, archive)
}

fn kept() -> Vec<String> {
    (0..12).map(|i| format!("Subject: keep {i:02}")).collect()
}

/// After the kills: Columba syncs, Dovecot opens each mailbox without a
/// log problem, and both show the same UIDs with the same flags.
fn both_agree(dovecot: &PrivateDovecot, mailboxes: &[(&str, &Mailbox)]) {
    for (_, mailbox) in mailboxes {
        let report = sync(mailbox).unwrap();
        assert!(report.missing_files.is_empty(), "{report:?}");
        let listing = mailbox.list().unwrap();
        assert_eq!(
            MailboxSnapshot::open(mailbox).unwrap().messages.len(),
            listing.messages.len(),
            "a file is not indexed"
        );
    }
    dovecot.fix_ownership("alice").unwrap();
    for (name, mailbox) in mailboxes {
        let theirs = dovecot_flags(dovecot, name);
        assert_eq!(columba_flags(mailbox), theirs, "{name}");
        assert_eq!(dovecot_count(dovecot, name) as usize, theirs.len());
    }
    let problems = dovecot.log_problems();
    assert!(problems.is_empty(), "{problems:?}");
}

#[test]
fn killed_copies_lose_nothing() {
    require_tool!("dovecot");
    let (dovecot, root, inbox, archive) = twelve_kept();
    for ms in [150, 260, 370, 480] {
        run_and_kill("copy", &root, ms);
    }
    // the source is untouched, and every copy is a whole message
    assert_eq!(subjects(&inbox), kept());
    sync(&archive).unwrap();
    let copies = subjects(&archive);
    assert!(!copies.is_empty(), "no copy completed before the kills");
    assert!(copies.iter().all(|s| kept().contains(s)), "{copies:?}");
    both_agree(&dovecot, &[("INBOX", &inbox), ("Archive", &archive)]);
}

#[test]
fn killed_flag_changes_lose_nothing() {
    require_tool!("dovecot");
    let (dovecot, root, inbox, _) = twelve_kept();
    for ms in [150, 260, 370, 480, 600] {
        run_and_kill("flags", &root, ms);
    }
    assert_eq!(subjects(&inbox), kept());
    both_agree(&dovecot, &[("INBOX", &inbox)]);
    assert!(
        columba_flags(&inbox).iter().any(|(_, f)| !f.is_empty()),
        "no flag change completed before the kills"
    );
    // and the files carry what both show
    let listing = inbox.list().unwrap();
    let from_files: Vec<(u32, Vec<String>)> = listing
        .messages
        .iter()
        .map(|m| {
            let mut v: Vec<String> = m
                .flags
                .imap_names()
                .into_iter()
                .map(str::to_string)
                .chain(m.keywords.iter().cloned())
                .collect();
            v.sort();
            (m.uid.unwrap(), v)
        })
        .collect();
    assert_eq!(from_files, columba_flags(&inbox));
}

#[test]
fn killed_expunges_lose_nothing() {
    require_tool!("dovecot");
    let (dovecot, root, inbox, _) = twelve_kept();
    for ms in [150, 260, 370, 480, 600] {
        run_and_kill("expunge", &root, ms);
    }
    // only messages asked to go went; the twelve stay
    let left = subjects(&inbox);
    assert_eq!(left[..12], kept()[..]);
    assert!(left[12..].iter().all(|s| s.starts_with("Subject: temp ")));
    let given = inbox.list().unwrap().next_uid - 1;
    assert!(
        (left.len() as u32) < given,
        "no expunge completed before the kills ({} of {given} left)",
        left.len()
    );
    both_agree(&dovecot, &[("INBOX", &inbox)]);
}

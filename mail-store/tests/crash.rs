//! Crash tests: a process appending or moving messages is killed (SIGKILL)
//! at arbitrary points; afterwards no message is lost, Columba's sync and
//! view account for every file, and Dovecot opens the mailboxes without
//! complaint and agrees on the counts.
//!
//! The killed process is this test binary re-executed in a child mode.

mod common;

use std::process::Command;
use std::time::Duration;

use columba_interop::{require_tool, DovecotConfig, PrivateDovecot};
use columba_mail_store::search::MessageFlags;
use columba_mail_store::store::{append, move_messages, sync, MailboxSnapshot};
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

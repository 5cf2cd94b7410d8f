//! Crash test for MULTIAPPEND: a process staging and committing batches of
//! three streamed messages is killed (SIGKILL) at arbitrary points.
//! Afterwards every message that reached `cur/` or `new/` is whole and is
//! indexed by the next sync, only a batch that was being committed at a
//! kill can be partial, and Dovecot opens the mailbox without complaint
//! and counts the same messages.
//!
//! The killed process is this test binary re-executed in a child mode.

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use columba_interop::{require_tool, DovecotConfig, PrivateDovecot};
use columba_mail_store::store::{
    commit_appends, sync, AppendLimit, AppendMeta, MailboxSnapshot, MessageWriter,
};
use columba_maildir::Maildir;
use common::*;

const CHILD: &str = "COLUMBA_MULTIAPPEND_CRASH_CHILD";

fn child_main(root: &str) {
    let maildir = Maildir::open(std::path::Path::new(root)).unwrap();
    let inbox = maildir.inbox();
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    for i in 0u64.. {
        let mut staged = Vec::new();
        for j in 0..3 {
            let mut w =
                MessageWriter::new(&inbox, AppendMeta::default(), AppendLimit::NONE).unwrap();
            w.write(format!("Subject: batch {start}-{i} {j}\r\n\r\n").as_bytes())
                .unwrap();
            for _ in 0..50 {
                w.write(b"a line of the body, streamed in pieces\r\n")
                    .unwrap();
            }
            w.write(b"end\r\n").unwrap();
            staged.push(w.finish().unwrap());
        }
        commit_appends(&inbox, staged).unwrap();
    }
}

/// Runs the child on `root` and kills it after `ms` milliseconds.
fn run_and_kill(root: &std::path::Path, ms: u64) {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args(["--exact", "crash_child", "--nocapture"])
        .env(CHILD, root)
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(ms));
    child.kill().unwrap();
    child.wait().unwrap();
}

/// The child entry point (does nothing in a normal test run).
#[test]
fn crash_child() {
    if let Ok(root) = std::env::var(CHILD) {
        child_main(&root);
    }
}

#[test]
fn killed_multiappends_lose_nothing_and_leave_whole_messages() {
    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    let root = dovecot.maildir("alice");
    let maildir = Maildir::create(&root).unwrap();
    let inbox = maildir.inbox();
    sync(&inbox).unwrap();
    let kills = [150, 260, 370, 480, 600];
    for ms in kills {
        run_and_kill(&root, ms);
    }
    let report = sync(&inbox).unwrap();
    assert!(report.missing_files.is_empty(), "{report:?}");
    let listing = inbox.list().unwrap();
    let mut snap = MailboxSnapshot::open(&inbox).unwrap();
    snap.resolve_files().unwrap();
    assert!(
        !snap.messages.is_empty(),
        "no batch completed before the kills"
    );
    assert_eq!(snap.messages.len(), listing.messages.len());
    let mut batches: BTreeMap<String, usize> = BTreeMap::new();
    for m in &snap.messages {
        let data = String::from_utf8(m.read().unwrap()).unwrap();
        let first = data.lines().next().unwrap();
        let batch = first
            .strip_prefix("Subject: batch ")
            .and_then(|r| r.rsplit_once(' '))
            .map(|(b, _)| b.to_string())
            .unwrap_or_else(|| panic!("{first}"));
        assert!(data.ends_with("\nend\n"), "a message is cut: {first}");
        assert_eq!(data.lines().count(), 53, "{first}");
        *batches.entry(batch).or_default() += 1;
    }
    let partial = batches.values().filter(|&&n| n != 3).count();
    eprintln!(
        "after the kills: {} messages in {} batches, {partial} partial",
        snap.messages.len(),
        batches.len()
    );
    assert!(
        partial <= kills.len(),
        "{partial} partial batches after {} kills: {batches:?}",
        kills.len()
    );
    dovecot.fix_ownership("alice").unwrap();
    let mut imap = ImapClient::connect(dovecot.imap_port);
    assert!(imap.command("LOGIN alice alicepw").1.starts_with("OK"));
    let (untagged, ok) = imap.command("STATUS INBOX (MESSAGES)");
    assert!(ok.starts_with("OK"), "{ok}");
    assert_eq!(
        String::from_utf8_lossy(&untagged[0]).trim_end(),
        format!("* STATUS INBOX (MESSAGES {})", snap.messages.len())
    );
    let problems = dovecot.log_problems();
    assert!(problems.is_empty(), "{problems:?}");
}

//! MULTIAPPEND atomicity as a Dovecot session sees it: while Columba
//! commits batches of three messages, a Dovecot IMAP session polling with
//! NOOP only ever sees whole batches (EXISTS grows in steps of three).
//!
//! The Columba side runs as the mail owner in a child process (this test
//! binary re-executed in a child mode).

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use columba_interop::{require_tool, DovecotConfig, MailOwner, PrivateDovecot};
use columba_mail_store::store::{commit_appends, sync, AppendLimit, AppendMeta, MessageWriter};
use columba_maildir::Mailbox;
use common::*;

const CHILD: &str = "COLUMBA_MULTIAPPEND_VISIBILITY_CHILD";
const BATCHES: usize = 25;

fn child_main(root: &str) {
    let root = std::path::Path::new(root);
    let inbox = Mailbox::at(root, root, "INBOX");
    for i in 0..BATCHES {
        let staged = (0..3)
            .map(|j| {
                let mut w =
                    MessageWriter::new(&inbox, AppendMeta::default(), AppendLimit::NONE).unwrap();
                w.write(format!("Subject: batch {i} {j}\r\n\r\nbody\r\n").as_bytes())
                    .unwrap();
                w.finish().unwrap()
            })
            .collect();
        commit_appends(&inbox, staged).unwrap();
    }
}

/// The child entry point (does nothing in a normal test run).
#[test]
fn visibility_child() {
    if let Ok(root) = std::env::var(CHILD) {
        child_main(&root);
    }
}

fn exists_counts(untagged: &[Vec<u8>]) -> Vec<usize> {
    untagged
        .iter()
        .filter_map(|u| {
            let line = String::from_utf8_lossy(u);
            line.strip_prefix("* ")?
                .strip_suffix(" EXISTS\r\n")?
                .parse()
                .ok()
        })
        .collect()
}

#[test]
fn dovecot_sees_only_whole_batches() {
    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    let root = dovecot.maildir("alice");
    for d in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    sync(&Mailbox::at(&root, &root, "INBOX")).unwrap();
    dovecot.fix_ownership("alice").unwrap();
    let mut imap = ImapClient::connect(dovecot.imap_port);
    assert!(imap.command("LOGIN alice alicepw").1.starts_with("OK"));
    let (untagged, ok) = imap.command("SELECT INBOX");
    assert!(ok.starts_with("OK"), "{ok}");
    assert_eq!(exists_counts(&untagged), [0]);

    let mut child = Command::new(std::env::current_exe().unwrap());
    child
        .args(["--exact", "visibility_child", "--nocapture"])
        .env(CHILD, &root);
    MailOwner::for_tests().apply(&mut child);
    let mut child = child.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen = Vec::new();
    let status = loop {
        let (untagged, ok) = imap.command("NOOP");
        assert!(ok.starts_with("OK"), "{ok}");
        seen.extend(exists_counts(&untagged));
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the batches did not finish");
    };
    assert!(status.success());
    let (untagged, _) = imap.command("NOOP");
    seen.extend(exists_counts(&untagged));
    eprintln!("EXISTS seen while appending: {seen:?}");
    assert!(seen.len() > 1, "NOOP saw too few steps: {seen:?}");
    assert!(
        seen.iter().all(|n| n % 3 == 0),
        "a batch was seen in part: {seen:?}"
    );
    assert_eq!(seen.last(), Some(&(3 * BATCHES)));
    assert!(imap.command("LOGOUT").1.starts_with("OK"));
    let problems = dovecot.log_problems();
    assert!(problems.is_empty(), "{problems:?}");
}

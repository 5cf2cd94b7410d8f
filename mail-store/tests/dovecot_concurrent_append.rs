//! Columba appending (single messages and MULTIAPPEND batches) while
//! Dovecot saves into the same mailbox at the same time: both take the
//! uidlist lock before the index log lock, so neither waits on the other
//! for long, no message is lost or given two UIDs, and Dovecot logs no
//! problem.
//!
//! The Columba side runs as the mail owner in a child process (this test
//! binary re-executed in a child mode), as a post-login process would.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use columba_interop::{require_tool, DovecotConfig, MailOwner, PrivateDovecot};
use columba_mail_store::search::MessageFlags;
use columba_mail_store::store::{
    append, commit_appends, sync, AppendLimit, AppendMeta, MailboxSnapshot, MessageWriter,
};
use columba_maildir::Mailbox;
use common::*;

const CHILD: &str = "COLUMBA_CONCURRENT_APPEND_CHILD";
const SINGLES: usize = 30;
const BATCHES: usize = 10;
const DOVECOT_SAVES: usize = 30;

fn child_main(root: &str) {
    let root = std::path::Path::new(root);
    let inbox = Mailbox::at(root, root, "INBOX");
    for i in 0..SINGLES {
        let msg = format!("Subject: columba {i}\n\nbody\n");
        append(&inbox, msg.as_bytes(), MessageFlags::default(), &[], None).unwrap();
        if i % 3 == 0 {
            let staged = (0..3)
                .map(|j| {
                    let mut w =
                        MessageWriter::new(&inbox, AppendMeta::default(), AppendLimit::NONE)
                            .unwrap();
                    w.write(format!("Subject: batch {} {j}\r\n\r\nbody\r\n", i / 3).as_bytes())
                        .unwrap();
                    w.finish().unwrap()
                })
                .collect();
            commit_appends(&inbox, staged).unwrap();
        }
    }
}

/// The child entry point (does nothing in a normal test run).
#[test]
fn concurrent_child() {
    if let Ok(root) = std::env::var(CHILD) {
        child_main(&root);
    }
}

#[test]
fn columba_and_dovecot_append_at_the_same_time() {
    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    let root = dovecot.maildir("alice");
    for d in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    let inbox = Mailbox::at(&root, &root, "INBOX");
    sync(&inbox).unwrap();
    dovecot.fix_ownership("alice").unwrap();

    let mut child = Command::new(std::env::current_exe().unwrap());
    child
        .args(["--exact", "concurrent_child", "--nocapture"])
        .env(CHILD, &root);
    MailOwner::for_tests().apply(&mut child);
    let started = Instant::now();
    let mut child = child.spawn().unwrap();
    for i in 0..DOVECOT_SAVES {
        let msg = format!("Subject: dovecot {i}\n\nbody\n");
        let mut save = Command::new(columba_interop::find_tool("doveadm").unwrap());
        save.arg("-c")
            .arg(dovecot.config_path())
            .args(["save", "-u", "alice", "-m", "INBOX"])
            .stdin(std::process::Stdio::piped());
        let mut p = save.spawn().unwrap();
        std::io::Write::write_all(&mut p.stdin.take().unwrap(), msg.as_bytes()).unwrap();
        assert!(p.wait().unwrap().success(), "doveadm save {i}");
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the Columba appends did not finish: a lock wait?");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success());
    let took = started.elapsed().as_secs_f64();
    eprintln!(
        "{} appends on both sides in {took:.1} s",
        SINGLES + 3 * BATCHES + DOVECOT_SAVES
    );
    // taking the locks in the opposite order to Dovecot's made each side
    // wait for the other until the uidlist dotlock went stale (120 s)
    assert!(
        took < 60.0,
        "{took:.1} s: the two sides waited on each other"
    );

    let expected = SINGLES + 3 * BATCHES + DOVECOT_SAVES;
    let mut imap = ImapClient::connect(dovecot.imap_port);
    assert!(imap.command("LOGIN alice alicepw").1.starts_with("OK"));
    let (untagged, ok) = imap.command("EXAMINE INBOX");
    assert!(ok.starts_with("OK"), "{ok}");
    assert!(
        untagged
            .iter()
            .any(|u| u == format!("* {expected} EXISTS\r\n").as_bytes()),
        "{untagged:?}"
    );
    let (untagged, ok) = imap.command("UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])");
    assert!(ok.starts_with("OK"), "{ok}");
    let mut subjects: Vec<String> = untagged
        .iter()
        .filter_map(|u| {
            let s = String::from_utf8_lossy(u).to_string();
            let at = s.find("Subject: ")?;
            Some(s[at..].lines().next()?.to_string())
        })
        .collect();
    subjects.sort();
    subjects.dedup();
    assert_eq!(subjects.len(), expected, "a message is missing or doubled");
    let view = MailboxSnapshot::open(&inbox).unwrap();
    assert_eq!(view.messages.len(), expected);
    let mut uids: Vec<u32> = view.messages.iter().map(|m| m.uid).collect();
    uids.dedup();
    assert_eq!(uids.len(), expected);
    assert!(imap.command("LOGOUT").1.starts_with("OK"));
    let problems = dovecot.log_problems();
    assert!(problems.is_empty(), "{problems:?}");
}

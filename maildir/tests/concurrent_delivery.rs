//! Several processes delivering into one Maildir at once never collide or
//! lose a message, and a delivery killed half-way leaves no message behind.
//!
//! The child processes are this test binary itself, started with an
//! environment variable that turns `child_delivers` into the worker.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use columba_maildir::{DeliveryOptions, Flags, Maildir};

const CHILD_DIR: &str = "COLUMBA_MAILDIR_TEST_CHILD_DIR";
const CHILD_COUNT: &str = "COLUMBA_MAILDIR_TEST_CHILD_COUNT";

fn child(dir: &Path, count: usize, stdin: Stdio) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "child_delivers",
        "--test-threads=1",
        "--nocapture",
    ])
    .env(CHILD_DIR, dir)
    .env(CHILD_COUNT, count.to_string())
    .stdin(stdin)
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    cmd
}

/// Worker: delivers `COUNT` messages (or, with COUNT=0, one message read
/// from stdin). Does nothing in a normal test run.
#[test]
fn child_delivers() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let count: usize = std::env::var(CHILD_COUNT).unwrap().parse().unwrap();
    let inbox = Maildir::open(Path::new(&dir)).unwrap().inbox();
    if count == 0 {
        inbox
            .deliver(std::io::stdin().lock(), &DeliveryOptions::default())
            .unwrap();
        return;
    }
    for i in 0..count {
        let options = DeliveryOptions {
            flags: if i % 3 == 0 { Flags::SEEN } else { Flags::NONE },
            keywords: if i % 5 == 0 {
                vec![format!("kw{}", i % 4)]
            } else {
                vec![]
            },
            ..DeliveryOptions::default()
        };
        let msg = format!("Subject: {i} from {}\n\nbody\n", std::process::id());
        let d = inbox.deliver(msg.as_bytes(), &options).unwrap();
        assert!(d.uid.is_some(), "{:?}", d.uid_error);
    }
}

#[test]
fn processes_delivering_at_once_never_collide() {
    const PROCS: usize = 4;
    const EACH: usize = 60;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("Maildir");
    let maildir = Maildir::create(&root).unwrap();
    let children: Vec<_> = (0..PROCS)
        .map(|_| child(&root, EACH, Stdio::null()).spawn().unwrap())
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "child failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let listing = maildir.inbox().list().unwrap();
    assert_eq!(listing.messages.len(), PROCS * EACH);
    let uids: BTreeSet<u32> = listing.messages.iter().map(|m| m.uid.unwrap()).collect();
    assert_eq!(uids, (1..=(PROCS * EACH) as u32).collect());
    let bases: BTreeSet<&str> = listing.messages.iter().map(|m| m.base()).collect();
    assert_eq!(bases.len(), PROCS * EACH);
    // Keywords from four processes share one dovecot-keywords map.
    let kw = maildir.inbox().keywords().unwrap();
    assert_eq!(kw.len(), 4, "{kw:?}");
    for m in &listing.messages {
        assert!(m.keywords.iter().all(|k| k.starts_with("kw")));
    }
    // Nothing left behind: no tmp files, no lock files.
    assert_eq!(std::fs::read_dir(root.join("tmp")).unwrap().count(), 0);
    assert!(!root.join("dovecot-uidlist.lock").exists());
    assert!(!root.join("dovecot-keywords.lock").exists());
    assert_eq!(listing.next_uid, (PROCS * EACH) as u32 + 1);
}

#[test]
fn delivery_killed_half_way_leaves_no_message() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("Maildir");
    let maildir = Maildir::create(&root).unwrap();
    let mut c = child(&root, 0, Stdio::piped()).spawn().unwrap();
    let mut stdin = c.stdin.take().unwrap();
    stdin
        .write_all(b"Subject: half\n\nthe first half of a mess")
        .unwrap();
    stdin.flush().unwrap();
    // Wait until the child has started writing into tmp/.
    for _ in 0..200 {
        if std::fs::read_dir(root.join("tmp")).unwrap().count() > 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    std::thread::sleep(Duration::from_millis(100));
    c.kill().unwrap();
    c.wait().unwrap();
    drop(stdin);
    let inbox = maildir.inbox();
    assert!(
        inbox.list().unwrap().messages.is_empty(),
        "a half message became visible"
    );
    assert_eq!(std::fs::read_dir(root.join("tmp")).unwrap().count(), 1);
    // The next delivery works and gets UID 1; the stale tmp file is left for
    // the 36-hour cleanup, as Dovecot does.
    let d = inbox
        .deliver(&b"Subject: whole\n\nok\n"[..], &DeliveryOptions::default())
        .unwrap();
    assert_eq!(d.uid, Some(1));
    let mut body = String::new();
    std::fs::File::open(&d.path)
        .unwrap()
        .read_to_string(&mut body)
        .unwrap();
    assert_eq!(body, "Subject: whole\n\nok\n");
}

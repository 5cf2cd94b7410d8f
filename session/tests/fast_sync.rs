//! The selected mailbox is synced as Dovecot syncs it: FETCH and SEARCH
//! read only the index's log within 5 s of the last full sync, so a file
//! dropped into `new/` by an outside delivery shows up at the next NOOP
//! (a full sync) or, once those 5 s passed, at the next FETCH; a change
//! logged by another session shows up at the next FETCH at once.

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use columba_interop::{require_tool, DovecotConfig, PrivateDovecot};
use columba_session::{ImapSession, MaildirStorage};

const MESSAGE: &str = "From: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n";

/// A clock the test moves on by hand.
#[derive(Clone)]
struct TestClock {
    start: Instant,
    offset: Arc<Mutex<Duration>>,
}

impl TestClock {
    fn new() -> TestClock {
        TestClock {
            start: Instant::now(),
            offset: Arc::new(Mutex::new(Duration::ZERO)),
        }
    }

    fn advance(&self, by: Duration) {
        *self.offset.lock().unwrap() += by;
    }

    fn now(&self) -> Instant {
        self.start + *self.offset.lock().unwrap()
    }
}

fn session(storage: MaildirStorage) -> ImapSession {
    common::session_over(Box::new(storage))
}

fn session_with_clock(root: &Path, clock: &TestClock) -> ImapSession {
    let clock = clock.clone();
    session(
        MaildirStorage::open(root)
            .unwrap()
            .with_clock(move || clock.now()),
    )
}

fn run(s: &mut ImapSession, cmd: &str) -> String {
    s.feed(cmd.as_bytes());
    s.feed(b"\r\n");
    String::from_utf8(s.take_output()).unwrap()
}

fn append(s: &mut ImapSession, n: usize) {
    for i in 0..n {
        let out = run(
            s,
            &format!("p{i} APPEND INBOX {{{}+}}\r\n{MESSAGE}", MESSAGE.len()),
        );
        assert!(out.contains("OK [APPENDUID"), "{out}");
    }
}

/// A message delivered as an outside MDA does: written to `tmp/`, renamed
/// into `new/`, with no uidlist or index entry.
fn deliver_outside(maildir: &Path, name: &str) {
    let tmp = maildir.join("tmp").join(name);
    std::fs::write(&tmp, MESSAGE).unwrap();
    std::fs::rename(&tmp, maildir.join("new").join(name)).unwrap();
}

#[test]
fn outside_delivery_waits_for_noop_or_the_full_sync_interval() {
    let home = tempfile::tempdir().unwrap();
    let root = home.path().join("Maildir");
    let clock = TestClock::new();
    let mut a = session_with_clock(&root, &clock);
    append(&mut a, 2);
    let out = run(&mut a, "s SELECT INBOX");
    assert!(out.contains("* 2 EXISTS\r\n"), "{out}");

    deliver_outside(&root, "1700000001.M1P1.outside");
    // FETCH and SEARCH sync fast: the index knows nothing of the file yet
    assert_eq!(
        run(&mut a, "f FETCH 1:* (FLAGS)"),
        "* 1 FETCH (FLAGS (\\Recent))\r\n* 2 FETCH (FLAGS (\\Recent))\r\nf OK Fetch completed.\r\n"
    );
    assert_eq!(
        run(&mut a, "s SEARCH ALL"),
        "* SEARCH 1 2\r\ns OK Search completed.\r\n"
    );
    // NOOP syncs fully
    assert_eq!(
        run(&mut a, "n NOOP"),
        "* 3 EXISTS\r\n* 3 RECENT\r\nn OK NOOP completed.\r\n"
    );

    deliver_outside(&root, "1700000002.M2P1.outside");
    clock.advance(Duration::from_secs(4));
    assert_eq!(
        run(&mut a, "f2 FETCH 3 (FLAGS)"),
        "* 3 FETCH (FLAGS (\\Recent))\r\nf2 OK Fetch completed.\r\n"
    );
    // 5 s after the last full sync (the NOOP) a fast sync is a full one
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        run(&mut a, "f3 FETCH 3 (FLAGS)"),
        "* 3 FETCH (FLAGS (\\Recent))\r\n* 4 EXISTS\r\n* 4 RECENT\r\nf3 OK Fetch completed.\r\n"
    );
    // and that full sync starts the interval again
    deliver_outside(&root, "1700000003.M3P1.outside");
    clock.advance(Duration::from_secs(2));
    assert_eq!(
        run(&mut a, "f4 UID FETCH 1 (FLAGS)"),
        "* 1 FETCH (UID 1 FLAGS (\\Recent))\r\nf4 OK Fetch completed.\r\n"
    );
    assert_eq!(
        run(&mut a, "c CHECK"),
        "* 5 EXISTS\r\n* 5 RECENT\r\nc OK Check completed.\r\n"
    );
}

#[test]
fn a_change_logged_by_another_session_shows_at_the_next_fetch() {
    let home = tempfile::tempdir().unwrap();
    let root = home.path().join("Maildir");
    let clock = TestClock::new();
    let mut a = session_with_clock(&root, &clock);
    append(&mut a, 3);
    run(&mut a, "s SELECT INBOX");
    let mut b = session(MaildirStorage::open(&root).unwrap());
    run(&mut b, "b1 SELECT INBOX");
    run(&mut b, "b2 STORE 2 +FLAGS.SILENT (\\Flagged)");
    let out = run(
        &mut b,
        &format!("b3 APPEND INBOX {{{}+}}\r\n{MESSAGE}", MESSAGE.len()),
    );
    assert!(out.contains("OK [APPENDUID"), "{out}");
    // no time passed: a fast sync, which reads the log
    assert_eq!(
        run(&mut a, "f FETCH 1 (FLAGS)"),
        "* 1 FETCH (FLAGS (\\Recent))\r\n\
         * 2 FETCH (FLAGS (\\Flagged \\Recent))\r\n\
         * 4 EXISTS\r\n\
         f OK Fetch completed.\r\n"
    );
    // an expunge by the other session: FETCH by sequence number holds it
    // back (the message keeps its last known flags), UID SEARCH sends it
    run(&mut b, "b4 STORE 1 +FLAGS.SILENT (\\Deleted)");
    run(&mut b, "b5 EXPUNGE");
    assert_eq!(
        run(&mut a, "f2 FETCH 1 (FLAGS)"),
        "* 1 FETCH (FLAGS (\\Recent))\r\nf2 OK Fetch completed.\r\n"
    );
    assert_eq!(
        run(&mut a, "u UID SEARCH ALL"),
        "* SEARCH 2 3 4\r\n* 1 EXPUNGE\r\n* 2 RECENT\r\nu OK Search completed.\r\n"
    );
    assert_eq!(run(&mut a, "n NOOP"), "n OK NOOP completed.\r\n");
}

#[test]
fn a_flag_set_by_dovecot_shows_at_the_next_fetch() {
    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    let root = dovecot.maildir("alice");
    let clock = TestClock::new();
    let mut a = session_with_clock(&root, &clock);
    append(&mut a, 2);
    run(&mut a, "s SELECT INBOX");
    dovecot.fix_ownership("alice").unwrap();
    let out = dovecot.doveadm(&[
        "flags",
        "add",
        "-u",
        "alice",
        "\\Answered",
        "mailbox",
        "INBOX",
        "uid",
        "2",
    ]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        run(&mut a, "f FETCH 1 (FLAGS)"),
        "* 1 FETCH (FLAGS (\\Recent))\r\n\
         * 2 FETCH (FLAGS (\\Answered \\Recent))\r\n\
         f OK Fetch completed.\r\n"
    );
}

#[test]
fn fetch_sets_seen_on_every_message_it_read_in_one_change() {
    let home = tempfile::tempdir().unwrap();
    let root = home.path().join("Maildir");
    let mut a = session(MaildirStorage::open(&root).unwrap());
    append(&mut a, 3);
    run(&mut a, "s SELECT INBOX");
    assert_eq!(
        run(&mut a, "f FETCH 1:2 (BODY[TEXT])"),
        "* 1 FETCH (BODY[TEXT] {6}\r\nbody\r\n FLAGS (\\Seen \\Recent))\r\n\
         * 2 FETCH (BODY[TEXT] {6}\r\nbody\r\n FLAGS (\\Seen \\Recent))\r\n\
         f OK Fetch completed.\r\n"
    );
    // nothing more to report to this session, and the flags are stored
    assert_eq!(run(&mut a, "n NOOP"), "n OK NOOP completed.\r\n");
    let mut b = session(MaildirStorage::open(&root).unwrap());
    run(&mut b, "b EXAMINE INBOX");
    assert_eq!(
        run(&mut b, "b1 FETCH 1:* (FLAGS)"),
        "* 1 FETCH (FLAGS (\\Seen))\r\n* 2 FETCH (FLAGS (\\Seen))\r\n* 3 FETCH (FLAGS ())\r\n\
         b1 OK Fetch completed.\r\n"
    );
}

#[test]
fn a_file_renamed_outside_between_commands_is_still_read() {
    let home = tempfile::tempdir().unwrap();
    let root = home.path().join("Maildir");
    let mut a = session(MaildirStorage::open(&root).unwrap());
    append(&mut a, 2);
    run(&mut a, "s SELECT INBOX");
    let body = "* 1 FETCH (BODY[TEXT] {6}\r\nbody\r\n)\r\n";
    assert_eq!(
        run(&mut a, "f FETCH 1 (BODY.PEEK[TEXT])"),
        format!("{body}f OK Fetch completed.\r\n")
    );
    // an outside client renames the files (a flag change Dovecot has not
    // seen yet): nothing is logged
    let cur = root.join("cur");
    for entry in std::fs::read_dir(&cur).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let renamed = if name.contains(":2,") {
            format!("{name}F")
        } else {
            format!("{name}:2,F")
        };
        std::fs::rename(cur.join(&name), cur.join(renamed)).unwrap();
    }
    assert_eq!(
        run(&mut a, "f2 FETCH 1 (BODY.PEEK[TEXT])"),
        format!("{body}f2 OK Fetch completed.\r\n")
    );
}

#[test]
fn a_fast_sync_claims_recent_so_one_session_alone_sees_it() {
    let home = tempfile::tempdir().unwrap();
    let root = home.path().join("Maildir");
    let clock = TestClock::new();
    let mut a = session_with_clock(&root, &clock);
    append(&mut a, 3);
    run(&mut a, "s SELECT INBOX");
    // another session appends without having INBOX selected: nobody
    // has claimed the new message yet
    let mut b = session(MaildirStorage::open(&root).unwrap());
    let out = run(
        &mut b,
        &format!("b1 APPEND INBOX {{{}+}}\r\n{MESSAGE}", MESSAGE.len()),
    );
    assert!(out.contains("OK [APPENDUID"), "{out}");
    // the fast sync after FETCH claims it for this session
    let out = run(&mut a, "f FETCH 4 (FLAGS)");
    assert!(out.contains("* 4 EXISTS\r\n"), "{out}");
    assert!(out.contains("* 4 RECENT\r\n"), "{out}");
    // so a session selecting INBOX later does not see it as recent
    let mut c = session(MaildirStorage::open(&root).unwrap());
    let out = run(&mut c, "c SELECT INBOX");
    assert!(out.contains("* 0 RECENT\r\n"), "{out}");
}

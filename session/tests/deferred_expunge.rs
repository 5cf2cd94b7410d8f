//! RFC 3501 §7.4.1 / RFC 9051 §7.5.1: while another session expunges, this
//! session's FETCH, STORE and SEARCH (by sequence number) must not send
//! EXPUNGE; NOOP and the UID commands may. The same two-session script goes
//! to a live Dovecot and to Columba and the answers must be equal.

mod common;

use columba_interop::{require_tool, DovecotConfig, PrivateDovecot};
use common::{append_command, columba_session as session, run_in as run, DovecotClient};

const MESSAGE: &str = "From: a@example.com\r\nSubject: m\r\n\r\nbody\r\n";

/// The first session's commands, sent after the second session expunged
/// message 1 of 3.
const AFTER_EXPUNGE: &[&str] = &[
    "s STORE 2 +FLAGS (\\Seen)",
    "t FETCH 1 (BODY.PEEK[TEXT])",
    "f FETCH 1:* (FLAGS)",
    "u UID FETCH 1:* (FLAGS)",
    "n NOOP",
    "f2 FETCH 1:* (FLAGS)",
];

/// Mask what legitimately differs (timings).
fn normalize(text: &str) -> String {
    let mut out = String::new();
    for line in text.split_inclusive("\r\n") {
        let mut l = line.to_string();
        if let (Some(i), Some(j)) = (l.find(" (0."), l.find("secs)")) {
            l.replace_range(i..j + 5, "");
        }
        out.push_str(&l);
    }
    out
}

fn dovecot_transcript(port: u16) -> String {
    let mut a = DovecotClient::login(port);
    for i in 0..3 {
        a.run(&append_command(&format!("p{i}"), MESSAGE));
    }
    a.run("a SELECT INBOX");
    let mut b = DovecotClient::login(port);
    b.run("b1 SELECT INBOX");
    b.run("b2 STORE 1 +FLAGS.SILENT (\\Deleted)");
    a.run("n0 NOOP");
    b.run("b3 EXPUNGE");
    b.run(&append_command("b4", MESSAGE));
    b.run("b5 LOGOUT");
    AFTER_EXPUNGE.iter().map(|c| a.run(c)).collect()
}

fn columba_transcript() -> String {
    let home = tempfile::tempdir().unwrap();
    let root = home.path().join("Maildir");
    let mut a = session(&root);
    for i in 0..3 {
        run(
            &mut a,
            &format!("p{i} APPEND INBOX {{{}+}}\r\n{MESSAGE}", MESSAGE.len()),
        );
    }
    run(&mut a, "a SELECT INBOX");
    let mut b = session(&root);
    run(&mut b, "b1 SELECT INBOX");
    run(&mut b, "b2 STORE 1 +FLAGS.SILENT (\\Deleted)");
    run(&mut a, "n0 NOOP");
    run(&mut b, "b3 EXPUNGE");
    run(
        &mut b,
        &format!("b4 APPEND INBOX {{{}+}}\r\n{MESSAGE}", MESSAGE.len()),
    );
    run(&mut b, "b5 LOGOUT");
    AFTER_EXPUNGE.iter().map(|c| run(&mut a, c)).collect()
}

#[test]
fn expunges_wait_for_noop_or_a_uid_command_as_in_dovecot() {
    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    let theirs = normalize(&dovecot_transcript(dovecot.imap_port));
    let ours = normalize(&columba_transcript());
    assert_eq!(theirs, ours, "Dovecot:\n{theirs}\nColumba:\n{ours}");
}

/// What Dovecot 2.3.19.1 answered to [`AFTER_EXPUNGE`] (recorded from the
/// comparison above), so the rule is checked without Dovecot too.
const DOVECOT_ANSWERS: &str = "* 2 FETCH (FLAGS (\\Seen \\Recent))\r\n* 4 EXISTS\r\n\
s OK Store completed.\r\n\
* 1 FETCH (BODY[TEXT] NIL)\r\nt OK [EXPUNGEISSUED] Some messages were already expunged.\r\n\
* 1 FETCH (FLAGS (\\Deleted \\Recent))\r\n* 2 FETCH (FLAGS (\\Seen \\Recent))\r\n\
* 3 FETCH (FLAGS (\\Recent))\r\n* 4 FETCH (FLAGS ())\r\nf OK Fetch completed.\r\n\
* 1 FETCH (UID 1 FLAGS (\\Deleted \\Recent))\r\n* 2 FETCH (UID 2 FLAGS (\\Seen \\Recent))\r\n\
* 3 FETCH (UID 3 FLAGS (\\Recent))\r\n* 4 FETCH (UID 4 FLAGS ())\r\n* 1 EXPUNGE\r\n* 2 RECENT\r\n\
u OK Fetch completed.\r\nn OK NOOP completed.\r\n\
* 1 FETCH (FLAGS (\\Seen \\Recent))\r\n* 2 FETCH (FLAGS (\\Recent))\r\n* 3 FETCH (FLAGS ())\r\n\
f2 OK Fetch completed.\r\n";

#[test]
fn store_and_fetch_by_sequence_number_defer_expunges() {
    assert_eq!(columba_transcript(), DOVECOT_ANSWERS);
}

#[test]
fn search_by_sequence_number_defers_expunges_uid_search_sends_them() {
    let home = tempfile::tempdir().unwrap();
    let root = home.path().join("Maildir");
    let mut a = session(&root);
    for i in 0..3 {
        run(
            &mut a,
            &format!("p{i} APPEND INBOX {{{}+}}\r\n{MESSAGE}", MESSAGE.len()),
        );
    }
    run(&mut a, "a SELECT INBOX");
    let mut b = session(&root);
    run(&mut b, "b1 SELECT INBOX");
    run(&mut b, "b2 STORE 2 +FLAGS.SILENT (\\Deleted)");
    run(&mut b, "b3 EXPUNGE");
    // message 2 keeps its number until the EXPUNGE may be sent
    assert_eq!(
        run(&mut a, "s SEARCH 3"),
        "* SEARCH 3\r\ns OK Search completed.\r\n"
    );
    assert_eq!(
        run(&mut a, "u UID SEARCH ALL"),
        "* SEARCH 1 3\r\n* 2 EXPUNGE\r\n* 2 RECENT\r\nu OK Search completed.\r\n"
    );
    assert_eq!(
        run(&mut a, "s2 SEARCH 2"),
        "* SEARCH 2\r\ns2 OK Search completed.\r\n"
    );
}

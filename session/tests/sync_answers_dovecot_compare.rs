//! What a sync sends about other sessions' changes (flag changes,
//! expunges, new messages), in Dovecot's order and form: the flag changes
//! as `FETCH (FLAGS ...)` numbered as the client knows the messages, with
//! the UID only after UID STORE (or with QRESYNC) and `MODSEQ` first once
//! CONDSTORE is on, then the expunges, then EXISTS and RECENT. The same
//! two-session script goes to a live Dovecot and to Columba.

mod common;

use columba_interop::{require_tool, DovecotConfig, PrivateDovecot};
use common::{append_command, columba_session, run_in, DovecotClient};

const MESSAGE: &str = "From: a@example.com\r\nSubject: m\r\n\r\nbody\r\n";

/// (session, command): `a` is watched, `b` makes the changes.
const SCRIPT: &[(char, &str)] = &[
    ('a', "a1 SELECT INBOX"),
    ('b', "b1 SELECT INBOX"),
    ('b', "b2 STORE 2 +FLAGS.SILENT (\\Flagged)"),
    ('b', "b3 STORE 3 +FLAGS.SILENT (\\Deleted)"),
    ('b', "b4 EXPUNGE"),
    ('b', "APPEND"),
    ('a', "a2 NOOP"),
    ('b', "b5 STORE 1 +FLAGS.SILENT (\\Answered)"),
    ('a', "a3 UID STORE 2 -FLAGS (\\Flagged)"),
    ('b', "b6 STORE 3 +FLAGS.SILENT (\\Draft)"),
    ('a', "a4 STORE 2 +FLAGS (\\Seen)"),
    ('a', "a5 ENABLE CONDSTORE"),
    ('b', "b7 STORE 1 +FLAGS.SILENT (\\Seen)"),
    ('b', "b8 STORE 2 +FLAGS.SILENT ($Label1)"),
    ('a', "a6 NOOP"),
    ('b', "b9 STORE 2 +FLAGS.SILENT (\\Deleted)"),
    ('b', "b10 EXPUNGE"),
    ('a', "a7 CHECK"),
];

/// Modseqs may differ (what Dovecot counted before), UIDVALIDITY is the
/// second each mailbox was made in, and Dovecot's tagged answers carry
/// timings: masked.
fn normalize(text: &str) -> String {
    let mut untimed = String::new();
    for line in text.split_inclusive("\r\n") {
        if let Some(i) = line.find("[UIDVALIDITY ") {
            untimed.push_str(&line[..i]);
            untimed.push_str("[UIDVALIDITY N]");
            untimed.push_str(line[i..].split_once(']').map_or("", |(_, t)| t));
            continue;
        }
        match (line.find(" (0."), line.find("secs)")) {
            (Some(i), Some(j)) => {
                untimed.push_str(&line[..i]);
                untimed.push_str(&line[j + 5..]);
            }
            _ => untimed.push_str(line),
        }
    }
    let mut out = String::new();
    let mut rest = untimed.as_str();
    while let Some(i) = rest.find("MODSEQ ") {
        let (head, tail) = rest.split_at(i + "MODSEQ ".len());
        out.push_str(head);
        let digits = tail
            .trim_start_matches('(')
            .chars()
            .take_while(char::is_ascii_digit)
            .count();
        let skip = digits + usize::from(tail.starts_with('('));
        out.push_str(if tail.starts_with('(') { "(N" } else { "N" });
        rest = &tail[skip..];
    }
    out.push_str(rest);
    out
}

/// The command line of a script entry (`APPEND` stands for an APPEND of
/// [`MESSAGE`]).
fn line(cmd: &str) -> String {
    if cmd == "APPEND" {
        append_command("p", MESSAGE)
    } else {
        cmd.to_string()
    }
}

fn dovecot_transcript(port: u16) -> String {
    let mut a = DovecotClient::login(port);
    let mut b = DovecotClient::login(port);
    for _ in 0..3 {
        a.run(&line("APPEND"));
    }
    let mut out = String::new();
    for &(who, cmd) in SCRIPT {
        let answer = if who == 'a' {
            a.run(&line(cmd))
        } else {
            b.run(&line(cmd))
        };
        if who == 'a' {
            out.push_str(&answer);
        }
    }
    out
}

fn columba_transcript() -> String {
    let home = tempfile::tempdir().unwrap();
    let root = home.path().join("Maildir");
    let mut a = columba_session(&root);
    let mut b = columba_session(&root);
    for _ in 0..3 {
        run_in(&mut a, &line("APPEND"));
    }
    let mut out = String::new();
    for &(who, cmd) in SCRIPT {
        let answer = if who == 'a' {
            run_in(&mut a, &line(cmd))
        } else {
            run_in(&mut b, &line(cmd))
        };
        if who == 'a' {
            out.push_str(&answer);
        }
    }
    out
}

#[test]
fn other_sessions_changes_are_reported_as_dovecot_reports_them() {
    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    let theirs = normalize(&dovecot_transcript(dovecot.imap_port));
    let ours = normalize(&columba_transcript());
    assert_eq!(theirs, ours, "Dovecot:\n{theirs}\nColumba:\n{ours}");
}

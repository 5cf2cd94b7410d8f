//! A process that keeps opening one mailbox's view while a live Dovecot
//! changes it sees every change Dovecot made, as a replay from scratch
//! would, although it reads only what Dovecot appended in between.

use std::io::Write;
use std::process::{Command, Stdio};

use columba_interop::{find_tool, require_tool, DovecotConfig, PrivateDovecot};
use columba_mail_index::{replay_counts, IndexDir, Transaction, View, FLAG_FLAGGED};

fn save(dovecot: &PrivateDovecot, n: usize) {
    for i in 0..n {
        let mut child = Command::new(find_tool("doveadm").unwrap())
            .arg("-c")
            .arg(dovecot.config_path())
            .args(["save", "-u", "alice", "-m", "INBOX"])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        write!(
            child.stdin.take().unwrap(),
            "Subject: message {i}\r\nMessage-ID: <inc{i}@example.test>\r\n\r\nbody {i}\r\n"
        )
        .unwrap();
        assert!(child.wait().unwrap().success());
    }
}

fn doveadm_ok(dovecot: &PrivateDovecot, args: &[&str]) -> String {
    let out = dovecot.doveadm(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "doveadm {args:?}: {stderr}");
    assert!(
        !stderr.contains("rror") && !stderr.contains("orrupt"),
        "doveadm {args:?} complained: {stderr}"
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `(uid, sorted flags and keywords, modseq)` as Dovecot reports them.
fn dovecot_fetch(dovecot: &PrivateDovecot) -> Vec<(u32, Vec<String>, u64)> {
    let out = doveadm_ok(
        dovecot,
        &[
            "-f",
            "tab",
            "fetch",
            "-u",
            "alice",
            "uid flags modseq",
            "mailbox",
            "INBOX",
            "all",
        ],
    );
    out.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let mut flags: Vec<String> = f[1]
                .split(' ')
                .filter(|s| !s.is_empty() && *s != "\\Recent")
                .map(str::to_string)
                .collect();
            flags.sort();
            (f[0].parse().unwrap(), flags, f[2].parse().unwrap())
        })
        .collect()
}

/// The same triples from a view.
fn triples(view: &View) -> Vec<(u32, Vec<String>, u64)> {
    assert!(view.skipped.is_empty(), "{:?}", view.skipped);
    view.messages()
        .map(|m| {
            let mut flags: Vec<String> = [
                (0x01, "\\Answered"),
                (0x02, "\\Flagged"),
                (0x04, "\\Deleted"),
                (0x08, "\\Seen"),
                (0x10, "\\Draft"),
            ]
            .iter()
            .filter(|(b, _)| m.flags & b != 0)
            .map(|(_, n)| n.to_string())
            .collect();
            flags.extend(m.keywords.iter().map(|k| k.to_string()));
            flags.sort();
            (m.uid, flags, m.modseq)
        })
        .collect()
}

/// Opens the view the normal way (going on from the last replay) and
/// checks it against a replay from scratch and against Dovecot.
fn check(index: &IndexDir, dovecot: &PrivateDovecot, what: &str) {
    let view = index.open_view().unwrap();
    let scratch = index.open_view_uncached().unwrap();
    assert_eq!(view.map(), scratch.map(), "{what}: map");
    assert_eq!(
        view.highest_modseq, scratch.highest_modseq,
        "{what}: modseq"
    );
    assert_eq!(triples(&view), dovecot_fetch(dovecot), "{what}: as Dovecot");
}

#[test]
fn dovecot_changes_between_two_opens_are_seen() {
    require_tool!("doveadm");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    save(&dovecot, 6);
    // Turns on modseqs the way a CONDSTORE client does.
    dovecot_fetch(&dovecot);
    let index = IndexDir::new(dovecot.maildir("alice"));
    check(&index, &dovecot, "first open");
    let before = replay_counts();

    let flags = |op: &str, what: &str, uids: &str| {
        doveadm_ok(
            &dovecot,
            &[
                "flags", op, "-u", "alice", what, "mailbox", "INBOX", "uid", uids,
            ],
        );
    };
    flags("add", "\\Seen $Dove", "1:3");
    check(&index, &dovecot, "flags added");
    flags("remove", "\\Seen", "2");
    flags("add", "\\Deleted", "4");
    check(&index, &dovecot, "flag removed, deleted");
    doveadm_ok(
        &dovecot,
        &["expunge", "-u", "alice", "mailbox", "INBOX", "uid", "4:5"],
    );
    check(&index, &dovecot, "expunged");
    save(&dovecot, 2);
    check(&index, &dovecot, "saved more");

    // Columba writes in between, Dovecot reads it and writes again.
    let mut t = Transaction::new();
    t.add_flags(6, 7, FLAG_FLAGGED)
        .add_keyword("Work", &[(1, 1)]);
    index.commit(&t).unwrap();
    dovecot.fix_ownership("alice").unwrap();
    check(&index, &dovecot, "after Columba's commit");
    flags("replace", "\\Answered", "1");
    check(&index, &dovecot, "flags replaced");

    let after = replay_counts();
    assert!(
        after.resumed >= before.resumed + 4,
        "opens went on from the last replay: {before:?} -> {after:?}"
    );
    let problems = dovecot.log_problems();
    assert!(problems.is_empty(), "Dovecot logged: {problems:#?}");
}

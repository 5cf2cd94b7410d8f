//! Live interop with a private Dovecot 2.3: Columba writes the index files
//! of a mailbox Dovecot uses, then Dovecot opens it without complaint and
//! reports what Columba wrote; both take turns writing.

use std::io::Write;
use std::process::{Command, Stdio};

use columba_interop::{find_tool, require_tool, DovecotConfig, PrivateDovecot};
use columba_mail_index::{
    replay_counts, FileKind, IndexDir, Transaction, View, FLAG_DELETED, FLAG_FLAGGED, FLAG_SEEN,
};

fn save(dovecot: &PrivateDovecot, user: &str, n: usize) {
    for i in 0..n {
        let mut child = Command::new(find_tool("doveadm").unwrap())
            .arg("-c")
            .arg(dovecot.config_path())
            .args(["save", "-u", user, "-m", "INBOX"])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        write!(
            child.stdin.take().unwrap(),
            "Subject: message {i}\r\nMessage-ID: <m{i}@example.test>\r\n\r\nbody {i}\r\n"
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

/// `uid -> (system flags, keywords, modseq)` as Dovecot reports them.
fn fetch(dovecot: &PrivateDovecot) -> Vec<(u32, Vec<String>, u64)> {
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

fn columba_view(index: &IndexDir) -> Vec<(u32, Vec<String>, u64)> {
    triples(&index.open_view().unwrap())
}

/// `(uid, sorted flags and keywords, modseq)` of a view, as [`fetch`]
/// gives Dovecot's.
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

fn assert_no_problems(dovecot: &PrivateDovecot) {
    let problems = dovecot.log_problems();
    assert!(problems.is_empty(), "Dovecot logged: {problems:#?}");
    let log = dovecot.log();
    assert!(
        !log.contains("ebuild") && !log.contains("fsck"),
        "Dovecot rebuilt the index:\n{log}"
    );
}

#[test]
fn dovecot_accepts_what_columba_writes() {
    require_tool!("doveadm");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    save(&dovecot, "alice", 5);
    // Turn on modseqs the way a CONDSTORE client does.
    fetch(&dovecot);
    let index = IndexDir::new(dovecot.maildir("alice"));
    assert_eq!(
        columba_view(&index),
        fetch(&dovecot),
        "Columba reads Dovecot's files as Dovecot does"
    );

    // Columba: flag and keyword changes, an expunge request.
    let mut t = Transaction::new();
    t.add_flags(1, 2, FLAG_SEEN)
        .add_flags(3, 3, FLAG_FLAGGED | FLAG_DELETED)
        .add_keyword("$Columba", &[(2, 2), (4, 5)])
        .add_keyword("Work", &[(5, 5)]);
    index.commit(&t).unwrap();
    let mut t = Transaction::new();
    t.remove_keyword("$Columba", &[(5, 5)]).expunge(3, [0; 16]);
    index.commit(&t).unwrap();
    dovecot.fix_ownership("alice").unwrap();
    let after = fetch(&dovecot);
    let uids: Vec<u32> = after.iter().map(|m| m.0).collect();
    assert_eq!(
        uids,
        vec![1, 2, 4, 5],
        "Dovecot carried out the expunge request"
    );
    assert_eq!(after[1].1, vec!["$Columba", "\\Seen"]);
    assert_eq!(after[3].1, vec!["Work"]);
    assert_eq!(columba_view(&index), after);
    assert_no_problems(&dovecot);

    // Columba: modseq update, then rotate the log and rewrite dovecot.index.
    let highest = index.open_view().unwrap().highest_modseq;
    let mut t = Transaction::new();
    t.update_modseq(4, highest + 10);
    index.commit(&t).unwrap();
    // Rotation waits until the storage has carried out every client change.
    let mut t = Transaction::new();
    t.add_flags(5, 5, columba_mail_index::FLAG_ANSWERED);
    index.commit(&t).unwrap();
    assert!(index.rotate().is_err());
    dovecot.fix_ownership("alice").unwrap();
    fetch(&dovecot);
    let seq = index.rotate().unwrap();
    assert!(index.path(FileKind::Log2).exists());
    let view = index.open_view().unwrap();
    assert_eq!(view.header().log_file_seq, seq);
    assert!(view.had_index_file);
    dovecot.fix_ownership("alice").unwrap();
    let after = fetch(&dovecot);
    assert_eq!(after[2], (4, vec!["$Columba".to_string()], highest + 10));
    assert_eq!(columba_view(&index), after);
    assert_no_problems(&dovecot);

    // Taking turns: Dovecot writes, Columba reads; Columba writes, Dovecot reads.
    doveadm_ok(
        &dovecot,
        &[
            "flags",
            "add",
            "-u",
            "alice",
            "\\Answered $Dove",
            "mailbox",
            "INBOX",
            "uid",
            "1",
        ],
    );
    save(&dovecot, "alice", 2);
    assert_eq!(columba_view(&index), fetch(&dovecot));
    let mut t = Transaction::new();
    t.remove_flags(1, 1, FLAG_SEEN)
        .add_keyword("$Dove", &[(6, 7)]);
    index.commit(&t).unwrap();
    index.rewrite_index().unwrap();
    dovecot.fix_ownership("alice").unwrap();
    let after = fetch(&dovecot);
    assert_eq!(after[0].1, vec!["$Dove", "\\Answered"]);
    assert_eq!(columba_view(&index), after);

    let status = doveadm_ok(
        &dovecot,
        &[
            "mailbox",
            "status",
            "-u",
            "alice",
            "messages unseen uidnext highestmodseq",
            "INBOX",
        ],
    );
    let view = index.open_view().unwrap();
    let unseen = view.messages().filter(|m| m.flags & FLAG_SEEN == 0).count();
    assert_eq!(
        status.trim(),
        format!(
            "INBOX messages={} uidnext={} unseen={} highestmodseq={}",
            view.header().messages_count,
            view.header().next_uid,
            unseen,
            view.highest_modseq
        )
    );
    assert_no_problems(&dovecot);
}

#[test]
fn dovecot_reads_cache_records_columba_wrote() {
    use columba_mail_index::cache_file::{FieldType, DECISION_YES};
    use columba_mail_index::CacheField;
    require_tool!("doveadm");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    save(&dovecot, "alice", 3);
    // Dovecot caches what a client fetched.
    doveadm_ok(
        &dovecot,
        &[
            "fetch",
            "-u",
            "alice",
            "date.received hdr.subject",
            "mailbox",
            "INBOX",
            "all",
        ],
    );
    let index = IndexDir::new(dovecot.maildir("alice"));
    let received = CacheField {
        name: "date.received".into(),
        field_type: FieldType::Fixed,
        size: 4,
        decision: DECISION_YES,
        last_used: 1_700_000_000,
    };
    // 2001-09-09 01:46:40 UTC: Dovecot can only show this if it reads Columba's record.
    index
        .cache_add(&[(
            2,
            vec![(received.clone(), 1_000_000_000u32.to_le_bytes().to_vec())],
        )])
        .unwrap();
    dovecot.fix_ownership("alice").unwrap();
    let dump = doveadm_ok(
        &dovecot,
        &["dump", dovecot.maildir("alice").to_str().unwrap()],
    );
    assert!(!dump.contains("broken"), "{dump}");
    let out = doveadm_ok(
        &dovecot,
        &[
            "-f",
            "tab",
            "fetch",
            "-u",
            "alice",
            "uid date.received",
            "mailbox",
            "INBOX",
            "uid",
            "2",
        ],
    );
    assert!(
        out.contains("2001-09-09"),
        "Dovecot did not use Columba's cache record: {out}"
    );

    // After a purge the value survives in the new file.
    index.cache_purge().unwrap();
    dovecot.fix_ownership("alice").unwrap();
    let out = doveadm_ok(
        &dovecot,
        &[
            "-f",
            "tab",
            "fetch",
            "-u",
            "alice",
            "uid date.received",
            "mailbox",
            "INBOX",
            "uid",
            "2",
        ],
    );
    assert!(out.contains("2001-09-09"), "value lost in purge: {out}");
    let dump = doveadm_ok(
        &dovecot,
        &["dump", dovecot.maildir("alice").to_str().unwrap()],
    );
    assert!(
        !dump.contains("broken") && !dump.contains("unusable"),
        "{dump}"
    );
    assert_no_problems(&dovecot);
}

/// Columba's log lock is the lock Dovecot takes: while Columba holds it, a
/// Dovecot writer waits, and nothing interleaves.
#[test]
fn dovecot_waits_for_columbas_log_lock() {
    require_tool!("doveadm");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    save(&dovecot, "alice", 2);
    fetch(&dovecot);
    let index = IndexDir::new(dovecot.maildir("alice"));
    let lock = index.lock().unwrap();
    let mut child = Command::new(find_tool("doveadm").unwrap())
        .arg("-c")
        .arg(dovecot.config_path())
        .args([
            "flags",
            "add",
            "-u",
            "alice",
            "\\Flagged",
            "mailbox",
            "INBOX",
            "uid",
            "2",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1000));
    let mut t = Transaction::new();
    t.add_flags(1, 1, FLAG_SEEN);
    index.commit_locked(&lock, &t).unwrap();
    // Reading and writing under the lock must not drop it (closing any
    // descriptor of the file would release a process's fcntl locks).
    let _ = index.open_view_locked(&lock).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1000));
    assert!(
        child.try_wait().unwrap().is_none(),
        "doveadm wrote while Columba held the log lock"
    );
    drop(lock);
    let status = child.wait_with_output().unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    dovecot.fix_ownership("alice").unwrap();
    let after = fetch(&dovecot);
    assert_eq!(after[0].1, vec!["\\Seen"]);
    assert_eq!(after[1].1, vec!["\\Flagged"]);
    assert_eq!(columba_view(&index), after);
    assert_no_problems(&dovecot);
}

/// What the Maildir itself still says: UIDs from `dovecot-uidlist`, flags
/// and keywords from the file names (`dovecot-keywords` maps letters).
fn surviving_from_maildir(maildir: &std::path::Path) -> columba_mail_index::SurvivingMailbox {
    let keywords: Vec<(char, String)> = std::fs::read_to_string(maildir.join("dovecot-keywords"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (n, name) = l.split_once(' ')?;
            Some(((b'a' + n.parse::<u8>().ok()?) as char, name.to_string()))
        })
        .collect();
    let mut files = Vec::new();
    for sub in ["cur", "new"] {
        for e in std::fs::read_dir(maildir.join(sub)).unwrap() {
            files.push(e.unwrap().file_name().to_string_lossy().into_owned());
        }
    }
    let uidlist = std::fs::read_to_string(maildir.join("dovecot-uidlist")).unwrap();
    let mut out = Vec::new();
    for line in uidlist.lines().skip(1) {
        let (uid, rest) = line.split_once(' ').unwrap();
        let base = rest.rsplit(':').next().unwrap();
        let Some(file) = files.iter().find(|f| f.split(':').next() == Some(base)) else {
            continue;
        };
        let info = file.split_once(":2,").map(|x| x.1).unwrap_or("");
        let mut flags = 0;
        let mut kws = Vec::new();
        for c in info.chars() {
            match c {
                'R' => flags |= 0x01,
                'F' => flags |= 0x02,
                'T' => flags |= 0x04,
                'S' => flags |= 0x08,
                'D' => flags |= 0x10,
                c => {
                    if let Some((_, k)) = keywords.iter().find(|(l, _)| *l == c) {
                        kws.push(k.clone());
                    }
                }
            }
        }
        out.push(columba_mail_index::SurvivingMessage {
            uid: uid.parse().unwrap(),
            flags,
            keywords: kws,
        });
    }
    let header = uidlist.lines().next().unwrap();
    let field = |p: char| {
        header
            .split(' ')
            .find_map(|w| w.strip_prefix(p))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    columba_mail_index::SurvivingMailbox {
        uid_validity: field('V'),
        next_uid: field('N'),
        messages: out,
    }
}

/// A destroyed log is replaced from what the Maildir still holds; Dovecot
/// then opens the mailbox without rebuilding and reports the same state.
#[test]
fn recovered_index_is_accepted_by_dovecot() {
    require_tool!("doveadm");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    save(&dovecot, "alice", 4);
    doveadm_ok(
        &dovecot,
        &[
            "flags",
            "add",
            "-u",
            "alice",
            "\\Seen $Keep",
            "mailbox",
            "INBOX",
            "uid",
            "2:3",
        ],
    );
    doveadm_ok(
        &dovecot,
        &["expunge", "-u", "alice", "mailbox", "INBOX", "uid", "4"],
    );
    let before = fetch(&dovecot);
    let status_before = doveadm_ok(
        &dovecot,
        &[
            "mailbox",
            "status",
            "-u",
            "alice",
            "messages uidnext uidvalidity",
            "INBOX",
        ],
    );
    let maildir = dovecot.maildir("alice");
    let index = IndexDir::new(&maildir);
    // Destroy the log; no dovecot.index may exist either.
    std::fs::write(index.path(FileKind::Log), b"\x01\x03garbage").unwrap();
    let _ = std::fs::remove_file(index.path(FileKind::Index));
    assert!(index.open_view().is_err());
    let surviving = surviving_from_maildir(&maildir);
    let (view, report) = index.open_or_recover(Some(&surviving)).unwrap();
    assert!(report.log_recreated, "{report:?}");
    assert_eq!(view.messages().count(), 3);
    assert_eq!(view.header().next_uid, 5, "expunged UID 4 is never reused");
    dovecot.fix_ownership("alice").unwrap();
    let after = fetch(&dovecot);
    // Modseqs restart after a lost log; UIDs, flags and keywords survive.
    let strip =
        |v: Vec<(u32, Vec<String>, u64)>| v.into_iter().map(|(u, f, _)| (u, f)).collect::<Vec<_>>();
    assert_eq!(strip(after), strip(before));
    let status_after = doveadm_ok(
        &dovecot,
        &[
            "mailbox",
            "status",
            "-u",
            "alice",
            "messages uidnext uidvalidity",
            "INBOX",
        ],
    );
    assert_eq!(status_after, status_before);
    assert_no_problems(&dovecot);
}

/// A real, busy mailbox (the rotated-log fixture): Columba rewrites its
/// dovecot.index and rotates its log; Dovecot reads the same messages,
/// flags, keywords and modseqs as before.
#[test]
fn dovecot_reads_a_fixture_after_columba_rewrites_and_rotates() {
    require_tool!("doveadm");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    let maildir = dovecot.maildir("alice");
    columba_interop::install_fixture_maildir("02-bob-rotated-log", &maildir).unwrap();
    dovecot.fix_ownership("alice").unwrap();
    let before = fetch(&dovecot);
    assert_eq!(before.len(), 284);
    let index = IndexDir::new(&maildir);
    assert_eq!(columba_view(&index), before);
    index.rewrite_index().unwrap();
    index.rotate().unwrap();
    dovecot.fix_ownership("alice").unwrap();
    assert_eq!(fetch(&dovecot), before);
    assert_eq!(columba_view(&index), before);
    assert_no_problems(&dovecot);
}

/// Growing the keyword bitmap past 16 keywords changes the record layout;
/// Dovecot reads the rewritten index with Columba's layout.
#[test]
fn many_keywords_survive_an_index_rewrite() {
    require_tool!("doveadm");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    save(&dovecot, "alice", 3);
    fetch(&dovecot);
    let index = IndexDir::new(dovecot.maildir("alice"));
    let names: Vec<String> = (0..20).map(|i| format!("kw{i:02}")).collect();
    let mut t = Transaction::new();
    for (i, n) in names.iter().enumerate() {
        let uid = 1 + (i as u32 % 3);
        t.add_keyword(n, &[(uid, uid)]);
    }
    index.commit(&t).unwrap();
    dovecot.fix_ownership("alice").unwrap();
    let first = fetch(&dovecot);
    index.rewrite_index().unwrap();
    let map = index.read_index().unwrap().unwrap();
    assert_eq!(map.keywords.len(), 20);
    assert!(map.ext("keywords").unwrap().record_size >= 3);
    dovecot.fix_ownership("alice").unwrap();
    let second = fetch(&dovecot);
    assert_eq!(second, first);
    for (i, n) in names.iter().enumerate() {
        assert!(
            second[i % 3].1.contains(n),
            "{n} missing on uid {}",
            1 + i % 3
        );
    }
    assert_eq!(columba_view(&index), second);
    assert_no_problems(&dovecot);
}

/// An Appender keeps its state across commits and catches up with what
/// Dovecot wrote in between.
#[test]
fn appender_and_dovecot_interleave() {
    require_tool!("doveadm");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    save(&dovecot, "alice", 4);
    fetch(&dovecot);
    let index = IndexDir::new(dovecot.maildir("alice"));
    let mut app = columba_mail_index::Appender::open(&index).unwrap();
    for uid in 1..=4 {
        let mut t = Transaction::new();
        t.add_flags(uid, uid, FLAG_SEEN);
        app.commit(&t).unwrap();
    }
    dovecot.fix_ownership("alice").unwrap();
    doveadm_ok(
        &dovecot,
        &[
            "flags",
            "add",
            "-u",
            "alice",
            "\\Flagged",
            "mailbox",
            "INBOX",
            "uid",
            "2",
        ],
    );
    save(&dovecot, "alice", 1);
    let mut t = Transaction::new();
    t.add_keyword("$Late", &[(5, 5)])
        .remove_flags(1, 1, FLAG_SEEN);
    app.commit(&t).unwrap();
    assert_eq!(
        app.map().header.next_uid,
        6,
        "caught up with Dovecot's append"
    );
    dovecot.fix_ownership("alice").unwrap();
    let after = fetch(&dovecot);
    let flags: Vec<Vec<String>> = after.iter().map(|m| m.1.clone()).collect();
    assert_eq!(
        flags,
        vec![
            vec![],
            vec!["\\Flagged".to_string(), "\\Seen".into()],
            vec!["\\Seen".into()],
            vec!["\\Seen".into()],
            vec!["$Late".into()]
        ]
    );
    assert_eq!(columba_view(&index), after);
    assert_no_problems(&dovecot);
}

// A process that keeps opening one mailbox's view while a live Dovecot
// changes it sees every change Dovecot made, as a replay from scratch
// would, although it reads only what Dovecot appended in between.

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
    assert_eq!(triples(&view), fetch(dovecot), "{what}: as Dovecot");
}

#[test]
fn dovecot_changes_between_two_opens_are_seen() {
    require_tool!("doveadm");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    save(&dovecot, "alice", 6);
    // Turns on modseqs the way a CONDSTORE client does.
    fetch(&dovecot);
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
    save(&dovecot, "alice", 2);
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

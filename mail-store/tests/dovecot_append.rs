//! APPEND by Columba into a mailbox Dovecot serves: a Dovecot session that
//! has the mailbox selected sees the new messages at its next NOOP, with
//! Columba's UIDs, flags, keywords, INTERNALDATE and exact contents, and
//! Dovecot logs no corruption; Columba's own view agrees.

mod common;

use columba_interop::{require_tool, DovecotConfig, PrivateDovecot};
use columba_mail_store::search::MessageFlags;
use columba_mail_store::store::{
    append, changes, copy, expunge, expunge_deleted, move_messages, store_flags,
    store_flags_unchanged_since, sync, Change, MailboxSnapshot, StoreMode,
};
use columba_maildir::Mailbox;
use common::*;

#[test]
fn dovecot_sees_columba_appends() {
    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    let maildir = dovecot.maildir("alice");
    let mut imap = ImapClient::connect(dovecot.imap_port);
    assert!(imap.command("LOGIN alice alicepw").1.starts_with("OK"));
    assert!(imap.command("ENABLE CONDSTORE").1.starts_with("OK"));
    // Dovecot creates the Maildir, uidlist and index, with one message of its own.
    let (_, ok) = imap.command("APPEND INBOX (\\Seen) {20+}\r\nSubject: first\r\n\r\nx\r\n");
    assert!(ok.starts_with("OK"), "{ok}");
    assert!(imap.command("SELECT INBOX").1.starts_with("OK"));

    let inbox = Mailbox::at(&maildir, &maildir, "INBOX");
    let msgs: [(&[u8], MessageFlags, Vec<String>, i64); 2] = [
        (
            b"From: a@example.com\nSubject: by columba\n\nhello\n",
            MessageFlags {
                flagged: true,
                ..MessageFlags::default()
            },
            vec!["$Label1".to_string()],
            1_705_000_000,
        ),
        (
            b"Subject: second\n\nbody\n",
            MessageFlags {
                seen: true,
                answered: true,
                ..MessageFlags::default()
            },
            vec![],
            1_706_000_000,
        ),
    ];
    let mut uids = Vec::new();
    for (data, flags, keywords, date) in &msgs {
        let a = append(&inbox, data, *flags, keywords, Some(*date)).unwrap();
        assert!(a.indexed);
        uids.push(a.uid);
    }
    assert_eq!(uids, [2, 3]);
    dovecot.fix_ownership("alice").unwrap();

    let (untagged, ok) = imap.command("NOOP");
    assert!(ok.starts_with("OK"), "{ok}");
    assert!(
        untagged.iter().any(|u| u == b"* 3 EXISTS\r\n"),
        "{untagged:?}"
    );
    let (untagged, ok) = imap.command("UID FETCH 2:3 (FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])");
    assert!(ok.starts_with("OK"), "{ok}");
    let text: Vec<String> = untagged
        .iter()
        .map(|u| String::from_utf8_lossy(u).into_owned())
        .collect();
    assert!(text[0].starts_with("* 2 FETCH (UID 2 FLAGS (\\Flagged \\Recent $Label1) INTERNALDATE \"11-Jan-2024 19:06:40 +0000\" RFC822.SIZE 51 "), "{}", text[0]);
    assert!(
        text[0].ends_with(
            "BODY[] {51}\r\nFrom: a@example.com\r\nSubject: by columba\r\n\r\nhello\r\n)\r\n"
        ),
        "{}",
        text[0]
    );
    assert!(text[1].starts_with("* 3 FETCH (UID 3 FLAGS (\\Answered \\Seen \\Recent) INTERNALDATE \"23-Jan-2024 08:53:20 +0000\""), "{}", text[1]);

    // Columba's view of the same mailbox
    let snap = MailboxSnapshot::open(&inbox).unwrap();
    let st = snap.status();
    assert_eq!((st.messages, st.uid_next, st.unseen), (3, 4, 1));
    assert_eq!(snap.messages[1].flags_imap(), "(\\Flagged $Label1)");

    // Dovecot keeps working on the mailbox afterwards
    assert!(imap
        .command("UID STORE 2 +FLAGS (\\Seen)")
        .1
        .starts_with("OK"));
    assert!(imap.command("LOGOUT").1.starts_with("OK"));
    let problems = dovecot.log_problems();
    assert!(problems.is_empty(), "{problems:?}");
    let snap = MailboxSnapshot::open(&inbox).unwrap();
    assert_eq!(snap.messages[1].flags_imap(), "(\\Flagged \\Seen $Label1)");
}

#[test]
fn dovecot_sees_columba_flag_changes() {
    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    let maildir = dovecot.maildir("alice");
    let mut imap = ImapClient::connect(dovecot.imap_port);
    assert!(imap.command("LOGIN alice alicepw").1.starts_with("OK"));
    for s in ["one", "two"] {
        let msg = format!("Subject: {s}\r\n\r\nx\r\n");
        let (_, ok) = imap.command(&format!(
            "APPEND INBOX (\\Draft) {{{}+}}\r\n{msg}",
            msg.len()
        ));
        assert!(ok.starts_with("OK"), "{ok}");
    }
    assert!(imap.command("SELECT INBOX").1.starts_with("OK"));
    let inbox = Mailbox::at(&maildir, &maildir, "INBOX");
    let seen_work = MessageFlags {
        seen: true,
        ..MessageFlags::default()
    };
    let done = store_flags(
        &inbox,
        &[1, 2],
        StoreMode::Add,
        seen_work,
        &["Work".to_string()],
    )
    .unwrap();
    assert_eq!(done, [1, 2]);
    let draft = MessageFlags {
        draft: true,
        ..MessageFlags::default()
    };
    assert_eq!(
        store_flags(&inbox, &[2], StoreMode::Remove, draft, &[]).unwrap(),
        [2]
    );
    dovecot.fix_ownership("alice").unwrap();

    let (untagged, ok) = imap.command("NOOP");
    assert!(ok.starts_with("OK"), "{ok}");
    let text: Vec<String> = untagged
        .iter()
        .map(|u| String::from_utf8_lossy(u).into_owned())
        .collect();
    assert!(
        text.iter()
            .any(|t| t.contains("* 1 FETCH (FLAGS (\\Seen \\Draft \\Recent Work))")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|t| t.contains("* 2 FETCH (FLAGS (\\Seen \\Recent Work))")),
        "{text:?}"
    );
    // the files carry the flags too (Maildir letters S, D and Work's letter)
    let names: Vec<String> = std::fs::read_dir(maildir.join("cur"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(names.iter().any(|n| n.ends_with(":2,DSa")), "{names:?}");
    assert!(names.iter().any(|n| n.ends_with(":2,Sa")), "{names:?}");
    assert!(imap.command("LOGOUT").1.starts_with("OK"));
    // a fresh Dovecot session sees the same
    let mut imap = ImapClient::connect(dovecot.imap_port);
    assert!(imap.command("LOGIN alice alicepw").1.starts_with("OK"));
    assert!(imap.command("EXAMINE INBOX").1.starts_with("OK"));
    let (untagged, _) = imap.command("FETCH 1:* (FLAGS)");
    let text: Vec<String> = untagged
        .iter()
        .map(|u| String::from_utf8_lossy(u).into_owned())
        .collect();
    assert_eq!(
        text,
        [
            "* 1 FETCH (FLAGS (\\Seen \\Draft Work))\r\n",
            "* 2 FETCH (FLAGS (\\Seen Work))\r\n"
        ]
    );
    let problems = dovecot.log_problems();
    assert!(problems.is_empty(), "{problems:?}");
}

#[test]
fn sync_indexes_files_dropped_into_new() {
    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    let maildir = dovecot.maildir("alice");
    let mut imap = ImapClient::connect(dovecot.imap_port);
    assert!(imap.command("LOGIN alice alicepw").1.starts_with("OK"));
    let (_, ok) = imap.command("APPEND INBOX () {18+}\r\nSubject: a\r\n\r\nx\r\n");
    assert!(ok.starts_with("OK"), "{ok}");
    assert!(imap.command("SELECT INBOX").1.starts_with("OK"));
    // an external MDA drops two files; one already carries flags in cur/
    std::fs::write(
        maildir.join("new/1705331715.M1P1.external"),
        b"Subject: ext 1\n\nbody\n",
    )
    .unwrap();
    std::fs::write(
        maildir.join("cur/1705331716.M1P1.external:2,FS"),
        b"Subject: ext 2\n\nbody\n",
    )
    .unwrap();
    let inbox = Mailbox::at(&maildir, &maildir, "INBOX");
    let report = sync(&inbox).unwrap();
    assert_eq!(report.appended, [2, 3]);
    assert!(report.missing_files.is_empty());
    assert_eq!(sync(&inbox).unwrap().appended, Vec::<u32>::new());
    dovecot.fix_ownership("alice").unwrap();

    let snap = MailboxSnapshot::open(&inbox).unwrap();
    assert_eq!(snap.status().messages, 3);
    // not claimed by any session yet: \Recent
    assert_eq!(snap.messages[2].flags_imap(), "(\\Flagged \\Seen \\Recent)");
    let (untagged, ok) = imap.command("NOOP");
    assert!(ok.starts_with("OK"), "{ok}");
    assert!(
        untagged.iter().any(|u| u == b"* 3 EXISTS\r\n"),
        "{untagged:?}"
    );
    let (untagged, _) =
        imap.command("UID FETCH 2:3 (UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])");
    let text: Vec<String> = untagged
        .iter()
        .map(|u| String::from_utf8_lossy(u).into_owned())
        .collect();
    assert!(text[0].starts_with("* 2 FETCH (UID 2 FLAGS (\\Recent) BODY[HEADER.FIELDS (SUBJECT)] {18}\r\nSubject: ext 1"), "{text:?}");
    assert!(
        text[1].starts_with("* 3 FETCH (UID 3 FLAGS (\\Flagged \\Seen \\Recent)"),
        "{text:?}"
    );
    assert!(imap.command("LOGOUT").1.starts_with("OK"));
    let problems = dovecot.log_problems();
    assert!(problems.is_empty(), "{problems:?}");
}

#[test]
fn dovecot_sees_columba_expunges() {
    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    let maildir = dovecot.maildir("alice");
    let mut imap = ImapClient::connect(dovecot.imap_port);
    assert!(imap.command("LOGIN alice alicepw").1.starts_with("OK"));
    for (s, flags) in [
        ("one", "()"),
        ("two", "(\\Deleted)"),
        ("three", "()"),
        ("four", "(\\Deleted)"),
    ] {
        let msg = format!("Subject: {s}\r\n\r\nx\r\n");
        let (_, ok) = imap.command(&format!("APPEND INBOX {flags} {{{}+}}\r\n{msg}", msg.len()));
        assert!(ok.starts_with("OK"), "{ok}");
    }
    assert!(imap.command("SELECT INBOX").1.starts_with("OK"));
    let inbox = Mailbox::at(&maildir, &maildir, "INBOX");
    assert_eq!(expunge(&inbox, &[3]).unwrap(), [3]);
    assert_eq!(expunge_deleted(&inbox).unwrap(), [2, 4]);
    dovecot.fix_ownership("alice").unwrap();

    let (untagged, ok) = imap.command("NOOP");
    assert!(ok.starts_with("OK"), "{ok}");
    let text: Vec<String> = untagged
        .iter()
        .map(|u| String::from_utf8_lossy(u).into_owned())
        .collect();
    assert_eq!(
        text.iter().filter(|t| t.ends_with(" EXPUNGE\r\n")).count(),
        3,
        "{text:?}"
    );
    let (untagged, _) = imap.command("UID FETCH 1:* (UID)");
    assert_eq!(untagged.len(), 1, "{untagged:?}");
    assert!(imap.command("LOGOUT").1.starts_with("OK"));
    let snap = MailboxSnapshot::open(&inbox).unwrap();
    assert_eq!(snap.messages.iter().map(|m| m.uid).collect::<Vec<_>>(), [1]);
    assert_eq!(std::fs::read_dir(maildir.join("cur")).unwrap().count(), 1);
    let problems = dovecot.log_problems();
    assert!(problems.is_empty(), "{problems:?}");
}

#[test]
fn unchangedsince_leaves_newer_messages_alone() {
    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    let maildir = dovecot.maildir("alice");
    let mut imap = ImapClient::connect(dovecot.imap_port);
    assert!(imap.command("LOGIN alice alicepw").1.starts_with("OK"));
    assert!(imap.command("ENABLE CONDSTORE").1.starts_with("OK"));
    for s in ["one", "two"] {
        let msg = format!("Subject: {s}\r\n\r\nx\r\n");
        let (_, ok) = imap.command(&format!("APPEND INBOX () {{{}+}}\r\n{msg}", msg.len()));
        assert!(ok.starts_with("OK"), "{ok}");
    }
    assert!(imap.command("SELECT INBOX").1.starts_with("OK"));
    assert!(imap
        .command("UID STORE 2 +FLAGS (\\Answered)")
        .1
        .starts_with("OK"));
    let (untagged, _) = imap.command("UID FETCH 1:2 (MODSEQ)");
    let modseq_of = |line: &[u8]| -> u64 {
        let t = String::from_utf8_lossy(line);
        t.split("MODSEQ (")
            .nth(1)
            .unwrap()
            .split(')')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let (m1, m2) = (modseq_of(&untagged[0]), modseq_of(&untagged[1]));
    assert!(m1 < m2);
    let inbox = Mailbox::at(&maildir, &maildir, "INBOX");
    let seen = MessageFlags {
        seen: true,
        ..MessageFlags::default()
    };
    let r =
        store_flags_unchanged_since(&inbox, &[1, 2], StoreMode::Add, seen, &[], Some(m1)).unwrap();
    assert_eq!((r.stored, r.modified), (vec![1], vec![2]));
    dovecot.fix_ownership("alice").unwrap();
    let (untagged, _) = imap.command("UID FETCH 1:2 (FLAGS)");
    let text: Vec<String> = untagged
        .iter()
        .map(|u| String::from_utf8_lossy(u).into_owned())
        .collect();
    assert!(text[0].contains("FLAGS (\\Seen \\Recent)"), "{text:?}");
    assert!(text[1].contains("FLAGS (\\Answered \\Recent)"), "{text:?}");
    let problems = dovecot.log_problems();
    assert!(problems.is_empty(), "{problems:?}");
}

#[test]
fn copy_and_move_with_uidplus() {
    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    let maildir = dovecot.maildir("alice");
    let mut imap = ImapClient::connect(dovecot.imap_port);
    assert!(imap.command("LOGIN alice alicepw").1.starts_with("OK"));
    for (s, flags) in [
        ("one", "(\\Seen $Work)"),
        ("two", "(\\Flagged)"),
        ("three", "()"),
    ] {
        let msg = format!("Subject: {s}\r\n\r\nbody {s}\r\n");
        let (_, ok) = imap.command(&format!("APPEND INBOX {flags} {{{}+}}\r\n{msg}", msg.len()));
        assert!(ok.starts_with("OK"), "{ok}");
    }
    assert!(imap.command("CREATE Archive").1.starts_with("OK"));
    let (untagged, ok) = imap.command("SELECT Archive");
    assert!(ok.starts_with("OK"), "{ok}");
    let validity: u32 = untagged
        .iter()
        .find_map(|u| {
            let line = String::from_utf8_lossy(u).into_owned();
            let rest = line.strip_prefix("* OK [UIDVALIDITY ")?.to_string();
            rest.split(']').next()?.parse().ok()
        })
        .unwrap_or_else(|| panic!("{untagged:?}"));
    let inbox = Mailbox::at(&maildir, &maildir, "INBOX");
    let archive = Mailbox::at(&maildir.join(".Archive"), &maildir, "Archive");
    let c = copy(&inbox, &archive, &[3, 1]).unwrap();
    assert_eq!(c.dest_uid_validity, validity);
    assert_eq!((c.source_uids, c.dest_uids), (vec![1, 3], vec![1, 2]));
    let m = move_messages(&inbox, &archive, &[2]).unwrap();
    assert_eq!(m.dest_uid_validity, validity);
    assert_eq!((m.source_uids, m.dest_uids), (vec![2], vec![3]));
    // nothing to copy: still the destination's UIDVALIDITY
    assert_eq!(
        copy(&inbox, &archive, &[99]).unwrap().dest_uid_validity,
        validity
    );
    dovecot.fix_ownership("alice").unwrap();

    let (untagged, ok) = imap.command("NOOP");
    assert!(ok.starts_with("OK"), "{ok}");
    assert!(
        untagged.iter().any(|u| u == b"* 3 EXISTS\r\n"),
        "{untagged:?}"
    );
    let (untagged, _) = imap.command("UID FETCH 1:* (FLAGS BODY.PEEK[TEXT])");
    let text: Vec<String> = untagged
        .iter()
        .map(|u| String::from_utf8_lossy(u).into_owned())
        .collect();
    assert!(
        text[0].contains("FLAGS (\\Seen \\Recent $Work)") && text[0].contains("body one"),
        "{text:?}"
    );
    assert!(
        text[1].contains("FLAGS (\\Recent)") && text[1].contains("body three"),
        "{text:?}"
    );
    assert!(
        text[2].contains("FLAGS (\\Flagged \\Recent)") && text[2].contains("body two"),
        "{text:?}"
    );
    let (untagged, _) = imap.command("STATUS INBOX (MESSAGES UIDNEXT)");
    assert_eq!(
        String::from_utf8_lossy(&untagged[0]),
        "* STATUS INBOX (MESSAGES 2 UIDNEXT 4)\r\n"
    );
    // Dovecot's own COPYUID and Columba's APPENDUID name the same UIDVALIDITY
    assert!(imap.command("SELECT INBOX").1.starts_with("OK"));
    let (_, ok) = imap.command("UID COPY 1 Archive");
    assert!(
        ok.starts_with(&format!("OK [COPYUID {validity} 1 4]")),
        "{ok}"
    );
    let a = append(
        &archive,
        b"Subject: four\r\n\r\nx\r\n",
        MessageFlags::default(),
        &[],
        None,
    )
    .unwrap();
    assert_eq!((a.uid_validity, a.uid), (validity, 5));
    dovecot.fix_ownership("alice").unwrap();
    let problems = dovecot.log_problems();
    assert!(problems.is_empty(), "{problems:?}");
}

#[test]
fn a_second_view_learns_what_changed() {
    let tmp = tempfile::tempdir().unwrap();
    columba_interop::install_fixture_maildir("01-alice-shapes-flags", tmp.path()).unwrap();
    let inbox = Mailbox::at(tmp.path(), tmp.path(), "INBOX");
    let before = MailboxSnapshot::open(&inbox).unwrap();
    // another session: flag uid 1, expunge uids 3 and 5, deliver one message
    let flagged = MessageFlags {
        flagged: true,
        ..MessageFlags::default()
    };
    store_flags(&inbox, &[1], StoreMode::Add, flagged, &[]).unwrap();
    expunge(&inbox, &[3, 5]).unwrap();
    let a = append(
        &inbox,
        b"Subject: new\n\nx\n",
        MessageFlags::default(),
        &[],
        None,
    )
    .unwrap();
    assert_eq!(a.uid, 19);
    let after = MailboxSnapshot::open(&inbox).unwrap();
    let seen = changes(&before, &after, false);
    assert_eq!(&seen[..2], [Change::Expunge(5), Change::Expunge(3)]);
    assert_eq!(seen[2], Change::Exists(14));
    assert!(
        matches!(&seen[4], Change::Flags { seq: 1, uid: 1, flags, .. } if flags == "(\\Flagged \\Seen)"),
        "{seen:?}"
    );
    let q = changes(&before, &after, true);
    assert_eq!(q[0], Change::Vanished(vec![3, 5]));
}

#[test]
fn select_claims_recent_for_dovecot_too() {
    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    let maildir = dovecot.maildir("alice");
    let mut imap = ImapClient::connect(dovecot.imap_port);
    assert!(imap.command("LOGIN alice alicepw").1.starts_with("OK"));
    for s in ["one", "two"] {
        let msg = format!("Subject: {s}\r\n\r\nx\r\n");
        let (_, ok) = imap.command(&format!("APPEND INBOX () {{{}+}}\r\n{msg}", msg.len()));
        assert!(ok.starts_with("OK"), "{ok}");
    }
    let inbox = Mailbox::at(&maildir, &maildir, "INBOX");
    assert_eq!(MailboxSnapshot::open(&inbox).unwrap().status().recent, 2);
    let selected = MailboxSnapshot::open_select(&inbox).unwrap();
    assert_eq!(selected.status().recent, 2);
    assert_eq!(
        MailboxSnapshot::open_select(&inbox)
            .unwrap()
            .status()
            .recent,
        0
    );
    dovecot.fix_ownership("alice").unwrap();
    let (untagged, ok) = imap.command("SELECT INBOX");
    assert!(ok.starts_with("OK"), "{ok}");
    assert!(
        untagged.iter().any(|u| u == b"* 0 RECENT\r\n"),
        "{untagged:?}"
    );
    let problems = dovecot.log_problems();
    assert!(problems.is_empty(), "{problems:?}");
}

#[test]
fn sync_expunges_vanished_files() {
    let tmp = tempfile::tempdir().unwrap();
    columba_interop::install_fixture_maildir("01-alice-shapes-flags", tmp.path()).unwrap();
    let inbox = Mailbox::at(tmp.path(), tmp.path(), "INBOX");
    let mut snap = MailboxSnapshot::open(&inbox).unwrap();
    snap.resolve_files().unwrap();
    let gone = snap
        .messages
        .iter()
        .find(|m| m.uid == 4)
        .unwrap()
        .path
        .clone()
        .unwrap();
    std::fs::remove_file(gone).unwrap();
    let report = sync(&inbox).unwrap();
    assert_eq!(report.expunged, [4]);
    assert_eq!(report.appended, Vec::<u32>::new());
    let after = MailboxSnapshot::open(&inbox).unwrap();
    assert_eq!(after.status().messages, 14);
    assert_eq!(changes(&snap, &after, false)[0], Change::Expunge(4));
    let report = sync(&inbox).unwrap();
    assert!(report.changed_nothing(), "{report:?}");
}

#[test]
fn dovecot_answers_from_what_columba_cached() {
    use columba_mail_store::store::{cache_parsed, cache_string, cached, FIELD_BODYSTRUCTURE};
    use columba_mail_store::Message;
    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    let maildir = dovecot.maildir("alice");
    let mut imap = ImapClient::connect(dovecot.imap_port);
    assert!(imap.command("LOGIN alice alicepw").1.starts_with("OK"));
    for s in ["one", "two"] {
        let msg =
            format!("Subject: {s}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nbody {s}\r\n");
        let (_, ok) = imap.command(&format!("APPEND INBOX () {{{}+}}\r\n{msg}", msg.len()));
        assert!(ok.starts_with("OK"), "{ok}");
    }
    assert!(imap.command("LOGOUT").1.starts_with("OK"));
    let inbox = Mailbox::at(&maildir, &maildir, "INBOX");
    let mut snap = MailboxSnapshot::open(&inbox).unwrap();
    snap.resolve_files().unwrap();
    let data: Vec<Vec<u8>> = snap.messages.iter().map(|m| m.read().unwrap()).collect();
    let parsed: Vec<Message> = data.iter().map(|d| Message::parse(d)).collect();
    cache_parsed(&inbox, &[(1, &parsed[0]), (2, &parsed[1])]).unwrap();
    assert_eq!(
        cached(&inbox, 1, FIELD_BODYSTRUCTURE).unwrap().unwrap(),
        parsed[0].bodystructure_imap(true)
    );
    // A recognisable value for message 2 proves Dovecot answers from the cache.
    let marker = b"\"text\" \"x-columba-cached\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 10 1 NIL NIL NIL NIL";
    cache_string(&inbox, 2, FIELD_BODYSTRUCTURE, marker).unwrap();
    dovecot.fix_ownership("alice").unwrap();

    let mut imap = ImapClient::connect(dovecot.imap_port);
    assert!(imap.command("LOGIN alice alicepw").1.starts_with("OK"));
    assert!(imap.command("EXAMINE INBOX").1.starts_with("OK"));
    let (untagged, ok) = imap.command("FETCH 1:2 (BODYSTRUCTURE)");
    assert!(ok.starts_with("OK"), "{ok}");
    let text: Vec<String> = untagged
        .iter()
        .map(|u| String::from_utf8_lossy(u).into_owned())
        .collect();
    let ours = String::from_utf8(parsed[0].bodystructure_imap(true)).unwrap();
    assert_eq!(text[0], format!("* 1 FETCH (BODYSTRUCTURE ({ours}))\r\n"));
    assert_eq!(
        text[1],
        format!(
            "* 2 FETCH (BODYSTRUCTURE ({}))\r\n",
            String::from_utf8_lossy(marker)
        )
    );
    let problems = dovecot.log_problems();
    assert!(problems.is_empty(), "{problems:?}");
}

#[test]
fn idle_wakes_when_dovecot_delivers() {
    use columba_mail_store::store::MailboxWatcher;
    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    let maildir = dovecot.maildir("alice");
    let mut imap = ImapClient::connect(dovecot.imap_port);
    assert!(imap.command("LOGIN alice alicepw").1.starts_with("OK"));
    let (_, ok) = imap.command("APPEND INBOX () {18+}\r\nSubject: a\r\n\r\nx\r\n");
    assert!(ok.starts_with("OK"), "{ok}");
    let inbox = Mailbox::at(&maildir, &maildir, "INBOX");
    let before = MailboxSnapshot::open(&inbox).unwrap();
    let mut watcher = MailboxWatcher::new(&inbox, std::time::Duration::from_millis(500));
    assert!(watcher.uses_inotify());
    assert!(!watcher.wait(std::time::Duration::from_millis(300)).unwrap());
    let waiter = std::thread::spawn(move || {
        let t = std::time::Instant::now();
        let changed = watcher.wait(std::time::Duration::from_secs(20)).unwrap();
        (changed, t.elapsed())
    });
    std::thread::sleep(std::time::Duration::from_millis(400));
    let (_, ok) = imap.command("APPEND INBOX (\\Seen) {18+}\r\nSubject: b\r\n\r\ny\r\n");
    assert!(ok.starts_with("OK"), "{ok}");
    let (changed, waited) = waiter.join().unwrap();
    assert!(
        changed && waited < std::time::Duration::from_secs(5),
        "{changed} {waited:?}"
    );
    let after = MailboxSnapshot::open(&inbox).unwrap();
    let seen = changes(&before, &after, false);
    assert_eq!(seen[0], Change::Exists(2));
}

#[test]
fn sync_takes_flags_from_files_renamed_outside() {
    let tmp = tempfile::tempdir().unwrap();
    columba_interop::install_fixture_maildir("01-alice-shapes-flags", tmp.path()).unwrap();
    let inbox = Mailbox::at(tmp.path(), tmp.path(), "INBOX");
    let report = sync(&inbox).unwrap();
    assert!(report.changed_nothing(), "{report:?}");
    let mut snap = MailboxSnapshot::open(&inbox).unwrap();
    snap.resolve_files().unwrap();
    // another Maildir client marks uid 4 (\Draft) as seen: ":2,D" -> ":2,DS"
    let m = snap.messages.iter().find(|m| m.uid == 4).unwrap();
    let path = m.path.clone().unwrap();
    let name = path.file_name().unwrap().to_str().unwrap().to_string();
    assert!(name.ends_with(":2,D"), "{name}");
    std::fs::rename(&path, path.with_file_name(format!("{name}S"))).unwrap();
    let report = sync(&inbox).unwrap();
    assert_eq!(report.flags_updated, [4]);
    let after = MailboxSnapshot::open(&inbox).unwrap();
    assert_eq!(after.messages[3].flags_imap(), "(\\Seen \\Draft)");
    assert!(matches!(
        &changes(&snap, &after, false)[0],
        Change::Flags { uid: 4, .. }
    ));
    let report = sync(&inbox).unwrap();
    assert!(report.changed_nothing(), "{report:?}");
}

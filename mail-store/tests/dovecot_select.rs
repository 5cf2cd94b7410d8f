//! A read-write open (IMAP SELECT) moves the files of `new/` into `cur/`
//! exactly as Dovecot's SELECT does on an identical copy of the mailbox, a
//! later flag change renames the file inside `cur/` as Dovecot's does, and
//! Dovecot then opens Columba's mailbox without a log problem and agrees
//! with it on UIDs and flags.

mod common;

use std::path::Path;

use columba_interop::{require_tool, DovecotConfig, PrivateDovecot};
use columba_mail_store::search::MessageFlags;
use columba_mail_store::store::{store_flags, sync, MailboxSnapshot, StoreMode};
use columba_maildir::Mailbox;
use common::*;

/// Lays out the same Maildir for a user: three files delivered to `new/`
/// (one already carrying info), one in `cur/`.
fn lay_out(maildir: &Path) {
    for d in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(maildir.join(d)).unwrap();
    }
    let files = [
        ("cur/1705331700.M1P1.mda:2,S", "Subject: old\n\nseen\n"),
        ("new/1705331710.M1P1.mda", "Subject: one\n\nx\n"),
        ("new/1705331711.M1P1.mda", "Subject: two\n\ny\n"),
        ("new/1705331712.M1P1.mda:2,F", "Subject: three\n\nz\n"),
    ];
    for (name, body) in files {
        std::fs::write(maildir.join(name), body).unwrap();
    }
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

fn flags_of(imap: &mut ImapClient) -> Vec<String> {
    let (untagged, ok) = imap.command("UID FETCH 1:* (UID FLAGS)");
    assert!(ok.starts_with("OK"), "{ok}");
    untagged
        .iter()
        .map(|u| String::from_utf8_lossy(u).trim_end().to_string())
        .collect()
}

#[test]
fn select_moves_new_to_cur_as_dovecot_does() {
    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(
        DovecotConfig::default()
            .user("alice", "alicepw")
            .user("bob", "bobpw"),
    )
    .unwrap();
    let columba_dir = dovecot.maildir("alice");
    let dovecot_dir = dovecot.maildir("bob");
    lay_out(&columba_dir);
    lay_out(&dovecot_dir);
    dovecot.fix_ownership("alice").unwrap();
    dovecot.fix_ownership("bob").unwrap();

    // Dovecot's SELECT on bob's copy
    let mut bob = ImapClient::connect(dovecot.imap_port);
    assert!(bob.command("LOGIN bob bobpw").1.starts_with("OK"));
    let (_, ok) = bob.command("SELECT INBOX");
    assert!(ok.starts_with("OK"), "{ok}");

    // Columba's open of alice's copy, as a session's SELECT does it
    let inbox = Mailbox::at(&columba_dir, &columba_dir, "INBOX");
    sync(&inbox).unwrap();
    let selected = MailboxSnapshot::open_select(&inbox).unwrap();
    assert_eq!(selected.status().messages, 4);
    assert_eq!(selected.status().recent, 4);

    assert_eq!(names(&dovecot_dir.join("new")), Vec::<String>::new());
    assert_eq!(names(&columba_dir.join("new")), Vec::<String>::new());
    assert_eq!(
        names(&columba_dir.join("cur")),
        names(&dovecot_dir.join("cur"))
    );
    assert_eq!(
        names(&columba_dir.join("cur")),
        [
            "1705331700.M1P1.mda:2,S",
            "1705331710.M1P1.mda:2,",
            "1705331711.M1P1.mda:2,",
            "1705331712.M1P1.mda:2,F",
        ]
    );

    // a flag change now renames inside cur/, on both sides alike
    let seen = MessageFlags {
        seen: true,
        ..MessageFlags::default()
    };
    store_flags(&inbox, &[2], StoreMode::Add, seen, &[]).unwrap();
    let (_, ok) = bob.command("UID STORE 2 +FLAGS.SILENT (\\Seen)");
    assert!(ok.starts_with("OK"), "{ok}");
    assert_eq!(
        names(&columba_dir.join("cur")),
        names(&dovecot_dir.join("cur"))
    );
    assert!(names(&columba_dir.join("cur")).contains(&"1705331710.M1P1.mda:2,S".to_string()));
    assert_eq!(names(&columba_dir.join("new")), Vec::<String>::new());

    // Dovecot opens Columba's mailbox cleanly and agrees with bob's
    dovecot.fix_ownership("alice").unwrap();
    let mut alice = ImapClient::connect(dovecot.imap_port);
    assert!(alice.command("LOGIN alice alicepw").1.starts_with("OK"));
    let (untagged, ok) = alice.command("SELECT INBOX");
    assert!(ok.starts_with("OK"), "{ok}");
    // Columba's SELECT claimed \Recent, as bob's session did for bob
    assert!(
        untagged.iter().any(|u| u == b"* 0 RECENT\r\n"),
        "{untagged:?}"
    );
    let bob_flags: Vec<String> = flags_of(&mut bob)
        .into_iter()
        .map(|l| l.replace(" \\Recent", "").replace("\\Recent", ""))
        .collect();
    assert_eq!(flags_of(&mut alice), bob_flags);
    assert!(alice.command("LOGOUT").1.starts_with("OK"));
    assert!(bob.command("LOGOUT").1.starts_with("OK"));
    let problems = dovecot.log_problems();
    assert!(problems.is_empty(), "{problems:?}");
}

#[test]
fn the_move_never_replaces_a_file_in_cur() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for d in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    std::fs::write(dir.join("new/1705331710.M1P1.mda"), b"Subject: new\n\n").unwrap();
    std::fs::write(dir.join("cur/1705331710.M1P1.mda:2,"), b"Subject: cur\n\n").unwrap();
    std::fs::write(dir.join("new/1705331711.M1P1.mda"), b"Subject: two\n\n").unwrap();
    std::fs::write(dir.join("new/:2,S"), b"Subject: no base\n\n").unwrap();
    let inbox = Mailbox::at(dir, dir, "INBOX");
    assert_eq!(inbox.move_new_to_cur().unwrap(), 1);
    assert_eq!(
        names(&dir.join("new")),
        ["1705331710.M1P1.mda", ":2,S"],
        "the clashing file and the nameless one stay"
    );
    assert_eq!(
        names(&dir.join("cur")),
        ["1705331710.M1P1.mda:2,", "1705331711.M1P1.mda:2,"]
    );
    assert_eq!(
        std::fs::read(dir.join("cur/1705331710.M1P1.mda:2,")).unwrap(),
        b"Subject: cur\n\n"
    );
}

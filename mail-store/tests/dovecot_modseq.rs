//! Per-message MODSEQ as Dovecot shows it on the same Maildir and index:
//! the fixtures' `doveadm fetch modseq` ground truth, and a live Dovecot
//! serving a mailbox that Columba created and changes alongside it.

mod common;

use columba_interop::{require_tool, DovecotConfig, PrivateDovecot};
use columba_mail_store::search::MessageFlags;
use columba_mail_store::store::{
    append, enable_modseqs, expunge, store_flags, sync, MailboxSnapshot, StoreMode,
};
use columba_maildir::{Mailbox, Maildir};
use common::*;

fn dovecot_fetch(imap: &mut ImapClient) -> Vec<String> {
    let (untagged, ok) = imap.command("FETCH 1:* (UID MODSEQ FLAGS)");
    assert!(ok.starts_with("OK"), "{ok}");
    untagged
        .iter()
        .map(|u| {
            String::from_utf8_lossy(u)
                .trim_end()
                .replace(" \\Recent", "")
                .replace("\\Recent", "")
        })
        .filter(|l| l.contains(" FETCH "))
        .collect()
}

fn columba_fetch(inbox: &Mailbox) -> Vec<String> {
    let snap = MailboxSnapshot::open(inbox).unwrap();
    snap.messages
        .iter()
        .map(|m| {
            let mut f = m.flags;
            f.recent = false;
            let m = columba_mail_store::store::SnapshotMessage {
                flags: f,
                ..m.clone()
            };
            format!(
                "* {} FETCH (UID {} MODSEQ ({}) FLAGS {})",
                m.seq,
                m.uid,
                m.modseq,
                m.flags_imap()
            )
        })
        .collect()
}

fn flag(f: fn(&mut MessageFlags)) -> MessageFlags {
    let mut flags = MessageFlags::default();
    f(&mut flags);
    flags
}

#[test]
fn modseqs_match_dovecot_on_a_mailbox_columba_created() {
    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    let dir = dovecot.maildir("alice");
    for d in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    let inbox = Mailbox::at(&dir, &dir, "INBOX");
    sync(&inbox).unwrap();
    for i in 0..3 {
        let msg = format!("Subject: {i}\n\nbody {i}\n");
        append(&inbox, msg.as_bytes(), MessageFlags::default(), &[], None).unwrap();
    }
    store_flags(&inbox, &[2], StoreMode::Add, flag(|f| f.seen = true), &[]).unwrap();
    // a session's SELECT: from here on each message keeps its own modseq
    let selected = MailboxSnapshot::open_select(&inbox).unwrap();
    assert_eq!(selected.highest_modseq, 5);
    assert!(!enable_modseqs(&inbox).unwrap(), "already on");
    store_flags(
        &inbox,
        &[3],
        StoreMode::Add,
        flag(|f| f.flagged = true),
        &[],
    )
    .unwrap();
    let ours = columba_fetch(&inbox);
    assert_eq!(
        ours,
        [
            "* 1 FETCH (UID 1 MODSEQ (5) FLAGS ())",
            "* 2 FETCH (UID 2 MODSEQ (5) FLAGS (\\Seen))",
            "* 3 FETCH (UID 3 MODSEQ (6) FLAGS (\\Flagged))",
        ],
        "only the changed message has the new modseq"
    );

    dovecot.fix_ownership("alice").unwrap();
    let mut imap = ImapClient::connect(dovecot.imap_port);
    assert!(imap.command("LOGIN alice alicepw").1.starts_with("OK"));
    let (untagged, ok) = imap.command("SELECT INBOX (CONDSTORE)");
    assert!(ok.starts_with("OK"), "{ok}");
    assert!(
        untagged
            .iter()
            .any(|u| u.starts_with(b"* OK [HIGHESTMODSEQ 6]")),
        "{untagged:?}"
    );
    assert_eq!(dovecot_fetch(&mut imap), ours);

    // changes from both sides, in turn
    let (_, ok) = imap.command("UID STORE 1 +FLAGS.SILENT (\\Answered $Work)");
    assert!(ok.starts_with("OK"), "{ok}");
    append(
        &inbox,
        b"Subject: 4\n\nfour\n",
        MessageFlags::default(),
        &[],
        None,
    )
    .unwrap();
    expunge(&inbox, &[2]).unwrap();
    store_flags(
        &inbox,
        &[3],
        StoreMode::Remove,
        flag(|f| f.flagged = true),
        &[],
    )
    .unwrap();
    dovecot.fix_ownership("alice").unwrap();
    let (_, ok) = imap.command("NOOP");
    assert!(ok.starts_with("OK"), "{ok}");
    let theirs = dovecot_fetch(&mut imap);
    let ours = columba_fetch(&inbox);
    assert_eq!(ours, theirs);
    assert_eq!(
        ours,
        [
            "* 1 FETCH (UID 1 MODSEQ (8) FLAGS (\\Answered $Work))",
            "* 2 FETCH (UID 3 MODSEQ (11) FLAGS ())",
            "* 3 FETCH (UID 4 MODSEQ (9) FLAGS ())",
        ]
    );
    let snap = MailboxSnapshot::open(&inbox).unwrap();
    let (untagged, _) = imap.command("STATUS INBOX (HIGHESTMODSEQ)");
    assert!(
        untagged.iter().any(|u| u
            == format!("* STATUS INBOX (HIGHESTMODSEQ {})\r\n", snap.highest_modseq).as_bytes()),
        "{untagged:?}"
    );
    assert!(imap.command("LOGOUT").1.starts_with("OK"));
    let problems = dovecot.log_problems();
    assert!(problems.is_empty(), "{problems:?}");
}

/// `doveadm fetch 'mailbox uid modseq'` of a fixture against the view.
fn check_fixture(scenario: &str, tsv: &str) -> usize {
    let tmp = tempfile::tempdir().unwrap();
    columba_interop::install_fixture_maildir(scenario, tmp.path()).unwrap();
    let mut header: Vec<&str> = Vec::new();
    let mut checked = 0;
    let mut views: std::collections::HashMap<String, MailboxSnapshot> = Default::default();
    for line in tsv.lines().filter(|l| !l.starts_with('#')) {
        let cols: Vec<&str> = line.split('\t').collect();
        if header.is_empty() {
            header = cols;
            continue;
        }
        let col = |name: &str| cols[header.iter().position(|h| *h == name).unwrap()];
        let name = col("mailbox");
        let snap = views.entry(name.to_string()).or_insert_with(|| {
            let dir = if name == "INBOX" {
                tmp.path().to_path_buf()
            } else {
                tmp.path().join(Maildir::dir_name(name).unwrap())
            };
            MailboxSnapshot::open(&Mailbox::at(&dir, tmp.path(), name)).unwrap()
        });
        let uid: u32 = col("uid").parse().unwrap();
        let m = snap.messages.iter().find(|m| m.uid == uid).unwrap();
        assert_eq!(
            m.modseq.to_string(),
            col("modseq"),
            "{scenario} {name} uid {uid}"
        );
        checked += 1;
    }
    checked
}

fn fixture_tsv(scenario: &str) -> String {
    let dir = columba_interop::fixture_dir(scenario).join("truth");
    let plain = dir.join("doveadm-fetch.tsv");
    if plain.exists() {
        return std::fs::read_to_string(plain).unwrap();
    }
    let out = std::process::Command::new("gzip")
        .arg("-dc")
        .arg(dir.join("doveadm-fetch.tsv.gz"))
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn modseqs_match_doveadm_on_every_fixture() {
    let mut total = 0;
    for scenario in [
        "01-alice-shapes-flags",
        "02-bob-rotated-log",
        "03-carol-10k",
        "04-dave-folders",
    ] {
        let n = check_fixture(scenario, &fixture_tsv(scenario));
        assert!(n > 0, "{scenario}");
        total += n;
    }
    assert!(total > 10_000, "{total}");
}

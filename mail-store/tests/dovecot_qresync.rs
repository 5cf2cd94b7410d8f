//! QRESYNC resync against a live Dovecot on the same mailbox: for the same
//! client state (UIDVALIDITY, last MODSEQ, known UIDs, sequence match
//! data), `store::resync` names the same VANISHED (EARLIER) set and the
//! same changed messages (UID, FLAGS, MODSEQ) as Dovecot's
//! `SELECT INBOX (QRESYNC (...))`, while the log covers the client's
//! modseq and after two rotations when it no longer does.

mod common;

use columba_interop::{require_tool, DovecotConfig, PrivateDovecot};
use columba_mail_index::IndexDir;
use columba_mail_store::search::MessageFlags;
use columba_mail_store::store::{
    expunge, qresync_sample, resync, store_flags, MailboxSnapshot, QresyncRequest, StoreMode,
};
use columba_maildir::Mailbox;
use common::*;

/// Dovecot's answer: the VANISHED (EARLIER) set and the FETCH lines with
/// `\Recent` left out.
fn dovecot_resync(port: u16, args: &str) -> (String, Vec<String>) {
    let mut imap = ImapClient::connect(port);
    assert!(imap.command("LOGIN alice alicepw").1.starts_with("OK"));
    assert!(imap.command("ENABLE QRESYNC").1.starts_with("OK"));
    let (untagged, ok) = imap.command(&format!("EXAMINE INBOX (QRESYNC ({args}))"));
    assert!(ok.starts_with("OK"), "{ok}");
    let mut vanished = String::new();
    let mut fetches = Vec::new();
    for u in untagged {
        let line = String::from_utf8_lossy(&u).trim_end().to_string();
        if let Some(set) = line.strip_prefix("* VANISHED (EARLIER) ") {
            vanished = set.to_string();
        } else if line.contains(" FETCH (") {
            fetches.push(line.replace(" \\Recent", "").replace("\\Recent", ""));
        }
    }
    assert!(imap.command("LOGOUT").1.starts_with("OK"));
    (vanished, fetches)
}

fn set_string(ranges: &[(u32, u32)]) -> String {
    ranges
        .iter()
        .map(|&(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}:{b}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Columba's answer in Dovecot's words.
fn columba_resync(inbox: &Mailbox, request: &QresyncRequest) -> (String, Vec<String>, bool) {
    let view = MailboxSnapshot::open(inbox).unwrap();
    let r = resync(&view, request).unwrap().expect("same UIDVALIDITY");
    let fetches = r
        .changed
        .iter()
        .map(|uid| {
            let m = view.messages.iter().find(|m| m.uid == *uid).unwrap();
            let mut m = m.clone();
            m.flags.recent = false;
            format!(
                "* {} FETCH (UID {} FLAGS {} MODSEQ ({}))",
                m.seq,
                m.uid,
                m.flags_imap(),
                m.modseq
            )
        })
        .collect();
    (set_string(&r.vanished), fetches, r.from_log)
}

fn seen() -> MessageFlags {
    MessageFlags {
        seen: true,
        ..MessageFlags::default()
    }
}

#[test]
fn resync_matches_dovecot_from_the_log_and_after_rotation() {
    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    let dir = dovecot.maildir("alice");
    let inbox = Mailbox::at(&dir, &dir, "INBOX");
    let mut imap = ImapClient::connect(dovecot.imap_port);
    assert!(imap.command("LOGIN alice alicepw").1.starts_with("OK"));
    assert!(imap.command("ENABLE QRESYNC").1.starts_with("OK"));
    for i in 1..=12 {
        let msg = format!("Subject: m{i}\r\n\r\nbody {i}\r\n");
        let (_, ok) = imap.command(&format!("APPEND INBOX {{{}+}}\r\n{msg}", msg.len()));
        assert!(ok.starts_with("OK"), "{ok}");
    }
    assert!(imap.command("SELECT INBOX").1.starts_with("OK"));
    let uid_validity = MailboxSnapshot::open(&inbox).unwrap().uid_validity;
    let m0 = MailboxSnapshot::open(&inbox).unwrap().highest_modseq;

    // changes through Dovecot and through Columba, in turn
    assert!(imap
        .command("UID STORE 4 +FLAGS.SILENT (\\Flagged)")
        .1
        .starts_with("OK"));
    store_flags(&inbox, &[6], StoreMode::Add, seen(), &[]).unwrap();
    expunge(&inbox, &[2, 3]).unwrap();
    dovecot.fix_ownership("alice").unwrap();
    assert!(imap.command("NOOP").1.starts_with("OK"));
    let m1 = MailboxSnapshot::open(&inbox).unwrap().highest_modseq;
    assert!(imap
        .command("UID STORE 9 +FLAGS.SILENT (\\Deleted)")
        .1
        .starts_with("OK"));
    assert!(imap.command("UID EXPUNGE 9").1.starts_with("OK"));
    store_flags(&inbox, &[10], StoreMode::Add, seen(), &["$Work".into()]).unwrap();
    dovecot.fix_ownership("alice").unwrap();
    assert!(imap.command("NOOP").1.starts_with("OK"));

    let cases: Vec<(QresyncRequest, String)> = vec![
        (
            QresyncRequest {
                uid_validity,
                modseq: m0,
                ..Default::default()
            },
            format!("{uid_validity} {m0}"),
        ),
        (
            QresyncRequest {
                uid_validity,
                modseq: m1,
                ..Default::default()
            },
            format!("{uid_validity} {m1}"),
        ),
        (
            QresyncRequest {
                uid_validity,
                modseq: m0,
                known_uids: Some(vec![(3, 8)]),
                ..Default::default()
            },
            format!("{uid_validity} {m0} 3:8"),
        ),
    ];
    for (request, args) in &cases {
        let (v, f, from_log) = columba_resync(&inbox, request);
        assert!(from_log, "{args}");
        assert_eq!((v, f), dovecot_resync(dovecot.imap_port, args), "{args}");
    }
    let (v, f, _) = columba_resync(&inbox, &cases[0].0);
    assert_eq!(v, "2:3,9");
    assert_eq!(f.len(), 3, "{f:?}");

    // Rotate twice so that no log reaches back to m0 any more.
    // (Dovecot's sync carries out the log's changes first, as rotation needs)
    let index = IndexDir::new(&dir);
    index.rotate().unwrap();
    dovecot.fix_ownership("alice").unwrap();
    assert!(imap
        .command("UID STORE 11 +FLAGS.SILENT (\\Seen)")
        .1
        .starts_with("OK"));
    assert!(imap.command("NOOP").1.starts_with("OK"));
    index.rotate().unwrap();
    expunge(&inbox, &[12]).unwrap();
    dovecot.fix_ownership("alice").unwrap();
    assert!(imap.command("NOOP").1.starts_with("OK"));

    // the client's sequence match data: seqs 1,2,7 were UIDs 1,4,10 (still true)
    let sample = qresync_sample(&[(1, 2), (7, 7)], &[(1, 1), (4, 4), (10, 10)]).unwrap();
    let cases: Vec<(QresyncRequest, String)> = vec![
        (
            QresyncRequest {
                uid_validity,
                modseq: m0,
                ..Default::default()
            },
            format!("{uid_validity} {m0}"),
        ),
        (
            QresyncRequest {
                uid_validity,
                modseq: m0,
                known_uids: Some(vec![(1, 10)]),
                ..Default::default()
            },
            format!("{uid_validity} {m0} 1:10"),
        ),
        (
            QresyncRequest {
                uid_validity,
                modseq: m0,
                known_uids: Some(vec![(1, 12)]),
                known_sample: sample,
            },
            format!("{uid_validity} {m0} 1:12 (1:2,7 1,4,10)"),
        ),
    ];
    for ((request, args), expected) in cases.iter().zip(["2:3,9,12", "2:3,9", "12"]) {
        let (v, f, from_log) = columba_resync(&inbox, request);
        assert!(!from_log, "{args}");
        assert_eq!(v, expected, "{args}");
        assert_eq!((v, f), dovecot_resync(dovecot.imap_port, args), "{args}");
    }
    // after the rotations the latest changes are still exact
    let m2 = MailboxSnapshot::open(&inbox).unwrap().highest_modseq - 1;
    let request = QresyncRequest {
        uid_validity,
        modseq: m2,
        ..Default::default()
    };
    let (v, f, from_log) = columba_resync(&inbox, &request);
    assert!(from_log);
    assert_eq!(v, "12");
    assert_eq!(
        (v, f),
        dovecot_resync(dovecot.imap_port, &format!("{uid_validity} {m2}"))
    );
    // a different UIDVALIDITY: nothing to send
    let view = MailboxSnapshot::open(&inbox).unwrap();
    let other = QresyncRequest {
        uid_validity: uid_validity + 1,
        modseq: m0,
        ..Default::default()
    };
    assert_eq!(resync(&view, &other).unwrap(), None);
    assert!(imap.command("LOGOUT").1.starts_with("OK"));
    let problems = dovecot.log_problems();
    assert!(problems.is_empty(), "{problems:?}");
}

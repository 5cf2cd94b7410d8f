//! The index's `maildir` header (the stat() of `new/` and `cur/` as of the
//! last full scan) is shared with Dovecot 2.3 both ways: a sync after
//! Dovecot's own does not list the Maildir while neither directory has
//! changed, and does list it (and finds the message) after a delivery or a
//! flag rename; what Columba records is what Dovecot reads, and a message
//! Dovecot delivers afterwards shows at Columba's next sync.

mod common;

use std::time::Duration;

use columba_interop::{require_tool, DovecotConfig, PrivateDovecot};
use columba_mail_store::search::MessageFlags;
use columba_mail_store::store::{
    append, expunge, store_flags, sync, IndexState, MailboxSnapshot, StoreMode,
};
use columba_maildir::Mailbox;
use common::*;

/// Longer than Dovecot's `MAILDIR_SYNC_SECS` window after a change.
const SETTLE: Duration = Duration::from_millis(2200);

/// `(uid, flags)` of every message as Dovecot's IMAP server shows them.
fn dovecot_flags(imap: &mut ImapClient) -> Vec<(u32, String)> {
    let (untagged, ok) = imap.command("UID FETCH 1:* (UID FLAGS)");
    assert!(ok.starts_with("OK"), "{ok}");
    let mut out: Vec<(u32, String)> = untagged
        .iter()
        .filter_map(|r| {
            let t = String::from_utf8_lossy(r).to_string();
            let uid: u32 = t
                .split("UID ")
                .nth(1)?
                .split([' ', ')'])
                .next()?
                .parse()
                .ok()?;
            let flags = t.split("FLAGS (").nth(1)?.split(')').next()?.to_string();
            Some((uid, flags))
        })
        .collect();
    out.sort();
    out
}

/// The same from Columba's snapshot of the index.
fn columba_flags(inbox: &Mailbox) -> Vec<(u32, String)> {
    let snap = MailboxSnapshot::open(inbox).unwrap();
    snap.messages
        .iter()
        .map(|m| {
            let f = m.flags_imap();
            let inner = f.trim_start_matches('(').trim_end_matches(')');
            let mut words: Vec<&str> = inner.split(' ').filter(|w| !w.is_empty()).collect();
            words.sort_unstable();
            (m.uid, words.join(" "))
        })
        .collect()
}

/// alice's INBOX as Dovecot shows it over IMAP (UIDs and sorted flags),
/// after handing her files to Dovecot's mail owner; Dovecot's log must
/// report no problem.
fn dovecot_view(dovecot: &PrivateDovecot) -> Vec<(u32, String)> {
    dovecot.fix_ownership("alice").unwrap();
    let mut imap = ImapClient::connect(dovecot.imap_port);
    assert!(imap.command("LOGIN alice alicepw").1.starts_with("OK"));
    assert!(imap.command("SELECT INBOX").1.starts_with("OK"));
    let theirs = sorted_words(dovecot_flags(&mut imap));
    assert!(imap.command("LOGOUT").1.starts_with("OK"));
    let problems = dovecot.log_problems();
    assert!(problems.is_empty(), "{problems:?}");
    theirs
}

fn sorted_words(v: Vec<(u32, String)>) -> Vec<(u32, String)> {
    v.into_iter()
        .map(|(u, f)| {
            let mut words: Vec<&str> = f
                .split(' ')
                .filter(|w| !w.is_empty() && *w != "\\Recent")
                .collect();
            words.sort_unstable();
            (u, words.join(" "))
        })
        .collect()
}

#[test]
fn a_sync_after_dovecots_skips_the_scan_until_a_directory_changes() {
    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    let maildir = dovecot.maildir("alice");
    let mut imap = ImapClient::connect(dovecot.imap_port);
    assert!(imap.command("LOGIN alice alicepw").1.starts_with("OK"));
    for body in ["Subject: a\r\n\r\nx\r\n", "Subject: b\r\n\r\ny\r\n"] {
        let (_, ok) = imap.command(&format!(
            "APPEND INBOX (\\Seen) {{{}+}}\r\n{body}",
            body.len()
        ));
        assert!(ok.starts_with("OK"), "{ok}");
    }
    // Dovecot's SELECT after the window records settled stamps.
    std::thread::sleep(SETTLE);
    assert!(imap.command("SELECT INBOX").1.starts_with("OK"));
    assert!(imap.command("LOGOUT").1.starts_with("OK"));

    let inbox = Mailbox::at(&maildir, &maildir, "INBOX");
    let report = sync(&inbox).unwrap();
    assert!(
        !report.scanned,
        "Dovecot's stamps were not used: {report:?}"
    );
    assert!(report.changed_nothing(), "{report:?}");
    assert_eq!(columba_flags(&inbox).len(), 2);

    // Another MDA delivers into new/: new/'s mtime changes, the sync lists.
    std::fs::write(
        maildir.join("new/1700000000.M1P1.elsewhere"),
        b"Subject: c\r\n\r\nz\r\n",
    )
    .unwrap();
    let report = sync(&inbox).unwrap();
    assert!(report.scanned);
    assert_eq!(report.appended, [3]);
    // Columba recorded the stamps of that scan: no change, no listing ...
    let report = sync(&inbox).unwrap();
    assert!(!report.scanned, "{report:?}");
    // ... until the window after the delivery has passed: one more look
    // (a change in the same timestamp tick would show now), then none.
    std::thread::sleep(SETTLE);
    assert!(sync(&inbox).unwrap().scanned);
    let report = sync(&inbox).unwrap();
    assert!(!report.scanned, "{report:?}");

    // A flag rename in cur/ by another client is a change of cur/.
    let snap = MailboxSnapshot::open(&inbox).unwrap();
    drop(snap);
    let cur = maildir.join("cur");
    let file = std::fs::read_dir(&cur)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(":2,S"))
        .unwrap();
    let renamed = format!("{}F", file.to_string_lossy());
    std::fs::rename(&file, &renamed).unwrap();
    let report = sync(&inbox).unwrap();
    assert!(report.scanned);
    assert_eq!(report.flags_updated.len(), 1, "{report:?}");

    // Dovecot agrees with what Columba's index now shows.
    let theirs = dovecot_view(&dovecot);
    assert_eq!(theirs.len(), 3);
    assert_eq!(theirs, sorted_words(columba_flags(&inbox)));
    assert!(
        theirs.iter().any(|(_, f)| f == "\\Flagged \\Seen"),
        "{theirs:?}"
    );
}

#[test]
fn dovecot_reads_the_stamps_columba_records() {
    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    let maildir = dovecot.maildir("alice");
    for d in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.join(d)).unwrap();
    }
    let files = [
        ("1700000001.M1P1.here:2,S", "Subject: one\r\n\r\n1\r\n"),
        ("1700000002.M2P1.here:2,FS", "Subject: two\r\n\r\n2\r\n"),
        ("1700000003.M3P1.here:2,", "Subject: three\r\n\r\n3\r\n"),
    ];
    for (name, body) in files {
        std::fs::write(maildir.join("cur").join(name), body).unwrap();
    }
    // settled before the scan, so the stamps need no second look
    std::thread::sleep(SETTLE);
    let inbox = Mailbox::at(&maildir, &maildir, "INBOX");
    let report = sync(&inbox).unwrap();
    assert!(report.scanned && report.created_index, "{report:?}");
    assert_eq!(report.appended, [1, 2, 3]);
    let report = sync(&inbox).unwrap();
    assert!(
        !report.scanned,
        "the recorded stamps were not used: {report:?}"
    );
    let theirs = dovecot_view(&dovecot);
    assert_eq!(
        theirs,
        [
            (1, "\\Seen".to_string()),
            (2, "\\Flagged \\Seen".to_string()),
            (3, String::new())
        ]
    );
    assert_eq!(theirs, sorted_words(columba_flags(&inbox)));

    // Dovecot delivers; Columba's next sync shows the message.
    let mut save = std::process::Command::new(
        columba_interop::find_tool("doveadm").expect("doveadm next to dovecot"),
    );
    save.args(["-c"])
        .arg(dovecot.config_path())
        .args(["save", "-u", "alice", "-m", "INBOX"])
        .stdin(std::process::Stdio::piped());
    let mut child = save.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"Subject: four\r\n\r\n4\r\n")
        .unwrap();
    assert!(child.wait().unwrap().success());
    sync(&inbox).unwrap();
    let ours = columba_flags(&inbox);
    assert_eq!(ours.len(), 4, "{ours:?}");
    assert_eq!(ours[3].0, 4);
    let problems = dovecot.log_problems();
    assert!(problems.is_empty(), "{problems:?}");

    // Columba's own flag rename records cur/'s new stamp, as Dovecot does
    // after its renames: the next sync does not list cur/ for it, and
    // looks once more when the window after the rename has passed.
    std::thread::sleep(SETTLE);
    sync(&inbox).unwrap();
    let report = sync(&inbox).unwrap();
    assert!(!report.scanned, "{report:?}");
    let flagged = MessageFlags {
        flagged: true,
        ..MessageFlags::default()
    };
    assert_eq!(
        store_flags(&inbox, &[1], StoreMode::Add, flagged, &[]).unwrap(),
        [1]
    );
    let report = sync(&inbox).unwrap();
    assert!(!report.scanned, "{report:?}");
    std::thread::sleep(SETTLE);
    let report = sync(&inbox).unwrap();
    assert!(report.scanned && report.changed_nothing(), "{report:?}");
    let theirs = dovecot_view(&dovecot);
    assert_eq!(theirs[0], (1, "\\Flagged \\Seen".to_string()));
    assert_eq!(theirs, sorted_words(columba_flags(&inbox)));

    // So does Columba's EXPUNGE (once Dovecot's own sync has settled).
    std::thread::sleep(SETTLE);
    sync(&inbox).unwrap();
    assert!(!sync(&inbox).unwrap().scanned);
    assert_eq!(expunge(&inbox, &[2]).unwrap(), [2]);
    let report = sync(&inbox).unwrap();
    assert!(!report.scanned, "{report:?}");
    let ours = columba_flags(&inbox);
    assert_eq!(
        ours.iter().map(|m| m.0).collect::<Vec<_>>(),
        [1, 3, 4],
        "{ours:?}"
    );
    assert_eq!(dovecot_view(&dovecot), sorted_words(ours));

    // And Columba's APPEND (into new/) and SELECT's move of it into cur/:
    // neither needs the directories listed again for what it did itself,
    // and a file another process puts into new/ meanwhile is still found.
    std::thread::sleep(SETTLE);
    sync(&inbox).unwrap();
    assert!(!sync(&inbox).unwrap().scanned);
    let appended = append(
        &inbox,
        b"Subject: five\r\n\r\n5\r\n",
        MessageFlags::default(),
        &[],
        None,
    )
    .unwrap();
    assert!(appended.path.starts_with(maildir.join("new")));
    let report = sync(&inbox).unwrap();
    assert!(!report.scanned, "{report:?}");
    let state = IndexState::open_select(&inbox).unwrap();
    assert_eq!(state.recent_uids(), [appended.uid]);
    assert_eq!(std::fs::read_dir(maildir.join("new")).unwrap().count(), 0);
    let report = sync(&inbox).unwrap();
    assert!(!report.scanned, "{report:?}");
    std::fs::write(
        maildir.join("new").join("1700000009.M9P1.elsewhere"),
        "Subject: six\r\n\r\n6\r\n",
    )
    .unwrap();
    let report = sync(&inbox).unwrap();
    assert!(report.scanned, "{report:?}");
    assert_eq!(report.appended, [appended.uid + 1]);
    let theirs = dovecot_view(&dovecot);
    assert_eq!(
        theirs.iter().map(|m| m.0).collect::<Vec<_>>(),
        [1, 3, 4, appended.uid, appended.uid + 1]
    );
    assert_eq!(theirs, sorted_words(columba_flags(&inbox)));
}

//! A view knows the log position it is synced to: QRESYNC answers stop
//! there (later expunges are the next notification's, not the resync's),
//! and with per-message modseqs a change that ended where it started is
//! still reported to the session that did not see it.

use columba_mail_store::search::MessageFlags;
use columba_mail_store::store::{
    append, changes, expunge, resync, store_flags, sync, Change, MailboxSnapshot, QresyncRequest,
    StoreMode,
};
use columba_maildir::Mailbox;

fn mailbox(dir: &std::path::Path) -> Mailbox {
    for d in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    let inbox = Mailbox::at(dir, dir, "INBOX");
    sync(&inbox).unwrap();
    for i in 1..=5 {
        let msg = format!("Subject: {i}\n\nbody\n");
        append(&inbox, msg.as_bytes(), MessageFlags::default(), &[], None).unwrap();
    }
    MailboxSnapshot::open_select(&inbox).unwrap();
    inbox
}

#[test]
fn resync_stops_at_the_views_log_position() {
    let tmp = tempfile::tempdir().unwrap();
    let inbox = mailbox(tmp.path());
    let start = MailboxSnapshot::open(&inbox).unwrap();
    assert!(start.modseq_tracking);
    expunge(&inbox, &[2]).unwrap();
    let view = MailboxSnapshot::open(&inbox).unwrap();
    assert!(view.log_position > start.log_position);
    // another session expunges after this view was opened
    expunge(&inbox, &[4]).unwrap();
    let request = QresyncRequest {
        uid_validity: view.uid_validity,
        modseq: start.highest_modseq,
        ..QresyncRequest::default()
    };
    let r = resync(&view, &request).unwrap().unwrap();
    assert!(r.from_log);
    assert_eq!(r.vanished, [(2, 2)], "uid 4 is not in this view yet");
    let later = MailboxSnapshot::open(&inbox).unwrap();
    let r = resync(&later, &request).unwrap().unwrap();
    assert_eq!(r.vanished, [(2, 2), (4, 4)]);
    // nothing missed since the latest modseq
    let now = QresyncRequest {
        modseq: later.highest_modseq,
        ..request
    };
    assert_eq!(resync(&later, &now).unwrap().unwrap().vanished, []);
}

#[test]
fn a_flag_set_and_cleared_is_still_a_change() {
    let tmp = tempfile::tempdir().unwrap();
    let inbox = mailbox(tmp.path());
    let before = MailboxSnapshot::open(&inbox).unwrap();
    let seen = MessageFlags {
        seen: true,
        ..MessageFlags::default()
    };
    store_flags(&inbox, &[3], StoreMode::Add, seen, &[]).unwrap();
    store_flags(&inbox, &[3], StoreMode::Remove, seen, &[]).unwrap();
    let after = MailboxSnapshot::open(&inbox).unwrap();
    let owed = changes(&before, &after, false);
    assert_eq!(owed.len(), 1, "{owed:?}");
    assert!(matches!(
        &owed[0],
        Change::Flags { uid: 3, flags, modseq, .. }
            if flags == "()" && *modseq == after.highest_modseq
    ));
    // the other messages kept their own modseqs
    assert!(after
        .messages
        .iter()
        .filter(|m| m.uid != 3)
        .all(|m| m.modseq < after.highest_modseq));
}

#[test]
fn a_damaged_log_falls_back_to_the_known_uids() {
    let tmp = tempfile::tempdir().unwrap();
    let inbox = mailbox(tmp.path());
    let start = MailboxSnapshot::open(&inbox).unwrap();
    expunge(&inbox, &[2]).unwrap();
    let view = MailboxSnapshot::open(&inbox).unwrap();
    // garbage over the records after the log header: never trusted
    let log = tmp.path().join("dovecot.index.log");
    let mut bytes = std::fs::read(&log).unwrap();
    for b in bytes.iter_mut().skip(40) {
        *b = 0xa5;
    }
    std::fs::write(&log, bytes).unwrap();
    let request = QresyncRequest {
        uid_validity: view.uid_validity,
        modseq: start.highest_modseq,
        known_uids: Some(vec![(1, 5)]),
        ..QresyncRequest::default()
    };
    let r = resync(&view, &request).unwrap().unwrap();
    assert!(!r.from_log);
    assert_eq!(r.vanished, [(2, 2)]);
}

#[test]
fn writers_and_staged_messages_can_move_between_threads() {
    fn send<T: Send>() {}
    send::<columba_mail_store::store::MessageWriter>();
    send::<columba_mail_store::store::StagedMessage>();
}

/// Dovecot's Maildir save logs appends and their keywords as external
/// records (the fixtures' logs show `append (ext)`, `keyword-update
/// (ext)`): the files are already in place, so no storage sync has to
/// carry them out. Columba's appends are logged the same way.
#[test]
fn appends_are_logged_as_external_records() {
    use columba_mail_index::log_file::Payload;
    let tmp = tempfile::tempdir().unwrap();
    let inbox = mailbox(tmp.path());
    append(
        &inbox,
        b"Subject: k\n\nx\n",
        MessageFlags::default(),
        &["$Work".to_string()],
        None,
    )
    .unwrap();
    let logs = columba_mail_index::IndexDir::new(tmp.path())
        .read_logs()
        .unwrap();
    let mut seen = 0;
    for log in &logs {
        for rec in log.records() {
            let rec = rec.unwrap();
            if matches!(
                rec.payload,
                Payload::Append(_) | Payload::KeywordUpdate { .. }
            ) {
                assert!(rec.is_external(), "offset {}", rec.offset);
                seen += 1;
            }
        }
    }
    assert_eq!(seen, 7, "six appends and one keyword");
}

//! Writing through the log: every kind of change Columba can append reads
//! back through the same replay that reads Dovecot's logs.

use columba_mail_index::transaction::ExtDef;
use columba_mail_index::{
    Appender, Error, FileKind, IndexDir, Transaction, FLAG_DELETED, FLAG_SEEN,
};

fn mailbox(dir: &std::path::Path, n: u32) -> IndexDir {
    let mut index = IndexDir::new(dir);
    index.settings.fsync = false;
    index.create(1_700_000_000, 1_700_000_001).unwrap();
    let mut t = Transaction::external();
    for uid in 1..=n {
        t.append(uid, 0);
    }
    index.commit(&t).unwrap();
    index
}

#[test]
fn external_expunge_header_update_and_extensions() {
    let tmp = tempfile::tempdir().unwrap();
    let index = mailbox(tmp.path(), 5);
    let mut t = Transaction::new();
    t.add_flags(2, 3, FLAG_DELETED | FLAG_SEEN)
        .expunge(2, [0; 16]);
    index.commit(&t).unwrap();
    // A request does not remove anything.
    assert_eq!(index.open_view().unwrap().header().messages_count, 5);
    let mut t = Transaction::external();
    t.expunge(2, [0; 16]).expunge(3, [0; 16]);
    t.update_header(48, &6u32.to_le_bytes()); // first_recent_uid
    index.commit(&t).unwrap();
    let view = index.open_view().unwrap();
    let uids: Vec<u32> = view.messages().map(|m| m.uid).collect();
    assert_eq!(uids, vec![1, 4, 5]);
    assert_eq!(view.header().first_recent_uid, 6);
    assert_eq!(view.header().seen_messages_count, 0);
    assert_eq!(view.header().deleted_messages_count, 0);
    assert_eq!(view.header().uid_validity, 1_700_000_001);

    // A private extension: intro, header, records, reset.
    let def = ExtDef {
        name: "columba-test".into(),
        hdr_size: 8,
        record_size: 4,
        record_align: 4,
    };
    let mut t = Transaction::external();
    t.ext_intro(def.clone())
        .ext_hdr_update("columba-test", 0, b"hdr-data");
    t.ext_rec_update("columba-test", 4, &44u32.to_le_bytes());
    index.commit(&t).unwrap();
    let view = index.open_view().unwrap();
    let ei = view.map().ext_index("columba-test").unwrap();
    assert_eq!(view.map().extensions[ei].hdr, b"hdr-data");
    assert_eq!(view.map().ext_record(ei, 1).unwrap(), &44u32.to_le_bytes());
    let mut t = Transaction::external();
    t.ext_reset("columba-test", 7, false);
    index.commit(&t).unwrap();
    let view = index.open_view().unwrap();
    assert_eq!(view.map().extensions[ei].reset_id, 7);
    assert_eq!(view.map().ext_record(ei, 1).unwrap(), &[0, 0, 0, 0]);
    // Unknown extensions survive an index rewrite byte for byte.
    index.rewrite_index().unwrap();
    let again = index.open_view().unwrap();
    assert_eq!(again.map().extensions, view.map().extensions);
}

#[test]
fn invalid_requests_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let index = mailbox(tmp.path(), 3);
    let mut t = Transaction::external();
    t.append(2, 0);
    assert!(matches!(index.commit(&t), Err(Error::Invalid(_))));
    let mut t = Transaction::new();
    t.add_keyword("kw", &[(3, 3), (1, 2)]);
    assert!(matches!(index.commit(&t), Err(Error::Invalid(_))));
    let mut t = Transaction::new();
    t.update_modseq(1, 5);
    assert!(
        matches!(index.commit(&t), Err(Error::Invalid(_))),
        "modseqs are not enabled"
    );
    assert!(matches!(
        index.commit(&Transaction::new()),
        Err(Error::Invalid(_))
    ));
}

#[test]
fn log_rotates_and_index_is_rewritten_when_dovecot_would() {
    let tmp = tempfile::tempdir().unwrap();
    let mut index = mailbox(tmp.path(), 50);
    index.settings.log_rotate_max_size = 4096;
    index.settings.rewrite_max_log_bytes = 1024;
    for i in 0..200u32 {
        let mut t = Transaction::external();
        t.add_flags(1 + i % 50, 1 + i % 50, FLAG_SEEN);
        index.commit(&t).unwrap();
    }
    assert!(index.path(FileKind::Log2).exists(), "rotated");
    assert!(index.path(FileKind::Index).exists(), "index written");
    let view = index.open_view().unwrap();
    assert!(view.header().log_file_seq > 2);
    assert_eq!(view.header().seen_messages_count, 50);
    let on_disk = index.read_index().unwrap().unwrap();
    assert_eq!(on_disk.header.log_file_seq, view.header().log_file_seq);
}

#[test]
fn two_appenders_see_each_others_commits() {
    let tmp = tempfile::tempdir().unwrap();
    let index = mailbox(tmp.path(), 10);
    let mut a = Appender::open(&index).unwrap();
    let mut b = Appender::open(&index).unwrap();
    let mut t = Transaction::external();
    t.append(11, 0);
    a.commit(&t).unwrap();
    // b has not seen uid 11 yet; it catches up under the lock before writing.
    let mut t = Transaction::external();
    t.append(12, FLAG_SEEN);
    b.commit(&t).unwrap();
    let mut t = Transaction::new();
    t.add_keyword("Both", &[(11, 12)]);
    a.commit(&t).unwrap();
    assert_eq!(a.map().header.next_uid, 13);
    a.maintain().unwrap();
    assert_eq!(a.map().header.next_uid, 13);
    let view = index.open_view().unwrap();
    let uids: Vec<(u32, Vec<&str>)> = view
        .messages()
        .skip(10)
        .map(|m| (m.uid, m.keywords))
        .collect();
    assert_eq!(uids, vec![(11, vec!["Both"]), (12, vec!["Both"])]);
}

#[test]
fn old_log2_is_deleted_after_its_max_age() {
    let tmp = tempfile::tempdir().unwrap();
    let mut index = mailbox(tmp.path(), 3);
    index.rotate().unwrap();
    assert!(index.path(FileKind::Log2).exists());
    index.settings.log2_max_age = std::time::Duration::from_secs(0);
    // Make the rotation look old.
    let mut t = Transaction::external();
    t.update_header(76, &1_000u32.to_le_bytes());
    index.commit(&t).unwrap();
    assert!(!index.path(FileKind::Log2).exists());
    let view = index.open_view().unwrap();
    assert_eq!(view.header().log2_rotate_time, u32::MAX);
    assert_eq!(view.messages().count(), 3);
}

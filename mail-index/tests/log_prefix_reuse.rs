//! A head log held only from where a first open's walk stopped still
//! keeps the bytes before its end that a later open compares: a log
//! rewritten in place there is replayed from scratch, not trusted.

use std::os::unix::fs::FileExt;

use columba_mail_index::{replay_counts, FileKind, IndexDir, Transaction, FLAG_SEEN};

#[test]
fn a_log_changed_just_before_the_remembered_end_is_replayed_from_scratch() {
    let dir = tempfile::tempdir().unwrap();
    let mut index = IndexDir::new(dir.path());
    index.settings.fsync = false;
    index.create(1_700_000_000, 1_700_000_000).unwrap();
    let mut t = Transaction::external();
    for uid in 1..=300 {
        t.append(uid, 0);
    }
    index.commit(&t).unwrap();
    let mut t = Transaction::new();
    t.add_flags(1, 10, FLAG_SEEN);
    index.commit(&t).unwrap();
    // The index now ends where the log does: a first open walks the whole
    // log and holds none of its records.
    index.rewrite_index().unwrap();
    index.forget_replay();
    let before = replay_counts();
    let first = index.open_view_without_cache().unwrap();
    index.open_view_without_cache().unwrap();
    let after_reopen = replay_counts();
    assert_eq!(after_reopen.from_scratch, before.from_scratch + 1);
    assert_eq!(after_reopen.resumed, before.resumed + 1);

    // Same inode, same header, same size: its last byte (padding).
    let path = index.path(FileKind::Log);
    let len = std::fs::metadata(&path).unwrap().len();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    let mut b = [0u8; 1];
    file.read_exact_at(&mut b, len - 1).unwrap();
    file.write_all_at(&[b[0] ^ 0x01], len - 1).unwrap();
    drop(file);
    let again = index.open_view_without_cache().unwrap();
    let counts = replay_counts();
    assert_eq!(
        counts.from_scratch,
        after_reopen.from_scratch + 1,
        "{counts:?}"
    );
    assert_eq!(again.header().messages_count, first.header().messages_count);
}

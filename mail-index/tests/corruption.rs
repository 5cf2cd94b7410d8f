//! Truncated files, flipped bytes and bad offsets: always a typed error
//! naming the file and offset, or a valid view; never a panic. Broken files
//! are recovered without losing what an intact source still holds.

use columba_interop::fixture_dir;
use columba_mail_index::{
    fuzz, CacheFile, Error, FileKind, IndexDir, IndexMap, LogFile, SurvivingMessage, Transaction,
    FLAG_FLAGGED, FLAG_SEEN,
};

fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(fixture_dir(rel.split('/').next().unwrap()).join(rel.split_once('/').unwrap().1))
        .unwrap()
}

fn mutations(data: &[u8], step: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for len in (0..data.len()).step_by(step.max(1)) {
        out.push(data[..len].to_vec());
    }
    for i in (0..data.len()).step_by(step.max(1)) {
        for x in [0x01u8, 0x80, 0xff] {
            let mut d = data.to_vec();
            d[i] ^= x;
            out.push(d);
        }
    }
    out
}

#[test]
fn mutated_index_files_give_typed_errors() {
    let data = fixture("02-bob-rotated-log/Maildir/dovecot.index");
    for d in mutations(&data, 7) {
        fuzz::index(&d);
        if let Err(e) = IndexMap::parse(&d) {
            match e {
                Error::Corrupt {
                    file: FileKind::Index,
                    offset,
                    ..
                } => assert!(offset <= d.len() as u64 + 8),
                other => panic!("unexpected error {other}"),
            }
        }
    }
    // A truncated record area is detected, not silently shortened.
    let e = IndexMap::parse(&data[..data.len() - 3]).unwrap_err();
    assert!(e.to_string().contains("records"), "{e}");
}

#[test]
fn mutated_logs_and_caches_never_panic() {
    for rel in [
        "01-alice-shapes-flags/Maildir/.Sent/dovecot.index.log",
        "04-dave-folders/Maildir/.Drafts/dovecot.index.log",
    ] {
        let data = fixture(rel);
        for d in mutations(&data, 1) {
            fuzz::log(&d);
            let mut framed = vec![0u8; 4];
            framed.extend_from_slice(&d);
            fuzz::apply(&framed);
        }
    }
    for rel in [
        "01-alice-shapes-flags/Maildir/.Sent/dovecot.index.cache",
        "04-dave-folders/Maildir/.Drafts/dovecot.index.cache",
    ] {
        let data = fixture(rel);
        for d in mutations(&data, 1) {
            fuzz::cache(&d);
            if let Err(e) = CacheFile::parse(d.clone()) {
                assert!(
                    matches!(
                        e,
                        Error::Corrupt {
                            file: FileKind::Cache,
                            ..
                        }
                    ),
                    "{e}"
                );
            }
        }
    }
}

#[test]
fn bad_record_in_log_is_reported_with_its_offset() {
    let mut data = fixture("01-alice-shapes-flags/Maildir/.Sent/dovecot.index.log");
    // The record at offset 52 is an ext-intro; make its type unknown.
    data[52 + 4] = 0x08;
    data[52 + 5] = 0;
    let log = LogFile::parse(FileKind::Log, data).unwrap();
    let err = log.records().find_map(|r| r.err()).unwrap();
    match err {
        Error::Corrupt {
            file,
            offset,
            reason,
        } => {
            assert_eq!(file, FileKind::Log);
            assert_eq!(offset, 52);
            assert!(reason.contains("unknown type"), "{reason}");
        }
        other => panic!("{other}"),
    }
}

fn sample_mailbox(dir: &std::path::Path) -> IndexDir {
    let index = IndexDir::new(dir);
    index.create(1_700_000_000, 1_700_000_000).unwrap();
    let mut t = Transaction::external();
    for uid in 1..=5 {
        t.append(uid, if uid % 2 == 0 { FLAG_SEEN } else { 0 });
    }
    index.commit(&t).unwrap();
    let mut t = Transaction::new();
    t.add_flags(3, 3, FLAG_FLAGGED)
        .add_keyword("Work", &[(2, 4)]);
    index.commit(&t).unwrap();
    index.rewrite_index().unwrap();
    let mut t = Transaction::new();
    t.add_flags(5, 5, FLAG_SEEN);
    index.commit(&t).unwrap();
    index
}

fn summary(index: &IndexDir) -> Vec<(u32, u8, Vec<String>)> {
    index
        .open_view()
        .unwrap()
        .messages()
        .map(|m| {
            (
                m.uid,
                m.flags,
                m.keywords.iter().map(|s| s.to_string()).collect(),
            )
        })
        .collect()
}

#[test]
fn corrupt_index_is_rebuilt_from_the_log() {
    let tmp = tempfile::tempdir().unwrap();
    let index = sample_mailbox(tmp.path());
    let before = summary(&index);
    let path = index.path(FileKind::Index);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[32] = 0xff; // messages_count
    std::fs::write(&path, &bytes).unwrap();
    assert!(index.open_view().unwrap_err().is_corruption());
    let (view, report) = index.open_or_recover(None).unwrap();
    assert!(report.index_rewritten);
    assert!(!report.problems.is_empty());
    let after: Vec<_> = view
        .messages()
        .map(|m| {
            (
                m.uid,
                m.flags,
                m.keywords.iter().map(|s| s.to_string()).collect(),
            )
        })
        .collect();
    assert_eq!(after, before);
    assert_eq!(summary(&index), before);
}

#[test]
fn corrupt_log_is_replaced_keeping_storage_state() {
    let tmp = tempfile::tempdir().unwrap();
    let index = sample_mailbox(tmp.path());
    let before = summary(&index);
    // Damage the log's header: the chain can no longer be replayed.
    let path = index.path(FileKind::Log);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[0] = 9;
    std::fs::write(&path, &bytes).unwrap();
    assert!(index.open_view().is_err());
    let surviving: Vec<SurvivingMessage> = before
        .iter()
        .map(|(uid, flags, kw)| SurvivingMessage {
            uid: *uid,
            flags: *flags,
            keywords: kw.clone(),
        })
        .collect();
    let storage = columba_mail_index::SurvivingMailbox {
        uid_validity: 0,
        next_uid: 0,
        messages: surviving,
    };
    let (view, report) = index.open_or_recover(Some(&storage)).unwrap();
    assert!(report.log_recreated);
    assert_eq!(view.header().uid_validity, 1_700_000_000);
    assert_eq!(summary(&index), before);
    // The mailbox is writable again.
    let mut t = Transaction::external();
    t.append(6, 0);
    index.commit(&t).unwrap();
    assert_eq!(index.open_view().unwrap().header().next_uid, 7);
}

#[test]
fn corrupt_cache_is_discarded() {
    let tmp = tempfile::tempdir().unwrap();
    let index = sample_mailbox(tmp.path());
    std::fs::write(index.path(FileKind::Cache), b"\x01\x08\x01\x00garbage").unwrap();
    let view = index.open_view().unwrap();
    assert!(view.cache_problem.is_some());
    let (_, report) = index.open_or_recover(None).unwrap();
    assert!(report.cache_discarded);
    assert!(!index.path(FileKind::Cache).exists());
}

#[test]
fn lenient_view_shows_the_state_before_a_corrupt_record() {
    let tmp = tempfile::tempdir().unwrap();
    let index = sample_mailbox(tmp.path());
    let before = index.open_view().unwrap();
    // Append garbage that frames as a record of an unknown type.
    let path = index.path(FileKind::Log);
    let mut bytes = std::fs::read(&path).unwrap();
    let bad_at = bytes.len() as u64;
    bytes.extend_from_slice(&[0x80, 0x80, 0x80, 0x83, 0x08, 0, 0, 0, 1, 2, 3, 4]);
    std::fs::write(&path, &bytes).unwrap();
    let err = index.open_view().unwrap_err();
    assert!(
        matches!(err, Error::Corrupt { file: FileKind::Log, offset, .. } if offset == bad_at),
        "{err}"
    );
    let view = index.open_view_lenient().unwrap();
    assert!(view.stopped.is_some());
    assert_eq!(view.header().messages_count, before.header().messages_count);
    assert_eq!(
        view.messages().collect::<Vec<_>>(),
        before.messages().collect::<Vec<_>>()
    );
}

#[test]
fn cache_offset_beyond_the_file_is_reported() {
    use columba_mail_index::cache_file::{FieldType, DECISION_YES};
    use columba_mail_index::CacheField;
    let tmp = tempfile::tempdir().unwrap();
    let index = sample_mailbox(tmp.path());
    let f = CacheField {
        name: "flags".into(),
        field_type: FieldType::Bitmask,
        size: 4,
        decision: DECISION_YES,
        last_used: 0,
    };
    index
        .cache_add(&[(1, vec![(f, vec![1, 0, 0, 0])])])
        .unwrap();
    let mut t = Transaction::external();
    t.ext_rec_update("cache", 1, &0x7fff_fff0u32.to_le_bytes());
    index.commit(&t).unwrap();
    let view = index.open_view().unwrap();
    let m = view.messages().next().unwrap();
    let err = view
        .cache
        .as_ref()
        .unwrap()
        .chain(m.cache_offset)
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Corrupt {
                file: FileKind::Cache,
                offset: 0x7fff_fff0,
                ..
            }
        ),
        "{err}"
    );
    let mut out = String::new();
    assert!(columba_mail_index::dump::view_text(&view, "dovecot.index", &mut out).is_err());
    assert!(out.contains(" - broken cache"));
}

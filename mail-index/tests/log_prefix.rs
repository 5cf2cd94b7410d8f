//! A first open walks the head log's records before the index's head
//! offset through a small buffer instead of holding the whole log. Whatever
//! the log holds, the view (or the error) must be the one a replay of the
//! whole files gives, and later opens, commits and appenders must go on
//! from the part of the log that is held.

use columba_mail_index::sync::replay;
use columba_mail_index::{
    Appender, ExtDef, FileKind, IndexDir, LogFile, Transaction, View, FLAG_DELETED, FLAG_FLAGGED,
    FLAG_SEEN,
};

/// More UIDs than fit the walk's 64 KiB buffer in one append record.
const BIG: u32 = 12_000;

/// A mailbox whose index was written after one big append, with a few
/// transactions after it (one of them enabling modseqs, which moves every
/// record) for the replay to apply.
fn mailbox(dir: &std::path::Path) -> IndexDir {
    let mut index = IndexDir::new(dir);
    index.settings.fsync = false;
    index.create(1_700_000_000, 1_700_000_000).unwrap();
    let mut t = Transaction::external();
    for uid in 1..=BIG {
        t.append(uid, if uid % 3 == 0 { FLAG_SEEN } else { 0 });
    }
    index.commit(&t).unwrap();
    index.rewrite_index().unwrap();
    let mut t = Transaction::new();
    t.add_flags(5, 900, FLAG_FLAGGED)
        .add_keyword("Work", &[(7, 7), (100, 200)]);
    index.commit(&t).unwrap();
    let mut t = Transaction::new();
    t.ext_intro(ExtDef {
        name: "modseq".into(),
        hdr_size: 16,
        record_size: 8,
        record_align: 8,
    })
    .ext_hdr_update(
        "modseq",
        0,
        &[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    );
    index.commit(&t).unwrap();
    let mut t = Transaction::external();
    t.append(BIG + 1, FLAG_DELETED).add_flags(1, 3, FLAG_SEEN);
    index.commit(&t).unwrap();
    index
}

/// The view a replay of the whole files gives, or its error.
fn whole_replay(index: &IndexDir) -> Result<(View, String), String> {
    let logs = index.read_logs().map_err(|e| e.to_string())?;
    let refs: Vec<&LogFile> = logs.iter().collect();
    let mut map = index
        .read_index()
        .map_err(|e| e.to_string())?
        .expect("an index file");
    let head = &logs[logs.len() - 1].header;
    if head.indexid != map.header.indexid {
        // What every open checks before replaying.
        return Err(format!(
            "dovecot.index.log: corrupt at byte offset 4: indexid {} differs from dovecot.index's {}",
            head.indexid, map.header.indexid
        ));
    }
    let report = replay(&mut map, &refs).map_err(|e| e.to_string())?;
    let skipped = format!(
        "{:?}",
        report
            .skipped
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
    );
    let view = index.open_view_uncached().map_err(|e| e.to_string())?;
    assert_eq!(view.map(), &map, "map");
    assert_eq!(view.highest_modseq, report.highest_modseq, "modseq");
    assert_eq!(view.mailbox_deleted, report.mailbox_deleted, "deleted");
    Ok((view, skipped))
}

fn same_as_whole_replay(index: &IndexDir, what: &str) {
    let got = index.open_view_uncached();
    match whole_replay(index) {
        Ok((want, skipped)) => {
            let got = got.unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(got.map(), want.map(), "{what}");
            assert_eq!(got.highest_modseq, want.highest_modseq, "{what}");
            let got_skipped: Vec<String> = got.skipped.iter().map(|e| e.to_string()).collect();
            assert_eq!(format!("{got_skipped:?}"), skipped, "{what}");
        }
        Err(want) => {
            let got = got.err().map(|e| e.to_string());
            assert_eq!(got, Some(want), "{what}");
        }
    }
}

#[test]
fn first_open_equals_a_replay_of_the_whole_files() {
    let dir = tempfile::tempdir().unwrap();
    let index = mailbox(dir.path());
    same_as_whole_replay(&index, "intact");
    let view = index.open_view_without_cache().unwrap();
    assert_eq!(view.header().messages_count, BIG + 1);
    assert_eq!(view.keyword_names(), ["Work"]);
    let m = view.messages().nth(99).unwrap();
    assert_eq!((m.uid, m.keywords.as_slice()), (100, ["Work"].as_slice()));
}

#[test]
fn damaged_logs_give_what_a_replay_of_the_whole_files_gives() {
    let dir = tempfile::tempdir().unwrap();
    let index = mailbox(dir.path());
    let path = index.path(FileKind::Log);
    let data = std::fs::read(&path).unwrap();
    let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
    for len in (0..data.len())
        .step_by(997)
        .chain(data.len() - 200..data.len())
    {
        cases.push((format!("cut at {len}"), data[..len].to_vec()));
    }
    let positions = (0..200)
        .chain((200..data.len()).step_by(1009))
        .chain(data.len() - 300..data.len());
    for i in positions {
        for x in [0x01u8, 0x80] {
            let mut d = data.clone();
            d[i] ^= x;
            cases.push((format!("byte {i} ^ {x:#x}"), d));
        }
    }
    for (what, d) in cases {
        std::fs::write(&path, &d).unwrap();
        same_as_whole_replay(&index, &what);
    }
}

#[test]
fn later_opens_commits_and_appenders_go_on_from_the_held_part() {
    let dir = tempfile::tempdir().unwrap();
    let index = mailbox(dir.path());
    index.forget_replay();
    let first = index.open_view().unwrap();
    assert_eq!(first.header().messages_count, BIG + 1);
    let mut appender = Appender::open(&index).unwrap();
    let mut t = Transaction::external();
    t.append(BIG + 2, 0);
    appender.commit(&t).unwrap();
    let mut t = Transaction::new();
    t.add_flags(BIG + 2, BIG + 2, FLAG_SEEN)
        .add_keyword("Later", &[(1, 1)]);
    index.commit(&t).unwrap();
    let again = index.open_view().unwrap();
    let fresh = index.open_view_uncached().unwrap();
    assert_eq!(again.map(), fresh.map());
    assert_eq!(again.highest_modseq, fresh.highest_modseq);
    assert_eq!(again.header().messages_count, BIG + 2);
    same_as_whole_replay(&index, "after commits");
    let mut t = Transaction::new();
    t.remove_flags(1, BIG, FLAG_SEEN);
    appender.commit(&t).unwrap();
    let flags = |m: &columba_mail_index::IndexMap| m.uids_and_flags().collect::<Vec<_>>();
    let now = index.open_view_uncached().unwrap();
    assert_eq!(flags(appender.map()), flags(now.map()));
    assert_eq!(
        now.messages().filter(|m| m.flags & FLAG_SEEN != 0).count(),
        1
    );
}

//! The cache header counters after expunges match what a live Dovecot
//! writes when it expunges the same messages of the same mailbox.

use columba_interop::{install_fixture_maildir, require_tool, DovecotConfig, PrivateDovecot};
use columba_mail_index::{CacheFile, FileKind, IndexDir, Transaction};

const SCENARIO: &str = "02-bob-rotated-log";

fn counters(index: &IndexDir) -> (u32, u32, u32) {
    let bytes = std::fs::read(index.path(FileKind::Cache)).unwrap();
    let h = CacheFile::parse(bytes).unwrap().header;
    (
        h.record_count,
        h.deleted_record_count,
        h.continued_record_count,
    )
}

#[test]
fn expunge_counters_match_dovecot() {
    require_tool!("doveadm");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    let live = dovecot.maildir("alice");
    install_fixture_maildir(SCENARIO, &live).unwrap();
    dovecot.fix_ownership("alice").unwrap();
    let copy = tempfile::tempdir().unwrap();
    install_fixture_maildir(SCENARIO, copy.path()).unwrap();

    let ours = IndexDir::new(copy.path());
    let view = ours.open_view().unwrap();
    let cached: Vec<u32> = view
        .messages()
        .filter(|m| m.cache_offset != 0)
        .map(|m| m.uid)
        .take(3)
        .collect();
    let uncached: Vec<u32> = view
        .messages()
        .filter(|m| m.cache_offset == 0)
        .map(|m| m.uid)
        .take(1)
        .collect();
    assert_eq!(cached.len(), 3, "the fixture has cached messages");
    let uids: Vec<u32> = cached.iter().chain(&uncached).copied().collect();
    let before = counters(&ours);

    let set = uids
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let out = dovecot.doveadm(&["expunge", "-u", "alice", "mailbox", "INBOX", "uid", &set]);
    assert!(out.status.success(), "{out:?}");
    let theirs = counters(&IndexDir::new(&live));

    let mut t = Transaction::external();
    for uid in &uids {
        t.expunge(*uid, [0; 16]);
    }
    ours.commit(&t).unwrap();
    let mine = counters(&ours);
    assert_ne!(mine, before);
    assert_eq!(
        mine, theirs,
        "(record, deleted, continued) before: {before:?}"
    );
    assert!(
        dovecot.log_problems().is_empty(),
        "{:?}",
        dovecot.log_problems()
    );
}

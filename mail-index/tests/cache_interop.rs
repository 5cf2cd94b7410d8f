//! Cache bookkeeping compared with real Dovecot: the header counters after
//! expunges match what a live Dovecot writes when it expunges the same
//! messages, and `doveadm dump` reads the decisions Columba writes.

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

/// A decision Columba changes on lookup (TEMP -> YES after out-of-order
/// reads) is what `doveadm dump` then reports for the field.
#[test]
fn doveadm_reads_decisions_columba_writes() {
    use columba_mail_index::cache_file::DECISION_TEMP;
    use columba_mail_index::CacheDecisions;
    let doveadm = require_tool!("doveadm");
    let tmp = tempfile::tempdir().unwrap();
    install_fixture_maildir(SCENARIO, tmp.path()).unwrap();
    let index = IndexDir::new(tmp.path());
    let view = index.open_view().unwrap();
    let cache = view.cache.as_ref().unwrap();
    let field = cache
        .fields
        .iter()
        .position(|f| f.name == "hdr.Subject")
        .unwrap();
    assert_eq!(cache.fields[field].decision, DECISION_TEMP);
    let uids: Vec<u32> = view.messages().map(|m| m.uid).collect();
    let mut decisions = CacheDecisions::new(cache);
    let now = cache.fields[field].last_used + 60;
    let week = view.header().day_first_uid[7];
    decisions.on_lookup(field, uids[uids.len() - 1], week, now);
    decisions.on_lookup(field, uids[uids.len() - 2], week, now);
    index.cache_write_decisions(&decisions).unwrap();

    let out = std::process::Command::new(doveadm)
        .args(["dump", "-t", "index"])
        .arg(index.path(FileKind::Index))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains(" hdr.Subject "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains(" yes "), "{line}");
    let other = text.lines().find(|l| l.contains(" hdr.From ")).unwrap();
    assert!(other.contains(" tmp "), "{other}");
}

//! Replays the committed corpora of the `session_imap`, `session_pop3`,
//! `session_lmtp` and `session_handoff` fuzz targets under plain `cargo test`.

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        run(&std::fs::read(&path).unwrap());
        n += 1;
    }
    assert!(n > 0, "empty corpus {}", dir.display());
}

#[test]
fn session_imap_corpus() {
    replay("session_imap", columba_session::fuzz_harness::imap);
}

#[test]
fn session_pop3_corpus() {
    replay("session_pop3", columba_session::fuzz_harness::pop3);
}

#[test]
fn session_lmtp_corpus() {
    replay("session_lmtp", columba_session::fuzz_harness::lmtp);
}

#[test]
fn session_handoff_corpus() {
    replay("session_handoff", columba_session::fuzz_harness::handoff);
}

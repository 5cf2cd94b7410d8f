//! Replays the committed fuzz corpus of `mail_store_cached_header` under
//! plain `cargo test`, with the fuzz target's checks.

use columba_mail_store::fuzz_harness::cached_header as exercise;

#[test]
fn replay_cached_header_corpus() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus/mail_store_cached_header");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        exercise(&std::fs::read(&path).unwrap());
        n += 1;
    }
    assert!(n >= 8, "{n} files in {dir:?}");
}

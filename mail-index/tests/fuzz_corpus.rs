//! Replays every committed fuzz corpus file of this crate's targets.

use std::path::Path;

fn replay(target: &str, f: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let p = e.unwrap().path();
        if p.is_file() {
            f(&std::fs::read(&p).unwrap());
            n += 1;
        }
    }
    assert!(n > 0, "empty corpus {target}");
}

#[test]
fn corpus_mail_index_index() {
    replay("mail_index_index", columba_mail_index::fuzz::index);
}

#[test]
fn corpus_mail_index_log() {
    replay("mail_index_log", columba_mail_index::fuzz::log);
}

#[test]
fn corpus_mail_index_cache() {
    replay("mail_index_cache", columba_mail_index::fuzz::cache);
}

#[test]
fn corpus_mail_index_apply() {
    replay("mail_index_apply", columba_mail_index::fuzz::apply);
}

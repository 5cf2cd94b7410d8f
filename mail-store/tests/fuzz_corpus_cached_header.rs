//! Replays the committed fuzz corpus of `mail_store_cached_header` under
//! plain `cargo test`, with the fuzz target's checks.

use columba_mail_store::fetch::body_from_bodystructure::body_from_bodystructure;
use columba_mail_store::message::cached_header::{decode_field, encode_field, rebuild_header};
use columba_mail_store::Message;

fn exercise(data: &[u8]) {
    let _ = body_from_bodystructure(data);
    if let Ok(occurrences) = decode_field(data) {
        for (line, text) in occurrences {
            assert!(line > 0 && !text.is_empty());
        }
        let _ = rebuild_header(&[data]);
    }
    let msg = Message::parse_header(data);
    for name in ["From", "Subject", "Received", "X-A"] {
        let value = encode_field(&msg, name);
        let occurrences = decode_field(&value).expect("our own value reads back");
        let wanted = msg
            .root()
            .fields
            .iter()
            .filter(|f| f.name_end > f.start && f.is(data, name))
            .count();
        assert_eq!(occurrences.len(), wanted, "{name}");
        let header = rebuild_header(&[&value]).expect("rebuilds");
        let again = Message::parse_header(&header);
        let found = again
            .root()
            .fields
            .iter()
            .filter(|f| f.is(&header, name))
            .count();
        assert_eq!(found, wanted, "{name} after rebuild");
    }
}

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

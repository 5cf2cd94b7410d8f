//! Replays the committed fuzz corpus of `mail_store_message` under plain
//! `cargo test`, with the fuzz target's checks.

use columba_mail_store::fuzz_harness::message as exercise;
use columba_mail_store::message::Message;

#[test]
fn mail_store_message_corpus_replays() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/mail_store_message");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        exercise(&std::fs::read(&path).unwrap());
        n += 1;
    }
    assert!(n >= 20, "only {n} corpus files in {}", dir.display());
}

#[test]
fn hostile_shapes_stay_bounded() {
    // 5000 nested multiparts: split only to Dovecot's nesting limit.
    let mut deep = Vec::new();
    for i in 0..5000 {
        deep.extend_from_slice(
            format!("Content-Type: multipart/mixed; boundary=b{i}\n\n--b{i}\n").as_bytes(),
        );
    }
    let msg = Message::parse(&deep);
    let mut depth = 0;
    let mut p = msg.root();
    while let Some(c) = p.children.first() {
        depth += 1;
        p = c;
    }
    assert!(
        depth < columba_mail_store::message::MAX_NESTED_PARTS,
        "depth {depth}"
    );
    exercise(&deep);

    // 20000 parts: at most Dovecot's total limit.
    let mut many = b"Content-Type: multipart/mixed; boundary=x\n\n".to_vec();
    for _ in 0..20000 {
        many.extend_from_slice(b"--x\n\nz\n");
    }
    let msg = Message::parse(&many);
    assert!(msg.root().count() <= columba_mail_store::message::MAX_TOTAL_PARTS);
    exercise(&many);

    // nested message/rfc822 without end
    let rfc = b"Content-Type: message/rfc822\n\n".repeat(500);
    exercise(&rfc);
    exercise(b"");
    exercise(b"\n");
    exercise(b"--");
    exercise(b"Content-Type: multipart/mixed; boundary=\"\"\n\n--\n--\n");
}

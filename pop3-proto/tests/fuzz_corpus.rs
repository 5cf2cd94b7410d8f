//! Replays every committed fuzz corpus file of the POP3 targets through the
//! same checks the fuzz targets run (`fuzz/fuzz_targets/pop3_oracles.rs`),
//! under plain `cargo test`.

#[path = "../../fuzz/fuzz_targets/pop3_oracles.rs"]
mod pop3_oracles;

fn replay(target: &str, check: fn(&[u8])) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(outcome.is_ok(), "{target}: {} fails", path.display());
        count += 1;
    }
    assert!(count > 0, "{target}: empty corpus");
}

#[test]
fn pop3_command_decode_corpus() {
    replay("pop3_command_decode", pop3_oracles::command_decode);
}

#[test]
fn pop3_response_decode_corpus() {
    replay("pop3_response_decode", pop3_oracles::response_decode);
}

#[test]
fn pop3_trace_corpus() {
    replay("pop3_trace", pop3_oracles::transcript);
}

#[test]
fn pop3_body_corpus() {
    replay("pop3_body", pop3_oracles::body_round_trip);
}

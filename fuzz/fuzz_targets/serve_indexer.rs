//! The indexer role's socket protocol (`columba serve`), fed what an
//! indexer client may send. The `columba` package is a binary, so the
//! parser's source file is compiled in here directly.
#![no_main]

#[allow(dead_code)]
#[path = "../../examples/src/serve/indexer/protocol.rs"]
mod protocol;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    protocol::fuzz_lines(data);
});

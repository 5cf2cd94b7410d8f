//! The anvil role's request parser and state (`columba serve`), fed what
//! an anvil client may send. The `columba` package is a binary, so its
//! source files are compiled in here directly.
#![no_main]

#[allow(dead_code)]
#[path = "../../examples/src/serve/anvil/protocol.rs"]
mod protocol;
#[allow(dead_code)]
#[path = "../../examples/src/serve/anvil/state.rs"]
mod state;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    state::fuzz_requests(data);
});

//! The stats role's line protocol and counters (`columba serve`), fed what
//! a stats writer may send. The `columba` package is a binary, so its
//! source files are compiled in here directly.
#![no_main]

#[allow(dead_code)]
#[path = "../../examples/src/serve/stats/protocol.rs"]
mod protocol;
#[allow(dead_code)]
#[path = "../../examples/src/serve/stats/state.rs"]
mod state;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    state::fuzz_lines(data);
});

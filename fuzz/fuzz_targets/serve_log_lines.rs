//! The log role's line splitting (`columba serve`), fed whatever a process
//! writes to its standard error. The `columba` package is a binary, so its
//! source file is compiled in here directly.
#![no_main]

#[allow(dead_code)]
#[path = "../../examples/src/serve/log/lines.rs"]
mod lines;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    lines::fuzz_split(data);
});

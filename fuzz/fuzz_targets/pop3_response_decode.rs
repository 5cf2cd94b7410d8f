//! Fuzz target: see `pop3_oracles::response_decode`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "pop3_oracles.rs"]
mod pop3_oracles;

fuzz_target!(|data: &[u8]| pop3_oracles::response_decode(data));

//! Fuzz target: see `imap_oracles::response_decode`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "imap_oracles.rs"]
mod imap_oracles;

fuzz_target!(|data: &[u8]| imap_oracles::response_decode(data));

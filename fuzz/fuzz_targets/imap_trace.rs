//! Fuzz target: see `imap_oracles::transcript`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "imap_oracles.rs"]
mod imap_oracles;

fuzz_target!(|data: &[u8]| imap_oracles::transcript(data));

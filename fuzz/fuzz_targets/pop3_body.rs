//! Fuzz target: see `pop3_oracles::body_round_trip`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "pop3_oracles.rs"]
mod pop3_oracles;

fuzz_target!(|data: &[u8]| pop3_oracles::body_round_trip(data));

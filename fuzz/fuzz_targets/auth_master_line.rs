#![no_main]
//! Fuzzes columba-auth-sasl: see `columba_auth_sasl::fuzz_harness::master_protocol`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    columba_auth_sasl::fuzz_harness::master_protocol(data);
});

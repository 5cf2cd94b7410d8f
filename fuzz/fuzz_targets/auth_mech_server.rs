#![no_main]
//! Fuzzes columba-auth-sasl: see `columba_auth_sasl::fuzz_harness::mechanism_server`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    columba_auth_sasl::fuzz_harness::mechanism_server(data);
});

#![no_main]
//! Arbitrary client bytes to the pop3 session, split into chunks anywhere;
//! every event is answered. Nothing may panic.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    columba_session::fuzz_harness::pop3(data);
});

#![no_main]
//! Arbitrary client bytes to the imap session, split into chunks anywhere;
//! every event is answered. Nothing may panic.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    columba_session::fuzz_harness::imap(data);
});

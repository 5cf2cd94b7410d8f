#![no_main]
//! Untrusted login-handoff bytes (IMAP and POP3): decoding never panics,
//! and whatever decodes encodes back to the same bytes.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    columba_session::fuzz_harness::handoff(data);
});

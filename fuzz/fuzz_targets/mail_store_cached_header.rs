#![no_main]
//! A `hdr.<Name>` value from `dovecot.index.cache` (written by Dovecot, by
//! Columba or by anyone): reading it never panics, and what Columba
//! writes for any message header reads back as the same fields.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| columba_mail_store::fuzz_harness::cached_header(data));

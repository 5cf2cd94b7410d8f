#![no_main]
//! A message from disk or APPEND: the MIME parser never panics, part offsets
//! nest inside their parents, and every FETCH item can be answered.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| columba_mail_store::fuzz_harness::message(data));

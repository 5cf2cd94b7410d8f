#![no_main]
//! Fuzzes columba-mail-index: see `columba_mail_index::fuzz::log`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    columba_mail_index::fuzz::log(data);
});

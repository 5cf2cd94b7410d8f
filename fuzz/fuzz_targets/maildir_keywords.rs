#![no_main]
//! `dovecot-keywords` from disk: never panics; the map written back reads
//! the same.

use columba_maildir::Keywords;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let kw = Keywords::parse(data);
    let again = Keywords::parse(&kw.to_bytes());
    for i in 0..26 {
        assert_eq!(again.get(i), kw.get(i));
        let _ = kw.name_for_letter(i);
    }
    let _ = kw.names(u32::MAX);
});

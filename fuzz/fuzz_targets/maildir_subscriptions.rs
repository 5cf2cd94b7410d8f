#![no_main]
//! `subscriptions` from disk: never panics; what parses writes back to
//! the same list.

use columba_maildir::Subscriptions;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(subs) = Subscriptions::parse(data, '.') {
        let again = Subscriptions::parse(&subs.to_bytes('.'), '.').expect("own output parses");
        assert_eq!(again.names, subs.names);
    }
});

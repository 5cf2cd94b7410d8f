#![no_main]
//! `dovecot-uidlist` from disk: never panics; what parses writes back as a
//! version 3 file that parses to the same content.

use columba_maildir::Uidlist;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(list) = Uidlist::parse(data) {
        let _ = list.next_uid();
        let again = Uidlist::parse(&list.to_bytes()).expect("own output parses");
        assert_eq!(again.records, list.records);
        assert_eq!(again.undecodable, list.undecodable);
        assert_eq!(again.uid_validity, list.uid_validity);
        assert_eq!(again.header_next_uid, list.header_next_uid);
        assert_eq!(again.guid, list.guid);
        assert_eq!(again.header_extensions, list.header_extensions);
    }
});

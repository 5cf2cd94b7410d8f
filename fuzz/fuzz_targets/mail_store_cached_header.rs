#![no_main]
//! A `hdr.<Name>` value from `dovecot.index.cache` (written by Dovecot, by
//! Columba or by anyone): reading it never panics, and what Columba
//! writes for any message header reads back as the same fields.

use columba_mail_store::fetch::body_from_bodystructure::body_from_bodystructure;
use columba_mail_store::message::cached_header::{decode_field, encode_field, rebuild_header};
use columba_mail_store::Message;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // as a cached value
    let _ = body_from_bodystructure(data);
    if let Ok(occurrences) = decode_field(data) {
        for (line, text) in occurrences {
            assert!(line > 0 && !text.is_empty());
        }
        let _ = rebuild_header(&[data]);
    }
    // as a message header: encode, decode, rebuild, parse again
    let msg = Message::parse_header(data);
    for name in ["From", "Subject", "Received", "X-A"] {
        let value = encode_field(&msg, name);
        let occurrences = decode_field(&value).expect("our own value reads back");
        let wanted = msg
            .root()
            .fields
            .iter()
            .filter(|f| f.name_end > f.start && f.is(data, name))
            .count();
        assert_eq!(occurrences.len(), wanted, "{name}");
        let header = rebuild_header(&[&value]).expect("rebuilds");
        let again = Message::parse_header(&header);
        let found = again
            .root()
            .fields
            .iter()
            .filter(|f| f.is(&header, name))
            .count();
        assert_eq!(found, wanted, "{name} after rebuild");
    }
});

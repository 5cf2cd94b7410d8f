//! The checks of the mail-store fuzz targets, shared with the tests that
//! replay their corpora, so both run exactly the same assertions. Not part
//! of the API a server uses.

use crate::fetch::body_from_bodystructure::body_from_bodystructure;
use crate::fetch::{fetch_item_imap, Section};
use crate::message::cached_header::{decode_field, encode_field, rebuild_header};
use crate::message::{Message, MessagePart};

/// A message from disk or APPEND: the MIME parser never panics, part
/// offsets nest inside their parents, and every FETCH item can be answered.
pub fn message(data: &[u8]) {
    let msg = Message::parse(data);
    check_nesting(msg.root(), 0, data.len());
    assert_eq!(msg.root().offset, 0);
    assert_eq!(msg.root().body_end, data.len());
    let _ = msg.envelope_imap();
    let _ = msg.bodystructure_imap(true);
    let _ = msg.bodystructure_imap(false);
    for spec in [
        "",
        "HEADER",
        "TEXT",
        "1",
        "1.MIME",
        "2.1",
        "1.HEADER.FIELDS (FROM)",
        "2.TEXT",
    ] {
        let section = Section::parse(spec).expect("a valid section");
        let _ = msg.section(&section);
        let _ = msg.binary(&section);
    }
    let _ = fetch_item_imap(data, "BINARY.SIZE[1]");
}

fn check_nesting(part: &MessagePart, start: usize, end: usize) {
    assert!(start <= part.offset && part.offset <= part.header_end);
    assert!(part.header_end <= part.body_start && part.body_start <= part.body_end);
    assert!(part.body_end <= end);
    for child in &part.children {
        check_nesting(child, part.body_start, part.body_end);
    }
}

/// A `hdr.<Name>` value from `dovecot.index.cache` (written by Dovecot, by
/// Columba or by anyone): reading it never panics, and what Columba writes
/// for any message header reads back as the same fields.
pub fn cached_header(data: &[u8]) {
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
}

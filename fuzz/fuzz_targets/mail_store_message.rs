#![no_main]
//! A message from disk or APPEND: the MIME parser never panics, part offsets
//! nest inside their parents, and every FETCH item can be answered.

use columba_mail_store::fetch::{fetch_item_imap, Section};
use columba_mail_store::message::{Message, MessagePart};
use libfuzzer_sys::fuzz_target;

fn check(part: &MessagePart, start: usize, end: usize) {
    assert!(start <= part.offset && part.offset <= part.header_end);
    assert!(part.header_end <= part.body_start && part.body_start <= part.body_end);
    assert!(part.body_end <= end);
    for child in &part.children {
        check(child, part.body_start, part.body_end);
    }
}

fuzz_target!(|data: &[u8]| {
    let msg = Message::parse(data);
    check(msg.root(), 0, data.len());
    assert_eq!(msg.root().offset, 0);
    assert_eq!(msg.root().body_end, data.len());
    let _ = msg.envelope_imap();
    let _ = msg.bodystructure_imap(true);
    let _ = msg.bodystructure_imap(false);
    for spec in ["", "HEADER", "TEXT", "1", "1.MIME", "2.1", "1.HEADER.FIELDS (FROM)", "2.TEXT"] {
        let section = Section::parse(spec).unwrap();
        let _ = msg.section(&section);
        let _ = msg.binary(&section);
    }
    let _ = fetch_item_imap(data, "BINARY.SIZE[1]");
});

//! Small behaviours checked directly: LIST patterns, sequence sets, search
//! dates, APPENDLIMIT, section syntax.

use columba_mail_store::fetch::{Section, SectionText};
use columba_mail_store::list::pattern::matches;
use columba_mail_store::search::date::{parse_header_date, parse_imap_date};
use columba_mail_store::search::{SearchKey, SequenceSet};
use columba_mail_store::store::check_append_limit;

#[test]
fn list_wildcards() {
    assert!(matches("%", "Archive", '/'));
    assert!(!matches("%", "Archive/2024", '/'));
    assert!(matches("*", "Archive/2024", '/'));
    assert!(matches("Arch%/%", "Archive/2024", '/'));
    assert!(matches("inbox", "INBOX", '/'));
    assert!(matches("INBOX/%", "Inbox/sub", '/'));
    assert!(!matches("inbox", "Inboxes", '/'));
    assert!(!matches("a", "A", '/'));
    // many wildcards stay linear in time
    let t = std::time::Instant::now();
    assert!(matches(&"*%".repeat(500), &"x".repeat(3000), '/'));
    assert!(t.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn sequence_sets_and_star() {
    let s = SequenceSet::parse("2,4:*", 0).unwrap();
    assert!(s.contains(2, 10) && s.contains(10, 10) && !s.contains(3, 10));
    // "*" is the highest number: 20:* with 10 messages means 10:20
    assert!(SequenceSet::parse("20:*", 0).unwrap().contains(10, 10));
    assert!(SequenceSet::parse("0", 0).is_err());
    assert!(SequenceSet::parse("1:", 0).is_err());
}

#[test]
fn search_dates() {
    assert_eq!(parse_imap_date("1-Jan-1970"), Some(0));
    assert_eq!(
        parse_imap_date("02-Jan-2024"),
        parse_header_date(b"Tue, 2 Jan 2024 23:59:00 -1200")
    );
    assert_eq!(parse_header_date(b"garbage"), None);
    assert!(SearchKey::parse("SINCE 31-Feb-2024x").is_err());
    assert!(SearchKey::parse(&format!("{}ALL", "NOT ".repeat(50))).is_ok());
    assert!(SearchKey::parse(&format!("{}ALL", "NOT ".repeat(200))).is_err());
}

#[test]
fn append_limit() {
    assert!(check_append_limit(10, Some(10)).is_ok());
    assert!(check_append_limit(11, Some(10))
        .unwrap_err()
        .to_string()
        .contains("TOOBIG"));
    assert!(check_append_limit(u64::MAX, None).is_ok());
}

#[test]
fn section_syntax() {
    assert_eq!(Section::parse("1.2.MIME").unwrap().part, [1, 2]);
    assert_eq!(
        Section::parse("header.fields (from \"to\")").unwrap().text,
        SectionText::HeaderFields(vec![b"FROM".to_vec(), b"TO".to_vec()])
    );
    for bad in [
        "1.",
        "MIME",
        "1.BOGUS",
        "HEADER.FIELDS ()",
        "HEADER.FIELDS FROM",
        "1x",
    ] {
        assert!(Section::parse(bad).is_err(), "{bad}");
    }
}

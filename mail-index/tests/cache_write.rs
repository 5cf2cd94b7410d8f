//! Cache writes: new file, new fields, chained records, purge.

use columba_mail_index::cache_file::{FieldType, DECISION_YES, VARIABLE_SIZE};
use columba_mail_index::{CacheField, FileKind, IndexDir, Transaction};

fn field(name: &str, t: FieldType, size: u32) -> CacheField {
    // Recently used: a purge keeps it (fields unused for 60 days are dropped).
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as u32;
    CacheField {
        name: name.into(),
        field_type: t,
        size,
        decision: DECISION_YES,
        last_used: now,
    }
}

#[test]
fn cache_records_chain_and_survive_a_purge() {
    let tmp = tempfile::tempdir().unwrap();
    let index = IndexDir::new(tmp.path());
    index.create(1_700_000_000, 1_700_000_000).unwrap();
    let mut t = Transaction::external();
    t.append(1, 0).append(2, 0).append(3, 0);
    index.commit(&t).unwrap();

    let flags = field("flags", FieldType::Bitmask, 4);
    let uidl = field("pop3.uidl", FieldType::String, VARIABLE_SIZE);
    let subject = field("hdr.Subject", FieldType::Header, VARIABLE_SIZE);
    let mut hdr = Vec::new();
    hdr.extend_from_slice(&3u32.to_le_bytes());
    hdr.extend_from_slice(&0u32.to_le_bytes());
    hdr.extend_from_slice(b"Subject: hello\n");
    index
        .cache_add(&[
            (
                1,
                vec![
                    (flags.clone(), 0x20u32.to_le_bytes().to_vec()),
                    (uidl.clone(), b"uidl-1".to_vec()),
                ],
            ),
            (
                2,
                vec![
                    (uidl.clone(), b"uidl-2".to_vec()),
                    (subject.clone(), hdr.clone()),
                ],
            ),
        ])
        .unwrap();
    // A second batch adds a new field and chains onto message 1's record.
    let received = field("date.received", FieldType::Fixed, 4);
    index
        .cache_add(&[(
            1,
            vec![
                (received.clone(), 1_700_000_123u32.to_le_bytes().to_vec()),
                (flags.clone(), 0x01u32.to_le_bytes().to_vec()),
            ],
        )])
        .unwrap();

    let view = index.open_view().unwrap();
    let cache = view.cache.as_ref().expect("cache usable");
    assert_eq!(
        cache.field_header_offsets.len(),
        3,
        "empty registry of the new file, then one per batch with new fields"
    );
    let m: Vec<_> = view.messages().collect();
    assert_ne!(m[0].cache_offset, 0);
    assert_eq!(m[2].cache_offset, 0);
    assert_eq!(
        cache.lookup(m[0].cache_offset, "pop3.uidl").unwrap(),
        Some(b"uidl-1".to_vec())
    );
    assert_eq!(
        cache.lookup(m[0].cache_offset, "date.received").unwrap(),
        Some(1_700_000_123u32.to_le_bytes().to_vec())
    );
    assert_eq!(
        cache.lookup(m[0].cache_offset, "flags").unwrap(),
        Some(0x21u32.to_le_bytes().to_vec())
    );
    assert_eq!(
        cache.lookup(m[1].cache_offset, "hdr.subject").unwrap(),
        Some(hdr.clone())
    );
    assert_eq!(cache.chain(m[0].cache_offset).unwrap().len(), 2);
    assert_eq!(cache.header.record_count, 2);
    assert_eq!(cache.header.continued_record_count, 1);
    let seq_before = cache.header.file_seq;

    index.cache_purge().unwrap();
    let view = index.open_view().unwrap();
    let cache = view.cache.as_ref().expect("purged cache usable");
    assert!(cache.header.file_seq > seq_before);
    assert_eq!(
        view.map().ext("cache").unwrap().reset_id,
        cache.header.file_seq
    );
    let m: Vec<_> = view.messages().collect();
    assert_eq!(cache.chain(m[0].cache_offset).unwrap().len(), 1);
    assert_eq!(
        cache.lookup(m[0].cache_offset, "flags").unwrap(),
        Some(0x21u32.to_le_bytes().to_vec())
    );
    assert_eq!(
        cache.lookup(m[0].cache_offset, "pop3.uidl").unwrap(),
        Some(b"uidl-1".to_vec())
    );
    assert_eq!(
        cache.lookup(m[1].cache_offset, "hdr.Subject").unwrap(),
        Some(hdr)
    );
    assert_eq!(cache.header.continued_record_count, 0);
    assert!(index.path(FileKind::Cache).exists());
}

#[test]
fn purge_drops_fields_unused_for_sixty_days() {
    let tmp = tempfile::tempdir().unwrap();
    let index = IndexDir::new(tmp.path());
    index.create(1_700_000_000, 1_700_000_000).unwrap();
    let mut t = Transaction::external();
    t.append(1, 0);
    index.commit(&t).unwrap();
    let mut stale = field("pop3.uidl", FieldType::String, VARIABLE_SIZE);
    stale.last_used = 1_000_000_000;
    let fresh = field("flags", FieldType::Bitmask, 4);
    index
        .cache_add(&[(1, vec![(stale, b"x".to_vec()), (fresh, vec![1, 0, 0, 0])])])
        .unwrap();
    index.cache_purge().unwrap();
    let view = index.open_view().unwrap();
    let cache = view.cache.as_ref().unwrap();
    assert!(cache.fields.iter().all(|f| f.name != "pop3.uidl"));
    let m = view.messages().next().unwrap();
    assert_eq!(
        cache.lookup(m.cache_offset, "flags").unwrap(),
        Some(vec![1, 0, 0, 0])
    );
}

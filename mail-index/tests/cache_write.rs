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

fn cache_header(index: &IndexDir) -> columba_mail_index::cache_file::CacheHeader {
    let bytes = std::fs::read(index.path(FileKind::Cache)).unwrap();
    columba_mail_index::CacheFile::parse(bytes).unwrap().header
}

/// Expunging messages that have cached data moves them from
/// `record_count` to `deleted_record_count`, as Dovecot's expunge handler
/// does; expunge requests and messages without cache data change nothing.
#[test]
fn expunges_update_the_cache_header_counters() {
    let tmp = tempfile::tempdir().unwrap();
    let index = IndexDir::new(tmp.path());
    index.create(1_700_000_000, 1_700_000_000).unwrap();
    let mut t = Transaction::external();
    t.append(1, 0).append(2, 0).append(3, 0).append(4, 0);
    index.commit(&t).unwrap();
    let uidl = field("pop3.uidl", FieldType::String, VARIABLE_SIZE);
    index
        .cache_add(&[
            (1, vec![(uidl.clone(), b"u1".to_vec())]),
            (2, vec![(uidl.clone(), b"u2".to_vec())]),
            (3, vec![(uidl.clone(), b"u3".to_vec())]),
        ])
        .unwrap();
    let h = cache_header(&index);
    assert_eq!((h.record_count, h.deleted_record_count), (3, 0));
    // A request (not external) is only a wish: nothing is expunged yet.
    let mut t = Transaction::new();
    t.expunge(1, [0; 16]);
    index.commit(&t).unwrap();
    let h = cache_header(&index);
    assert_eq!((h.record_count, h.deleted_record_count), (3, 0));
    // Messages 1 and 2 have cache records, 4 has none.
    let mut t = Transaction::external();
    t.expunge(1, [0; 16])
        .expunge(2, [0; 16])
        .expunge(4, [0; 16]);
    index.commit(&t).unwrap();
    let h = cache_header(&index);
    assert_eq!((h.record_count, h.deleted_record_count), (1, 2));
    let view = index.open_view().unwrap();
    assert_eq!(view.messages().map(|m| m.uid).collect::<Vec<_>>(), vec![3]);
}

/// A record above `mail_cache_record_max_size` (64 KiB) is dropped, as
/// Dovecot drops it; smaller ones in the same batch are written.
#[test]
fn cache_records_above_the_size_limit_are_not_written() {
    let tmp = tempfile::tempdir().unwrap();
    let index = IndexDir::new(tmp.path());
    index.create(1_700_000_000, 1_700_000_000).unwrap();
    let mut t = Transaction::external();
    t.append(1, 0).append(2, 0).append(3, 0);
    index.commit(&t).unwrap();
    let body = field("imap.body", FieldType::String, VARIABLE_SIZE);
    // 8-byte record header + field index + length + data.
    let fits = 64 * 1024 - 16;
    index
        .cache_add(&[
            (1, vec![(body.clone(), vec![b'a'; fits])]),
            (2, vec![(body.clone(), vec![b'b'; fits + 1])]),
            (3, vec![(body.clone(), b"small".to_vec())]),
        ])
        .unwrap();
    let view = index.open_view().unwrap();
    let cache = view.cache.as_ref().unwrap();
    let offsets: Vec<(u32, u32)> = view.messages().map(|m| (m.uid, m.cache_offset)).collect();
    assert_ne!(offsets[0].1, 0);
    assert_eq!(offsets[1].1, 0, "the oversized record was written");
    assert_ne!(offsets[2].1, 0);
    assert_eq!(
        cache
            .lookup(offsets[0].1, "imap.body")
            .unwrap()
            .unwrap()
            .len(),
        fits
    );
    assert_eq!(
        cache.lookup(offsets[2].1, "imap.body").unwrap().unwrap(),
        b"small"
    );
    assert_eq!(cache.header.record_count, 2);
    // A purge keeps what fits.
    index.cache_purge().unwrap();
    let view = index.open_view().unwrap();
    let cached: Vec<u32> = view
        .messages()
        .filter(|m| m.cache_offset != 0)
        .map(|m| m.uid)
        .collect();
    assert_eq!(cached, vec![1, 3]);
}

/// Decisions changed by lookups reach the cache file's field header, where
/// the next reader (Columba or Dovecot) finds them.
#[test]
fn lookup_decisions_are_written_to_the_field_header() {
    use columba_mail_index::cache_file::DECISION_TEMP;
    use columba_mail_index::CacheDecisions;
    let tmp = tempfile::tempdir().unwrap();
    let index = IndexDir::new(tmp.path());
    index.create(1_700_000_000, 1_700_000_000).unwrap();
    let mut t = Transaction::external();
    t.append(1, 0).append(2, 0);
    index.commit(&t).unwrap();
    let mut subject = field("hdr.Subject", FieldType::Header, VARIABLE_SIZE);
    subject.decision = DECISION_TEMP;
    let uidl = field("pop3.uidl", FieldType::String, VARIABLE_SIZE);
    index
        .cache_add(&[
            (1, vec![(uidl.clone(), b"u1".to_vec())]),
            (2, vec![(subject.clone(), b"x".to_vec())]),
        ])
        .unwrap();
    let view = index.open_view().unwrap();
    let cache = view.cache.as_ref().unwrap();
    let idx = cache
        .fields
        .iter()
        .position(|f| f.name == "hdr.Subject")
        .unwrap();
    assert_eq!(cache.fields[idx].decision, DECISION_TEMP);
    let mut d = CacheDecisions::new(cache);
    let week = view.header().day_first_uid[7];
    d.on_lookup(idx, 2, week, subject.last_used + 5);
    d.on_lookup(idx, 1, week, subject.last_used + 5);
    assert!(d.is_dirty());
    index.cache_write_decisions(&d).unwrap();
    let view = index.open_view().unwrap();
    let cache = view.cache.as_ref().unwrap();
    assert_eq!(cache.fields[idx].decision, DECISION_YES);
    assert_eq!(cache.fields, d.fields());
}

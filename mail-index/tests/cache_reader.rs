//! `CacheReader` answers every lookup as `CacheFile` does on caches Dovecot
//! wrote (the fixtures), while reading only the blocks it needs, and
//! reports a broken file as corruption at the right place.

use columba_interop::install_fixture_maildir;
use columba_mail_index::{CacheFile, CacheReader, FileKind, IndexDir};

fn compare(scenario: &str) {
    let dir = tempfile::tempdir().unwrap();
    install_fixture_maildir(scenario, dir.path()).unwrap();
    let index = IndexDir::new(dir.path());
    let path = index.path(FileKind::Cache);
    let whole = CacheFile::parse(std::fs::read(&path).unwrap()).unwrap();
    let reader = CacheReader::open(&path)
        .unwrap()
        .expect("the fixture has a cache");
    assert_eq!(reader.header, whole.header);
    assert_eq!(reader.fields, whole.fields);
    assert_eq!(reader.field_header_offsets, whole.field_header_offsets);
    assert_eq!(reader.len(), whole.bytes().len() as u64);
    assert_eq!(reader.bytes_read(), 0, "opening reads no record");

    let view = index.open_view().unwrap();
    let mut looked_up = 0;
    for m in view.messages().filter(|m| m.cache_offset != 0) {
        for (n, f) in whole.fields.iter().enumerate() {
            assert_eq!(
                reader.lookup(m.cache_offset, &f.name).unwrap(),
                whole.lookup(m.cache_offset, &f.name).unwrap(),
                "{scenario}: uid {} field {}",
                m.uid,
                f.name
            );
            let (a, pa) = reader.record_value(m.cache_offset, n as u32).unwrap();
            let (b, pb) = whole.record_value(m.cache_offset, n as u32).unwrap();
            assert_eq!((a.as_deref(), pa), (b, pb));
            looked_up += 1;
        }
    }
    assert!(looked_up > 0, "{scenario}: nothing cached");
}

#[test]
fn lookups_match_the_whole_file_reader_on_dovecots_caches() {
    for scenario in [
        "01-alice-shapes-flags",
        "02-bob-rotated-log",
        "03-carol-10k",
    ] {
        compare(scenario);
    }
}

#[test]
fn one_lookup_reads_one_block_not_the_file() {
    let dir = tempfile::tempdir().unwrap();
    install_fixture_maildir("03-carol-10k", dir.path()).unwrap();
    let index = IndexDir::new(dir.path());
    let reader = CacheReader::open(&index.path(FileKind::Cache))
        .unwrap()
        .unwrap();
    let view = index.open_view().unwrap();
    let m = view
        .messages()
        .filter(|m| m.cache_offset != 0)
        .last()
        .unwrap();
    let name = reader.fields[0].name.clone();
    reader.lookup(m.cache_offset, &name).unwrap();
    assert!(
        reader.bytes_read() <= 2 * 64 * 1024 && reader.bytes_read() < reader.len(),
        "read {} of {} bytes",
        reader.bytes_read(),
        reader.len()
    );
}

#[test]
fn broken_files_are_corruption_with_offsets() {
    let dir = tempfile::tempdir().unwrap();
    install_fixture_maildir("02-bob-rotated-log", dir.path()).unwrap();
    let index = IndexDir::new(dir.path());
    let path = index.path(FileKind::Cache);
    let good = std::fs::read(&path).unwrap();
    let view = index.open_view().unwrap();
    let off = view
        .messages()
        .find(|m| m.cache_offset != 0)
        .unwrap()
        .cache_offset;

    // a record whose size runs past the end of the file
    let mut bad = good.clone();
    bad[off as usize + 4..off as usize + 8].copy_from_slice(&0x0fff_fff0u32.to_le_bytes());
    std::fs::write(&path, &bad).unwrap();
    let reader = CacheReader::open(&path).unwrap().unwrap();
    let e = reader
        .lookup(off, &reader.fields[0].name.clone())
        .unwrap_err();
    assert!(e.is_corruption(), "{e}");
    let whole = CacheFile::parse(bad).unwrap();
    let w = whole.lookup(off, &whole.fields[0].name).unwrap_err();
    assert_eq!(e.to_string(), w.to_string());

    // a header cut short, and a field header pointing past the end
    std::fs::write(&path, &good[..20]).unwrap();
    assert!(CacheReader::open(&path).unwrap_err().is_corruption());
    let mut bad = good.clone();
    let len = bad.len();
    bad.truncate(len - 8);
    std::fs::write(&path, &bad).unwrap();
    match (CacheReader::open(&path), CacheFile::parse(bad)) {
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
        (Ok(_), Ok(_)) => {}
        (a, b) => panic!("reader {:?} vs whole file {:?}", a.err(), b.err()),
    }
    // no file: no cache
    std::fs::remove_file(&path).unwrap();
    assert!(CacheReader::open(&path).unwrap().is_none());
}

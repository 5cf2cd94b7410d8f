//! Opening a view reads `dovecot.index` in parts (its header area, then its
//! records straight into the map's buffer). Whatever the file holds, the
//! open must report exactly what parsing the whole file reports, and a
//! file that parses must give the same view as before.

use columba_mail_index::{IndexDir, IndexMap, Transaction, FLAG_SEEN};

/// A mailbox whose `dovecot.index` holds records and, with `many_keywords`,
/// a keywords header larger than the first read of the header area.
fn mailbox(dir: &std::path::Path, many_keywords: bool) -> IndexDir {
    let index = IndexDir::new(dir);
    index.create(1_700_000_000, 1_700_000_000).unwrap();
    let mut t = Transaction::external();
    for uid in 1..=40 {
        t.append(uid, if uid % 3 == 0 { FLAG_SEEN } else { 0 });
    }
    index.commit(&t).unwrap();
    let mut t = Transaction::new();
    let kw = if many_keywords { 300 } else { 3 };
    for k in 0..kw {
        t.add_keyword(
            &format!("keyword-with-a-longish-name-{k}"),
            &[(k % 40 + 1, 40)],
        );
    }
    index.commit(&t).unwrap();
    index.rewrite_index().unwrap();
    index
}

fn mutations(data: &[u8], step: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for len in (0..data.len()).step_by(step) {
        out.push(data[..len].to_vec());
    }
    for i in (0..data.len().min(400)).step_by(3) {
        for x in [0x01u8, 0x80, 0xff] {
            let mut d = data.to_vec();
            d[i] ^= x;
            out.push(d);
        }
    }
    out
}

fn check(many_keywords: bool) {
    let dir = tempfile::tempdir().unwrap();
    let index = mailbox(dir.path(), many_keywords);
    let path = index.path(columba_mail_index::FileKind::Index);
    let data = std::fs::read(&path).unwrap();
    if many_keywords {
        let head = u32::from_le_bytes(data[4..8].try_into().unwrap());
        assert!(head > 4096, "header area of {head} bytes");
    }
    let want = index.open_view_uncached().unwrap();
    for d in mutations(&data, 5) {
        std::fs::write(&path, &d).unwrap();
        let got = index.open_view_uncached();
        match IndexMap::parse(&d) {
            Err(e) => {
                let got = got.err().map(|g| g.to_string());
                assert_eq!(got, Some(e.to_string()), "file of {} bytes", d.len());
            }
            Ok(_) if d == data => {
                let got = got.unwrap();
                assert_eq!(got.map(), want.map());
            }
            Ok(_) => {}
        }
    }
    std::fs::write(&path, &data).unwrap();
    assert_eq!(index.open_view_uncached().unwrap().map(), want.map());
}

#[test]
fn index_read_in_parts_reports_what_a_whole_file_parse_does() {
    check(false);
}

#[test]
fn index_with_a_large_header_area_reads_the_same() {
    check(true);
}

//! Entry points shared by the cargo-fuzz targets and the corpus replay
//! test: each takes arbitrary bytes and must never panic.

use crate::cache_file::CacheFile;
use crate::cache_reader::CacheReader;
use crate::dump;
use crate::error::Error;
use crate::error::FileKind;
use crate::index_file::IndexMap;
use crate::log_file::LogFile;
use crate::sync::replay;

/// Parses `data` as `dovecot.index`; a parsed map must re-encode to a file
/// that parses to the same map.
pub fn index(data: &[u8]) {
    if let Ok(map) = IndexMap::parse(data) {
        let again = IndexMap::parse(&map.encode()).expect("re-encoded index must parse");
        assert_eq!(again, map);
        for i in 0..map.messages_count() {
            let _ = map.keywords_at(i);
            let _ = map.modseq_at(i);
        }
    }
}

/// Parses `data` as a transaction log, walks and dumps every record.
pub fn log(data: &[u8]) {
    if let Ok(log) = LogFile::parse(FileKind::Log, data.to_vec()) {
        let mut out = String::new();
        let _ = dump::log_text(&log, &mut out);
        let _ = dump::log_json(&log);
        let _ = log.committed_end();
    }
}

/// Parses `data` as a cache file and follows record chains from every
/// 4-aligned offset named in the first bytes.
///
/// The same bytes are read from a file by [`CacheReader`], which must agree
/// with the whole-file reader on the header, the fields, every error and
/// every lookup.
pub fn cache(data: &[u8]) {
    let parsed = CacheFile::parse(data.to_vec());
    cache_reader_agrees(data, parsed.as_ref());
    if let Ok(c) = parsed {
        let _ = dump::cache_json(&c);
        let mut out = String::new();
        dump::cache_header_text(&c, &mut out);
        for off in (32..data.len().min(4096)).step_by(4) {
            if let Ok(chain) = c.chain(off as u32) {
                for f in &c.fields {
                    let _ = c.lookup(off as u32, &f.name);
                }
                for r in &chain {
                    for v in &r.values {
                        let _ = dump::mime_parts(v.data);
                    }
                }
            }
        }
    }
}

/// Applies a log to an index: the first 4 bytes (LE) give the length of
/// the index part (0 = no index file), the rest is the log.
pub fn apply(data: &[u8]) {
    if data.len() < 4 {
        return;
    }
    let n = u32::from_le_bytes([data[0], data[1], data[2], data[3]]) as usize;
    let rest = &data[4..];
    let (idx, log) = rest.split_at(n.min(rest.len()));
    let Ok(log) = LogFile::parse(FileKind::Log, log.to_vec()) else {
        return;
    };
    let mut map = if idx.is_empty() {
        IndexMap::new(log.header.indexid)
    } else {
        match IndexMap::parse(idx) {
            Ok(m) => m,
            Err(_) => return,
        }
    };
    let start = map.clone();
    prefix_agrees(&start, &log);
    let full = replay(&mut map, &[&log]);
    resume_agrees(&start, &log, &cut_points(log.bytes()), &map, full.as_ref());
    if full.is_ok() {
        // The synced map must stay internally consistent and writable.
        let bytes = map.encode();
        assert_eq!(
            bytes.len(),
            map.header.header_size as usize
                + map.messages_count() * map.header.record_size as usize
        );
        for i in 0..map.messages_count() {
            let _ = map.keywords_at(i);
        }
    }
}

/// A first open that walks the log's records before the index's position
/// without holding them ([`crate::log_prefix`]) and replays the rest must,
/// when that succeeds, end exactly where a replay of the whole log ends
/// (when it fails, the open replays the whole log instead).
fn prefix_agrees(start: &IndexMap, log: &LogFile) {
    let bytes = log.bytes();
    let path = std::path::Path::new("dovecot.index.log");
    let Ok(Some((held, prefix))) =
        crate::log_prefix::read_after_prefix(bytes, path, start, bytes.len() as u64)
    else {
        return;
    };
    let mut map = start.clone();
    let Ok((report, reached)) =
        crate::sync::replay_unfinished_after(&mut map, &[&held], false, Some(prefix))
    else {
        return;
    };
    let mut whole = start.clone();
    let (whole_report, whole_reached) = crate::sync::replay_unfinished(&mut whole, &[log], false)
        .expect("a replay that succeeds after walking the log's start succeeds over the whole log");
    assert_eq!(map, whole);
    assert_eq!(reached.end, whole_reached.end);
    assert_eq!(reached.modseq, whole_reached.modseq);
    assert_eq!(reached.max_tail, whole_reached.max_tail);
    assert_eq!(reached.mailbox_deleted, whole_reached.mailbox_deleted);
    assert_eq!(
        reached.last_storage_change,
        whole_reached.last_storage_change
    );
    let errors =
        |r: &crate::sync::SyncReport| r.skipped.iter().map(|e| e.to_string()).collect::<Vec<_>>();
    assert_eq!(errors(&report), errors(&whole_report));
}

/// Where to cut a log as if a reader had seen it mid-write, twice.
fn cut_points(log: &[u8]) -> Vec<usize> {
    let n = log.len();
    let mut cuts = vec![n / 3, 2 * n / 3];
    cuts.retain(|&c| c >= crate::log_file::HEADER_MIN_SIZE);
    cuts.dedup();
    cuts
}

/// A replay of the first `cuts[0]` bytes of `log` onto `start`, continued
/// with the first `cuts[1]` bytes and so on, then with the whole file,
/// must end where the replay of the whole file did: the same map
/// (`whole`) and report, or an error where that one failed.
fn resume_agrees(
    start: &IndexMap,
    log: &LogFile,
    cuts: &[usize],
    whole: &IndexMap,
    full: Result<&crate::sync::SyncReport, &Error>,
) {
    let Some((&first, rest)) = cuts.split_first() else {
        return;
    };
    let Ok(prefix) = LogFile::parse(FileKind::Log, log.bytes()[..first].to_vec()) else {
        return;
    };
    let mut map = start.clone();
    let Ok((report, mut reached)) = crate::sync::replay_unfinished(&mut map, &[&prefix], false)
    else {
        // The snapshot points past the cut: a reader falls back to a full replay.
        return;
    };
    let mut skipped = report.skipped;
    let mut resumed = Ok(0);
    for &cut in rest {
        let Ok(longer) = LogFile::parse(FileKind::Log, log.bytes()[..cut].to_vec()) else {
            return;
        };
        resumed = reached.resume(&mut map, &longer, &mut skipped);
        if resumed.is_err() {
            break;
        }
    }
    if resumed.is_ok() {
        resumed = reached.resume(&mut map, log, &mut skipped);
    }
    match (resumed, full) {
        (Ok(_), Ok(full)) => {
            reached.finish(&mut map);
            assert_eq!(&map, whole, "map after resuming at {cuts:?}");
            assert_eq!(reached.modseq, full.highest_modseq, "modseq at {cuts:?}");
            assert_eq!(reached.mailbox_deleted, full.mailbox_deleted);
            let text = |v: &[Error]| v.iter().map(|e| e.to_string()).collect::<Vec<_>>();
            assert_eq!(text(&skipped), text(&full.skipped), "skipped at {cuts:?}");
        }
        (Err(_), Err(_)) => {}
        (a, b) => panic!("resuming at {cuts:?}: {a:?}, replaying the whole file: {b:?}"),
    }
}

/// Writes `data` to a scratch file and checks that [`CacheReader`] reads
/// it as `parsed` (the whole-file reader's result) does.
fn cache_reader_agrees(data: &[u8], parsed: Result<&CacheFile, &Error>) {
    let path = std::env::temp_dir().join(format!(
        "columba-fuzz-cache-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    if std::fs::write(&path, data).is_err() {
        return;
    }
    let reader = CacheReader::open(&path);
    let _ = std::fs::remove_file(&path);
    let reader = match (reader, parsed) {
        (Ok(Some(r)), Ok(c)) => {
            assert_eq!(r.header, c.header);
            assert_eq!(r.fields, c.fields);
            assert_eq!(r.field_header_offsets, c.field_header_offsets);
            (r, c)
        }
        (Err(a), Err(b)) => {
            assert_eq!(a.to_string(), b.to_string());
            return;
        }
        (a, b) => panic!("CacheReader {a:?} but CacheFile {b:?}"),
    };
    let (r, c) = reader;
    for off in (32..data.len().min(4096)).step_by(4) {
        let off = off as u32;
        if c.chain(off).is_ok() {
            for f in &c.fields {
                assert_eq!(
                    r.lookup(off, &f.name).ok(),
                    c.lookup(off, &f.name).ok(),
                    "field {} at {off}",
                    f.name
                );
            }
        }
        for n in 0..c.fields.len() as u32 {
            let a = r.record_value(off, n);
            let b = c.record_value(off, n);
            match (a, b) {
                (Ok((va, pa)), Ok((vb, pb))) => assert_eq!((va.as_deref(), pa), (vb, pb)),
                (Err(ea), Err(eb)) => assert_eq!(ea.to_string(), eb.to_string()),
                (a, b) => panic!("record {off} field {n}: {a:?} vs {b:?}"),
            }
        }
    }
}

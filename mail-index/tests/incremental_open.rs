//! A view that goes on from the process's last replay must equal a replay
//! of the files from scratch, whatever happened to the files in between:
//! commits from several handles and appenders, half-written transactions,
//! log rotations and index rewrites.

use columba_mail_index::transaction::ExtDef;
use columba_mail_index::{
    encode_offset, replay_counts, Appender, Error, FileKind, IndexDir, IndexMap, Transaction, View,
    FLAG_ANSWERED, FLAG_DELETED, FLAG_FLAGGED, FLAG_SEEN,
};

/// xorshift64*: a small seeded generator, so a failure replays exactly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Everything a reader can see in a view, compared field by field.
fn assert_same(what: &str, got: &View, want: &View) {
    assert_eq!(got.header(), want.header(), "{what}: header");
    assert_eq!(got.map(), want.map(), "{what}: map");
    assert_eq!(
        got.map().encode(),
        want.map().encode(),
        "{what}: encoded map"
    );
    assert_eq!(got.highest_modseq, want.highest_modseq, "{what}: modseq");
    assert_eq!(got.mailbox_deleted, want.mailbox_deleted, "{what}: deleted");
    assert_eq!(
        got.had_index_file, want.had_index_file,
        "{what}: index file"
    );
    let errs = |v: &View| v.skipped.iter().map(|e| e.to_string()).collect::<Vec<_>>();
    assert_eq!(errs(got), errs(want), "{what}: skipped records");
    let got_msgs: Vec<_> = got.messages().collect();
    let want_msgs: Vec<_> = want.messages().collect();
    assert_eq!(got_msgs, want_msgs, "{what}: messages");
}

const KEYWORDS: [&str; 5] = ["$Forwarded", "Work", "$Junk", "todo", "Later"];
const FLAGS: [u8; 4] = [FLAG_SEEN, FLAG_DELETED, FLAG_FLAGGED, FLAG_ANSWERED];

fn uids(map: &IndexMap) -> Vec<u32> {
    map.uids_and_flags().map(|(uid, _)| uid).collect()
}

/// A random valid range of existing UIDs (or one past them).
fn some_range(rng: &mut Rng, uids: &[u32], next_uid: u32) -> (u32, u32) {
    if uids.is_empty() {
        return (1, next_uid.max(1));
    }
    let a = uids[rng.below(uids.len() as u64) as usize];
    let b = uids[rng.below(uids.len() as u64) as usize];
    (a.min(b), a.max(b))
}

/// A random transaction against the state `map` (with HIGHESTMODSEQ
/// `highest_modseq`).
fn random_transaction(
    rng: &mut Rng,
    map: &IndexMap,
    highest_modseq: u64,
    modseqs: bool,
) -> Transaction {
    let existing = uids(map);
    let next_uid = map.header.next_uid;
    let mut t;
    match rng.below(10) {
        0 | 1 => {
            t = Transaction::external();
            let n = 1 + rng.below(4) as u32;
            for uid in next_uid..next_uid + n {
                t.append(uid, FLAGS[rng.below(4) as usize] * rng.below(2) as u8);
            }
        }
        2 | 3 => {
            t = Transaction::new();
            let (a, b) = some_range(rng, &existing, next_uid);
            let f = FLAGS[rng.below(4) as usize];
            if rng.chance(50) {
                t.add_flags(a, b, f);
            } else {
                t.remove_flags(a, b, f);
            }
        }
        4 => {
            t = Transaction::new();
            let (a, b) = some_range(rng, &existing, next_uid);
            let k = KEYWORDS[rng.below(KEYWORDS.len() as u64) as usize];
            if rng.chance(70) {
                t.add_keyword(k, &[(a, b)]);
            } else {
                t.remove_keyword(k, &[(a, b)]);
            }
        }
        5 if !existing.is_empty() => {
            t = Transaction::external();
            let mut gone: Vec<u32> = (0..1 + rng.below(3))
                .map(|_| existing[rng.below(existing.len() as u64) as usize])
                .collect();
            gone.sort_unstable();
            gone.dedup();
            for uid in gone {
                t.expunge(uid, [uid as u8; 16]);
            }
        }
        6 => {
            t = Transaction::new();
            let (a, b) = some_range(rng, &existing, next_uid);
            t.reset_keywords(a, b);
        }
        7 if modseqs && !existing.is_empty() => {
            t = Transaction::new();
            let uid = existing[rng.below(existing.len() as u64) as usize];
            t.update_modseq(uid, highest_modseq + rng.below(3));
        }
        8 if !existing.is_empty() => {
            // A private extension, introduced again and again.
            t = Transaction::external();
            t.ext_intro(ExtDef {
                name: "columba-prop".into(),
                hdr_size: 8,
                record_size: 4,
                record_align: 4,
            });
            let uid = existing[rng.below(existing.len() as u64) as usize];
            t.ext_rec_update("columba-prop", uid, &(rng.next() as u32).to_le_bytes());
            if rng.chance(30) {
                t.ext_hdr_update("columba-prop", 0, &rng.next().to_le_bytes());
            }
        }
        _ => {
            // first_recent_uid, or the synced tail as Dovecot's sync writes it.
            t = Transaction::external();
            if rng.chance(50) {
                t.update_header(48, &next_uid.to_le_bytes());
            } else {
                t.update_header(64, &map.header.log_file_head_offset.to_le_bytes());
            }
        }
    }
    t
}

/// A writer crashed in the middle of a transaction: a boundary record
/// promising more bytes than follow.
fn append_half_transaction(index: &IndexDir) {
    use std::io::Write;
    let mut rec = Vec::new();
    rec.extend_from_slice(&encode_offset(12).unwrap());
    rec.extend_from_slice(&(0x80000u32 | 0x1000_0000).to_le_bytes());
    rec.extend_from_slice(&200u32.to_le_bytes());
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(index.path(FileKind::Log))
        .unwrap();
    f.write_all(&rec).unwrap();
}

fn enable_modseqs(index: &IndexDir) {
    let view = index.open_view().unwrap();
    let mut hdr = [0u8; 16];
    hdr[..8].copy_from_slice(&view.highest_modseq.max(1).to_le_bytes());
    let mut t = Transaction::new();
    t.ext_intro(ExtDef {
        name: "modseq".into(),
        hdr_size: 16,
        record_size: 8,
        record_align: 8,
    })
    .ext_hdr_update("modseq", 0, &hdr);
    index.commit(&t).unwrap();
}

/// Runs `steps` random steps; returns the head log's seq at the end.
fn run(seed: u64, steps: usize) -> u32 {
    let tmp = tempfile::tempdir().unwrap();
    let mut rng = Rng(seed | 1);
    // Handle a rotates and rewrites early; b has Dovecot's defaults.
    let mut a = IndexDir::new(tmp.path());
    a.settings.fsync = false;
    a.settings.log_rotate_min_size = 1024;
    a.settings.log_rotate_max_size = 3000;
    a.settings.log_rotate_min_age = std::time::Duration::ZERO;
    a.settings.rewrite_min_log_bytes = 256;
    a.settings.rewrite_max_log_bytes = 700;
    let mut b = IndexDir::new(tmp.path());
    b.settings.fsync = false;
    a.create(1_700_000_000, 1_700_000_001).unwrap();
    let mut appenders = [Appender::open(&a).unwrap(), Appender::open(&b).unwrap()];
    let mut modseqs = false;
    for step in 0..steps {
        let what = format!("seed {seed} step {step}");
        match rng.below(20) {
            0..=7 => {
                let index = if rng.chance(50) { &a } else { &b };
                let view = index.open_view().unwrap();
                let t = random_transaction(&mut rng, view.map(), view.highest_modseq, modseqs);
                match index.commit(&t) {
                    Ok(_) | Err(Error::Invalid(_)) => {}
                    Err(e) => panic!("{what}: commit: {e}"),
                }
            }
            8..=10 => {
                let i = rng.below(2) as usize;
                let ap = &appenders[i];
                let t = random_transaction(&mut rng, ap.map(), ap.highest_modseq(), modseqs);
                match appenders[i].commit(&t) {
                    Ok(_) | Err(Error::Invalid(_)) => {}
                    Err(e) => panic!("{what}: appender commit: {e}"),
                }
            }
            11 => match a.maintain() {
                Ok(()) | Err(Error::Invalid(_)) => {}
                Err(e) => panic!("{what}: maintain: {e}"),
            },
            12 => {
                let i = rng.below(2) as usize;
                appenders[i].maintain().unwrap();
            }
            13 if !modseqs && step > 20 => {
                enable_modseqs(&b);
                modseqs = true;
            }
            14 => append_half_transaction(&a),
            15 => {
                let lock = b.lock().unwrap();
                let got = b.open_view_locked(&lock).unwrap();
                drop(lock);
                let fresh = b.open_view_uncached().unwrap();
                assert_same(&what, &got, &fresh);
                // A replay of the whole files, as reading them whole and
                // replaying them with nothing skipped gives it.
                assert_same(&what, &fresh, &b.open_view_lenient().unwrap());
            }
            _ => {
                let index = if rng.chance(50) { &a } else { &b };
                let got = if rng.chance(50) {
                    index.open_view().unwrap()
                } else {
                    index.open_view_without_cache().unwrap()
                };
                assert_same(&what, &got, &index.open_view_uncached().unwrap());
            }
        }
    }
    let got = a.open_view().unwrap();
    assert_same(
        &format!("seed {seed} end"),
        &got,
        &a.open_view_uncached().unwrap(),
    );
    assert!(
        tmp.path().join("dovecot.index").exists(),
        "the index was rewritten"
    );
    got.header().log_file_seq
}

#[test]
fn incremental_opens_equal_replays_from_scratch() {
    let before = replay_counts();
    let mut rotations = 0;
    for seed in 1..=16u64 {
        // The first log has seq 2.
        rotations += run(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15), 300) - 2;
    }
    assert!(rotations >= 16, "the logs were rotated {rotations} times");
    let after = replay_counts();
    let resumed = after.resumed - before.resumed;
    assert!(
        resumed > 1000,
        "most opens go on from the last replay ({resumed} did)"
    );
}

fn small_mailbox(dir: &std::path::Path) -> IndexDir {
    let mut index = IndexDir::new(dir);
    index.settings.fsync = false;
    index.create(1_700_000_000, 1_700_000_001).unwrap();
    let mut t = Transaction::external();
    for uid in 1..=5 {
        t.append(uid, 0);
    }
    index.commit(&t).unwrap();
    index
}

#[test]
fn corruption_appended_after_an_open_is_reported_not_hidden() {
    use std::io::Write;
    let tmp = tempfile::tempdir().unwrap();
    let index = small_mailbox(tmp.path());
    assert_eq!(index.open_view().unwrap().messages().count(), 5);
    // A record of an unknown type after the remembered end.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(index.path(FileKind::Log))
        .unwrap();
    f.write_all(&encode_offset(12).unwrap()).unwrap();
    f.write_all(&0x0000_0008u32.to_le_bytes()).unwrap();
    f.write_all(&[0; 4]).unwrap();
    drop(f);
    let err = index.open_view().unwrap_err();
    assert!(err.is_corruption(), "{err}");
    assert_eq!(
        err.to_string(),
        index.open_view_uncached().unwrap_err().to_string()
    );
}

#[test]
fn a_log_marked_corrupt_in_place_is_noticed() {
    use std::os::unix::fs::FileExt;
    let tmp = tempfile::tempdir().unwrap();
    let index = small_mailbox(tmp.path());
    index.open_view().unwrap();
    // Dovecot marks a broken log by zeroing its indexid where it stands.
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(index.path(FileKind::Log))
        .unwrap();
    f.write_all_at(&[0; 4], 4).unwrap();
    drop(f);
    let err = index.open_view().unwrap_err();
    assert!(err.to_string().contains("indexid is 0"), "{err}");
}

#[test]
fn a_log_replaced_or_rewritten_below_the_end_is_replayed_from_scratch() {
    let tmp = tempfile::tempdir().unwrap();
    let index = small_mailbox(tmp.path());
    let mut t = Transaction::new();
    t.add_flags(2, 2, FLAG_SEEN);
    index.commit(&t).unwrap();
    index.open_view().unwrap();
    // Another writer's bytes where this process remembered its own: the
    // same size, but different flags.
    let path = index.path(FileKind::Log);
    let bytes = std::fs::read(&path).unwrap();
    let before = replay_counts();
    let mut changed = bytes.clone();
    let at = changed.len() - 12 + 8;
    assert_eq!(
        changed[at], FLAG_SEEN,
        "the flag-update record ends the log"
    );
    changed[at] = FLAG_FLAGGED;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|f| std::os::unix::fs::FileExt::write_all_at(&f, &changed, 0))
        .unwrap();
    let view = index.open_view().unwrap();
    let flags: Vec<u8> = view.messages().map(|m| m.flags).collect();
    assert_eq!(flags[1], FLAG_FLAGGED);
    assert!(replay_counts().from_scratch > before.from_scratch);
    assert_same("rewritten", &view, &index.open_view_uncached().unwrap());
    // A log truncated below the remembered end.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(bytes.len() as u64 - 12 - 16)
        .unwrap();
    let got = index.open_view();
    let want = index.open_view_uncached();
    match (got, want) {
        (Ok(g), Ok(w)) => assert_same("truncated", &g, &w),
        (Err(g), Err(w)) => assert_eq!(g.to_string(), w.to_string()),
        (g, w) => panic!("truncated: {g:?} vs {w:?}"),
    }
}

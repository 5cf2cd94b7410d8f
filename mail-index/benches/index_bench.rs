//! Side-by-side timings with Dovecot on the same files, in one run:
//!
//! 1. open + sync a 1,000,000-message index (index file plus log to
//!    replay) and iterate uid + flags, warm;
//! 2. append 100,000 single-flag-change transactions (no fsync);
//! 3. the same index read through `doveadm dump` and through Columba's
//!    dump of the same directory, as a ratio.
//!
//! `cargo bench -p columba-mail-index --bench index_bench`
//! (`COLUMBA_BENCH_MESSAGES` changes the mailbox size).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use columba_interop::{find_tool, DovecotConfig, PrivateDovecot};
use columba_mail_index::{dump, Appender, IndexDir, Transaction, FLAG_FLAGGED, FLAG_SEEN};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let n: u32 = std::env::var("COLUMBA_BENCH_MESSAGES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let tmp = tempfile::tempdir().unwrap();
    let mut index = IndexDir::new(tmp.path());
    index.settings.fsync = false;
    index.create(1_700_000_000, 1_700_000_000).unwrap();
    let t0 = Instant::now();
    let mut t = Transaction::external();
    for uid in 1..=n {
        t.append(uid, if uid % 3 == 0 { FLAG_SEEN } else { 0 });
    }
    t.add_keyword("$Important", &[(1, n / 10)]);
    index.commit(&t).unwrap();
    index.rewrite_index().unwrap();
    // Some log after the snapshot, to be replayed by every open.
    let mut app = Appender::open(&index).unwrap();
    for i in 0..1000 {
        let uid = 1 + (i * 997) % n;
        let mut t = Transaction::new();
        t.add_flags(uid, uid, FLAG_FLAGGED);
        app.commit(&t).unwrap();
    }
    let index_size = std::fs::metadata(tmp.path().join("dovecot.index"))
        .unwrap()
        .len();
    let log_size = std::fs::metadata(tmp.path().join("dovecot.index.log"))
        .unwrap()
        .len();
    println!("setup: {n} messages, dovecot.index {index_size} bytes, log {log_size} bytes, built in {:?}", t0.elapsed());

    // 1. open + sync + iterate uid and flags, warm.
    let mut times = Vec::new();
    let mut checksum = 0u64;
    for _ in 0..11 {
        let start = Instant::now();
        let view = index.open_view().unwrap();
        for (uid, flags) in view.map().uids_and_flags() {
            checksum = checksum.wrapping_add(u64::from(uid) ^ u64::from(flags));
        }
        times.push(start.elapsed());
    }
    let open_sync_iter = median(times[1..].to_vec());
    println!("open+sync+iterate {n} messages (warm, median of 10): {open_sync_iter:?} (checksum {checksum})");

    // 3. Reading the same files: doveadm dump vs columba's dump.
    let ratio = find_tool("doveadm").map(|doveadm| {
        let dovecot = PrivateDovecot::offline(DovecotConfig::default()).unwrap();
        let mut dove = Vec::new();
        for _ in 0..3 {
            let start = Instant::now();
            let status = Command::new(&doveadm)
                .arg("-c")
                .arg(dovecot.config_path())
                .arg("dump")
                .arg(tmp.path())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .output()
                .unwrap();
            dove.push(start.elapsed());
            assert!(status.status.success(), "doveadm dump failed: {}", String::from_utf8_lossy(&status.stderr));
            assert!(status.stderr.is_empty(), "doveadm dump complained: {}", String::from_utf8_lossy(&status.stderr));
        }
        let mut ours = Vec::new();
        for _ in 0..3 {
            let start = Instant::now();
            let view = index.open_view().unwrap();
            let mut out = String::new();
            dump::view_text(&view, "dovecot.index", &mut out).unwrap();
            std::hint::black_box(out.len());
            ours.push(start.elapsed());
        }
        let (d, o) = (median(dove), median(ours));
        println!("doveadm dump of the directory: {d:?}; columba dump (same text, in memory): {o:?}; doveadm/columba = {:.2}", d.as_secs_f64() / o.as_secs_f64());
        println!("doveadm dump / columba open+sync+iterate = {:.1}", d.as_secs_f64() / open_sync_iter.as_secs_f64());
    });
    if ratio.is_none() {
        println!("doveadm not installed: no side-by-side numbers");
    }

    // 2. 100,000 single-flag-change transactions, no fsync.
    let mut app = Appender::open(&index).unwrap();
    let count = 100_000u32;
    let start = Instant::now();
    for i in 0..count {
        let uid = 1 + (i * 7919) % n;
        let mut t = Transaction::new();
        if i % 2 == 0 {
            t.add_flags(uid, uid, FLAG_FLAGGED);
        } else {
            t.remove_flags(uid, uid, FLAG_FLAGGED);
        }
        app.commit(&t).unwrap();
    }
    let el = start.elapsed();
    println!(
        "append {count} single-flag-change transactions: {el:?} total, {:.2} us each",
        el.as_secs_f64() * 1e6 / f64::from(count)
    );
}

//! Benchmarks, side by side with Dovecot in one run:
//!
//! 1. Delivery with full durability, one process per message as an MTA runs
//!    it: Columba (this binary re-executed as a delivery agent, as the mail
//!    user) against `/usr/lib/dovecot/dovecot-lda`, each into its own fresh
//!    Maildir of the same kind; plus Columba's in-process rate.
//! 2. Listing a 100,000-message Maildir with its uidlist, warm (target
//!    < 200 ms), next to `doveadm fetch 'uid flags'` on the same Maildir.
//!
//! Run: `cargo bench -p columba-maildir --bench maildir_bench`
//! (`COLUMBA_BENCH_DELIVERIES=N` and `COLUMBA_BENCH_MESSAGES=N` change the sizes).

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use columba_interop::{chown_tree, find_tool, DovecotConfig, PrivateDovecot};
use columba_maildir::{DeliveryOptions, Maildir, DIR_SETTLE};

const CHILD_ENV: &str = "COLUMBA_BENCH_DELIVER_INTO";

fn message(i: usize) -> Vec<u8> {
    let mut m = format!(
        "Return-Path: <sender@bench.test>\nFrom: Sender <sender@bench.test>\nTo: user@bench.test\n\
         Subject: benchmark message {i}\nMessage-ID: <{i}@bench.test>\n\n"
    )
    .into_bytes();
    for line in 0..40 {
        m.extend_from_slice(
            format!("Line {line} of a message body of typical length, message {i}.\n").as_bytes(),
        );
    }
    m
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn run_child(maildir: &str) -> ! {
    let mut input = Vec::new();
    std::io::stdin().read_to_end(&mut input).expect("stdin");
    let code = match Maildir::open(Path::new(maildir))
        .and_then(|m| m.inbox().deliver(&input[..], &DeliveryOptions::default()))
    {
        Ok(d) if d.uid.is_some() => 0,
        Ok(_) => 75,
        Err(e) => {
            eprintln!("deliver: {e}");
            75
        }
    };
    std::process::exit(code)
}

fn feed(mut cmd: Command, input: &[u8]) {
    let mut child = cmd.stdin(Stdio::piped()).spawn().expect("spawn");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{cmd:?}: {status}");
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn bench_delivery(dovecot: &PrivateDovecot) {
    let n = env_usize("COLUMBA_BENCH_DELIVERIES", 300);
    let lda = find_tool("dovecot-lda").expect("dovecot-lda");
    let messages: Vec<Vec<u8>> = (0..n).map(message).collect();
    let owner = dovecot.owner();

    // Columba: a fresh Maildir owned by the mail user, one process per message.
    let columba_dir = dovecot.maildir("columba");
    Maildir::create(&columba_dir).unwrap();
    chown_tree(&dovecot.home("columba"), owner).unwrap();
    let me = std::env::current_exe().unwrap();
    // Warm up both paths (page cache for the binaries, config parsing).
    let warm = |i: usize| {
        let mut c = Command::new(&lda);
        c.arg("-c")
            .arg(dovecot.config_path())
            .args(["-d", "lda", "-f", "sender@bench.test"]);
        feed(c, &messages[i % n]);
        let mut c = Command::new(&me);
        c.env(CHILD_ENV, &columba_dir);
        owner.apply(&mut c);
        feed(c, &messages[i % n]);
    };
    warm(0);

    let started = Instant::now();
    for m in &messages {
        let mut c = Command::new(&lda);
        c.arg("-c")
            .arg(dovecot.config_path())
            .args(["-d", "lda", "-f", "sender@bench.test"]);
        feed(c, m);
    }
    let lda_time = started.elapsed();

    let started = Instant::now();
    for m in &messages {
        let mut c = Command::new(&me);
        c.env(CHILD_ENV, &columba_dir);
        owner.apply(&mut c);
        feed(c, m);
    }
    let columba_time = started.elapsed();

    // In-process (a long-running delivery service such as an LMTP server).
    let lib_dir = dovecot.maildir("library");
    let inbox = Maildir::create(&lib_dir).unwrap().inbox();
    let started = Instant::now();
    for m in &messages {
        inbox.deliver(&m[..], &DeliveryOptions::default()).unwrap();
    }
    let lib_time = started.elapsed();

    let lda_rate = rate(n, lda_time);
    let columba_rate = rate(n, columba_time);
    println!(
        "delivery, {n} messages of {} bytes, fsync on, UIDs assigned:",
        messages[0].len()
    );
    println!("  dovecot-lda (process per message)      {lda_rate:8.1} msg/s  ({lda_time:.2?})");
    println!(
        "  columba     (process per message)      {columba_rate:8.1} msg/s  ({columba_time:.2?})  ratio {:.2}x dovecot-lda",
        columba_rate / lda_rate
    );
    println!(
        "  columba     (in-process library)       {:8.1} msg/s  ({lib_time:.2?})  ratio {:.2}x dovecot-lda",
        rate(n, lib_time),
        rate(n, lib_time) / lda_rate
    );
    let listed = Maildir::open(&columba_dir).unwrap().inbox().list().unwrap();
    assert_eq!(listed.messages.len(), n + 1);
}

fn bench_listing(dovecot: &PrivateDovecot) {
    let n = env_usize("COLUMBA_BENCH_MESSAGES", 100_000);
    let dir = dovecot.maildir("big");
    let maildir = Maildir::create(&dir).unwrap();
    let flags = ["", "S", "RS", "FS", "Sa", "DT", "Sbc"];
    let body = b"Subject: x\n\nbody\n";
    for i in 0..n {
        let base = format!(
            "{}.M{}P{}.bench.test,S=17,W=20",
            1_700_000_000 + i / 1000,
            i % 1000,
            4242
        );
        let name = format!("{base}:2,{}", flags[i % flags.len()]);
        std::fs::write(dir.join("cur").join(name), body).unwrap();
    }
    std::fs::write(dir.join("dovecot-keywords"), "0 $Label1\n1 Work\n2 Junk\n").unwrap();
    let started = Instant::now();
    let synced = maildir.inbox().sync().unwrap();
    let sync_time = started.elapsed();
    assert_eq!(synced.messages.len(), n);
    chown_tree(&dovecot.home("big"), dovecot.owner()).unwrap();

    // A directory read within DIR_SETTLE of its last change is never
    // reused; let them age as a real mailbox's would.
    std::thread::sleep(DIR_SETTLE + Duration::from_millis(500));
    let inbox = maildir.inbox();
    let measure = |changed: bool| {
        let mut times = Vec::new();
        for _ in 0..7 {
            if changed {
                // as after a flag change: cur/ must be read again
                std::fs::File::open(dir.join("cur"))
                    .unwrap()
                    .set_modified(std::time::SystemTime::now())
                    .unwrap();
            }
            let started = Instant::now();
            let listing = inbox.sync().unwrap();
            times.push(started.elapsed());
            assert_eq!(listing.messages.len(), n);
        }
        times.sort();
        times
    };
    let changed = measure(true);
    std::thread::sleep(DIR_SETTLE + Duration::from_millis(100));
    let settled = measure(false);
    println!("listing {n} messages with dovecot-uidlist:");
    println!("  columba first sync (assign {n} UIDs, write uidlist)  {sync_time:.2?}");
    println!(
        "  columba sync(), cur/ just changed (reads new/ + cur/, uidlist remembered, no lock): median {:.2?}, best {:.2?}",
        changed[changed.len() / 2],
        changed[0]
    );
    println!(
        "  columba sync(), nothing changed, directories settled (stats + copy): median {:.2?}, best {:.2?} (target < 200 ms)",
        settled[settled.len() / 2],
        settled[0]
    );
    let times = changed;

    // Dovecot on the same Maildir: the first fetch builds its index.
    let fetch = || {
        let started = Instant::now();
        let out = dovecot.doveadm(&["fetch", "-u", "big", "uid flags", "mailbox", "INBOX", "all"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (started.elapsed(), out.stdout.len())
    };
    let (first, _) = fetch();
    let mut dtimes: Vec<Duration> = (0..3).map(|_| fetch().0).collect();
    dtimes.sort();
    println!(
        "  doveadm fetch 'uid flags' all: first (builds index) {first:.2?}, warm median {:.2?}",
        dtimes[1]
    );
    println!(
        "  ratio: doveadm warm fetch time / columba sync() after a change = {:.2}",
        dtimes[1].as_secs_f64() / times[times.len() / 2].as_secs_f64()
    );
}

fn main() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        run_child(&dir);
    }
    // `cargo test --benches` runs bench targets with `--bench` absent: keep that quick.
    if !std::env::args().any(|a| a == "--bench") {
        println!("maildir_bench: run with `cargo bench` to measure");
        return;
    }
    if find_tool("dovecot-lda").is_none() || find_tool("doveadm").is_none() {
        println!("maildir_bench: SKIPPED (Dovecot not installed)");
        return;
    }
    // Running, so dovecot-lda and doveadm can look users up in its auth process.
    let dovecot = PrivateDovecot::start(
        DovecotConfig::default()
            .user("lda", "x")
            .user("columba", "x")
            .user("library", "x")
            .user("big", "x"),
    )
    .unwrap();
    bench_delivery(&dovecot);
    bench_listing(&dovecot);
}

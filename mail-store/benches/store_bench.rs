//! Benchmarks, side by side with Dovecot 2.3 in one run, on the same files:
//! the 03-carol-10k fixture (9,900 messages, Dovecot's index present)
//! served by a private Dovecot over IMAP, and read by Columba directly.
//!
//! 0. Open the mailbox cold (uidlist, no index): `sync` (builds the index)
//!    vs Dovecot's first `SELECT` (builds its index), once each.
//! 1. Open the mailbox (warm: index present): `MailboxSnapshot::open` vs `SELECT`.
//! 2. Flags of all messages: open + FLAGS of every message vs `FETCH 1:* (FLAGS)`.
//! 3. Header search over all messages: `SEARCH SUBJECT` (no header cache).
//! 4. BODYSTRUCTURE of all messages from the files vs `FETCH 1:* (BODYSTRUCTURE)`.
//!
//!
//! Then on a generated Maildir (deterministic: varied senders, subjects,
//! sizes, flags, every seventh message multipart; made once and kept
//! under the target directory, then hard-linked into each copy):
//!
//! 5. Open cold (no uidlist, no index) a mailbox of `COLUMBA_BENCH_MESSAGES`
//!    messages (default 100,000): `sync` vs Dovecot's first `SELECT`, each
//!    on its own fresh copy, median of 3.
//! 6. Open it warm: `mailbox_status` (what SELECT reports), the same
//!    through a `StatusCache` (a mailbox opened again in one process, as
//!    Dovecot keeps closed indexes open) and `MailboxSnapshot::open`
//!    (every message's flags), vs `EXAMINE` of the mailbox again.
//! 7. Open + FLAGS of all of it vs `FETCH 1:* (FLAGS)`.
//! 8. On 10,000 of those messages: `SEARCH SUBJECT` first ever (nothing
//!    cached: both read every file and cache `hdr.Subject`) and warm (from
//!    the cache), and BODYSTRUCTURE of all, first ever and warm.
//!    Columba's side is [`MessageCache`] (what a session would call).
//!
//! Run: `cargo bench -p columba-mail-store --bench store_bench`
//! (needs Dovecot; prints medians of 5 runs unless said otherwise, and the
//! ratio Dovecot/Columba: above 1 means Columba is faster).

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use columba_interop::{find_tool, DovecotConfig, PrivateDovecot};
use columba_mail_store::search::SearchKey;
use columba_mail_store::store::{
    mailbox_status, sync, CachedItem, IndexState, MailboxSnapshot, MessageCache, StatusCache,
};
use columba_mail_store::Message;
use columba_maildir::Mailbox;
use common::ImapClient;

fn median(mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..5)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[2]
}

fn report(what: &str, columba: Duration, dovecot: Duration) {
    println!(
        "{what:<44} columba {:>9.2} ms   dovecot {:>9.2} ms   dovecot/columba {:>6.2}",
        columba.as_secs_f64() * 1e3,
        dovecot.as_secs_f64() * 1e3,
        dovecot.as_secs_f64() / columba.as_secs_f64()
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    if find_tool("dovecot").is_none() {
        println!("SKIPPED: dovecot is not installed");
        return;
    }
    fixture_mailbox();
    generated_mailbox();
}

fn fixture_mailbox() {
    let mut config = DovecotConfig::default().user("carol", "carolpw");
    for run in 0..3 {
        config = config.user(&format!("cold{run}"), &format!("cold{run}pw"));
    }
    let dovecot = PrivateDovecot::start(config).unwrap();
    let maildir = dovecot.maildir("carol");
    columba_interop::install_fixture_maildir("03-carol-10k", &maildir).unwrap();

    // cold: fresh copies without index files (the uidlist stays), three
    // for each side, written back to disk before any is timed
    let mut copies = Vec::new();
    for run in 0..3 {
        let user = format!("cold{run}");
        let theirs = dovecot.maildir(&user);
        let mine = dovecot.root().join(format!("cold-columba{run}"));
        for dir in [&theirs, &mine] {
            columba_interop::install_fixture_maildir("03-carol-10k", dir).unwrap();
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("dovecot.index")
                {
                    std::fs::remove_file(p).unwrap();
                }
            }
        }
        dovecot.fix_ownership(&user).unwrap();
        copies.push((user, mine));
    }
    dovecot.fix_ownership("carol").unwrap();
    write_back();
    let (mut c, mut d) = (Vec::new(), Vec::new());
    for (user, mine) in &copies {
        let t = Instant::now();
        let synced = sync(&Mailbox::at(mine, mine, "INBOX")).unwrap();
        c.push(t.elapsed());
        assert!(
            synced.created_index && synced.appended.len() == 9900,
            "{synced:?}"
        );
        let mut cold = ImapClient::connect(dovecot.imap_port);
        assert!(cold
            .command(&format!("LOGIN {user} {user}pw"))
            .1
            .starts_with("OK"));
        let t = Instant::now();
        let (u, ok) = cold.command("SELECT INBOX");
        d.push(t.elapsed());
        assert!(
            ok.starts_with("OK") && u.iter().any(|l| l == b"* 9900 EXISTS\r\n"),
            "{ok}"
        );
        cold.command("LOGOUT");
    }
    report(
        "open mailbox, cold (no index; median of 3)",
        median_of(c),
        median_of(d),
    );

    let inbox = Mailbox::at(&maildir, &maildir, "INBOX");

    let mut imap = ImapClient::connect(dovecot.imap_port);
    assert!(imap.command("LOGIN carol carolpw").1.starts_with("OK"));
    // warm both sides once (page cache, Dovecot's first sync of the copy)
    assert!(imap.command("SELECT INBOX").1.starts_with("OK"));
    let mut snap = MailboxSnapshot::open(&inbox).unwrap();
    println!("messages: {}", snap.messages.len());

    let c = median(|| {
        MailboxSnapshot::open(&inbox).unwrap();
    });
    let d = median(|| {
        assert!(imap.command("EXAMINE INBOX").1.starts_with("OK"));
    });
    report("open mailbox, warm (SELECT/EXAMINE)", c, d);

    let c = median(|| {
        let s = MailboxSnapshot::open(&inbox).unwrap();
        let total: usize = s.messages.iter().map(|m| m.flags_imap().len()).sum();
        assert!(total > 0);
    });
    let d = median(|| {
        let (u, ok) = imap.command("FETCH 1:* (FLAGS)");
        assert!(ok.starts_with("OK") && u.len() >= 9900);
    });
    report("open + FLAGS of all messages", c, d);

    let key = SearchKey::parse("SUBJECT \"message #04242\"").unwrap();
    let c = median(|| {
        let hits = snap.search(&key, 0, 0).unwrap();
        assert_eq!(hits.len(), 1);
    });
    let d = median(|| {
        let (u, ok) = imap.command("SEARCH SUBJECT \"message #04242\"");
        assert!(ok.starts_with("OK"), "{ok}");
        assert_eq!(String::from_utf8_lossy(&u[0]).split_whitespace().count(), 3);
    });
    report(
        "header search (SUBJECT): Columba from the files, Dovecot from its cache",
        c,
        d,
    );
    let c = median(|| {
        let mut cache = MessageCache::open(&inbox).unwrap();
        assert_eq!(cache.search(&mut snap, &key, 0, 0).unwrap().len(), 1);
        assert_eq!(cache.files_opened(), 0);
    });
    report("header search (SUBJECT), Dovecot's hdr.Subject", c, d);

    let c = median(|| {
        let mut total = 0;
        for m in &snap.messages {
            let data = m.read().unwrap();
            total += Message::parse(&data).bodystructure_imap(true).len();
        }
        assert!(total > 0);
    });
    let d = median(|| {
        let (u, ok) = imap.command("FETCH 1:* (BODYSTRUCTURE)");
        assert!(ok.starts_with("OK") && u.len() >= 9900);
    });
    report(
        "BODYSTRUCTURE of all: Columba parsing every file, Dovecot from its cache",
        c,
        d,
    );
    // the first run parses and caches, the other four read the cache
    let c = median(|| {
        let mut cache = MessageCache::open(&inbox).unwrap();
        bodystructures(&mut cache, &mut snap);
    });
    report("BODYSTRUCTURE of all (both: cached after run 1)", c, d);
}

fn median_of(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// Where generated mailboxes are kept between runs: under the target
/// directory (`CARGO_TARGET_DIR`, else found from this executable's path).
fn data_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            let exe = std::env::current_exe().ok()?;
            // <target>/<profile>/deps/store_bench-<hash>
            Some(exe.parent()?.parent()?.parent()?.to_path_buf())
        })
        .unwrap_or_else(|| PathBuf::from("target"));
    target.join("columba-bench-data")
}

const SENDERS: [&str; 7] = [
    "Ann Archer <ann@example.com>",
    "\"Baker, Bob\" <bob.baker@example.org>",
    "=?utf-8?q?C=C3=A9line_Cooper?= <celine@example.net>",
    "dee@example.com",
    "Eve Evans <eve@lists.example.com>",
    "Finn <finn@example.co.uk>",
    "Gus Green <gus@example.com>",
];
const TOPICS: [&str; 9] = [
    "quarterly report",
    "lunch on friday?",
    "Re: build failures",
    "invoice",
    "=?utf-8?q?Gr=C3=BC=C3=9Fe?= from the team",
    "meeting notes",
    "Fwd: holiday plans",
    "release checklist",
    "your order has shipped",
];

/// Message number `i` of the generated mailbox (LF line endings).
fn generated_message(i: usize) -> Vec<u8> {
    let mut m = String::with_capacity(1024);
    m.push_str("Return-Path: <bounce@example.com>\n");
    m.push_str(&format!("From: {}\n", SENDERS[i % SENDERS.len()]));
    m.push_str("To: Carol <carol@example.org>\n");
    if i.is_multiple_of(4) {
        m.push_str("Cc: team@example.org, \"Dan D.\" <dan@example.org>\n");
    }
    m.push_str(&format!(
        "Subject: {} #{i:06}\n",
        TOPICS[(i / 3) % TOPICS.len()]
    ));
    if i.is_multiple_of(11) {
        m.push_str(" (continued)\n");
    }
    m.push_str(&format!(
        "Date: {}, {} Feb 2024 {:02}:{:02}:{:02} +0100\n",
        ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][i % 7],
        1 + i % 28,
        i % 24,
        i % 60,
        (i * 7) % 60
    ));
    m.push_str(&format!("Message-ID: <gen-{i}@example.com>\n"));
    if i.is_multiple_of(5) {
        m.push_str(&format!(
            "In-Reply-To: <gen-{}@example.com>\nReferences: <gen-{}@example.com>\n",
            i / 2,
            i / 2
        ));
    }
    let lines = 1 + (i * 13) % 60;
    let text: String = (0..lines)
        .map(|l| format!("line {l} of message {i}: lorem ipsum dolor sit amet\n"))
        .collect();
    if i.is_multiple_of(7) {
        m.push_str("MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=\"b-");
        m.push_str(&format!(
            "{i}\"\n\n--b-{i}\nContent-Type: text/plain; charset=utf-8\n\n"
        ));
        m.push_str(&text);
        m.push_str(&format!(
            "--b-{i}\nContent-Type: text/html; charset=utf-8\n\n<p>{}</p>\n--b-{i}--\n",
            text.replace('\n', "<br>")
        ));
    } else {
        m.push('\n');
        m.push_str(&text);
    }
    m.into_bytes()
}

/// A Maildir of `count` generated messages in `cur/` (file names carry
/// `S=` and `W=`), made once and reused.
fn generate(count: usize) -> PathBuf {
    let dir = data_dir().join(format!("generated-{count}"));
    if dir.join("complete").exists() {
        return dir;
    }
    let t = Instant::now();
    let _ = std::fs::remove_dir_all(&dir);
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    for i in 1..=count {
        let data = generated_message(i);
        let vsize = data.len() + data.iter().filter(|&&b| b == b'\n').count();
        let flags = match (!i.is_multiple_of(3), i.is_multiple_of(17)) {
            (true, true) => "FS",
            (true, false) => "S",
            (false, true) => "F",
            (false, false) => "",
        };
        let name = format!(
            "{}.M{}P4242.bench.example,S={},W={vsize}:2,{flags}",
            1_706_000_000 + i / 10,
            (i % 10) * 100_000 + i % 1000,
            data.len()
        );
        std::fs::write(dir.join("cur").join(name), &data).unwrap();
    }
    std::fs::write(dir.join("complete"), b"").unwrap();
    println!(
        "generated {count} messages in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    dir
}

/// A fresh copy of a generated Maildir: directories created, message
/// files hard-linked (neither side changes them).
fn link_copy(src: &Path, dest: &Path) {
    let _ = std::fs::remove_dir_all(dest);
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(dest.join(sub)).unwrap();
    }
    for e in std::fs::read_dir(src.join("cur")).unwrap() {
        let e = e.unwrap();
        std::fs::hard_link(e.path(), dest.join("cur").join(e.file_name())).unwrap();
    }
}

fn login(dovecot: &PrivateDovecot, user: &str) -> ImapClient {
    let mut imap = ImapClient::connect(dovecot.imap_port);
    let (_, ok) = imap.command(&format!("LOGIN {user} {user}pw"));
    assert!(ok.starts_with("OK"), "{ok}");
    imap
}

fn generated_mailbox() {
    let count: usize = std::env::var("COLUMBA_BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let small = count.min(10_000);
    let big = generate(count);
    let ten_k = generate(small);
    let mut config = DovecotConfig::default();
    for u in ["cold0", "cold1", "cold2", "s0", "s1", "s2"] {
        config = config.user(u, &format!("{u}pw"));
    }
    let dovecot = PrivateDovecot::start(config).unwrap();
    let ours = dovecot.root().join("columba");

    // 5. cold open of the big mailbox, three fresh copies per side
    let mut c = Vec::new();
    let mut d = Vec::new();
    for run in 0..3 {
        let theirs = dovecot.maildir(&format!("cold{run}"));
        link_copy(&big, &theirs);
        dovecot.fix_ownership(&format!("cold{run}")).unwrap();
        let mine = ours.join(format!("cold{run}"));
        link_copy(&big, &mine);
        write_back();
        let t = Instant::now();
        let report = sync(&Mailbox::at(&mine, &mine, "INBOX")).unwrap();
        c.push(t.elapsed());
        assert_eq!(report.appended.len(), count);
        let mut imap = login(&dovecot, &format!("cold{run}"));
        let t = Instant::now();
        let (u, ok) = imap.command("SELECT INBOX");
        d.push(t.elapsed());
        assert!(ok.starts_with("OK"), "{ok}");
        let exists = format!("* {count} EXISTS\r\n");
        assert!(u.iter().any(|l| l == exists.as_bytes()));
        imap.command("LOGOUT");
    }
    report(
        &format!("{count} messages: open cold (no index; median of 3)"),
        median_of(c),
        median_of(d),
    );

    // 6./7. warm open and flags of all on the first copy
    let mine = ours.join("cold0");
    let inbox = Mailbox::at(&mine, &mine, "INBOX");
    // Dovecot in a new session each time (its index read afresh)
    let fresh_d = median_of(
        (0..5)
            .map(|_| {
                let mut s = login(&dovecot, "cold0");
                let t = Instant::now();
                assert!(s.command("EXAMINE INBOX").1.starts_with("OK"));
                let e = t.elapsed();
                s.command("LOGOUT");
                e
            })
            .collect(),
    );
    let mut imap = login(&dovecot, "cold0");
    assert!(imap.command("EXAMINE INBOX").1.starts_with("OK"));
    // Dovecot again in the same session (its index kept open)
    let d = median(|| {
        assert!(imap.command("EXAMINE INBOX").1.starts_with("OK"));
    });
    let c = median(|| {
        assert_eq!(mailbox_status(&inbox).unwrap().messages as usize, count);
    });
    report(
        &format!("{count} messages: open warm, new session (SELECT counts)"),
        c,
        fresh_d,
    );
    let mut statuses = StatusCache::default();
    statuses.status(&inbox).unwrap();
    let c = median(|| {
        assert_eq!(statuses.status(&inbox).unwrap().messages as usize, count);
    });
    report(
        &format!("{count} messages: open warm again, same session (StatusCache)"),
        c,
        d,
    );
    let c = median(|| {
        assert_eq!(MailboxSnapshot::open(&inbox).unwrap().messages.len(), count);
    });
    report(
        &format!("{count} messages: open warm again, per-message view"),
        c,
        d,
    );
    let c = median(|| {
        let state = IndexState::open(&inbox).unwrap();
        assert_eq!(state.len(), count);
        std::hint::black_box((state.first_unseen(), state.recent_count(), state.keywords()));
    });
    report(
        &format!("{count} messages: open warm again, SELECT's counts (IndexState)"),
        c,
        d,
    );
    let c = median(|| {
        let s = MailboxSnapshot::open(&inbox).unwrap();
        let total: usize = s.messages.iter().map(|m| m.flags_imap().len()).sum();
        assert!(total > 0);
    });
    let d = median(|| {
        let (u, ok) = imap.command("FETCH 1:* (FLAGS)");
        assert!(ok.starts_with("OK") && u.len() >= count);
    });
    report(&format!("{count} messages: open + FLAGS of all"), c, d);
    imap.command("LOGOUT");

    // 8. header search and BODYSTRUCTURE on 10,000 messages: the first
    // ever (nothing cached, fresh copies) and warm
    let key = SearchKey::parse("SUBJECT \"invoice #000\"").unwrap();
    let mut cold_c = Vec::new();
    let mut cold_d = Vec::new();
    let mut bs_cold_c = Vec::new();
    let mut bs_cold_d = Vec::new();
    let mut hits = 0;
    for run in 0..3 {
        let user = format!("s{run}");
        let theirs = dovecot.maildir(&user);
        link_copy(&ten_k, &theirs);
        dovecot.fix_ownership(&user).unwrap();
        let mine = ours.join(&user);
        link_copy(&ten_k, &mine);
        let inbox = Mailbox::at(&mine, &mine, "INBOX");
        sync(&inbox).unwrap();
        let mut snap = MailboxSnapshot::open(&inbox).unwrap();
        write_back();
        let t = Instant::now();
        let mut cache = MessageCache::open(&inbox).unwrap();
        hits = cache.search(&mut snap, &key, 0, 0).unwrap().len();
        cold_c.push(t.elapsed());
        let mut imap = login(&dovecot, &user);
        assert!(imap.command("SELECT INBOX").1.starts_with("OK"));
        let t = Instant::now();
        let (u, ok) = imap.command("SEARCH SUBJECT \"invoice #000\"");
        cold_d.push(t.elapsed());
        assert!(ok.starts_with("OK"), "{ok}");
        let theirs_hits = String::from_utf8_lossy(&u[0]).split_whitespace().count() - 2;
        assert_eq!(theirs_hits, hits);

        let t = Instant::now();
        let mut cache = MessageCache::open(&inbox).unwrap();
        bodystructures(&mut cache, &mut snap);
        bs_cold_c.push(t.elapsed());
        let t = Instant::now();
        let (u, ok) = imap.command("FETCH 1:* (BODYSTRUCTURE)");
        bs_cold_d.push(t.elapsed());
        assert!(ok.starts_with("OK") && u.len() >= small);
        imap.command("LOGOUT");
    }
    report(
        &format!("{small} messages: SEARCH SUBJECT, first ever (median of 3)"),
        median_of(cold_c),
        median_of(cold_d),
    );
    let mine = ours.join("s0");
    let inbox = Mailbox::at(&mine, &mine, "INBOX");
    let mut snap = MailboxSnapshot::open(&inbox).unwrap();
    let mut imap = login(&dovecot, "s0");
    assert!(imap.command("SELECT INBOX").1.starts_with("OK"));
    let c = median(|| {
        let mut cache = MessageCache::open(&inbox).unwrap();
        assert_eq!(cache.search(&mut snap, &key, 0, 0).unwrap().len(), hits);
        assert_eq!(cache.files_opened(), 0);
    });
    let d = median(|| {
        let (_, ok) = imap.command("SEARCH SUBJECT \"invoice #000\"");
        assert!(ok.starts_with("OK"), "{ok}");
    });
    report(
        &format!("{small} messages: SEARCH SUBJECT, warm (cached)"),
        c,
        d,
    );
    report(
        &format!("{small} messages: BODYSTRUCTURE of all, first ever (median of 3)"),
        median_of(bs_cold_c),
        median_of(bs_cold_d),
    );
    let c = median(|| {
        let mut cache = MessageCache::open(&inbox).unwrap();
        bodystructures(&mut cache, &mut snap);
        assert_eq!(cache.files_opened(), 0);
    });
    let d = median(|| {
        let (u, ok) = imap.command("FETCH 1:* (BODYSTRUCTURE)");
        assert!(ok.starts_with("OK") && u.len() >= small);
    });
    report(
        &format!("{small} messages: BODYSTRUCTURE of all, warm (cached)"),
        c,
        d,
    );
    imap.command("LOGOUT");
}

/// BODYSTRUCTURE of every message, through the cache, then cached.
fn bodystructures(cache: &mut MessageCache, snap: &mut MailboxSnapshot) {
    let mut total = 0;
    for seq in 1..=snap.messages.len() as u32 {
        total += cache
            .fetch(snap, seq, &CachedItem::BodyStructure)
            .unwrap()
            .len();
    }
    cache.flush().unwrap();
    assert!(total > 0);
}

/// Writes dirty pages back (`sync`), so that no side's fsyncs pay for
/// the copies just made.
fn write_back() {
    let _ = std::process::Command::new("sync").status();
}

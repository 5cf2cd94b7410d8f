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
//! Run: `cargo bench -p columba-mail-store --bench store_bench`
//! (needs Dovecot; prints medians of 5 runs and the ratio Dovecot/Columba).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use columba_interop::{find_tool, DovecotConfig, PrivateDovecot};
use columba_mail_store::search::SearchKey;
use columba_mail_store::store::{sync, MailboxSnapshot};
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
    let dovecot = PrivateDovecot::start(
        DovecotConfig::default()
            .user("carol", "carolpw")
            .user("cold", "coldpw"),
    )
    .unwrap();
    let maildir = dovecot.maildir("carol");
    columba_interop::install_fixture_maildir("03-carol-10k", &maildir).unwrap();

    // cold: two copies without index files, one for each side
    let cold_dovecot = dovecot.maildir("cold");
    let cold_columba = dovecot.root().join("cold-columba");
    for dir in [&cold_dovecot, &cold_columba] {
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
    dovecot.fix_ownership("carol").unwrap();
    dovecot.fix_ownership("cold").unwrap();
    let t = Instant::now();
    let synced = sync(&Mailbox::at(&cold_columba, &cold_columba, "INBOX")).unwrap();
    let c = t.elapsed();
    assert!(
        synced.created_index && synced.appended.len() == 9900,
        "{synced:?}"
    );
    let mut cold = ImapClient::connect(dovecot.imap_port);
    assert!(cold.command("LOGIN cold coldpw").1.starts_with("OK"));
    let t = Instant::now();
    let (u, ok) = cold.command("SELECT INBOX");
    let d = t.elapsed();
    assert!(
        ok.starts_with("OK") && u.iter().any(|l| l == b"* 9900 EXISTS\r\n"),
        "{ok}"
    );
    report("open mailbox, cold (no index; single run)", c, d);

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
    report("header search (SUBJECT) over all messages", c, d);

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
        "BODYSTRUCTURE of all messages (Dovecot: cached after run 1)",
        c,
        d,
    );
}

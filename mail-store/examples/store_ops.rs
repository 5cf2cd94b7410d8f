//! The store calls an IMAP session makes for the server benchmark's mixed
//! round, without the session: SELECT (`sync` + `open_select`), FETCH of
//! three bodies (`MessageCache::open`, `MailboxSnapshot::open`,
//! `resolve_files`, read), STORE +/-\Flagged, APPEND (streamed to `tmp/`,
//! then `commit_appends`), UID STORE +\Deleted and EXPUNGE, over a fresh
//! Maildir of MESSAGES messages. Prints the mean time of each call.
//!
//! ```sh
//! cargo run --release -p columba-mail-store --example store_ops -- 300 100
//! strace -f -o trace.txt target/release/examples/store_ops 20 100 --mark
//! ```
//!
//! With `--mark`, each operation is preceded by a `stat` of
//! `/nonexistent-mark/<n>` (and followed by one of `/nonexistent-mark/end`),
//! so that a system call trace can be cut into operations.

use std::time::Instant;

use columba_mail_store::search::MessageFlags;
use columba_mail_store::store::{
    self, AppendLimit, AppendMeta, MailboxSnapshot, MessageCache, MessageWriter, StoreMode,
};
use columba_maildir::Maildir;

/// The operations of one round, as reported.
const OPERATIONS: [&str; 6] = [
    "SELECT (sync + open_select)",
    "FETCH 3 bodies",
    "STORE +/-\\Flagged",
    "APPEND",
    "UID STORE +\\Deleted",
    "EXPUNGE",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(300);
    let messages: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100);
    let mark = std::env::args().any(|a| a == "--mark");
    let home = tempfile::tempdir()?;
    let maildir = Maildir::create(&home.path().join("Maildir"))?;
    let inbox = maildir.inbox();
    let body = format!(
        "From: a@example.com\r\nTo: b@example.com\r\nSubject: hello\r\n\r\n{}\r\n",
        "x".repeat(2000)
    );
    let seen = MessageFlags {
        seen: true,
        ..MessageFlags::default()
    };
    let append = || -> Result<u32, Box<dyn std::error::Error>> {
        let meta = AppendMeta {
            flags: seen,
            keywords: Vec::new(),
            internal_date: None,
        };
        let mut writer = MessageWriter::new(&inbox, meta, AppendLimit::NONE)?;
        writer.write(body.as_bytes())?;
        let staged = writer.finish()?;
        Ok(store::commit_appends(&inbox, vec![staged])?[0].uid)
    };
    store::sync(&inbox)?;
    for _ in 0..messages {
        append()?;
    }
    let mut spent = [0f64; OPERATIONS.len()];
    let started = Instant::now();
    for round in 0..rounds {
        let mut timed =
            |i: usize, op: &mut dyn FnMut() -> Result<(), Box<dyn std::error::Error>>| {
                if mark {
                    let _ = std::fs::metadata(format!("/nonexistent-mark/{i}"));
                }
                let t = Instant::now();
                let result = op();
                spent[i] += t.elapsed().as_secs_f64();
                if mark {
                    let _ = std::fs::metadata("/nonexistent-mark/end");
                }
                result
            };
        timed(0, &mut || {
            store::sync(&inbox)?;
            MailboxSnapshot::open_select(&inbox)?;
            Ok(())
        })?;
        timed(1, &mut || {
            let _cache = MessageCache::open(&inbox)?;
            let mut snap = MailboxSnapshot::open(&inbox)?;
            snap.resolve_files()?;
            for seq in [3, 50, 77] {
                if let Some(m) = snap.messages.get(seq - 1) {
                    m.read()?;
                    m.internal_date()?;
                }
            }
            Ok(())
        })?;
        let fifth = MailboxSnapshot::open(&inbox)?.messages[4].uid;
        let mode = if round % 2 == 0 {
            StoreMode::Remove
        } else {
            StoreMode::Add
        };
        let flagged = MessageFlags {
            flagged: true,
            ..MessageFlags::default()
        };
        timed(2, &mut || {
            store::store_flags(&inbox, &[fifth], mode, flagged, &[])?;
            Ok(())
        })?;
        let mut uid = 0;
        timed(3, &mut || {
            uid = append()?;
            Ok(())
        })?;
        let deleted = MessageFlags {
            deleted: true,
            ..MessageFlags::default()
        };
        timed(4, &mut || {
            store::store_flags(&inbox, &[uid], StoreMode::Add, deleted, &[])?;
            Ok(())
        })?;
        timed(5, &mut || {
            store::expunge(&inbox, &[uid])?;
            Ok(())
        })?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{:.0} operations/s over {rounds} rounds, {messages} messages",
        (rounds * OPERATIONS.len()) as f64 / elapsed
    );
    for (i, name) in OPERATIONS.iter().enumerate() {
        println!("{name:28} {:.3} ms", spent[i] * 1000.0 / rounds as f64);
    }
    Ok(())
}

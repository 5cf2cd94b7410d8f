//! The server benchmark's mixed round (SELECT, FETCH 1:* FLAGS, FETCH of
//! three bodies, STORE, APPEND, UID STORE \Deleted, EXPUNGE) run by one
//! [`ImapSession`] over a [`MaildirStorage`] in this process, without
//! sockets or other processes: for profiling the session and the store.
//!
//! ```sh
//! cargo run --release -p columba-session --example mixed_rounds -- 1000
//! perf record --call-graph dwarf target/release/examples/mixed_rounds 300
//! ```
//!
//! Prints operations per second and the mean time of each command.

use std::time::Instant;

use columba_session::{ImapConfig, ImapSession, MaildirStorage};

/// The commands of one round, as reported.
const COMMANDS: [&str; 7] = [
    "SELECT",
    "FETCH 1:* (FLAGS)",
    "FETCH 3 x BODY.PEEK[]",
    "STORE +/-FLAGS",
    "APPEND",
    "UID STORE \\Deleted",
    "EXPUNGE",
];

/// Sends one command line and returns the session's answer.
fn command(imap: &mut ImapSession, line: &str) -> String {
    imap.feed(line.as_bytes());
    String::from_utf8_lossy(&imap.take_output()).into_owned()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000);
    let messages: usize = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100);
    let home = tempfile::tempdir()?;
    let mut imap = ImapSession::new(ImapConfig {
        plaintext_without_tls: true,
        ..ImapConfig::default()
    });
    imap.take_output();
    imap.feed(b"a LOGIN demo secret\r\n");
    while imap.poll_event().is_some() {}
    let storage = MaildirStorage::open(&home.path().join("Maildir"))?;
    imap.login_succeeded("demo", Box::new(storage));
    imap.take_output();
    let body = format!(
        "From: a@example.com\r\nTo: b@example.com\r\nSubject: hello\r\n\r\n{}\r\n",
        "x".repeat(2000)
    );
    let append = format!("APPEND INBOX (\\Seen) {{{}+}}\r\n{body}\r\n", body.len());
    for _ in 0..messages {
        command(&mut imap, &format!("a {append}"));
    }
    let started = Instant::now();
    let mut spent = [0f64; COMMANDS.len()];
    for round in 0..rounds {
        let mut timed = |i: usize, line: &str| -> Result<String, String> {
            let t = Instant::now();
            let answer = command(&mut imap, line);
            spent[i] += t.elapsed().as_secs_f64();
            if answer.contains("a OK") {
                Ok(answer)
            } else {
                Err(format!("{}: {answer}", COMMANDS[i]))
            }
        };
        let sign = if round % 2 == 0 { '-' } else { '+' };
        timed(0, "a SELECT INBOX\r\n")?;
        timed(1, "a FETCH 1:* (FLAGS)\r\n")?;
        timed(2, "a FETCH 3,50,77 (BODY.PEEK[])\r\n")?;
        timed(3, &format!("a STORE 5 {sign}FLAGS (\\Flagged)\r\n"))?;
        let appended = timed(4, &format!("a {append}"))?;
        let uid = appended
            .split("[APPENDUID ")
            .nth(1)
            .and_then(|r| r.split([' ', ']']).nth(1))
            .and_then(|u| u.parse::<u32>().ok())
            .ok_or_else(|| format!("APPEND: {appended}"))?;
        timed(
            5,
            &format!("a UID STORE {uid} +FLAGS.SILENT (\\Deleted)\r\n"),
        )?;
        let expunged = timed(6, "a EXPUNGE\r\n")?;
        if !expunged.contains(" EXPUNGE\r\n") {
            return Err(format!("EXPUNGE: {expunged}").into());
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{:.0} ops/s over {rounds} rounds, {messages} messages",
        (rounds * COMMANDS.len()) as f64 / elapsed
    );
    for (i, name) in COMMANDS.iter().enumerate() {
        println!("{name:24} {:.3} ms", spent[i] * 1000.0 / rounds as f64);
    }
    Ok(())
}

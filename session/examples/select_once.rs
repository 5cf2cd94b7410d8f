//! Logs in over a Maildir++ root given on the command line and times
//! SELECT INBOX (twice) and FETCH 1:* (FLAGS), or the commands given
//! after the root: for profiling a warm open of a big mailbox in a new
//! process. A command `!deliver` puts a message into INBOX's `new/` as
//! another process would.
//!
//! ```sh
//! cargo run --release -p columba-session --example select_once -- ~/Maildir
//! ```

use std::time::Instant;

use columba_session::{ImapConfig, ImapSession, MaildirStorage};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = std::env::args()
        .nth(1)
        .ok_or("usage: select_once MAILDIR")?;
    let mut imap = ImapSession::new(ImapConfig {
        plaintext_without_tls: true,
        ..ImapConfig::default()
    });
    imap.take_output();
    imap.feed(b"a LOGIN user secret\r\n");
    while imap.poll_event().is_some() {}
    let storage = MaildirStorage::open(root.as_ref())?;
    imap.login_succeeded("user", Box::new(storage));
    imap.take_output();
    let given: Vec<String> = std::env::args().skip(2).collect();
    let lines: Vec<&str> = if given.is_empty() {
        vec!["s1 SELECT INBOX", "s2 SELECT INBOX", "f FETCH 1:* (FLAGS)"]
    } else {
        given.iter().map(String::as_str).collect()
    };
    for (n, line) in lines.into_iter().enumerate() {
        if line == "!deliver" {
            // another process's delivery into INBOX's new/
            let name = format!("1800000000.M{n}P{}.elsewhere", std::process::id());
            let tmp = std::path::Path::new(&root).join("tmp").join(&name);
            std::fs::write(&tmp, format!("Subject: delivered {n}\r\n\r\nhi\r\n"))?;
            std::fs::rename(&tmp, std::path::Path::new(&root).join("new").join(&name))?;
            continue;
        }
        let t = Instant::now();
        imap.feed(format!("{line}\r\n").as_bytes());
        let out = imap.take_output();
        let last = out
            .rsplit(|b| *b == b'\n')
            .nth(1)
            .map(String::from_utf8_lossy)
            .unwrap_or_default();
        println!(
            "{line:24} {:8.2} ms  {}",
            t.elapsed().as_secs_f64() * 1e3,
            last.trim_end()
        );
    }
    Ok(())
}

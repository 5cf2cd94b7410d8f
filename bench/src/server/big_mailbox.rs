//! The big-mailbox section of the server benchmark: one user on each
//! server with an INBOX of N generated messages (100,000 by default) and a
//! 10,000-message folder to search, the same files on both sides, and the
//! timings a user notices over IMAP: the first SELECT ever (no index), a
//! SELECT in a new session and in the same session, `FETCH 1:* (FLAGS)`,
//! and a `SEARCH SUBJECT` first and second time. Every answer is checked
//! (EXISTS, FETCH lines, SEARCH hits) so a broken server cannot look fast.

use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use super::imap_client::{ImapClient, Response};
use super::messages::{generated_message, mailbox_dir, virtual_size, BenchMessage, Rng};
use super::workload::Target;

/// The user that owns the big mailboxes on both servers.
pub const BIG_USER: &str = "bigbox";

/// The folder searched over (its own mailbox, so its index and cache start
/// empty independently of the INBOX's).
pub const SEARCH_FOLDER: &str = "search10k";

/// How many messages the searched folder holds (fewer when the INBOX is
/// smaller).
pub const SEARCH_MESSAGES: usize = 10_000;

/// The word searched for: in the subject of one message in 2,000.
pub const SEARCH_WORD: &str = "zebra";

/// Messages with [`SEARCH_WORD`] in their subject: one in this many.
const SEARCH_EVERY: usize = 2_000;

/// Subject words, so subjects vary as real ones do.
const SUBJECT_WORDS: &[&str] = &[
    "Re:", "meeting", "notes", "invoice", "report", "draft", "weekly", "update", "server",
    "backup", "review", "lunch", "plan", "budget", "release", "ticket",
];

/// How many messages of the first `count` have [`SEARCH_WORD`] in their
/// subject: what `SEARCH SUBJECT` must find.
pub fn expected_hits(count: usize) -> usize {
    (0..count).filter(|n| n % SEARCH_EVERY == 777).count()
}

/// The big mailbox's messages: small plain messages (bodies of 200 B to
/// 2 KB) with varied subjects, [`SEARCH_WORD`] in one in 2,000, a third of
/// them seen. The same bytes on every call.
pub fn big_messages(count: usize) -> Vec<BenchMessage> {
    let mut rng = Rng::new(100_000);
    (0..count)
        .map(|n| {
            let size = 200 + rng.below(1_800) as usize;
            let bytes = generated_message(n, size, &mut rng);
            let mut subject = String::new();
            for _ in 0..3 {
                subject.push_str(SUBJECT_WORDS[rng.below(SUBJECT_WORDS.len() as u64) as usize]);
                subject.push(' ');
            }
            if n % SEARCH_EVERY == 777 {
                subject.push_str(SEARCH_WORD);
                subject.push(' ');
            }
            subject.push_str(&n.to_string());
            let old = format!("Subject: Benchmark message {n}\n");
            let text = String::from_utf8_lossy(&bytes)
                .replacen(&old, &format!("Subject: {subject}\n"), 1)
                .into_bytes();
            BenchMessage {
                bytes: text,
                flags: if n % 3 == 0 {
                    "S".into()
                } else {
                    String::new()
                },
            }
        })
        .collect()
}

/// Writes `messages` into `mailbox` under the Maildir++ `root` with file
/// names that depend only on the message's position (`,S=` and `,W=`, as
/// Dovecot names its deliveries), so both servers get identical files.
pub fn write_mailbox(root: &Path, mailbox: &str, messages: &[BenchMessage]) -> io::Result<()> {
    let dir = mailbox_dir(root, mailbox);
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    if dir != root {
        std::fs::write(dir.join("maildirfolder"), b"")?;
    }
    for (i, m) in messages.iter().enumerate() {
        let name = format!(
            "{}.M{i}P1.bigbox,S={},W={}:2,{}",
            1_790_000_000 + i,
            m.bytes.len(),
            virtual_size(&m.bytes),
            m.flags
        );
        std::fs::write(dir.join("cur").join(name), &m.bytes)?;
    }
    Ok(())
}

/// Removes a mailbox's index files (everything in its directory but
/// `cur/`, `new/`, `tmp/` and `maildirfolder`), so the next SELECT is the
/// first ever; messages are untouched. For INBOX this also removes the
/// mailbox list index and the subscriptions at the Maildir++ root, which
/// are index files too. Returns how many files it removed.
pub fn remove_index(root: &Path, mailbox: &str) -> io::Result<usize> {
    let dir = mailbox_dir(root, mailbox);
    let mut removed = 0;
    for entry in std::fs::read_dir(&dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if entry.file_type()?.is_dir() || name == "maildirfolder" {
            continue;
        }
        std::fs::remove_file(entry.path())?;
        removed += 1;
    }
    Ok(removed)
}

/// Delivers `message` into `new/` of the INBOX at `root` as another
/// process would: written to `tmp/`, given the owner of `new/`, renamed.
pub fn deliver_to_new(root: &Path, name: &str, message: &[u8]) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let owner = std::fs::metadata(root.join("new"))?;
    let tmp = root.join("tmp").join(name);
    std::fs::write(&tmp, message)?;
    std::os::unix::fs::lchown(&tmp, Some(owner.uid()), Some(owner.gid()))?;
    std::fs::rename(&tmp, root.join("new").join(name))
}

/// A timed command: the time from sending it to its tagged completion.
pub fn timed(client: &mut ImapClient, command: &str) -> io::Result<(Duration, Response)> {
    let start = Instant::now();
    let r = client.command(command)?;
    let took = start.elapsed();
    if !r.is_ok() {
        return Err(io::Error::other(format!("{command}: {}", r.tagged)));
    }
    Ok((took, r))
}

/// `SELECT`/`EXAMINE` timed, checking the EXISTS count.
pub fn timed_open(
    client: &mut ImapClient,
    verb: &str,
    mailbox: &str,
    expected: usize,
) -> io::Result<Duration> {
    let (took, r) = timed(client, &format!("{verb} {mailbox}"))?;
    let exists = r.untagged_number("EXISTS").unwrap_or(0) as usize;
    if exists != expected {
        return Err(io::Error::other(format!(
            "{verb} {mailbox}: {exists} messages, expected {expected}"
        )));
    }
    Ok(took)
}

/// `FETCH 1:* (FLAGS)` timed, checking that every message was answered.
pub fn timed_fetch_flags(client: &mut ImapClient, expected: usize) -> io::Result<Duration> {
    let (took, r) = timed(client, "FETCH 1:* (FLAGS)")?;
    let lines = r.count("FETCH");
    if lines != expected {
        return Err(io::Error::other(format!(
            "FETCH 1:* (FLAGS): {lines} FETCH lines, expected {expected}"
        )));
    }
    Ok(took)
}

/// `SEARCH SUBJECT <word>` timed; returns the time and the hits.
pub fn timed_search(client: &mut ImapClient, word: &str) -> io::Result<(Duration, Vec<u32>)> {
    let (took, r) = timed(client, &format!("SEARCH SUBJECT \"{word}\""))?;
    let hits = r
        .untagged
        .iter()
        .filter_map(|l| l.strip_prefix("* SEARCH"))
        .flat_map(|rest| rest.split_whitespace().filter_map(|n| n.parse().ok()))
        .collect();
    Ok((took, hits))
}

/// Logs in as [`BIG_USER`] on `target`.
pub fn login(target: &Target) -> io::Result<ImapClient> {
    let mut c = ImapClient::connect(target.addr)?;
    c.login(BIG_USER, &target.password)?;
    Ok(c)
}

/// The median of `samples` (zero when empty).
pub fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_vary_and_the_search_word_is_rare() {
        let m = big_messages(4_000);
        let subjects: Vec<String> = m
            .iter()
            .map(|m| {
                let text = String::from_utf8_lossy(&m.bytes);
                text.lines()
                    .find(|l| l.starts_with("Subject: "))
                    .unwrap()
                    .to_string()
            })
            .collect();
        let hits = subjects.iter().filter(|s| s.contains(SEARCH_WORD)).count();
        assert_eq!(hits, expected_hits(4_000));
        assert_eq!(hits, 2);
        assert!(subjects.iter().all(|s| !s.contains("Benchmark message")));
        assert_eq!(big_messages(10)[9].bytes, m[9].bytes);
        assert_eq!(expected_hits(SEARCH_MESSAGES), 5);
    }

    #[test]
    fn removing_the_index_keeps_the_messages() {
        let dir = tempfile::tempdir().unwrap();
        let m = big_messages(5);
        write_mailbox(dir.path(), "INBOX", &m).unwrap();
        write_mailbox(dir.path(), SEARCH_FOLDER, &m).unwrap();
        std::fs::write(dir.path().join("dovecot.index"), b"x").unwrap();
        std::fs::write(dir.path().join("dovecot-uidlist"), b"x").unwrap();
        assert_eq!(remove_index(dir.path(), "INBOX").unwrap(), 2);
        assert_eq!(
            std::fs::read_dir(dir.path().join("cur")).unwrap().count(),
            5
        );
        assert!(dir.path().join(".search10k/maildirfolder").exists());
        let names: Vec<String> = std::fs::read_dir(dir.path().join("cur"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(names.iter().all(|n| n.contains(",S=") && n.contains(",W=")));
    }
}

//! A 1 GiB APPEND from a reader streams through a bounded buffer: the
//! process's peak resident memory grows by a few MiB, not by the message.
//! (Its own test binary, so no other test's memory is counted.)

use std::io::Read;

use columba_mail_store::store::{append_from_reader, AppendLimit, AppendMeta, MailboxSnapshot};
use columba_maildir::Mailbox;

/// A generated message: a header, then `total` bytes in all of 78-byte
/// CRLF lines.
struct Generated {
    total: u64,
    sent: u64,
}

const HEADER: &[u8] = b"Subject: big\r\nFrom: a@example.com\r\n\r\n";

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut line = [0u8; 78];
        for (i, b) in line.iter_mut().enumerate() {
            *b = b'a' + (i % 26) as u8;
        }
        line[76] = b'\r';
        line[77] = b'\n';
        let mut n = 0;
        while n < buf.len() && self.sent < self.total {
            let (src, at): (&[u8], u64) = if (self.sent as usize) < HEADER.len() {
                (HEADER, self.sent)
            } else {
                (&line, (self.sent - HEADER.len() as u64) % 78)
            };
            let take = (src.len() - at as usize)
                .min(buf.len() - n)
                .min((self.total - self.sent) as usize);
            buf[n..n + take].copy_from_slice(&src[at as usize..at as usize + take]);
            n += take;
            self.sent += take as u64;
        }
        Ok(n)
    }
}

/// Peak resident set size in KiB (`VmHWM`).
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn one_gib_append_keeps_memory_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    for d in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(tmp.path().join(d)).unwrap();
    }
    let inbox = Mailbox::at(tmp.path(), tmp.path(), "INBOX");
    let total: u64 = 1 << 30;
    let lines = (total - HEADER.len() as u64) / 78;
    let before = peak_rss_kib();
    let started = std::time::Instant::now();
    let appended = append_from_reader(
        &inbox,
        Generated { total, sent: 0 },
        AppendMeta::default(),
        AppendLimit::bytes(total),
    )
    .unwrap();
    let grown = peak_rss_kib().saturating_sub(before);
    eprintln!(
        "1 GiB append: {:.1} s, peak RSS grew by {grown} KiB",
        started.elapsed().as_secs_f64()
    );
    assert!(grown < 16 * 1024, "peak RSS grew by {grown} KiB");
    // stored with LF endings, RFC822.SIZE as sent
    let stored = std::fs::metadata(&appended.path).unwrap().len();
    assert_eq!(stored, total - lines - 3);
    let mut view = MailboxSnapshot::open(&inbox).unwrap();
    view.resolve_files().unwrap();
    assert_eq!(view.messages.len(), 1);
    assert_eq!(view.messages[0].rfc822_size().unwrap(), total);
    assert_eq!(
        std::fs::read_dir(tmp.path().join("tmp")).unwrap().count(),
        0
    );
}

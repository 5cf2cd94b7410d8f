//! The mail both servers are measured on: the message shapes of a
//! Dovecot-written fixture (`testdata/dovecot-2.3/01-alice-shapes-flags`,
//! multipart, attachments, 8-bit headers) plus generated plain messages,
//! laid out the same way in each server's Maildir++ root.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The fixture whose INBOX provides the real message shapes.
pub const FIXTURE: &str = "01-alice-shapes-flags";

/// One message and the system flags it is stored with.
#[derive(Debug, Clone)]
pub struct BenchMessage {
    /// The message as stored (LF line ends, as Maildir keeps them).
    pub bytes: Vec<u8>,
    /// Maildir info flags: system flags except `T` (`\Deleted`, which an
    /// EXPUNGE would remove).
    pub flags: String,
}

/// A deterministic pseudo-random sequence (xorshift64*), so both servers
/// get the same bytes on every run.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A sequence from a seed (0 is replaced by a fixed constant).
    pub fn new(seed: u64) -> Rng {
        Rng(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

const WORDS: &[&str] = &[
    "mail",
    "server",
    "index",
    "cache",
    "folder",
    "message",
    "header",
    "body",
    "flag",
    "sync",
    "the",
    "a",
    "of",
    "and",
    "to",
    "in",
    "is",
    "for",
    "on",
    "with",
    "transaction",
    "log",
    "dovecot",
    "columba",
    "maildir",
    "uid",
    "validity",
    "quota",
    "expunge",
    "append",
];

/// A generated plain-text message of about `body_bytes` bytes of body.
pub fn generated_message(n: usize, body_bytes: usize, rng: &mut Rng) -> Vec<u8> {
    let mut out = format!(
        "Return-Path: <sender{n}@example.org>\n\
         From: Sender {n} <sender{n}@example.org>\n\
         To: Demo <demo@example.test>\n\
         Subject: Benchmark message {n}\n\
         Date: Mon, 2 Nov 2026 10:{:02}:{:02} +0000\n\
         Message-ID: <bench-{n}@example.org>\n\
         MIME-Version: 1.0\n\
         Content-Type: text/plain; charset=us-ascii\n\n",
        n % 60,
        (n * 7) % 60
    )
    .into_bytes();
    let start = out.len();
    let mut column = 0;
    while out.len() - start < body_bytes {
        let word = WORDS[rng.below(WORDS.len() as u64) as usize];
        out.extend_from_slice(word.as_bytes());
        column += word.len() + 1;
        if column > 68 {
            out.push(b'\n');
            column = 0;
        } else {
            out.push(b' ');
        }
    }
    out.push(b'\n');
    out
}

/// The benchmark's messages: every message of the fixture's INBOX, then
/// generated ones (bodies of 500 B to 20 KB) up to `count`.
pub fn bench_messages(count: usize) -> io::Result<Vec<BenchMessage>> {
    let cur = columba_interop::fixture_dir(FIXTURE).join("Maildir/cur");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&cur)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    names.sort();
    let mut out = Vec::with_capacity(count);
    for path in names {
        if out.len() == count {
            break;
        }
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let flags: String = name
            .rsplit_once(":2,")
            .map(|(_, f)| f.chars().filter(|c| "DFRS".contains(*c)).collect())
            .unwrap_or_default();
        out.push(BenchMessage {
            bytes: std::fs::read(&path)?,
            flags,
        });
    }
    let mut rng = Rng::new(2026);
    while out.len() < count {
        let n = out.len();
        let size = 500 + rng.below(19_500) as usize;
        out.push(BenchMessage {
            bytes: generated_message(n, size, &mut rng),
            flags: if n % 3 == 0 {
                "S".into()
            } else {
                String::new()
            },
        });
    }
    Ok(out)
}

/// The Maildir++ directory of `mailbox` under `root` (`INBOX` is the root).
pub fn mailbox_dir(root: &Path, mailbox: &str) -> PathBuf {
    if mailbox.eq_ignore_ascii_case("INBOX") {
        root.to_path_buf()
    } else {
        root.join(format!(".{mailbox}"))
    }
}

/// The size of a message with every bare LF counted as CRLF (what IMAP
/// reports as RFC822.SIZE, and Dovecot's `W=`).
pub fn virtual_size(bytes: &[u8]) -> usize {
    let bare_lf = bytes
        .iter()
        .enumerate()
        .filter(|(i, b)| **b == b'\n' && (*i == 0 || bytes[i - 1] != b'\r'))
        .count();
    bytes.len() + bare_lf
}

/// How messages' file names carry their sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeInNames {
    /// `,S=<size>,W=<virtual size>`, as Dovecot's own deliveries name them.
    SizeAndVirtualSize,
    /// `,S=<size>` only, as many external delivery agents name them: a
    /// server must read a message once to learn its virtual size.
    SizeOnly,
}

/// Writes `messages` into `mailbox` under the Maildir++ `root` (into `cur/`,
/// as a delivery agent that already saw them would), creating the folder.
pub fn fill_mailbox(
    root: &Path,
    mailbox: &str,
    messages: &[BenchMessage],
    names: SizeInNames,
) -> io::Result<()> {
    let dir = mailbox_dir(root, mailbox);
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    if dir != root {
        std::fs::write(dir.join("maildirfolder"), b"")?;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let pid = std::process::id();
    for (i, m) in messages.iter().enumerate() {
        let sizes = match names {
            SizeInNames::SizeAndVirtualSize => {
                format!("S={},W={}", m.bytes.len(), virtual_size(&m.bytes))
            }
            SizeInNames::SizeOnly => format!("S={}", m.bytes.len()),
        };
        let name = format!("{now}.M{i}P{pid}.columba-bench,{sizes}:2,{}", m.flags);
        std::fs::write(dir.join("cur").join(name), &m.bytes)?;
    }
    Ok(())
}

/// Gives everything under `root` to the owner of `root`.
pub fn match_owner(root: &Path) -> io::Result<()> {
    let meta = std::fs::metadata(root)?;
    chown_below(root, meta.uid(), meta.gid())
}

fn chown_below(path: &Path, uid: u32, gid: u32) -> io::Result<()> {
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        let p = entry.path();
        std::os::unix::fs::lchown(&p, Some(uid), Some(gid))?;
        if entry.file_type()?.is_dir() {
            chown_below(&p, uid, gid)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixture_shapes_come_first_and_the_count_is_exact() {
        let m = bench_messages(40).unwrap();
        assert_eq!(m.len(), 40);
        assert!(m[0].bytes.len() > 50);
        assert!(m
            .iter()
            .all(|m| m.flags.chars().all(|c| "DFRS".contains(c))));
        // same bytes on every call
        assert_eq!(bench_messages(40).unwrap()[39].bytes, m[39].bytes);
    }

    #[test]
    fn virtual_size_counts_bare_line_feeds_twice() {
        assert_eq!(virtual_size(b"a\nb\r\n\n"), 8);
        assert_eq!(virtual_size(b"\n"), 2);
    }

    #[test]
    fn a_filled_folder_has_its_messages_in_cur() {
        let dir = tempfile::tempdir().unwrap();
        let m = bench_messages(20).unwrap();
        fill_mailbox(dir.path(), "bench-1", &m, SizeInNames::SizeAndVirtualSize).unwrap();
        let cur = dir.path().join(".bench-1/cur");
        let names: Vec<String> = std::fs::read_dir(cur)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 20);
        assert!(names.iter().all(|n| n.contains(",S=") && n.contains(",W=")));
        assert!(dir.path().join(".bench-1/maildirfolder").exists());
    }
}

//! APPEND literals are streamed to storage as they arrive: a 20 MB message
//! goes through a session that never holds more than one received chunk,
//! and arrives intact. APPENDLIMIT refuses a message with `NO [TOOBIG]`
//! before its literal is read.

use std::sync::{Arc, Mutex};

use columba_session::storage::{
    CopyOutcome, ListedMailbox, MailboxView, MessageFlags, SearchKey, StatusInfo, StoreMode,
};
use columba_session::{AppendSink, ImapConfig, ImapSession, MailStorage, MaildirStorage, Result};

/// What the storage double saw of the streamed message.
#[derive(Debug, Default)]
struct Seen {
    /// Bytes handed to sinks so far.
    written: u64,
    /// The largest single write.
    largest_write: usize,
    /// Sinks opened.
    sinks: u32,
}

/// [`MaildirStorage`] with its APPEND sinks counted.
struct Counting {
    inner: MaildirStorage,
    seen: Arc<Mutex<Seen>>,
}

struct CountingSink {
    inner: Box<dyn AppendSink>,
    seen: Arc<Mutex<Seen>>,
}

impl AppendSink for CountingSink {
    fn write(&mut self, chunk: &[u8]) -> Result<()> {
        let mut seen = self.seen.lock().unwrap();
        seen.written += chunk.len() as u64;
        seen.largest_write = seen.largest_write.max(chunk.len());
        drop(seen);
        self.inner.write(chunk)
    }

    fn finish(
        self: Box<Self>,
        flags: MessageFlags,
        keywords: &[String],
        internal_date: Option<i64>,
    ) -> Result<(u32, u32)> {
        self.inner.finish(flags, keywords, internal_date)
    }
}

impl MailStorage for Counting {
    fn list(&mut self, r: &str, p: &str, sub: bool) -> Result<Vec<ListedMailbox>> {
        self.inner.list(r, p, sub)
    }
    fn view(&mut self, m: &str, claim: bool) -> Result<MailboxView> {
        self.inner.view(m, claim)
    }
    fn status(&mut self, m: &str, size: bool) -> Result<StatusInfo> {
        self.inner.status(m, size)
    }
    fn message(&mut self, m: &str, uid: u32) -> Result<(Vec<u8>, i64)> {
        self.inner.message(m, uid)
    }
    fn append(
        &mut self,
        m: &str,
        data: &[u8],
        flags: MessageFlags,
        keywords: &[String],
        date: Option<i64>,
    ) -> Result<(u32, u32)> {
        self.inner.append(m, data, flags, keywords, date)
    }
    fn append_sink(&mut self, m: &str, size: u64) -> Result<Box<dyn AppendSink>> {
        self.seen.lock().unwrap().sinks += 1;
        Ok(Box::new(CountingSink {
            inner: self.inner.append_sink(m, size)?,
            seen: self.seen.clone(),
        }))
    }
    fn store(
        &mut self,
        m: &str,
        uids: &[u32],
        mode: StoreMode,
        flags: MessageFlags,
        keywords: &[String],
        since: Option<u64>,
    ) -> Result<Vec<u32>> {
        self.inner.store(m, uids, mode, flags, keywords, since)
    }
    fn expunge(&mut self, m: &str, uids: &[u32]) -> Result<Vec<u32>> {
        self.inner.expunge(m, uids)
    }
    fn copy(&mut self, m: &str, d: &str, uids: &[u32], rm: bool) -> Result<CopyOutcome> {
        self.inner.copy(m, d, uids, rm)
    }
    fn search(&mut self, m: &str, key: &SearchKey, now: i64) -> Result<Vec<u32>> {
        self.inner.search(m, key, now)
    }
    fn create(&mut self, m: &str) -> Result<()> {
        self.inner.create(m)
    }
    fn delete(&mut self, m: &str) -> Result<()> {
        self.inner.delete(m)
    }
    fn rename(&mut self, f: &str, t: &str) -> Result<()> {
        self.inner.rename(f, t)
    }
    fn subscribe(&mut self, m: &str, s: bool) -> Result<()> {
        self.inner.subscribe(m, s)
    }
}

fn session(root: &std::path::Path, config: ImapConfig) -> (ImapSession, Arc<Mutex<Seen>>) {
    let mut s = ImapSession::new(ImapConfig {
        plaintext_without_tls: true,
        ..config
    });
    s.take_output();
    s.feed(b"l LOGIN demo pw\r\n");
    s.poll_event();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let storage = Counting {
        inner: MaildirStorage::open(root).unwrap(),
        seen: seen.clone(),
    };
    s.login_succeeded("demo", Box::new(storage));
    s.take_output();
    (s, seen)
}

fn out(s: &mut ImapSession) -> String {
    String::from_utf8(s.take_output()).unwrap()
}

/// A 20 MB message of 78-character lines, CRLF-terminated.
fn big_message() -> Vec<u8> {
    let mut m = b"From: a@example.com\r\nSubject: big\r\n\r\n".to_vec();
    let mut i = 0u64;
    while m.len() < 20 * 1024 * 1024 {
        let line = format!("{i:010} {}\r\n", "x".repeat(66));
        m.extend_from_slice(line.as_bytes());
        i += 1;
    }
    m
}

const CHUNK: usize = 64 * 1024;

#[test]
fn a_20_mb_append_streams_in_chunks_and_arrives_intact() {
    let home = tempfile::tempdir().unwrap();
    let root = home.path().join("Maildir");
    let (mut s, seen) = session(&root, ImapConfig::default());
    let message = big_message();
    s.feed(format!("a APPEND INBOX (\\Seen) {{{}}}\r\n", message.len()).as_bytes());
    assert_eq!(out(&mut s), "+ OK\r\n");
    let mut fed = 0usize;
    for chunk in message.chunks(CHUNK) {
        s.feed(chunk);
        fed += chunk.len();
        // everything received so far went on to storage: the session
        // holds at most the line it is reading
        assert!(s.buffered_input() <= CHUNK, "{}", s.buffered_input());
        assert_eq!(seen.lock().unwrap().written, fed as u64);
        assert_eq!(out(&mut s), "");
    }
    s.feed(b"\r\n");
    let answer = out(&mut s);
    assert!(
        answer.starts_with("a OK [APPENDUID ") && answer.ends_with(" 1] Append completed.\r\n"),
        "{answer}"
    );
    let seen = seen.lock().unwrap();
    assert_eq!((seen.sinks, seen.written), (1, message.len() as u64));
    assert!(seen.largest_write <= CHUNK);
    drop(seen);

    s.feed(b"b SELECT INBOX\r\nc FETCH 1 (FLAGS RFC822.SIZE)\r\n");
    let answer = out(&mut s);
    assert!(
        answer.contains(&format!(
            "* 1 FETCH (FLAGS (\\Seen \\Recent) RFC822.SIZE {})\r\n",
            message.len()
        )),
        "{answer}"
    );
    s.feed(b"d FETCH 1 BODY.PEEK[]\r\n");
    let answer = s.take_output();
    let head = format!("* 1 FETCH (BODY[] {{{}}}\r\n", message.len());
    assert!(answer.starts_with(head.as_bytes()));
    assert_eq!(
        &answer[head.len()..head.len() + message.len()],
        &message[..]
    );
    // the spool file is gone from tmp/
    assert_eq!(std::fs::read_dir(root.join("tmp")).unwrap().count(), 0);
}

#[test]
fn multiappend_streams_each_message() {
    let home = tempfile::tempdir().unwrap();
    let (mut s, seen) = session(&home.path().join("Maildir"), ImapConfig::default());
    s.feed(b"a APPEND INBOX {7+}\r\nfirst\r\n (\\Flagged) {8+}\r\nsecond\r\n\r\n");
    let answer = out(&mut s);
    assert!(
        answer.starts_with("a OK [APPENDUID ") && answer.ends_with(" 1:2] Append completed.\r\n"),
        "{answer}"
    );
    assert_eq!(seen.lock().unwrap().sinks, 2);
    s.feed(b"b SELECT INBOX\r\nc FETCH 1:2 (FLAGS BODY.PEEK[])\r\n");
    let answer = out(&mut s);
    assert!(answer.contains("* 1 FETCH (FLAGS (\\Recent) BODY[] {7}\r\nfirst\r\n)\r\n"));
    assert!(answer.contains("* 2 FETCH (FLAGS (\\Flagged \\Recent) BODY[] {8}\r\nsecond\r\n)\r\n"));
}

#[test]
fn appendlimit_refuses_before_the_literal_is_read() {
    let home = tempfile::tempdir().unwrap();
    let config = ImapConfig {
        append_limit: Some(1000),
        ..ImapConfig::default()
    };
    let (mut s, seen) = session(&home.path().join("Maildir"), config);
    s.feed(b"c CAPABILITY\r\ns STATUS INBOX (APPENDLIMIT)\r\n");
    let answer = out(&mut s);
    assert!(answer.contains(" APPENDLIMIT=1000\r\n"), "{answer}");
    assert!(
        answer.contains("* STATUS INBOX (APPENDLIMIT 1000)\r\n"),
        "{answer}"
    );

    // synchronizing: no `+`, the client sends nothing more of the command
    s.feed(b"a APPEND INBOX {2000}\r\n");
    assert_eq!(
        out(&mut s),
        "a NO [TOOBIG] Mail size 2000 exceeds the APPENDLIMIT of 1000 bytes.\r\n"
    );
    s.feed(b"b NOOP\r\n");
    assert_eq!(out(&mut s), "b OK NOOP completed.\r\n");

    // non-synchronizing: the data comes anyway and is skipped, unstored
    s.feed(
        format!(
            "d APPEND INBOX {{2000+}}\r\n{}\r\ne NOOP\r\n",
            "y".repeat(2000)
        )
        .as_bytes(),
    );
    assert_eq!(
        out(&mut s),
        "d NO [TOOBIG] Mail size 2000 exceeds the APPENDLIMIT of 1000 bytes.\r\n\
         e OK NOOP completed.\r\n"
    );
    assert_eq!(seen.lock().unwrap().sinks, 0);

    // at the limit: stored
    s.feed(format!("f APPEND INBOX {{1000+}}\r\n{}\r\n", "z".repeat(1000)).as_bytes());
    assert!(out(&mut s).ends_with(" 1] Append completed.\r\n"));
}

#[test]
fn append_to_a_missing_mailbox_is_refused_before_the_literal() {
    let home = tempfile::tempdir().unwrap();
    let (mut s, _) = session(&home.path().join("Maildir"), ImapConfig::default());
    s.feed(b"a APPEND Nowhere {5}\r\n");
    assert_eq!(
        out(&mut s),
        "a NO [TRYCREATE] Mailbox doesn't exist: Nowhere\r\n"
    );
    s.feed(b"b APPEND Nowhere {5+}\r\nhello\r\nc NOOP\r\n");
    assert_eq!(
        out(&mut s),
        "b NO [TRYCREATE] Mailbox doesn't exist: Nowhere\r\nc OK NOOP completed.\r\n"
    );
}

#[test]
fn append_before_login_is_refused_and_its_literal_skipped() {
    let mut s = ImapSession::new(ImapConfig::default());
    s.take_output();
    s.feed(b"a APPEND INBOX {5}\r\n");
    assert_eq!(
        out(&mut s),
        "a BAD Error in IMAP command: Unknown command.\r\n"
    );
    s.feed(b"b APPEND INBOX {5+}\r\nhello\r\nc NOOP\r\n");
    assert_eq!(
        out(&mut s),
        "b BAD Error in IMAP command: Unknown command.\r\nc OK NOOP completed.\r\n"
    );
}

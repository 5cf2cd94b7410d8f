//! FETCH and SEARCH answered from `dovecot.index.cache`: after the
//! indexer's precache, the session's FETCH of ENVELOPE, BODYSTRUCTURE,
//! BODY, `BODY.PEEK[HEADER.FIELDS (...)]`, RFC822.SIZE and INTERNALDATE
//! sends the same bytes with every message file's content replaced, and a
//! second SEARCH SUBJECT opens no message file.

use std::path::{Path, PathBuf};

use columba_mail_store::search::MessageFlags;
use columba_mail_store::store::{self, PrecacheFields};
use columba_maildir::Maildir;
use columba_session::storage::SearchKey;
use columba_session::{ImapConfig, ImapSession, MailStorage, MaildirStorage};

const MESSAGES: &[&str] = &[
    "From: Ann <ann@example.com>\r\nTo: bob@example.com, \"Carl C.\" <carl@example.org>\r\n\
     Cc: dee@example.net\r\nSubject: lunch?\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n\
     Message-ID: <1@example.com>\r\n\r\nat noon\r\n",
    "From: =?utf-8?q?J=C3=B6rg?= <joerg@example.de>\r\nTo: ann@example.com\r\n\
     Subject: =?utf-8?b?w7xiZXIgZGFz?=\r\n =?utf-8?q?_Wetter?=\r\nDate: Tue, 2 Jan 2024 11:30:00 +0100\r\n\
     In-Reply-To: <1@example.com>\r\nMIME-Version: 1.0\r\n\
     Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\npreamble\r\n--b1\r\n\
     Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
     Sch=C3=B6n\r\n--b1\r\nContent-Type: application/pdf; name=\"a.pdf\"\r\n\
     Content-Disposition: attachment; filename=\"a.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n\
     JVBERi0xLjQK\r\n--b1--\r\n",
    "Subject: no date, bare LF\nFrom: x@y\n\nline one\nline two\n",
    "From: list@example.com\r\nSender: owner@example.com\r\nReply-To: reply@example.com\r\n\
     Subject: [list] lunch again\r\nContent-Type: text/html; charset=iso-8859-1\r\n\r\n<p>hi</p>\r\n",
];

/// A Maildir with `MESSAGES` in INBOX, each with a fixed INTERNALDATE.
fn maildir_with_messages(home: &Path) -> PathBuf {
    let root = home.join("Maildir");
    MaildirStorage::open(&root).unwrap();
    let inbox = Maildir::open(&root).unwrap().inbox();
    store::sync(&inbox).unwrap();
    for (i, m) in MESSAGES.iter().enumerate() {
        store::append(
            &inbox,
            m.as_bytes(),
            MessageFlags::default(),
            &[],
            Some(1_700_000_000 + i as i64 * 3600),
        )
        .unwrap();
    }
    root
}

/// Every message file of `dir`'s `cur/` and `new/`.
fn message_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for sub in ["cur", "new"] {
        for e in std::fs::read_dir(dir.join(sub)).unwrap() {
            out.push(e.unwrap().path());
        }
    }
    out.sort();
    out
}

/// Replaces each file's content (keeping its mtime, the INTERNALDATE), so
/// any answer read from a file would differ.
fn replace_contents(files: &[PathBuf]) {
    for f in files {
        let mtime = std::fs::metadata(f).unwrap().modified().unwrap();
        std::fs::write(
            f,
            b"Subject: replaced\r\nFrom: nobody@invalid\r\n\r\nreplaced\r\n",
        )
        .unwrap();
        std::fs::File::options()
            .write(true)
            .open(f)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
    }
}

/// The session's answers to `script` (one string per command).
fn run(root: &Path, script: &[&str]) -> Vec<String> {
    let mut s = ImapSession::new(ImapConfig {
        plaintext_without_tls: true,
        ..ImapConfig::default()
    });
    s.take_output();
    s.feed(b"l LOGIN u p\r\n");
    s.poll_event();
    s.login_succeeded("u", Box::new(MaildirStorage::open(root).unwrap()));
    let login = String::from_utf8(s.take_output()).unwrap();
    assert!(login.contains(" SAVEDATE"), "{login}");
    script
        .iter()
        .map(|cmd| {
            s.feed(cmd.as_bytes());
            s.feed(b"\r\n");
            String::from_utf8(s.take_output()).unwrap()
        })
        .collect()
}

const FETCHES: &[&str] = &[
    "a EXAMINE INBOX",
    "b FETCH 1:* (ENVELOPE BODYSTRUCTURE BODY BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)] RFC822.SIZE INTERNALDATE)",
    "c UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (DATE TO CC)]<0.40> ENVELOPE)",
    "d FETCH 2,4 ALL",
    "e FETCH 1:* FAST",
];

#[test]
fn fetch_after_precache_answers_the_same_bytes_without_message_files() {
    // what the session answers from the message files
    let plain = tempfile::tempdir().unwrap();
    let plain_root = maildir_with_messages(plain.path());
    let from_files = run(&plain_root, FETCHES);

    // the indexer's precache after delivery, then the files say nothing
    let cached = tempfile::tempdir().unwrap();
    let root = maildir_with_messages(cached.path());
    let inbox = Maildir::open(&root).unwrap().inbox();
    let report = store::precache(&inbox, None, &PrecacheFields::default()).unwrap();
    assert_eq!(report.parsed, MESSAGES.len());
    replace_contents(&message_files(&root));
    let from_cache = run(&root, FETCHES);

    for (i, (a, b)) in from_files.iter().zip(&from_cache).enumerate().skip(1) {
        assert_eq!(a, b, "command {}", FETCHES[i]);
    }
    assert!(from_cache[1].contains("ENVELOPE (\"Mon, 1 Jan 2024 10:00:00 +0000\" \"lunch?\""));
    assert!(!from_cache.concat().contains("replaced"));
    // and a FETCH that needs the body does read the (replaced) file
    let body = run(&root, &["a EXAMINE INBOX", "b FETCH 1 BODY.PEEK[TEXT]"]);
    assert!(body[1].contains("replaced"), "{}", body[1]);
}

#[test]
fn a_fetch_miss_is_cached_for_the_next_session() {
    let home = tempfile::tempdir().unwrap();
    let root = maildir_with_messages(home.path());
    let script = &FETCHES[..3];
    let first = run(&root, script);
    // the first session cached what it read from the files
    replace_contents(&message_files(&root));
    let second = run(&root, script);
    assert_eq!(first[1..], second[1..]);
}

#[test]
fn second_search_subject_opens_no_message_file() {
    let home = tempfile::tempdir().unwrap();
    let root = maildir_with_messages(home.path());
    let mut storage = MaildirStorage::open(&root).unwrap();
    storage.view("INBOX", false).unwrap();
    let key = SearchKey::parse("SUBJECT lunch").unwrap();
    let uids = storage.search("INBOX", &key, 0).unwrap();
    storage.command_done().unwrap();
    assert_eq!(uids, [1, 4]);
    let opened = storage.files_opened();
    assert_eq!(
        opened,
        MESSAGES.len() as u64,
        "the first search reads headers"
    );

    let again = storage.search("INBOX", &key, 0).unwrap();
    storage.command_done().unwrap();
    assert_eq!(again, uids);
    assert_eq!(
        storage.files_opened(),
        opened,
        "the second search read files"
    );

    // a new session on the same files: the cache file holds the subjects
    let mut other = MaildirStorage::open(&root).unwrap();
    replace_contents(&message_files(&root.clone()));
    let key = SearchKey::parse("OR SUBJECT lunch SUBJECT wetter").unwrap();
    assert_eq!(other.search("INBOX", &key, 0).unwrap(), [1, 2, 4]);
    assert_eq!(other.files_opened(), 0);
}

#[test]
fn a_new_delivery_is_seen_by_the_next_command() {
    let home = tempfile::tempdir().unwrap();
    let root = maildir_with_messages(home.path());
    let mut s = ImapSession::new(ImapConfig {
        plaintext_without_tls: true,
        ..ImapConfig::default()
    });
    s.take_output();
    s.feed(b"l LOGIN u p\r\n");
    s.poll_event();
    s.login_succeeded("u", Box::new(MaildirStorage::open(&root).unwrap()));
    s.feed(b"a SELECT INBOX\r\nb FETCH 1:* (UID ENVELOPE)\r\n");
    s.take_output();
    let inbox = Maildir::open(&root).unwrap().inbox();
    let new = b"From: z@example.com\r\nSubject: fresh\r\n\r\nnew\r\n";
    let uid = store::append(&inbox, new, MessageFlags::default(), &[], None)
        .unwrap()
        .uid;
    store::precache(&inbox, Some(&[uid]), &PrecacheFields::default()).unwrap();
    s.feed(b"c NOOP\r\nd FETCH 5 (UID ENVELOPE)\r\ne SEARCH SUBJECT fresh\r\n");
    let out = String::from_utf8(s.take_output()).unwrap();
    assert!(out.contains("* 5 EXISTS\r\n"), "{out}");
    assert!(
        out.contains("* 5 FETCH (UID 5 ENVELOPE (NIL \"fresh\""),
        "{out}"
    );
    assert!(out.contains("* SEARCH 5\r\n"), "{out}");
}

//! Cache fields shared with Dovecot 2.3: what Columba computes for
//! `hdr.*`, `imap.bodystructure`, `imap.body`, `mime.parts`,
//! `size.virtual` and `flags` equals what Dovecot cached for the fixture
//! messages; Dovecot answers ENVELOPE, BODYSTRUCTURE, BODY and header
//! fields from what Columba precached without opening a message file; and
//! Columba answers from what Dovecot cached, and caches what a header
//! search needed so that the next search opens no file.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use columba_interop::{require_tool, DovecotConfig, PrivateDovecot};
use columba_mail_index::IndexDir;
use columba_mail_store::message::cached_header::encode_field;
use columba_mail_store::search::date::sent_date;
use columba_mail_store::search::SearchKey;
use columba_mail_store::store::{
    precache, record_flags, sync, CachedItem, MailboxSnapshot, MessageCache, PrecacheFields,
};
use columba_mail_store::Message;
use columba_maildir::Mailbox;
use common::ImapClient;

/// UID -> file, from a Columba listing.
fn files(mailbox: &Mailbox) -> Vec<(u32, PathBuf)> {
    let mut snap = MailboxSnapshot::open(mailbox).unwrap();
    snap.resolve_files().unwrap();
    snap.messages
        .iter()
        .filter_map(|m| Some((m.uid, m.path.clone()?)))
        .collect()
}

fn compare_with_dovecot_cache(
    dir: &Path,
    compared: &mut std::collections::BTreeMap<String, usize>,
) {
    let mailbox = Mailbox::at(dir, dir, "INBOX");
    let view = IndexDir::new(dir).open_view().unwrap();
    let cache = view.cache.as_ref().expect("cache file");
    let paths = files(&mailbox);
    for m in view.messages() {
        if m.cache_offset == 0 {
            continue;
        }
        let Some((_, path)) = paths.iter().find(|(u, _)| *u == m.uid) else {
            continue;
        };
        let data = std::fs::read(path).unwrap();
        let msg = Message::parse(&data);
        for f in &cache.fields {
            let Some(mut theirs) = cache.lookup(m.cache_offset, &f.name).unwrap() else {
                continue;
            };
            let name = f.name.as_str();
            let ours = if let Some(h) = name.strip_prefix("hdr.") {
                encode_field(&msg, h)
            } else {
                match name {
                    "imap.bodystructure" => msg.bodystructure_imap(true),
                    "imap.body" => msg.bodystructure_imap(false),
                    "imap.envelope" => msg.envelope_imap(),
                    "mime.parts" => msg.root().serialize_mime_parts(),
                    "size.virtual" => msg.rfc822_size().to_le_bytes().to_vec(),
                    "flags" => record_flags(&msg).to_le_bytes().to_vec(),
                    "date.sent" => match sent_date(&msg) {
                        Some((t, z)) => [t.to_le_bytes(), z.to_le_bytes()].concat(),
                        None => continue,
                    },
                    _ => continue,
                }
            };
            if name.starts_with("imap.") && theirs.last() == Some(&0) {
                theirs.pop();
            }
            if name == "flags" {
                // Dovecot ORs in the bits it learnt; ours must be among them
                // and carry the same NUL and 7-bit text knowledge.
                let t = u32::from_le_bytes(theirs[..4].try_into().unwrap());
                let o = u32::from_le_bytes(ours[..4].try_into().unwrap());
                assert_eq!(
                    t & 0x37,
                    o & 0x37,
                    "{dir:?} uid {} flags {t:#x} vs {o:#x}",
                    m.uid
                );
            } else {
                assert_eq!(
                    String::from_utf8_lossy(&theirs),
                    String::from_utf8_lossy(&ours),
                    "{dir:?} uid {} {name}",
                    m.uid
                );
            }
            *compared.entry(name.to_string()).or_default() += 1;
        }
    }
}

#[test]
fn columba_computes_the_values_dovecot_cached_in_the_fixtures() {
    let tmp = tempfile::tempdir().unwrap();
    let mut compared = std::collections::BTreeMap::new();
    let alice = tmp.path().join("alice");
    columba_interop::install_fixture_maildir("01-alice-shapes-flags", &alice).unwrap();
    for d in [".", ".Archive.2024", ".Drafts", ".Sent", ".Entw&APw-rfe"] {
        compare_with_dovecot_cache(&alice.join(d), &mut compared);
    }
    let carol = tmp.path().join("carol");
    columba_interop::install_fixture_maildir("03-carol-10k", &carol).unwrap();
    compare_with_dovecot_cache(&carol, &mut compared);
    eprintln!("compared with Dovecot's cache: {compared:?}");
    for field in [
        "hdr.From",
        "hdr.Subject",
        "hdr.To",
        "hdr.Cc",
        "mime.parts",
        "flags",
    ] {
        assert!(
            compared.get(field).copied().unwrap_or(0) >= 300,
            "{field}: {compared:?}"
        );
    }
    assert!(compared.get("imap.bodystructure").copied().unwrap_or(0) >= 10);
}

/// Writes the test messages into `maildir/cur` as Maildir files, in a
/// fixed order (same UIDs for every copy).
fn write_messages(maildir: &Path) -> usize {
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    let messages = common::messages();
    for (i, (_, data)) in messages.iter().enumerate() {
        let name = format!(
            "{}.M{}P7.cachetest,S={}:2,",
            1_700_000_000 + i,
            i,
            data.len()
        );
        let path = maildir.join("cur").join(name);
        std::fs::write(&path, data).unwrap();
        let mtime =
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000 + i as u64);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
    }
    messages.len()
}

const HEADER_ITEM: &str =
    "BODY.PEEK[HEADER.FIELDS (From To Cc Subject Date Message-ID References Content-Type)]";

/// `(uid, answer)` for one FETCH item over all messages, as Dovecot sends
/// it after `UID n ` (item name included, literals inline).
fn dovecot_answers(imap: &mut ImapClient, item: &str, count: usize) -> Vec<(u32, Vec<u8>)> {
    let (untagged, ok) = imap.command(&format!("FETCH 1:* (UID {item})"));
    assert!(ok.starts_with("OK"), "{item}: {ok}");
    (1..=count as u32)
        .map(|uid| {
            let d = common::fetch_data(&untagged, uid)
                .unwrap_or_else(|| panic!("{item}: no answer for uid {uid}: {untagged:?}"));
            (uid, d)
        })
        .collect()
}

/// Our answer in Dovecot's wire form.
fn wire(item: &str, value: &[u8]) -> Vec<u8> {
    match item {
        "ENVELOPE" | "BODYSTRUCTURE" | "BODY" => {
            let mut v = format!("{item} (").into_bytes();
            v.extend_from_slice(value);
            v.push(b')');
            v
        }
        _ => {
            let shown = item.replacen(".PEEK", "", 1).to_ascii_uppercase();
            let mut v = format!("{shown} {{{}}}\r\n", value.len()).into_bytes();
            v.extend_from_slice(value);
            v
        }
    }
}

#[test]
fn dovecot_answers_from_columba_precache_without_opening_files() {
    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(
        DovecotConfig::default()
            .user("cols", "colspw")
            .user("dove", "dovepw"),
    )
    .unwrap();
    // Columba's copy: indexed and precached by Columba, then made unreadable.
    let cols = dovecot.maildir("cols");
    let count = write_messages(&cols);
    let inbox = Mailbox::at(&cols, &cols, "INBOX");
    assert_eq!(sync(&inbox).unwrap().appended.len(), count);
    let report = precache(&inbox, None, &PrecacheFields::default()).unwrap();
    assert_eq!(report.parsed, count, "{report:?}");
    // a second run finds everything cached and opens nothing
    let again = precache(&inbox, None, &PrecacheFields::default()).unwrap();
    assert_eq!((again.parsed, again.already_cached), (0, count));
    dovecot.fix_ownership("cols").unwrap();
    for (_, path) in files(&inbox) {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
    }
    let cache_before = std::fs::read(cols.join("dovecot.index.cache")).unwrap();
    // Dovecot's copy: Dovecot does everything itself.
    let dove = dovecot.maildir("dove");
    write_messages(&dove);
    dovecot.fix_ownership("dove").unwrap();

    // Dovecot parses its copy once (and caches), then answers from its
    // cache in a new session: those answers are what Dovecot gives from a
    // cache (they differ from the first ones for a header that ends
    // without a line break, which Dovecot then ends without a blank line).
    let mut theirs = ImapClient::connect(dovecot.imap_port);
    assert!(theirs.command("LOGIN dove dovepw").1.starts_with("OK"));
    assert!(theirs.command("SELECT INBOX").1.starts_with("OK"));
    for item in ["ENVELOPE", "BODYSTRUCTURE", "BODY", HEADER_ITEM] {
        dovecot_answers(&mut theirs, item, count);
    }
    assert!(theirs.command("LOGOUT").1.starts_with("OK"));
    let mut theirs = ImapClient::connect(dovecot.imap_port);
    assert!(theirs.command("LOGIN dove dovepw").1.starts_with("OK"));
    assert!(theirs.command("SELECT INBOX").1.starts_with("OK"));
    let mut ours = ImapClient::connect(dovecot.imap_port);
    assert!(ours.command("LOGIN cols colspw").1.starts_with("OK"));
    assert!(ours.command("EXAMINE INBOX").1.starts_with("OK"));
    for item in [
        "ENVELOPE",
        "BODYSTRUCTURE",
        "BODY",
        HEADER_ITEM,
        "RFC822.SIZE",
        "INTERNALDATE",
    ] {
        let a = dovecot_answers(&mut theirs, item, count);
        let b = dovecot_answers(&mut ours, item, count);
        for ((uid, x), (_, y)) in a.iter().zip(&b) {
            assert_eq!(
                String::from_utf8_lossy(x),
                String::from_utf8_lossy(y),
                "{item} uid {uid}"
            );
        }
    }
    let problems: Vec<String> = dovecot
        .log_problems()
        .into_iter()
        .filter(|l| l.contains("cols"))
        .collect();
    assert!(
        problems.is_empty(),
        "Dovecot had to read files: {problems:?}"
    );
    // Dovecot found everything it was asked for in the cache: it added no
    // records (EXAMINE is read-only; a SELECT could only have updated
    // decisions, never values, as it could not read the files).
    let cache_after = std::fs::read(cols.join("dovecot.index.cache")).unwrap();
    assert_eq!(cache_before.len(), cache_after.len());
    assert!(ours.command("LOGOUT").1.starts_with("OK"));
    assert!(theirs.command("LOGOUT").1.starts_with("OK"));
}

#[test]
fn columba_answers_from_dovecot_cache_without_opening_files() {
    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("dove", "dovepw")).unwrap();
    let dove = dovecot.maildir("dove");
    let count = write_messages(&dove);
    dovecot.fix_ownership("dove").unwrap();
    let mut imap = ImapClient::connect(dovecot.imap_port);
    assert!(imap.command("LOGIN dove dovepw").1.starts_with("OK"));
    assert!(imap.command("SELECT INBOX").1.starts_with("OK"));
    let items = ["ENVELOPE", "BODYSTRUCTURE", "BODY", HEADER_ITEM];
    let answers: Vec<Vec<(u32, Vec<u8>)>> = items
        .iter()
        .map(|item| dovecot_answers(&mut imap, item, count))
        .collect();
    // a SENT* search makes Dovecot cache date.sent
    let (_, ok) = imap.command("SEARCH SENTSINCE 1-Jan-1990");
    assert!(ok.starts_with("OK"), "{ok}");
    assert!(imap.command("LOGOUT").1.starts_with("OK"));
    let inbox = Mailbox::at(&dove, &dove, "INBOX");
    let mut cache = MessageCache::open(&inbox).unwrap();
    let mut dates = 0;
    for (i, (name, data)) in common::messages().iter().enumerate() {
        let theirs = cache.lookup(i as u32 + 1, "date.sent");
        if let Some(ours) = sent_date(&Message::parse(data)) {
            let ours = [ours.0.to_le_bytes(), ours.1.to_le_bytes()].concat();
            assert_eq!(theirs.as_deref(), Some(&ours[..]), "{name} date.sent");
            dates += 1;
        }
    }
    assert!(dates >= 20, "{dates}");
    // and the record flags it learnt while parsing for BODYSTRUCTURE
    let mut flags = 0;
    for (i, (name, data)) in common::messages().iter().enumerate() {
        if let Some(theirs) = cache.lookup(i as u32 + 1, "flags") {
            let t = u32::from_le_bytes(theirs[..4].try_into().unwrap());
            let o = record_flags(&Message::parse(data));
            assert_eq!(t & 0x37, o & 0x37, "{name} flags {t:#x} vs {o:#x}");
            flags += 1;
        }
    }
    assert!(flags >= 20, "{flags}");
    // Replace every message by other content: only cached values can still
    // give Dovecot's answers.
    for (_, path) in files(&inbox) {
        std::fs::write(&path, b"Subject: replaced\n\nnot the message\n").unwrap();
    }
    let mut snap = MailboxSnapshot::open(&inbox).unwrap();
    let mut cache = MessageCache::open(&inbox).unwrap();
    for (item, answers) in items.iter().zip(&answers) {
        let what = CachedItem::parse(item).unwrap();
        for (uid, theirs) in answers {
            let seq = snap.messages.iter().position(|m| m.uid == *uid).unwrap() as u32 + 1;
            let ours = cache.fetch(&mut snap, seq, &what).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&wire(item, &ours)),
                String::from_utf8_lossy(theirs),
                "{item} uid {uid}"
            );
        }
    }
    assert_eq!(cache.files_opened(), 0);
}

#[test]
fn header_search_fills_the_cache_and_the_next_one_opens_no_file() {
    let tmp = tempfile::tempdir().unwrap();
    columba_interop::install_fixture_maildir("03-carol-10k", tmp.path()).unwrap();
    let inbox = Mailbox::at(tmp.path(), tmp.path(), "INBOX");
    // the fixture's Dovecot cached hdr.To only for UIDs 1:300
    let key = SearchKey::parse("OR TO \"rcpt@\" HEADER X-Columba-Test \"\"").unwrap();
    let mut reference = MailboxSnapshot::open(&inbox).unwrap();
    let expected = reference.search(&key, 0, 0).unwrap();
    assert_eq!(expected.len(), 9900);
    let mut snap = MailboxSnapshot::open(&inbox).unwrap();
    let mut cache = MessageCache::open(&inbox).unwrap();
    assert_eq!(cache.search(&mut snap, &key, 0, 0).unwrap(), expected);
    assert!(cache.files_opened() >= 9600, "{}", cache.files_opened());
    // a later session: everything from the cache, with files gone
    let mut snap = MailboxSnapshot::open(&inbox).unwrap();
    let mut later = MessageCache::open(&inbox).unwrap();
    std::fs::rename(tmp.path().join("cur"), tmp.path().join("cur.away")).unwrap();
    std::fs::create_dir(tmp.path().join("cur")).unwrap();
    assert_eq!(later.search(&mut snap, &key, 0, 0).unwrap(), expected);
    assert_eq!(later.files_opened(), 0);
    let subject = SearchKey::parse("SUBJECT \"message #04242\"").unwrap();
    assert_eq!(later.search(&mut snap, &subject, 0, 0).unwrap().len(), 1);
    assert_eq!(later.files_opened(), 0);
}

#[test]
fn record_value_reads_what_record_reads() {
    let tmp = tempfile::tempdir().unwrap();
    columba_interop::install_fixture_maildir("03-carol-10k", tmp.path()).unwrap();
    let view = IndexDir::new(tmp.path()).open_view().unwrap();
    let cache = view.cache.as_ref().unwrap();
    let mut checked = 0;
    for m in view.messages().filter(|m| m.cache_offset != 0) {
        for r in cache.chain(m.cache_offset).unwrap() {
            for f in 0..cache.fields.len() as u32 {
                let (v, prev) = cache.record_value(r.offset, f).unwrap();
                assert_eq!(prev, r.prev_offset);
                let expected = r.values.iter().find(|x| x.field == f).map(|x| x.data);
                assert_eq!(v, expected, "uid {} field {f}", m.uid);
                checked += 1;
            }
        }
    }
    assert!(checked > 9900 * 10, "{checked}");
    // offsets that are not records are errors, never panics
    for off in [0u32, 3, 33, u32::MAX - 3, cache.bytes().len() as u32 - 4] {
        assert!(cache.record_value(off, 0).is_err(), "{off}");
    }
}

#[test]
fn body_derived_from_bodystructure_equals_body() {
    use columba_mail_store::fetch::body_from_bodystructure::body_from_bodystructure;
    let mut n = 0;
    for (name, data) in common::messages() {
        let msg = Message::parse(&data);
        let derived = body_from_bodystructure(&msg.bodystructure_imap(true));
        assert_eq!(
            derived.map(|b| String::from_utf8_lossy(&b).into_owned()),
            Some(String::from_utf8_lossy(&msg.bodystructure_imap(false)).into_owned()),
            "{name}"
        );
        n += 1;
    }
    assert!(n >= 30);
    // what Dovecot cached in the fixtures
    let tmp = tempfile::tempdir().unwrap();
    columba_interop::install_fixture_maildir("01-alice-shapes-flags", tmp.path()).unwrap();
    let mut checked = 0;
    for d in [".", ".Archive.2024", ".Drafts", ".Sent", ".Entw&APw-rfe"] {
        let dir = tmp.path().join(d);
        let view = IndexDir::new(&dir).open_view().unwrap();
        let cache = view.cache.as_ref().unwrap();
        let paths = files(&Mailbox::at(&dir, tmp.path(), "INBOX"));
        for m in view.messages().filter(|m| m.cache_offset != 0) {
            let Some(mut bs) = cache.lookup(m.cache_offset, "imap.bodystructure").unwrap() else {
                continue;
            };
            if bs.last() == Some(&0) {
                bs.pop();
            }
            let (_, path) = paths.iter().find(|(u, _)| *u == m.uid).unwrap();
            let file = std::fs::read(path).unwrap();
            assert_eq!(
                body_from_bodystructure(&bs),
                Some(Message::parse(&file).bodystructure_imap(false)),
                "{d} uid {}",
                m.uid
            );
            checked += 1;
        }
    }
    assert!(checked >= 10, "{checked}");
    // not a BODYSTRUCTURE: no answer, no panic
    for bad in [
        &b""[..],
        b"(",
        b")",
        b"\"text\"",
        b"{5}\r\nab",
        b"((((",
        b"NIL NIL",
    ] {
        assert_eq!(body_from_bodystructure(bad), None, "{bad:?}");
    }
}

#[test]
fn a_mailbox_without_index_is_searched_and_fetched_from_its_files() {
    let tmp = tempfile::tempdir().unwrap();
    let count = write_messages(tmp.path());
    let inbox = Mailbox::at(tmp.path(), tmp.path(), "INBOX");
    let snap = MailboxSnapshot::open(&inbox).unwrap();
    assert_eq!(snap.messages.len(), 0, "no uidlist yet: no UIDs");
    sync(&inbox).unwrap();
    std::fs::remove_file(tmp.path().join("dovecot.index.log")).unwrap();
    let _ = std::fs::remove_file(tmp.path().join("dovecot.index"));
    let mut snap = MailboxSnapshot::open(&inbox).unwrap();
    assert_eq!(snap.messages.len(), count);
    let mut cache = MessageCache::open(&inbox).unwrap();
    let key = SearchKey::parse("SUBJECT digest").unwrap();
    assert_eq!(cache.search(&mut snap, &key, 0, 0).unwrap().len(), 1);
    let item = CachedItem::parse(HEADER_ITEM).unwrap();
    let section = columba_mail_store::fetch::Section::parse(
        "HEADER.FIELDS (From To Cc Subject Date Message-ID References Content-Type)",
    )
    .unwrap();
    for (i, (name, data)) in common::messages().iter().enumerate() {
        let seq = i as u32 + 1;
        let msg = Message::parse(data);
        let env = cache.fetch(&mut snap, seq, &CachedItem::Envelope).unwrap();
        assert_eq!(env, msg.envelope_imap(), "{name}");
        let fields = cache.fetch(&mut snap, seq, &item).unwrap();
        assert_eq!(fields, msg.section(&section), "{name}");
        let bs = cache
            .fetch(&mut snap, seq, &CachedItem::BodyStructure)
            .unwrap();
        assert_eq!(bs, msg.bodystructure_imap(true), "{name}");
    }
    cache.flush().unwrap();
    assert!(!tmp.path().join("dovecot.index.cache").exists());
}

#[test]
fn header_search_reads_long_headers_whole_and_no_body() {
    let tmp = tempfile::tempdir().unwrap();
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir(tmp.path().join(sub)).unwrap();
    }
    let mut msg = Vec::new();
    for i in 0..2000 {
        msg.extend_from_slice(format!("Received: from hop{i} by relay\r\n").as_bytes());
    }
    msg.extend_from_slice(b"X-Late: the needle\r\n\r\n");
    msg.extend_from_slice(&b"X-Late: not in the header\r\n".repeat(4000));
    assert!(msg.len() > 100_000);
    std::fs::write(tmp.path().join("cur/1700000000.M1P1.big:2,"), &msg).unwrap();
    std::fs::write(
        tmp.path().join("cur/1700000001.M1P1.small:2,"),
        b"X-Late: x\n\nneedle\n",
    )
    .unwrap();
    let inbox = Mailbox::at(tmp.path(), tmp.path(), "INBOX");
    sync(&inbox).unwrap();
    let mut snap = MailboxSnapshot::open(&inbox).unwrap();
    let mut cache = MessageCache::open(&inbox).unwrap();
    for (key, hits) in [
        ("HEADER X-Late needle", vec![1]),
        ("HEADER X-Late \"not in\"", vec![]),
        ("HEADER Received hop1999", vec![1]),
        ("BODY needle", vec![2]),
    ] {
        let key = SearchKey::parse(key).unwrap();
        assert_eq!(
            cache.search(&mut snap, &key, 0, 0).unwrap(),
            hits,
            "{key:?}"
        );
        let mut reference = MailboxSnapshot::open(&inbox).unwrap();
        assert_eq!(reference.search(&key, 0, 0).unwrap(), hits, "{key:?}");
    }
}

#[test]
fn precache_finds_messages_wherever_they_are() {
    let tmp = tempfile::tempdir().unwrap();
    let count = write_messages(tmp.path());
    let inbox = Mailbox::at(tmp.path(), tmp.path(), "INBOX");
    sync(&inbox).unwrap();
    // one message flagged by another client, one still in new/
    let names: Vec<PathBuf> = std::fs::read_dir(tmp.path().join("cur"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let flagged = names[0].to_str().unwrap().to_string() + "S";
    std::fs::rename(&names[0], &flagged).unwrap();
    let base = names[1].file_name().unwrap().to_str().unwrap();
    let base = &base[..base.find(':').unwrap()];
    std::fs::rename(&names[1], tmp.path().join("new").join(base)).unwrap();
    let report = precache(&inbox, None, &PrecacheFields::default()).unwrap();
    assert_eq!(
        (report.parsed, report.missing.len()),
        (count, 0),
        "{report:?}"
    );
    // asked-for UIDs that do not exist are reported, not errors
    let report = precache(&inbox, Some(&[1, 999]), &PrecacheFields::default()).unwrap();
    assert_eq!(report.missing, [999]);
    assert_eq!(report.already_cached, 1);
}

#[test]
fn a_session_keeps_its_cache_and_refreshes_it_when_another_writer_changed_it() {
    let tmp = tempfile::tempdir().unwrap();
    write_messages(tmp.path());
    let inbox = Mailbox::at(tmp.path(), tmp.path(), "INBOX");
    sync(&inbox).unwrap();
    let mut ours = MessageCache::open(&inbox).unwrap();
    assert!(!ours.refresh().unwrap());
    assert_eq!(ours.lookup(1, "hdr.Subject"), None);
    // another session caches what its search needed
    let mut snap = MailboxSnapshot::open(&inbox).unwrap();
    let mut other = MessageCache::open(&inbox).unwrap();
    let key = SearchKey::parse("SUBJECT boundary").unwrap();
    let hits = other.search(&mut snap, &key, 0, 0).unwrap();
    assert!(!hits.is_empty());
    assert!(ours.refresh().unwrap());
    assert!(ours.lookup(1, "hdr.Subject").is_some());
    assert!(!ours.refresh().unwrap());
    assert_eq!(ours.search(&mut snap, &key, 0, 0).unwrap(), hits);
    assert_eq!(ours.files_opened(), 0);
}

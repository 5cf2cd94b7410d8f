//! What Dovecot 2.3 cached in `dovecot.index.cache` for the fixture
//! mailboxes (`imap.bodystructure`, `imap.body`, `mime.parts`; and
//! `imap.envelope` where present: Dovecot 2.3 caches ENVELOPE's header
//! fields instead) equals what Columba computes for the same message files:
//! Dovecot can reuse values Columba caches and the other way round.

use columba_mail_index::IndexDir;
use columba_mail_store::Message;

/// UID -> file name from a `dovecot-uidlist`.
fn uid_files(dir: &std::path::Path) -> Vec<(u32, String)> {
    let text = std::fs::read_to_string(dir.join("dovecot-uidlist")).unwrap();
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let uid = l.split(' ').next()?.parse().ok()?;
            let name = l.split_once(" :")?.1.to_string();
            Some((uid, name))
        })
        .collect()
}

fn find_file(dir: &std::path::Path, base: &str) -> Option<std::path::PathBuf> {
    for sub in ["cur", "new"] {
        for e in std::fs::read_dir(dir.join(sub)).ok()? {
            let e = e.ok()?;
            let name = e.file_name().into_string().ok()?;
            if name == base || name.starts_with(&format!("{base}:")) {
                return Some(e.path());
            }
        }
    }
    None
}

#[test]
fn dovecot_cache_values_equal_columba_values() {
    let tmp = tempfile::tempdir().unwrap();
    columba_interop::install_fixture_maildir("01-alice-shapes-flags", tmp.path()).unwrap();
    let mut compared = std::collections::BTreeMap::<&str, usize>::new();
    let dirs = [".", ".Archive.2024", ".Drafts", ".Sent", ".Entw&APw-rfe"];
    for d in dirs {
        let dir = tmp.path().join(d);
        let view = IndexDir::new(&dir).open_view().unwrap();
        let cache = view.cache.as_ref().expect("cache file");
        let files = uid_files(&dir);
        for m in view.messages() {
            if m.cache_offset == 0 {
                continue;
            }
            let (_, base) = files.iter().find(|(u, _)| *u == m.uid).unwrap();
            let data = std::fs::read(find_file(&dir, base).unwrap()).unwrap();
            let msg = Message::parse(&data);
            let ours: [(&str, Vec<u8>); 4] = [
                ("imap.envelope", msg.envelope_imap()),
                ("imap.bodystructure", msg.bodystructure_imap(true)),
                ("imap.body", msg.bodystructure_imap(false)),
                ("mime.parts", msg.root().serialize_mime_parts()),
            ];
            for (field, value) in ours {
                let Some(mut cached) = cache.lookup(m.cache_offset, field).unwrap() else {
                    continue;
                };
                if field != "mime.parts" && cached.last() == Some(&0) {
                    cached.pop();
                }
                assert_eq!(
                    String::from_utf8_lossy(&cached),
                    String::from_utf8_lossy(&value),
                    "{d} uid {} {field}",
                    m.uid
                );
                *compared.entry(field).or_default() += 1;
            }
        }
    }
    eprintln!("compared with Dovecot's cache: {compared:?}");
    assert!(
        compared.get("imap.bodystructure").copied().unwrap_or(0) >= 10,
        "{compared:?}"
    );
    assert!(
        compared.get("mime.parts").copied().unwrap_or(0) >= 10,
        "{compared:?}"
    );
}

//! Replays every committed fuzz corpus file of this crate's targets
//! (`fuzz/corpus/maildir_*`) with the same checks the targets make, so a
//! crash found by fuzzing stays fixed under plain `cargo test`.

use std::path::PathBuf;

use columba_maildir::{Keywords, Maildir, MaildirFilename, Subscriptions, Uidlist};

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let data = std::fs::read(&p).unwrap();
            (p, data)
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty corpus {}", dir.display());
    files
}

#[test]
fn uidlist_corpus() {
    for (path, data) in corpus("maildir_uidlist") {
        if let Ok(list) = Uidlist::parse(&data) {
            let _ = list.next_uid();
            let again = Uidlist::parse(&list.to_bytes())
                .unwrap_or_else(|e| panic!("{}: own output: {e}", path.display()));
            assert_eq!(again.records, list.records, "{}", path.display());
            assert_eq!(again.undecodable, list.undecodable, "{}", path.display());
            assert_eq!(again.uid_validity, list.uid_validity);
            assert_eq!(again.header_next_uid, list.header_next_uid);
            assert_eq!(again.guid, list.guid);
            assert_eq!(again.header_extensions, list.header_extensions);
        }
    }
}

#[test]
fn keywords_corpus() {
    for (_, data) in corpus("maildir_keywords") {
        let kw = Keywords::parse(&data);
        let again = Keywords::parse(&kw.to_bytes());
        for i in 0..26 {
            assert_eq!(again.get(i), kw.get(i));
            let _ = kw.name_for_letter(i);
        }
        let _ = kw.names(u32::MAX);
    }
}

#[test]
fn subscriptions_corpus() {
    for (path, data) in corpus("maildir_subscriptions") {
        if let Ok(subs) = Subscriptions::parse(&data, '.') {
            let again = Subscriptions::parse(&subs.to_bytes('.'), '.').unwrap();
            assert_eq!(again.names, subs.names, "{}", path.display());
        }
    }
}

#[test]
fn filename_corpus() {
    for (path, data) in corpus("maildir_filename") {
        let Ok(name) = std::str::from_utf8(&data) else {
            continue;
        };
        if let Ok(f) = MaildirFilename::parse(name) {
            let _ = (f.size(), f.vsize());
            let info = f.info().unwrap_or_default();
            let renamed = f.with_info(&info);
            let again = MaildirFilename::parse(renamed.as_str())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(again.base(), f.base());
            assert_eq!(again.info().unwrap_or_default().letters(), info.letters());
        }
        if let Ok(folder) = Maildir::name_of_dir(name) {
            if let Ok(dir) = Maildir::dir_name(&folder) {
                assert_eq!(Maildir::name_of_dir(&dir).unwrap(), folder);
            }
        }
        if let Ok(decoded) = columba_maildir::mutf7::decode(name) {
            let re = columba_maildir::mutf7::encode(&decoded);
            assert_eq!(columba_maildir::mutf7::decode(&re).unwrap(), decoded);
        }
    }
}

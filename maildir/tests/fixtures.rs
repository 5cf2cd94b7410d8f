//! The Maildirs written by real Dovecot 2.3.19.1 read back exactly as its
//! `doveadm` ground truth says: UIDs, flags, keywords, sizes, base names,
//! UIDVALIDITY, UIDNEXT, message counts, folders and subscriptions.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use columba_interop::{fixture_dir, install_fixture_maildir};
use columba_maildir::{Flags, Maildir};

const SCENARIOS: [&str; 4] = [
    "01-alice-shapes-flags",
    "02-bob-rotated-log",
    "03-carol-10k",
    "04-dave-folders",
];

fn read_truth(scenario: &str, file: &str) -> String {
    let dir = fixture_dir(scenario).join("truth");
    let plain = dir.join(file);
    if plain.exists() {
        return std::fs::read_to_string(plain).unwrap();
    }
    let gz = dir.join(format!("{file}.gz"));
    let out = std::process::Command::new("gzip")
        .arg("-dc")
        .arg(&gz)
        .output()
        .expect("gzip");
    assert!(out.status.success(), "gunzip {}", gz.display());
    String::from_utf8(out.stdout).unwrap()
}

/// Rows of a `doveadm -f tab` file as column-name -> value maps.
fn tsv(text: &str) -> Vec<BTreeMap<String, String>> {
    let mut lines = text.lines().filter(|l| !l.starts_with('#'));
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            header
                .iter()
                .zip(l.split('\t'))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

fn list_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(str::to_string)
        .collect()
}

#[derive(Debug, PartialEq)]
struct Msg {
    flags: BTreeSet<String>,
    keywords: BTreeSet<String>,
    size: u64,
    vsize: u64,
    guid: String,
}

fn check_scenario(scenario: &str, dest: &Path) {
    install_fixture_maildir(scenario, dest).unwrap();
    let maildir = Maildir::open(dest).unwrap();

    // Messages, mailbox by mailbox.
    let mut truth: BTreeMap<String, BTreeMap<u32, Msg>> = BTreeMap::new();
    for row in tsv(&read_truth(scenario, "doveadm-fetch.tsv")) {
        let mut flags = BTreeSet::new();
        let mut keywords = BTreeSet::new();
        for f in row["flags"].split(' ').filter(|f| !f.is_empty()) {
            if f == "\\Recent" {
                continue; // index state, not stored in the file
            } else if f.starts_with('\\') {
                flags.insert(f.to_string());
            } else {
                keywords.insert(f.to_string());
            }
        }
        truth.entry(row["mailbox"].clone()).or_default().insert(
            row["uid"].parse().unwrap(),
            Msg {
                flags,
                keywords,
                size: row["size.physical"].parse().unwrap(),
                vsize: row["size.virtual"].parse().unwrap(),
                guid: row["guid"].clone(),
            },
        );
    }
    let status = tsv(&read_truth(scenario, "doveadm-mailbox-status.tsv"));
    for st in &status {
        let name = &st["mailbox"];
        let mailbox = maildir
            .folder(name)
            .unwrap_or_else(|e| panic!("{scenario} {name}: {e}"));
        let listing = mailbox.list().unwrap();
        assert!(
            listing.skipped.is_empty(),
            "{scenario} {name}: {:?}",
            listing.skipped
        );
        let ours: BTreeMap<u32, Msg> = listing
            .messages
            .iter()
            .map(|m| {
                let uid = m
                    .uid
                    .unwrap_or_else(|| panic!("{scenario} {name}: {} has no UID", m.base()));
                let flags = m.flags.imap_names().iter().map(|s| s.to_string()).collect();
                (
                    uid,
                    Msg {
                        flags,
                        keywords: m.keywords.iter().cloned().collect(),
                        size: m.size,
                        vsize: m.vsize,
                        guid: m.base().to_string(),
                    },
                )
            })
            .collect();
        let empty = BTreeMap::new();
        let want = truth.get(name).unwrap_or(&empty);
        assert_eq!(&ours, want, "{scenario} mailbox {name}");
        assert_eq!(
            listing.messages.len().to_string(),
            st["messages"],
            "{scenario} {name} messages"
        );
        assert_eq!(
            listing.next_uid.to_string(),
            st["uidnext"],
            "{scenario} {name} uidnext"
        );
        assert_eq!(
            listing.uid_validity.map(|v| v.to_string()).as_deref(),
            Some(st["uidvalidity"].as_str()),
            "{scenario} {name} uidvalidity"
        );
        assert_eq!(
            listing
                .guid
                .map(|g| columba_maildir::uidlist::format_guid(&g))
                .as_deref(),
            Some(st["guid"].as_str()),
            "{scenario} {name} mailbox guid"
        );
        // A listing is read-only: nothing in the fixture copy changed.
        assert!(!mailbox.path().join("dovecot-uidlist.lock").exists());
    }
    assert_eq!(status.len(), truth.len().max(status.len()));

    // Folders (with parents that exist only through their children).
    let ours: BTreeSet<String> = maildir
        .folders()
        .unwrap()
        .into_iter()
        .map(|f| f.name)
        .collect();
    let want: BTreeSet<String> = list_lines(&read_truth(scenario, "doveadm-mailbox-list.txt"))
        .into_iter()
        .collect();
    assert_eq!(ours, want, "{scenario} folders");

    // Subscriptions, in file order.
    let want = list_lines(&read_truth(scenario, "doveadm-mailbox-list-subscribed.txt"));
    assert_eq!(
        maildir.subscribed().unwrap(),
        want,
        "{scenario} subscriptions"
    );
}

#[test]
fn fixtures_read_back_as_doveadm_reports() {
    for scenario in SCENARIOS {
        let dir = tempfile::tempdir().unwrap();
        check_scenario(scenario, &dir.path().join("Maildir"));
    }
}

#[test]
fn fixture_keyword_letters_match_dovecot_keywords() {
    let dir = tempfile::tempdir().unwrap();
    install_fixture_maildir("01-alice-shapes-flags", dir.path()).unwrap();
    let inbox = Maildir::open(dir.path()).unwrap().inbox();
    let kw = inbox.keywords().unwrap();
    assert_eq!(kw.get(0), Some("$Label1"));
    assert_eq!(kw.get(9), Some("Work"));
    let listing = inbox.list().unwrap();
    let m7 = listing.messages.iter().find(|m| m.uid == Some(7)).unwrap();
    assert_eq!(m7.file_name.info().unwrap().letters(), "efgh");
    assert_eq!(
        m7.keywords,
        ["$Label2", "$Label3", "$Forwarded", "$MDNSent"]
    );
    let m10 = listing.messages.iter().find(|m| m.uid == Some(10)).unwrap();
    assert_eq!(m10.flags, Flags::SEEN);
    assert_eq!((m10.size, m10.vsize), (336, 336), "CRLF file without S=/W=");
}

#[test]
fn fixture_uidlists_round_trip_byte_for_byte() {
    for scenario in SCENARIOS {
        let dir = tempfile::tempdir().unwrap();
        install_fixture_maildir(scenario, dir.path()).unwrap();
        let maildir = Maildir::open(dir.path()).unwrap();
        for f in maildir
            .folders()
            .unwrap()
            .into_iter()
            .filter(|f| f.selectable)
        {
            let mailbox = maildir.folder(&f.name).unwrap();
            let path = mailbox.path().join("dovecot-uidlist");
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            let parsed = columba_maildir::Uidlist::parse(&bytes).unwrap();
            assert_eq!(parsed.to_bytes(), bytes, "{scenario} {}", f.name);
        }
    }
}

//! FETCH answers compared byte for byte with Dovecot 2.3's: the recorded
//! answers in `tests/truth/` (collected from a live Dovecot over IMAP for the
//! messages in `tests/messages/`), and, when Dovecot is installed, a live
//! private Dovecot serving the same messages.
//!
//! `COLUMBA_UPDATE_TRUTH=1 cargo test -p columba-mail-store --test dovecot_fetch`
//! rewrites the recorded answers from the live Dovecot.

mod common;

use columba_interop::{require_tool, DovecotConfig, PrivateDovecot};
use common::*;

/// Columba's answer for one FETCH item, formatted as Dovecot sends it.
fn columba_answer(message: &[u8], item: &str) -> Vec<u8> {
    columba_mail_store::fetch::fetch_item_imap(message, item)
        .unwrap_or_else(|e| e.to_string().into_bytes())
}

/// Answers where Dovecot 2.3.19.1 is wrong and Columba deliberately differs.
const DOVECOT_BUGS: &[(&str, &str, &str)] = &[(
    // BINARY.SIZE of a multipart/alternative inside multipart/related wraps
    // below zero (2^64 - 147); BINARY[1] itself is 189 bytes.
    "fixture-10",
    "BINARY.SIZE[1]",
    "BINARY.SIZE[1] 189",
)];

fn compare(name: &str, message: &[u8], entries: &[TruthEntry]) -> Vec<String> {
    let mut failures = Vec::new();
    for entry in entries {
        let ours = columba_answer(message, &entry.item);
        if let Some((_, _, expected)) = DOVECOT_BUGS
            .iter()
            .find(|(m, i, _)| *m == name && *i == entry.item)
        {
            assert_eq!(
                String::from_utf8_lossy(&ours),
                *expected,
                "{name} {}",
                entry.item
            );
            continue;
        }
        if ours != entry.answer {
            failures.push(format!(
                "{name} {}:\n  dovecot: {}\n  columba: {}",
                entry.item,
                String::from_utf8_lossy(&entry.answer).escape_debug(),
                String::from_utf8_lossy(&ours).escape_debug()
            ));
        }
    }
    failures
}

#[test]
fn fetch_matches_recorded_dovecot_answers() {
    let mut failures = Vec::new();
    let mut compared = 0;
    for (name, data) in messages() {
        let path = truth_path(&name);
        assert!(path.exists(), "no recorded answers for {name}");
        let entries = read_truth(&path);
        compared += entries.len();
        failures.extend(compare(&name, &data, &entries));
    }
    assert!(compared > 500, "only {compared} answers compared");
    assert!(
        failures.is_empty(),
        "{} of {compared} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn fetch_matches_live_dovecot() {
    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    let maildir = dovecot.maildir("alice");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    let messages = messages();
    let mut base_names = Vec::new();
    for (i, (_, data)) in messages.iter().enumerate() {
        let base = format!("{}.M1P1.columba", 1_700_000_000 + i);
        std::fs::write(maildir.join("cur").join(format!("{base}:2,")), data).unwrap();
        base_names.push(base);
    }
    dovecot.fix_ownership("alice").unwrap();

    let mut imap = ImapClient::connect(dovecot.imap_port);
    let (_, ok) = imap.command("LOGIN alice alicepw");
    assert!(ok.starts_with("OK"), "{ok}");
    let (_, ok) = imap.command("EXAMINE INBOX");
    assert!(ok.starts_with("OK"), "{ok}");

    // UID of each file, from the uidlist Dovecot just wrote.
    let uidlist = std::fs::read_to_string(maildir.join("dovecot-uidlist")).unwrap();
    let uid_of = |base: &str| -> u32 {
        uidlist
            .lines()
            .skip(1)
            .find(|l| l.ends_with(&format!(":{base}")))
            .and_then(|l| l.split(' ').next())
            .and_then(|u| u.parse().ok())
            .unwrap_or_else(|| panic!("{base} not in uidlist:\n{uidlist}"))
    };

    let update = std::env::var_os("COLUMBA_UPDATE_TRUTH").is_some();
    let mut failures = Vec::new();
    for ((name, data), base) in messages.iter().zip(&base_names) {
        let uid = uid_of(base);
        let mut entries = Vec::new();
        for item in FETCH_ITEMS {
            let (untagged, status) = imap.command(&format!("UID FETCH {uid} ({item})"));
            let answer = if status.starts_with("OK") {
                fetch_data(&untagged, uid)
                    .unwrap_or_else(|| panic!("{name} {item}: no FETCH data in {untagged:?}"))
            } else {
                // Drop the timing Dovecot appends: "... (0.001 + 0.000 secs)."
                match status.rfind(" (") {
                    Some(p) if status.ends_with("secs).") => status[..p].to_string().into_bytes(),
                    _ => status.into_bytes(),
                }
            };
            entries.push(TruthEntry {
                item: item.to_string(),
                answer,
            });
        }
        let path = truth_path(name);
        if update {
            write_truth(&path, &entries);
        } else {
            assert_eq!(
                read_truth(&path),
                entries,
                "{name}: live Dovecot differs from the recorded answers"
            );
        }
        failures.extend(compare(name, data, &entries));
    }
    assert!(
        dovecot.log_problems().is_empty(),
        "{:?}",
        dovecot.log_problems()
    );
    assert!(
        failures.is_empty(),
        "{} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

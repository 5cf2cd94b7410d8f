//! SEARCH results compared with Dovecot 2.3's on the messages of
//! `tests/messages/`: recorded in `tests/truth/search.txt` from a live
//! Dovecot over IMAP (`UID SEARCH`), and checked against a live private
//! Dovecot when one is installed (`COLUMBA_UPDATE_TRUTH=1` rewrites the file).

mod common;

use columba_interop::{require_tool, DovecotConfig, PrivateDovecot};
use columba_mail_store::search::{
    match_index, match_message, MessageInfo, SearchContext, SearchKey,
};
use columba_mail_store::Message;
use common::*;

/// INTERNALDATE given to message i (file mtime): one day apart from 2024-01-01.
fn internal_date(i: usize) -> i64 {
    1_704_067_200 + i as i64 * 86_400 + 3600
}

/// Search programs; the text is sent as is (LITERAL+ for non-ASCII).
const QUERIES: &[&str] = &[
    "ALL",
    "FROM example.com",
    "FROM andre",
    "FROM \"Hedda\"",
    "TO y@example.com",
    "CC \"Y Z\"",
    "SUBJECT nested",
    "SUBJECT \"inner\"",
    "SUBJECT \"Plain text\"",
    "SUBJECT \"\"",
    "HEADER Content-Type alternative",
    "HEADER X-Empty \"\"",
    "HEADER Message-ID example",
    "BODY \"soft break\"",
    "BODY hello",
    "BODY innermost",
    "BODY \"deep body\"",
    "BODY \"see attached\"",
    "TEXT forwarded",
    "TEXT \"first digest entry\"",
    "LARGER 1000",
    "SMALLER 300",
    "NOT LARGER 500",
    "OR SMALLER 200 LARGER 5000",
    "SENTSINCE 1-Jan-2024",
    "SENTBEFORE 2-Jan-2024",
    "SENTON 2-Jan-2024",
    "SINCE 10-Jan-2024",
    "BEFORE 5-Jan-2024",
    "ON 3-Jan-2024",
    "UID 3:5",
    "UID 30:*",
    "2,4,6:8",
    "NOT (SUBJECT multipart FROM example.com)",
    "OR (BODY \"caf\" SMALLER 600) UID 1",
    "UNSEEN",
    "SEEN",
    "KEYWORD $Forwarded",
    "UNKEYWORD $Forwarded",
    "CHARSET UTF-8 SUBJECT ~Grüße",
    "CHARSET UTF-8 BODY ~GRÜẞE",
    "CHARSET UTF-8 BODY ~café",
    "CHARSET UTF-8 FROM ~André",
    "CHARSET UTF-8 TEXT ~müller",
    "CHARSET UTF-8 SUBJECT ~inner é",
];

/// `~text` at the end of a query is sent as a LITERAL+ literal.
fn program_text(query: &str) -> String {
    match query.split_once('~') {
        Some((head, text)) => format!("{head}\"{text}\""),
        None => query.to_string(),
    }
}

fn wire_text(query: &str) -> String {
    match query.split_once('~') {
        Some((head, text)) => format!("{head}{{{}+}}\r\n{text}", text.len()),
        None => query.to_string(),
    }
}

fn truth_file() -> std::path::PathBuf {
    crate_dir().join("tests/truth/search.txt")
}

fn read_search_truth() -> Vec<(String, Vec<String>)> {
    std::fs::read_to_string(truth_file())
        .unwrap()
        .lines()
        .map(|l| {
            let (q, names) = l.split_once('\t').unwrap();
            (
                q.to_string(),
                names.split_whitespace().map(String::from).collect(),
            )
        })
        .collect()
}

fn columba_results(query: &str, messages: &[(String, Vec<u8>)]) -> Vec<String> {
    let key = SearchKey::parse(&program_text(query)).unwrap_or_else(|e| panic!("{query}: {e}"));
    let ctx = SearchContext {
        max_seq: messages.len() as u32,
        max_uid: messages.len() as u32,
        tz_offset_secs: 0,
        now: 0,
    };
    let mut out = Vec::new();
    for (i, (name, data)) in messages.iter().enumerate() {
        let msg = Message::parse(data);
        let info = MessageInfo {
            seq: i as u32 + 1,
            uid: i as u32 + 1,
            internal_date: internal_date(i),
            rfc822_size: msg.rfc822_size(),
            ..MessageInfo::default()
        };
        let hit = match match_index(&key, &info, &ctx) {
            Some(answer) => answer,
            None => match_message(&key, &info, &ctx, &msg),
        };
        if hit {
            out.push(name.clone());
        }
    }
    out
}

#[test]
fn search_matches_recorded_dovecot_results() {
    let messages = messages();
    let truth = read_search_truth();
    assert_eq!(truth.len(), QUERIES.len());
    let mut failures = Vec::new();
    for (query, expected) in &truth {
        let ours = columba_results(query, &messages);
        if &ours != expected {
            failures.push(format!(
                "{query:?}:\n  dovecot: {expected:?}\n  columba: {ours:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} differ:\n{}",
        failures.len(),
        truth.len(),
        failures.join("\n")
    );
}

#[test]
fn search_matches_live_dovecot() {
    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    let maildir = dovecot.maildir("alice");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    let messages = messages();
    for (i, (_, data)) in messages.iter().enumerate() {
        let path = maildir
            .join("cur")
            .join(format!("{}.M1P1.columba:2,", 1_700_000_000 + i));
        std::fs::write(&path, data).unwrap();
        let mtime = std::time::UNIX_EPOCH + std::time::Duration::from_secs(internal_date(i) as u64);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
    }
    dovecot.fix_ownership("alice").unwrap();
    let mut imap = ImapClient::connect(dovecot.imap_port);
    assert!(imap.command("LOGIN alice alicepw").1.starts_with("OK"));
    assert!(imap.command("EXAMINE INBOX").1.starts_with("OK"));
    let (all, _) = imap.command("UID SEARCH ALL");
    let expected_all: Vec<String> = (1..=messages.len()).map(|u| u.to_string()).collect();
    assert_eq!(
        String::from_utf8_lossy(&all[0]).trim_end(),
        format!("* SEARCH {}", expected_all.join(" "))
    );

    let mut lines = Vec::new();
    for query in QUERIES {
        let (untagged, status) = imap.command(&format!("UID SEARCH {}", wire_text(query)));
        assert!(status.starts_with("OK"), "{query}: {status}");
        let line = untagged
            .iter()
            .find(|u| u.starts_with(b"* SEARCH"))
            .unwrap();
        let names: Vec<String> = String::from_utf8_lossy(line)
            .split_whitespace()
            .skip(2)
            .map(|uid| messages[uid.parse::<usize>().unwrap() - 1].0.clone())
            .collect();
        lines.push(format!("{query}\t{}", names.join(" ")));
    }
    let text = lines.join("\n") + "\n";
    if std::env::var_os("COLUMBA_UPDATE_TRUTH").is_some() {
        std::fs::write(truth_file(), &text).unwrap();
    } else {
        assert_eq!(
            std::fs::read_to_string(truth_file()).unwrap(),
            text,
            "live Dovecot differs from the recorded results"
        );
    }
}

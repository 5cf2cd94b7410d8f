//! LIST answers compared with Dovecot 2.3's for the same mailboxes,
//! subscriptions and special-use configuration: recorded in
//! `tests/truth/list.txt` from a live Dovecot, and compared live when Dovecot
//! is installed (`COLUMBA_UPDATE_TRUTH=1` rewrites the file).

mod common;

use columba_interop::{require_tool, DovecotConfig, PrivateDovecot};
use columba_mail_store::list::{MailboxTree, SpecialUse};
use common::*;

const MAILBOXES: &[&str] = &[
    "Sent",
    "Drafts",
    "a/b",
    "a/b/c",
    "Archive",
    "Archive/2024",
    "x",
    "x/y",
    "Junk",
];
const SUBSCRIBED: &[&str] = &["Sent", "a/b", "Archive", "Ghost", "x/y"];
const SPECIAL: &[(&str, &str)] = &[
    ("Sent", "\\Sent"),
    ("Drafts", "\\Drafts"),
    ("Archive", "\\Archive"),
    ("Trash", "\\Trash"),
    ("Junk", "\\Junk"),
];

/// (reference, pattern) pairs, each asked with RETURN (SUBSCRIBED SPECIAL-USE CHILDREN).
const PATTERNS: &[(&str, &str)] = &[
    ("", "*"),
    ("", "%"),
    ("", "a/%"),
    ("", "a/*"),
    ("a/", "%"),
    ("", "inbox"),
    ("", "Inbox*"),
    ("", "Arch*"),
    ("", "*/2024"),
    ("", "%/%"),
    ("", "x%"),
    ("", "*b*"),
    ("", "nothing"),
];

fn tree() -> MailboxTree {
    let mut t = MailboxTree::new('/');
    t.add_mailbox("INBOX");
    for m in MAILBOXES {
        t.add_mailbox(m);
    }
    for s in SUBSCRIBED {
        t.subscribe(s);
    }
    for (name, usage) in SPECIAL {
        t.set_special_use(name, SpecialUse::parse(usage).unwrap());
    }
    t
}

fn columba_lines() -> Vec<String> {
    let t = tree();
    let mut lines = Vec::new();
    for (reference, pattern) in PATTERNS {
        let mut answers: Vec<String> = t
            .list(reference, pattern)
            .into_iter()
            .map(|e| {
                let attrs: Vec<&str> = e.attributes.iter().map(|a| a.as_str()).collect();
                format!("({}) {}", attrs.join(" "), e.name)
            })
            .collect();
        answers.sort();
        lines.push(format!(
            "LIST \"{reference}\" \"{pattern}\"\t{}",
            answers.join(" | ")
        ));
    }
    lines
}

fn truth_file() -> std::path::PathBuf {
    crate_dir().join("tests/truth/list.txt")
}

#[test]
fn list_matches_recorded_dovecot_answers() {
    let recorded = std::fs::read_to_string(truth_file()).unwrap();
    let recorded: Vec<&str> = recorded.lines().collect();
    let ours = columba_lines();
    let mut failures = Vec::new();
    for (d, c) in recorded.iter().zip(&ours) {
        if d != c {
            failures.push(format!("dovecot: {d}\ncolumba: {c}"));
        }
    }
    assert_eq!(recorded.len(), ours.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn list_matches_live_dovecot() {
    require_tool!("dovecot");
    let mut extra = String::from("namespace inbox {\n  inbox = yes\n  separator = /\n");
    for (name, usage) in SPECIAL {
        extra.push_str(&format!(
            "  mailbox {name} {{\n    special_use = {usage}\n  }}\n"
        ));
    }
    extra.push_str("}\n");
    let dovecot = PrivateDovecot::start(
        DovecotConfig::default()
            .user("alice", "alicepw")
            .extra(&extra),
    )
    .unwrap();
    let maildir = dovecot.maildir("alice");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    dovecot.fix_ownership("alice").unwrap();
    let mut imap = ImapClient::connect(dovecot.imap_port);
    assert!(imap.command("LOGIN alice alicepw").1.starts_with("OK"));
    for m in MAILBOXES {
        let (_, ok) = imap.command(&format!("CREATE \"{m}\""));
        assert!(ok.starts_with("OK"), "CREATE {m}: {ok}");
    }
    // Dovecot subscribes only existing mailboxes: Ghost is created,
    // subscribed and deleted again, leaving a dangling subscription.
    assert!(imap.command("CREATE Ghost").1.starts_with("OK"));
    for s in SUBSCRIBED {
        let (_, ok) = imap.command(&format!("SUBSCRIBE \"{s}\""));
        assert!(ok.starts_with("OK"), "SUBSCRIBE {s}: {ok}");
    }
    assert!(imap.command("DELETE Ghost").1.starts_with("OK"));
    let mut lines = Vec::new();
    for (reference, pattern) in PATTERNS {
        let (untagged, ok) = imap.command(&format!(
            "LIST \"{reference}\" \"{pattern}\" RETURN (SUBSCRIBED SPECIAL-USE CHILDREN)"
        ));
        assert!(ok.starts_with("OK"), "{ok}");
        let mut answers: Vec<String> = untagged
            .iter()
            .map(|u| {
                let line = String::from_utf8_lossy(u).trim_end().to_string();
                let rest = line.strip_prefix("* LIST ").unwrap();
                let close = rest.find(')').unwrap();
                let name = rest[close + 1..]
                    .trim_start()
                    .strip_prefix("\"/\" ")
                    .unwrap()
                    .trim_matches('"');
                format!("{} {name}", &rest[..=close])
            })
            .collect();
        answers.sort();
        lines.push(format!(
            "LIST \"{reference}\" \"{pattern}\"\t{}",
            answers.join(" | ")
        ));
    }
    let text = lines.join("\n") + "\n";
    if std::env::var_os("COLUMBA_UPDATE_TRUTH").is_some() {
        std::fs::write(truth_file(), &text).unwrap();
    } else {
        assert_eq!(std::fs::read_to_string(truth_file()).unwrap(), text);
    }
}

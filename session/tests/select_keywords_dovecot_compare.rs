//! SELECT's FLAGS and PERMANENTFLAGS answers list every keyword the
//! mailbox's index knows, as Dovecot's do: one set on no message any more
//! is still listed, in the order the keywords were first used. The same
//! commands go to a live Dovecot and to Columba, each in a new session.

mod common;

use columba_interop::{require_tool, DovecotConfig, PrivateDovecot};
use common::{append_command, columba_session, run_in, DovecotClient};

const MESSAGE: &str = "From: a@example.com\r\nSubject: m\r\n\r\nbody\r\n";

/// Run in a first session; a second one then SELECTs.
const SETUP: &[&str] = &[
    "APPEND",
    "APPEND",
    "s1 SELECT INBOX",
    "s2 STORE 1 +FLAGS ($Zeta)",
    "s3 STORE 2 +FLAGS ($Alpha $Mid)",
    "s4 STORE 1 -FLAGS ($Zeta)",
    "s5 LOGOUT",
];

/// The command line of a setup entry (`APPEND` stands for an APPEND of
/// [`MESSAGE`]).
fn line(cmd: &str) -> String {
    if cmd == "APPEND" {
        append_command("p", MESSAGE)
    } else {
        cmd.to_string()
    }
}

fn flags_lines(answer: &str) -> String {
    answer
        .split_inclusive("\r\n")
        .filter(|l| l.starts_with("* FLAGS") || l.contains("[PERMANENTFLAGS"))
        .collect()
}

#[test]
fn select_lists_the_keywords_the_index_knows_as_dovecot_does() {
    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    let mut first = DovecotClient::login(dovecot.imap_port);
    for cmd in SETUP {
        first.run(&line(cmd));
    }
    let theirs = flags_lines(&DovecotClient::login(dovecot.imap_port).run("x SELECT INBOX"));

    let home = tempfile::tempdir().unwrap();
    let root = home.path().join("Maildir");
    let mut first = columba_session(&root);
    for cmd in SETUP {
        run_in(&mut first, &line(cmd));
    }
    let ours = flags_lines(&run_in(&mut columba_session(&root), "x SELECT INBOX"));
    assert!(theirs.contains("$Zeta"), "Dovecot:\n{theirs}");
    assert_eq!(theirs, ours, "Dovecot:\n{theirs}\nColumba:\n{ours}");
}

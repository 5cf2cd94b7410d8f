//! Mailbox list operations through the store (create, delete, rename with
//! children, subscribe, unsubscribe) leave the same mailbox list and
//! subscriptions as the same IMAP commands given to Dovecot, as
//! `doveadm mailbox list` shows them; the mailbox GUID agrees with
//! `doveadm mailbox status guid` both ways and survives a rename.

mod common;

use columba_interop::{require_tool, DovecotConfig, PrivateDovecot};
use columba_mail_store::store::{
    create_mailbox, delete_mailbox, mailbox_guid_hex, rename_mailbox, subscribe, unsubscribe,
};
use columba_maildir::Maildir;
use common::*;

fn doveadm_lines(dovecot: &PrivateDovecot, args: &[&str]) -> Vec<String> {
    let out = dovecot.doveadm(args);
    assert!(
        out.status.success(),
        "doveadm {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

fn guid_of(dovecot: &PrivateDovecot, user: &str, mailbox: &str) -> String {
    let lines = doveadm_lines(
        dovecot,
        &[
            "-f", "flow", "mailbox", "status", "-u", user, "guid", mailbox,
        ],
    );
    assert_eq!(lines.len(), 1, "{lines:?}");
    // flow format: `<mailbox> guid=<hex>`
    lines[0]
        .rsplit_once("guid=")
        .unwrap_or_else(|| panic!("{lines:?}"))
        .1
        .to_string()
}

#[test]
fn folder_operations_match_dovecot() {
    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(
        DovecotConfig::default()
            .user("alice", "alicepw")
            .user("bob", "bobpw")
            .extra("namespace inbox {\n  inbox = yes\n  separator = /\n}\n"),
    )
    .unwrap();
    // both users log in once, so Dovecot lays out both Maildirs alike
    let mut alice = ImapClient::connect(dovecot.imap_port);
    assert!(alice.command("LOGIN alice alicepw").1.starts_with("OK"));
    assert!(alice.command("SELECT INBOX").1.starts_with("OK"));
    assert!(alice.command("LOGOUT").1.starts_with("OK"));
    let mut bob = ImapClient::connect(dovecot.imap_port);
    assert!(bob.command("LOGIN bob bobpw").1.starts_with("OK"));

    // Dovecot, over IMAP
    for cmd in [
        "CREATE Work",
        "CREATE Work/Sub",
        "CREATE Work/Sub/Deep",
        "CREATE Other",
        "CREATE &ANw-ber",
        "CREATE Lone/Child",
        "SUBSCRIBE Work",
        "SUBSCRIBE Work/Sub",
        "SUBSCRIBE Other",
        "UNSUBSCRIBE Other",
        "RENAME Work Projects",
        "DELETE Other",
    ] {
        let (_, ok) = bob.command(cmd);
        assert!(ok.starts_with("OK"), "{cmd}: {ok}");
    }
    // Dovecot 2.3 refuses to subscribe to a mailbox that does not exist
    let (_, no) = bob.command("SUBSCRIBE Ghost");
    assert!(no.starts_with("NO"), "{no}");
    let (_, no) = bob.command("CREATE Projects");
    assert!(no.starts_with("NO"), "{no}");
    let (_, no) = bob.command("DELETE INBOX");
    assert!(no.starts_with("NO"), "{no}");
    assert!(bob.command("LOGOUT").1.starts_with("OK"));

    // Columba, through the store on alice's files
    let root = Maildir::open(&dovecot.maildir("alice")).unwrap();
    for name in [
        "Work",
        "Work/Sub",
        "Work/Sub/Deep",
        "Other",
        "Über",
        "Lone/Child",
    ] {
        create_mailbox(&root, name).unwrap();
    }
    let guid_before = mailbox_guid_hex(&root.folder("Work/Sub").unwrap()).unwrap();
    for name in ["Work", "Work/Sub", "Other"] {
        subscribe(&root, name).unwrap();
    }
    assert!(subscribe(&root, "Ghost").is_err());
    unsubscribe(&root, "Other").unwrap();
    rename_mailbox(&root, "Work", "Projects").unwrap();
    delete_mailbox(&root, "Other").unwrap();
    assert!(create_mailbox(&root, "Projects").is_err());
    assert!(delete_mailbox(&root, "INBOX").is_err());
    assert!(rename_mailbox(&root, "Nothing", "Else").is_err());
    dovecot.fix_ownership("alice").unwrap();

    let list = |user: &str| doveadm_lines(&dovecot, &["mailbox", "list", "-u", user]);
    let subscribed = |user: &str| doveadm_lines(&dovecot, &["mailbox", "list", "-s", "-u", user]);
    assert_eq!(list("alice"), list("bob"));
    assert_eq!(subscribed("alice"), subscribed("bob"));
    assert!(list("alice").contains(&"Projects/Sub/Deep".to_string()));

    // the GUID Columba gave the mailbox is Dovecot's, and moved with it
    let guid_after = mailbox_guid_hex(&root.folder("Projects/Sub").unwrap()).unwrap();
    assert_eq!(guid_after, guid_before);
    assert_eq!(guid_of(&dovecot, "alice", "Projects/Sub"), guid_after);
    // and a GUID Dovecot gave is Columba's
    let made = dovecot.doveadm(&["mailbox", "create", "-u", "alice", "Made"]);
    assert!(made.status.success());
    let dovecot_guid = guid_of(&dovecot, "alice", "Made");
    assert_eq!(
        mailbox_guid_hex(&root.folder("Made").unwrap()).unwrap(),
        dovecot_guid
    );
    assert_eq!(
        mailbox_guid_hex(&root.inbox()).unwrap(),
        guid_of(&dovecot, "alice", "INBOX")
    );
    let problems = dovecot.log_problems();
    assert!(problems.is_empty(), "{problems:?}");
}

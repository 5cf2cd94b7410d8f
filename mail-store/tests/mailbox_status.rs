//! `mailbox_status` (SELECT/STATUS counts from the index alone) agrees
//! with the full view and with what `doveadm mailbox status` reported for
//! every fixture mailbox.

use columba_mail_store::store::{mailbox_status, MailboxSnapshot};
use columba_maildir::Mailbox;

fn truth(scenario: &str) -> Vec<Vec<String>> {
    let path = columba_interop::fixture_dir(scenario).join("truth/doveadm-mailbox-status.tsv");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("mailbox\t"))
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

#[test]
fn status_from_the_index_matches_the_view_and_doveadm() {
    let mut checked = 0;
    for scenario in [
        "01-alice-shapes-flags",
        "02-bob-rotated-log",
        "03-carol-10k",
        "04-dave-folders",
    ] {
        let tmp = tempfile::tempdir().unwrap();
        columba_interop::install_fixture_maildir(scenario, tmp.path()).unwrap();
        for row in truth(scenario) {
            let name = &row[0];
            let dir = if name == "INBOX" {
                tmp.path().to_path_buf()
            } else {
                tmp.path().join(format!(".{}", name.replace('/', ".")))
            };
            if !dir.join("dovecot.index.log").exists() {
                continue;
            }
            let mailbox = Mailbox::at(&dir, tmp.path(), name);
            let status = mailbox_status(&mailbox).unwrap();
            assert_eq!(
                status,
                MailboxSnapshot::open(&mailbox).unwrap().status(),
                "{scenario} {name}"
            );
            let n = |i: usize| row[i].parse::<u64>().unwrap();
            assert_eq!(
                u64::from(status.messages),
                n(1),
                "{scenario} {name} messages"
            );
            assert_eq!(
                u64::from(status.uid_next),
                n(3),
                "{scenario} {name} uidnext"
            );
            assert_eq!(
                u64::from(status.uid_validity),
                n(4),
                "{scenario} {name} uidvalidity"
            );
            assert_eq!(u64::from(status.unseen), n(5), "{scenario} {name} unseen");
            assert_eq!(
                status.highest_modseq,
                n(6),
                "{scenario} {name} highestmodseq"
            );
            checked += 1;
        }
    }
    assert!(checked >= 8, "{checked}");
}

#[test]
fn status_cache_sees_every_change_through_the_log() {
    use columba_mail_store::search::MessageFlags;
    use columba_mail_store::store::{expunge, store_flags, StatusCache, StoreMode};
    let tmp = tempfile::tempdir().unwrap();
    columba_interop::install_fixture_maildir("01-alice-shapes-flags", tmp.path()).unwrap();
    let inbox = Mailbox::at(tmp.path(), tmp.path(), "INBOX");
    let mut statuses = StatusCache::default();
    let before = statuses.status(&inbox).unwrap();
    assert_eq!(before, mailbox_status(&inbox).unwrap());
    assert_eq!(statuses.status(&inbox).unwrap(), before);
    let snap = MailboxSnapshot::open(&inbox).unwrap();
    let unseen: Vec<u32> = snap
        .messages
        .iter()
        .filter(|m| !m.flags.seen)
        .map(|m| m.uid)
        .collect();
    assert!(!unseen.is_empty());
    let seen = MessageFlags {
        seen: true,
        ..MessageFlags::default()
    };
    store_flags(&inbox, &unseen[..1], StoreMode::Add, seen, &[]).unwrap();
    let after = statuses.status(&inbox).unwrap();
    assert_eq!(after.unseen, before.unseen - 1);
    assert_eq!(after, mailbox_status(&inbox).unwrap());
    expunge(&inbox, &unseen[..1]).unwrap();
    let gone = statuses.status(&inbox).unwrap();
    assert_eq!(gone.messages, before.messages - 1);
    assert_eq!(gone, MailboxSnapshot::open(&inbox).unwrap().status());
}

//! Threads of one process writing one mailbox: the log's fcntl lock does
//! not keep them apart (it belongs to the process), so the store makes
//! them take turns. Every append and flag change of every thread lands.

use std::sync::{Arc, Barrier};

use columba_mail_store::search::MessageFlags;
use columba_mail_store::store::{self, MailboxSnapshot, StoreMode};
use columba_maildir::Maildir;

#[test]
fn concurrent_appends_stores_and_selects_all_land() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("Maildir");
    let maildir = Maildir::create(&root).unwrap();
    store::sync(&maildir.inbox()).unwrap();
    let threads = 4;
    let each = 15;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let barrier = barrier.clone();
            let root = root.clone();
            std::thread::spawn(move || {
                let inbox = Maildir::open(&root).unwrap().inbox();
                barrier.wait();
                let mut mine = Vec::new();
                for i in 0..each {
                    let body = format!("Subject: {t}-{i}\n\nbody\n");
                    let uid =
                        store::append(&inbox, body.as_bytes(), MessageFlags::default(), &[], None)
                            .unwrap()
                            .uid;
                    let seen = MessageFlags {
                        seen: true,
                        ..MessageFlags::default()
                    };
                    let stored =
                        store::store_flags(&inbox, &[uid], StoreMode::Add, seen, &[]).unwrap();
                    assert_eq!(stored, vec![uid]);
                    MailboxSnapshot::open_select(&inbox).unwrap();
                    mine.push(uid);
                }
                mine
            })
        })
        .collect();
    let mut uids: Vec<u32> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    uids.sort_unstable();
    let expected: Vec<u32> = (1..=(threads * each) as u32).collect();
    assert_eq!(uids, expected);
    let inbox = maildir.inbox();
    let report = store::sync(&inbox).unwrap();
    assert!(report.changed_nothing(), "{report:?}");
    let snap = MailboxSnapshot::open(&inbox).unwrap();
    assert_eq!(snap.messages.len(), threads * each);
    assert!(
        snap.messages.iter().all(|m| m.flags.seen),
        "every \\Seen landed"
    );
}

//! Several processes (or sessions) opening a mailbox that has no index yet
//! at the same moment: each one finds the log either absent (and creates
//! it) or already there, so every open succeeds and all of them agree on
//! the one index that results.

use std::sync::{Arc, Barrier};

use columba_mail_store::store;
use columba_maildir::Mailbox;

#[test]
fn simultaneous_first_opens_all_succeed_on_one_index() {
    for round in 0..5 {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        for d in ["new", "cur", "tmp"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        let inbox = Mailbox::at(&root, &root, "INBOX");
        for i in 0..3 {
            let message = format!("Subject: {i}\r\n\r\nbody\r\n");
            inbox
                .deliver(message.as_bytes(), &Default::default())
                .unwrap();
        }
        let barrier = Arc::new(Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let barrier = barrier.clone();
                let root = root.clone();
                std::thread::spawn(move || {
                    let inbox = Mailbox::at(&root, &root, "INBOX");
                    barrier.wait();
                    store::sync(&inbox).map(|r| r.created_index)
                })
            })
            .collect();
        let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let created = results.iter().filter(|r| matches!(r, Ok(true))).count();
        assert!(
            results.iter().all(|r| r.is_ok()),
            "round {round}: {results:?}"
        );
        assert_eq!(created, 1, "round {round}: exactly one creates the index");
        let snapshot = store::MailboxSnapshot::open(&inbox).unwrap();
        assert_eq!(snapshot.status().messages, 3, "round {round}");
        let leftovers: Vec<_> = std::fs::read_dir(&root)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".newlock"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}

//! `MailboxSnapshot::refresh` brings a snapshot up to the index by
//! touching only the messages whose records changed; after every kind of
//! change it must show exactly what a snapshot opened anew shows, and the
//! files of changed messages must still be found.

use columba_mail_store::search::MessageFlags;
use columba_mail_store::store::{append, expunge, store_flags, sync, MailboxSnapshot, StoreMode};
use columba_maildir::Mailbox;

const COUNT: usize = 200;

fn mailbox(dir: &std::path::Path) -> Mailbox {
    for d in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    let inbox = Mailbox::at(dir, dir, "INBOX");
    sync(&inbox).unwrap();
    for i in 1..=COUNT {
        let msg = format!("Subject: {i}\n\nbody {i}\n");
        append(&inbox, msg.as_bytes(), MessageFlags::default(), &[], None).unwrap();
    }
    MailboxSnapshot::open_select(&inbox).unwrap();
    inbox
}

/// What a user can tell apart: each message's UID, flags, keywords,
/// modseq and text, and the counters.
fn assert_same(refreshed: &mut MailboxSnapshot, fresh: &mut MailboxSnapshot, step: &str) {
    assert_eq!(refreshed.uid_next, fresh.uid_next, "{step}: UIDNEXT");
    assert_eq!(refreshed.uid_validity, fresh.uid_validity, "{step}");
    assert_eq!(refreshed.highest_modseq, fresh.highest_modseq, "{step}");
    assert_eq!(refreshed.log_position, fresh.log_position, "{step}");
    assert_eq!(refreshed.messages.len(), fresh.messages.len(), "{step}");
    for (a, b) in refreshed.messages.iter().zip(&fresh.messages) {
        assert_eq!(
            (a.seq, a.uid, a.flags, &a.keywords, a.modseq),
            (b.seq, b.uid, b.flags, &b.keywords, b.modseq),
            "{step}"
        );
    }
    for seq in 1..=refreshed.messages.len() as u32 {
        refreshed.resolve_file(seq).unwrap();
        fresh.resolve_file(seq).unwrap();
        let i = seq as usize - 1;
        assert_eq!(
            refreshed.messages[i].read().unwrap(),
            fresh.messages[i].read().unwrap(),
            "{step}: text of seq {seq}"
        );
    }
}

/// One step of the test: a change made to the mailbox.
type Change<'a> = Box<dyn Fn() + 'a>;

#[test]
fn a_refreshed_snapshot_equals_one_opened_anew_after_every_kind_of_change() {
    let tmp = tempfile::tempdir().unwrap();
    let inbox = mailbox(tmp.path());
    let mut snapshot = MailboxSnapshot::open(&inbox).unwrap();
    // every message's file named before the changes, so a stale name
    // would show
    snapshot.resolve_files().unwrap();
    let seen = MessageFlags {
        seen: true,
        ..MessageFlags::default()
    };
    let flagged = MessageFlags {
        flagged: true,
        ..MessageFlags::default()
    };
    let steps: Vec<(&str, Change)> = vec![
        ("nothing", Box::new(|| {})),
        (
            "\\Seen on three messages in two blocks",
            Box::new(|| {
                store_flags(&inbox, &[5, 130, 131], StoreMode::Add, seen, &[]).unwrap();
            }),
        ),
        (
            "a new keyword",
            Box::new(|| {
                store_flags(&inbox, &[7], StoreMode::Add, flagged, &["$Work".into()]).unwrap();
            }),
        ),
        (
            "flags replaced",
            Box::new(|| {
                store_flags(&inbox, &[5], StoreMode::Replace, flagged, &[]).unwrap();
            }),
        ),
        (
            "a keyword removed",
            Box::new(|| {
                store_flags(
                    &inbox,
                    &[7],
                    StoreMode::Remove,
                    MessageFlags::default(),
                    &["$Work".into()],
                )
                .unwrap();
            }),
        ),
        (
            "an expunge",
            Box::new(|| {
                expunge(&inbox, &[131]).unwrap();
            }),
        ),
        (
            "an append",
            Box::new(|| {
                append(&inbox, b"Subject: new\n\nnew\n", seen, &[], None).unwrap();
            }),
        ),
        (
            "\\Recent claimed by a SELECT",
            Box::new(|| {
                MailboxSnapshot::open_select(&inbox).unwrap();
            }),
        ),
        (
            "the last message changed",
            Box::new(|| {
                let last = MailboxSnapshot::open(&inbox)
                    .unwrap()
                    .messages
                    .last()
                    .unwrap()
                    .uid;
                store_flags(&inbox, &[last], StoreMode::Add, flagged, &[]).unwrap();
            }),
        ),
    ];
    for (step, change) in steps {
        change();
        snapshot.refresh().unwrap();
        let mut fresh = MailboxSnapshot::open(&inbox).unwrap();
        assert_same(&mut snapshot, &mut fresh, step);
    }
    assert_eq!(snapshot.messages.len(), COUNT);
}

#[test]
fn a_snapshot_without_an_index_is_read_anew() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for d in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    std::fs::write(dir.join("new/1000.M1P1.host"), "Subject: a\n\nx\n").unwrap();
    let inbox = Mailbox::at(dir, dir, "INBOX");
    let mut snapshot = MailboxSnapshot::open(&inbox).unwrap();
    sync(&inbox).unwrap();
    snapshot.refresh().unwrap();
    let mut fresh = MailboxSnapshot::open(&inbox).unwrap();
    assert_same(&mut snapshot, &mut fresh, "first index");
}

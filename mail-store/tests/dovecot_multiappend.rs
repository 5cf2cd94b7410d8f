//! Streaming APPEND, MULTIAPPEND and APPENDLIMIT on a mailbox a live
//! Dovecot serves: staged messages become visible together (Dovecot's
//! FETCH shows exactly what was sent), a failure leaves no message and no
//! `tmp/` file, and COPY/MOVE over the limit change nothing.

mod common;

use std::path::Path;

use columba_interop::{require_tool, DovecotConfig, PrivateDovecot};
use columba_mail_store::search::MessageFlags;
use columba_mail_store::store::{
    append, append_from_reader, commit_appends, copy_limited, move_messages_limited, sync,
    AppendLimit, AppendMeta, MailboxSnapshot, MessageWriter,
};
use columba_mail_store::Error;
use columba_maildir::Mailbox;
use common::*;

fn entries(dir: &Path) -> usize {
    std::fs::read_dir(dir).unwrap().count()
}

fn new_inbox(dir: &Path) -> Mailbox {
    for d in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    let inbox = Mailbox::at(dir, dir, "INBOX");
    sync(&inbox).unwrap();
    inbox
}

/// Stages `data`, written in `chunk`-byte pieces.
fn stage(
    inbox: &Mailbox,
    data: &[u8],
    chunk: usize,
    meta: AppendMeta,
) -> columba_mail_store::store::StagedMessage {
    let mut w = MessageWriter::new(inbox, meta, AppendLimit::bytes(10_000)).unwrap();
    for piece in data.chunks(chunk) {
        w.write(piece).unwrap();
    }
    w.finish().unwrap()
}

#[test]
fn multiappend_becomes_visible_whole_to_dovecot() {
    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    let dir = dovecot.maildir("alice");
    let inbox = new_inbox(&dir);
    append(
        &inbox,
        b"Subject: first\n\nx\n",
        MessageFlags::default(),
        &[],
        None,
    )
    .unwrap();

    let one = b"Subject: one\r\nFrom: a@example.com\r\n\r\nline 1\r\nline 2\r\n".to_vec();
    let two = b"Subject: two\r\n\r\nbare\rCR and CRLF\r\n".to_vec();
    let three = b"Subject: three\r\n\r\nno newline at the end".to_vec();
    let staged = vec![
        // CRLF split across chunk boundaries
        stage(&inbox, &one, 1, AppendMeta::default()),
        stage(
            &inbox,
            &two,
            7,
            AppendMeta {
                flags: MessageFlags {
                    seen: true,
                    flagged: true,
                    ..MessageFlags::default()
                },
                keywords: vec!["$Work".into()],
                internal_date: Some(1_705_331_700),
            },
        ),
        stage(
            &inbox,
            &three,
            4096,
            AppendMeta {
                internal_date: Some(1_000_000_000),
                ..AppendMeta::default()
            },
        ),
    ];
    assert_eq!(entries(&dir.join("tmp")), 3);
    // not visible before the commit
    assert_eq!(MailboxSnapshot::open(&inbox).unwrap().messages.len(), 1);
    let appended = commit_appends(&inbox, staged).unwrap();
    assert_eq!(
        appended.iter().map(|a| a.uid).collect::<Vec<_>>(),
        [2, 3, 4]
    );
    assert_eq!(entries(&dir.join("tmp")), 0);
    let view = MailboxSnapshot::open(&inbox).unwrap();
    assert_eq!(view.messages.len(), 4);
    assert_eq!(view.uid_next, 5);
    assert!(appended.iter().all(|a| a.uid_validity == view.uid_validity));

    dovecot.fix_ownership("alice").unwrap();
    let mut imap = ImapClient::connect(dovecot.imap_port);
    assert!(imap.command("LOGIN alice alicepw").1.starts_with("OK"));
    let (untagged, ok) = imap.command("SELECT INBOX");
    assert!(ok.starts_with("OK"), "{ok}");
    assert!(untagged.iter().any(|u| u == b"* 4 EXISTS\r\n"));
    for (uid, sent, flags, date) in [
        (2, &one, "(\\Recent)", None),
        (
            3,
            &two,
            "(\\Flagged \\Seen \\Recent $Work)",
            Some("15-Jan-2024 15:15:00 +0000"),
        ),
        (4, &three, "(\\Recent)", Some("09-Sep-2001 01:46:40 +0000")),
    ] {
        let (untagged, ok) = imap.command(&format!(
            "UID FETCH {uid} (FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])"
        ));
        assert!(ok.starts_with("OK"), "{ok}");
        let data = fetch_data(&untagged, uid).unwrap();
        let text = String::from_utf8_lossy(&data).to_string();
        // Dovecot sends the stored message with CRLF line endings
        let crlf = String::from_utf8_lossy(sent)
            .replace("\r\n", "\n")
            .replace('\n', "\r\n");
        assert!(text.starts_with(&format!("FLAGS {flags} ")), "{text}");
        if let Some(d) = date {
            assert!(text.contains(&format!("INTERNALDATE \"{d}\"")), "{text}");
        }
        assert!(
            text.contains(&format!("RFC822.SIZE {} ", crlf.len())),
            "{text}"
        );
        assert!(
            text.ends_with(&format!("BODY[] {{{}}}\r\n{crlf}", crlf.len())),
            "{text}"
        );
    }
    assert!(imap.command("LOGOUT").1.starts_with("OK"));
    let problems = dovecot.log_problems();
    assert!(problems.is_empty(), "{problems:?}");
}

#[test]
fn a_failed_multiappend_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let inbox = new_inbox(tmp.path());
    append(
        &inbox,
        b"Subject: first\n\nx\n",
        MessageFlags::default(),
        &[],
        None,
    )
    .unwrap();
    let before = MailboxSnapshot::open(&inbox).unwrap();

    // the third message is over APPENDLIMIT: the session drops the batch
    let mut staged = vec![
        stage(&inbox, b"Subject: a\r\n\r\na\r\n", 3, AppendMeta::default()),
        stage(&inbox, b"Subject: b\r\n\r\nb\r\n", 3, AppendMeta::default()),
    ];
    let mut w = MessageWriter::new(&inbox, AppendMeta::default(), AppendLimit::bytes(100)).unwrap();
    w.write(&[b'x'; 60]).unwrap();
    let err = w.write(&[b'x'; 60]).unwrap_err();
    assert!(
        matches!(
            err,
            Error::TooBig {
                size: 120,
                limit: 100
            }
        ),
        "{err}"
    );
    assert_eq!(entries(&tmp.path().join("tmp")), 3);
    drop(w);
    drop(staged);
    assert_eq!(entries(&tmp.path().join("tmp")), 0);

    // a commit that fails half-way (the second file is gone) unlinks the first
    staged = vec![
        stage(&inbox, b"Subject: a\r\n\r\na\r\n", 3, AppendMeta::default()),
        stage(&inbox, b"Subject: b\r\n\r\nb\r\n", 3, AppendMeta::default()),
    ];
    std::fs::remove_file(staged[1].tmp_path().unwrap()).unwrap();
    assert!(commit_appends(&inbox, staged).is_err());
    assert_eq!(entries(&tmp.path().join("tmp")), 0);
    assert_eq!(
        entries(&tmp.path().join("new")),
        1,
        "only the first message"
    );
    sync(&inbox).unwrap();
    let after = MailboxSnapshot::open(&inbox).unwrap();
    assert_eq!(after.messages, before.messages);
    assert_eq!(after.uid_next, before.uid_next);

    // a reader over the limit: refused while streaming, nothing left
    let big = vec![b'y'; 5000];
    let err = append_from_reader(
        &inbox,
        &big[..],
        AppendMeta::default(),
        AppendLimit::bytes(4096),
    )
    .unwrap_err();
    assert!(matches!(err, Error::TooBig { limit: 4096, .. }), "{err}");
    assert_eq!(entries(&tmp.path().join("tmp")), 0);
    assert_eq!(
        MailboxSnapshot::open(&inbox).unwrap().uid_next,
        before.uid_next
    );
    // at the limit it is taken
    let a = append_from_reader(
        &inbox,
        &big[..4096],
        AppendMeta::default(),
        AppendLimit::bytes(4096),
    )
    .unwrap();
    assert_eq!(a.uid, before.uid_next);
}

#[test]
fn copy_and_move_over_the_limit_change_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let inbox = new_inbox(root);
    let dest_dir = root.join(".Archive");
    let dest = {
        for d in ["new", "cur", "tmp"] {
            std::fs::create_dir_all(dest_dir.join(d)).unwrap();
        }
        let mb = Mailbox::at(&dest_dir, root, "Archive");
        sync(&mb).unwrap();
        mb
    };
    let small = b"Subject: s\n\nsmall\n".to_vec();
    let large = format!("Subject: l\n\n{}\n", "z".repeat(2000)).into_bytes();
    append(&inbox, &small, MessageFlags::default(), &[], None).unwrap();
    append(&inbox, &large, MessageFlags::default(), &[], None).unwrap();
    let limit = AppendLimit::bytes(1000);

    let err = copy_limited(&inbox, &dest, &[1, 2], limit).unwrap_err();
    assert!(matches!(err, Error::TooBig { limit: 1000, .. }), "{err}");
    let err = move_messages_limited(&inbox, &dest, &[1, 2], limit).unwrap_err();
    assert!(matches!(err, Error::TooBig { .. }), "{err}");
    assert_eq!(MailboxSnapshot::open(&dest).unwrap().messages.len(), 0);
    assert_eq!(MailboxSnapshot::open(&inbox).unwrap().messages.len(), 2);

    let moved = move_messages_limited(&inbox, &dest, &[1], limit).unwrap();
    assert_eq!(moved.source_uids, [1]);
    assert_eq!(MailboxSnapshot::open(&dest).unwrap().messages.len(), 1);
    assert_eq!(MailboxSnapshot::open(&inbox).unwrap().messages.len(), 1);
}

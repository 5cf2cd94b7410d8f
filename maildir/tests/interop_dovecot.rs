//! Live interop with a private Dovecot 2.3: what Columba delivers, flags
//! and expunges, Dovecot lists identically; what Dovecot saves, flags and
//! expunges, Columba sees identically; both delivering into one Maildir at
//! once lose nothing and never give a UID twice.
//!
//! Columba runs in this (root) process; every file it creates takes the
//! owner of the mailbox directory (the mail uid), as Dovecot would need.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use columba_interop::{require_tool, DovecotConfig, PrivateDovecot};
use columba_maildir::{DeliveryOptions, FlagOutcome, FlagUpdate, Flags, Maildir};

fn start() -> PrivateDovecot {
    PrivateDovecot::start(
        DovecotConfig::default()
            .user("alice", "alicepw")
            // The IMAP separator "/" as in the fixtures; "." stays the on-disk one.
            .extra("namespace inbox {\n  inbox = yes\n  separator = /\n}"),
    )
    .unwrap()
}

/// `doveadm fetch` of INBOX (or `mailbox`) as uid -> (flags without \Recent, guid, size, vsize).
fn doveadm_view(
    dovecot: &PrivateDovecot,
    mailbox: &str,
) -> BTreeMap<u32, (BTreeSet<String>, String, u64, u64)> {
    let out = dovecot.doveadm(&[
        "-f",
        "tab",
        "fetch",
        "-u",
        "alice",
        "uid flags guid size.physical size.virtual",
        "mailbox",
        mailbox,
        "all",
    ]);
    assert!(
        out.status.success(),
        "doveadm fetch: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut view = BTreeMap::new();
    for line in text.lines().skip(1).filter(|l| !l.is_empty()) {
        let cols: Vec<&str> = line.split('\t').collect();
        let flags = cols[1]
            .split(' ')
            .filter(|f| !f.is_empty() && *f != "\\Recent")
            .map(str::to_string)
            .collect();
        let uid: u32 = cols[0].parse().unwrap();
        assert!(
            view.insert(
                uid,
                (
                    flags,
                    cols[2].to_string(),
                    cols[3].parse().unwrap(),
                    cols[4].parse().unwrap()
                )
            )
            .is_none(),
            "doveadm reports UID {uid} twice"
        );
    }
    view
}

/// The same view from Columba's listing.
fn columba_view(
    maildir: &Maildir,
    mailbox: &str,
    sync: bool,
) -> BTreeMap<u32, (BTreeSet<String>, String, u64, u64)> {
    let mb = maildir.folder(mailbox).unwrap();
    let listing = if sync {
        mb.sync().unwrap()
    } else {
        mb.list().unwrap()
    };
    let mut view = BTreeMap::new();
    for m in listing.messages {
        let uid = m.uid.expect("every message has a UID");
        let mut flags: BTreeSet<String> =
            m.flags.imap_names().iter().map(|s| s.to_string()).collect();
        flags.extend(m.keywords.iter().cloned());
        assert!(
            view.insert(uid, (flags, m.base().to_string(), m.size, m.vsize))
                .is_none(),
            "Columba lists UID {uid} twice"
        );
    }
    view
}

fn assert_log_clean(dovecot: &PrivateDovecot) {
    let problems = dovecot.log_problems();
    assert!(problems.is_empty(), "Dovecot log: {problems:#?}");
}

fn doveadm_ok(dovecot: &PrivateDovecot, args: &[&str]) {
    let out = dovecot.doveadm(args);
    assert!(
        out.status.success(),
        "doveadm {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn doveadm_save(dovecot: &PrivateDovecot, mailbox: &str, message: &[u8]) {
    let mut child = std::process::Command::new(columba_interop::find_tool("doveadm").unwrap())
        .arg("-c")
        .arg(dovecot.config_path())
        .args(["save", "-u", "alice", "-m", mailbox])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(message).unwrap();
    assert!(child.wait().unwrap().success());
}

#[test]
fn dovecot_sees_what_columba_delivers_flags_and_expunges() {
    require_tool!("dovecot");
    let dovecot = start();
    let maildir = Maildir::create(&dovecot.maildir("alice")).unwrap();
    let inbox = maildir.inbox();
    let plain = inbox
        .deliver(
            &b"Subject: one\r\n\r\nfirst\r\n"[..],
            &DeliveryOptions::default(),
        )
        .unwrap();
    let flagged = inbox
        .deliver(
            &b"Subject: two\n\nsecond\n"[..],
            &DeliveryOptions {
                flags: Flags::SEEN | Flags::FLAGGED,
                keywords: vec!["$Label1".into(), "Work".into()],
                ..DeliveryOptions::default()
            },
        )
        .unwrap();
    let third = inbox
        .deliver(
            &b"Subject: three\n\nthird\n"[..],
            &DeliveryOptions::default(),
        )
        .unwrap();
    assert_eq!(
        (plain.uid, flagged.uid, third.uid),
        (Some(1), Some(2), Some(3))
    );
    assert_eq!(
        doveadm_view(&dovecot, "INBOX"),
        columba_view(&maildir, "INBOX", false)
    );

    // Dovecot has now indexed the mailbox; change flags and expunge behind its back.
    let renamed = inbox
        .update_flags(
            &plain.file_name,
            &FlagUpdate::Add(Flags::ANSWERED, vec!["Junk".into()]),
        )
        .unwrap();
    assert!(matches!(renamed, FlagOutcome::Renamed(_)));
    inbox
        .update_flags(
            &flagged.file_name,
            &FlagUpdate::Remove(Flags::FLAGGED, vec!["$Label1".into()]),
        )
        .unwrap();
    assert!(inbox.expunge(&third.file_name).unwrap());
    let ours = columba_view(&maildir, "INBOX", false);
    assert_eq!(ours.keys().copied().collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(doveadm_view(&dovecot, "INBOX"), ours);

    // A folder created by Columba, with a non-ASCII name, and a delivery into it.
    maildir.create_folder("Entwürfe/Ünter").unwrap();
    maildir.subscribe("Entwürfe/Ünter").unwrap();
    let sub = maildir.folder("Entwürfe/Ünter").unwrap();
    sub.deliver(
        &b"Subject: draft\n\nx\n"[..],
        &DeliveryOptions {
            flags: Flags::DRAFT,
            ..Default::default()
        },
    )
    .unwrap();
    let list = dovecot.doveadm(&["mailbox", "list", "-u", "alice"]);
    let list = String::from_utf8(list.stdout).unwrap();
    assert!(list.lines().any(|l| l == "Entwürfe/Ünter"), "{list}");
    let subscribed = String::from_utf8(
        dovecot
            .doveadm(&["mailbox", "list", "-s", "-u", "alice"])
            .stdout,
    )
    .unwrap();
    assert!(
        subscribed.lines().any(|l| l == "Entwürfe/Ünter"),
        "{subscribed}"
    );
    assert_eq!(
        doveadm_view(&dovecot, "Entwürfe/Ünter"),
        columba_view(&maildir, "Entwürfe/Ünter", false)
    );

    // Rename a parent with its child, then delete it.
    maildir.rename_folder("Entwürfe", "Drafts").unwrap();
    let list =
        String::from_utf8(dovecot.doveadm(&["mailbox", "list", "-u", "alice"]).stdout).unwrap();
    assert!(list.lines().any(|l| l == "Drafts/Ünter"), "{list}");
    assert!(!list.lines().any(|l| l.starts_with("Entwürfe")), "{list}");
    assert_eq!(doveadm_view(&dovecot, "Drafts/Ünter").len(), 1);
    maildir.delete_folder("Drafts/Ünter").unwrap();
    let list =
        String::from_utf8(dovecot.doveadm(&["mailbox", "list", "-u", "alice"]).stdout).unwrap();
    assert!(!list.lines().any(|l| l == "Drafts/Ünter"), "{list}");
    assert_log_clean(&dovecot);
}

#[test]
fn columba_sees_what_dovecot_saves_flags_and_expunges() {
    require_tool!("dovecot");
    let dovecot = start();
    for i in 0..5 {
        doveadm_save(
            &dovecot,
            "INBOX",
            format!("Subject: m{i}\n\nbody {i}\n").as_bytes(),
        );
    }
    doveadm_ok(
        &dovecot,
        &["mailbox", "create", "-u", "alice", "Archive/2024"],
    );
    doveadm_save(
        &dovecot,
        "Archive/2024",
        b"Subject: old\r\n\r\narchived\r\n",
    );
    doveadm_ok(
        &dovecot,
        &[
            "flags",
            "add",
            "-u",
            "alice",
            "\\Seen $Forwarded",
            "mailbox",
            "INBOX",
            "uid",
            "2",
        ],
    );
    doveadm_ok(
        &dovecot,
        &[
            "flags",
            "add",
            "-u",
            "alice",
            "\\Deleted \\Draft NonJunk",
            "mailbox",
            "INBOX",
            "uid",
            "4",
        ],
    );
    doveadm_ok(
        &dovecot,
        &["expunge", "-u", "alice", "mailbox", "INBOX", "uid", "3"],
    );
    let maildir = Maildir::open(&dovecot.maildir("alice")).unwrap();
    let ours = columba_view(&maildir, "INBOX", false);
    assert_eq!(ours.keys().copied().collect::<Vec<_>>(), vec![1, 2, 4, 5]);
    assert_eq!(ours, doveadm_view(&dovecot, "INBOX"));
    assert_eq!(
        columba_view(&maildir, "Archive/2024", false),
        doveadm_view(&dovecot, "Archive/2024")
    );
    let names: Vec<String> = maildir
        .folders()
        .unwrap()
        .into_iter()
        .map(|f| f.name)
        .collect();
    assert_eq!(names, ["INBOX", "Archive", "Archive/2024"]);

    // A message Dovecot expunges after Columba listed it: a flag change on
    // the stale name reports it expunged, not an error.
    let inbox = maildir.inbox();
    let listing = inbox.list().unwrap();
    let m5 = listing
        .messages
        .iter()
        .find(|m| m.uid == Some(5))
        .unwrap()
        .file_name
        .clone();
    let m1 = listing
        .messages
        .iter()
        .find(|m| m.uid == Some(1))
        .unwrap()
        .file_name
        .clone();
    doveadm_ok(
        &dovecot,
        &["expunge", "-u", "alice", "mailbox", "INBOX", "uid", "5"],
    );
    assert_eq!(
        inbox
            .update_flags(&m5, &FlagUpdate::Add(Flags::SEEN, vec![]))
            .unwrap(),
        FlagOutcome::Expunged
    );
    // Dovecot renames (flags) after Columba listed it: found again by base name.
    doveadm_ok(
        &dovecot,
        &[
            "flags",
            "add",
            "-u",
            "alice",
            "\\Flagged",
            "mailbox",
            "INBOX",
            "uid",
            "1",
        ],
    );
    let out = inbox
        .update_flags(&m1, &FlagUpdate::Add(Flags::SEEN, vec![]))
        .unwrap();
    let FlagOutcome::Renamed(name) = out else {
        panic!("{out:?}")
    };
    assert_eq!(name.info().unwrap().flags, Flags::FLAGGED | Flags::SEEN);
    assert_eq!(
        columba_view(&maildir, "INBOX", false),
        doveadm_view(&dovecot, "INBOX")
    );
    assert_log_clean(&dovecot);
}

/// One LMTP session delivering `count` messages to alice.
fn lmtp_deliver(port: u16, tag: &str, count: usize) {
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut w = stream;
    let mut line = String::new();
    let mut expect = |reader: &mut BufReader<TcpStream>, code: &str| loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        assert!(
            line.starts_with(code),
            "LMTP: expected {code}, got {line:?}"
        );
        if line.as_bytes().get(3) != Some(&b'-') {
            break;
        }
    };
    expect(&mut reader, "220");
    w.write_all(b"LHLO columba.test\r\n").unwrap();
    expect(&mut reader, "250");
    for i in 0..count {
        w.write_all(b"MAIL FROM:<sender@columba.test>\r\n").unwrap();
        expect(&mut reader, "250");
        w.write_all(b"RCPT TO:<alice>\r\n").unwrap();
        expect(&mut reader, "250");
        w.write_all(b"DATA\r\n").unwrap();
        expect(&mut reader, "354");
        w.write_all(format!("Subject: {tag} {i}\r\n\r\nfrom {tag}\r\n.\r\n").as_bytes())
            .unwrap();
        expect(&mut reader, "250");
    }
    w.write_all(b"QUIT\r\n").unwrap();
}

#[test]
fn dovecot_and_columba_delivering_at_once_lose_nothing() {
    require_tool!("dovecot");
    const EACH: usize = 1000;
    let dovecot = start();
    // Let Dovecot create the Maildir (and its own index) first.
    lmtp_deliver(dovecot.lmtp_port, "warmup", 1);
    let maildir = Maildir::open(&dovecot.maildir("alice")).unwrap();
    let started = Instant::now();
    std::thread::scope(|s| {
        for t in 0..2 {
            let port = dovecot.lmtp_port;
            s.spawn(move || lmtp_deliver(port, &format!("dovecot-{t}"), EACH / 2));
        }
        for t in 0..2 {
            let inbox = maildir.inbox();
            s.spawn(move || {
                for i in 0..EACH / 2 {
                    let msg = format!("Subject: columba-{t} {i}\n\nfrom columba\n");
                    let d = inbox
                        .deliver(msg.as_bytes(), &DeliveryOptions::default())
                        .unwrap();
                    assert!(d.uid.is_some(), "{:?}", d.uid_error);
                }
            });
        }
    });
    let elapsed = started.elapsed();
    let total = 2 * EACH + 1;
    let theirs = doveadm_view(&dovecot, "INBOX");
    let ours = columba_view(&maildir, "INBOX", true);
    assert_eq!(theirs.len(), total, "doveadm sees every message");
    assert_eq!(ours, theirs, "same UIDs, flags and sizes on both sides");
    let guids: BTreeSet<&String> = theirs.values().map(|v| &v.1).collect();
    assert_eq!(guids.len(), total, "no message under two UIDs");
    assert_log_clean(&dovecot);
    eprintln!("{total} concurrent deliveries in {elapsed:?}");
    assert!(elapsed < Duration::from_secs(60), "took {elapsed:?}");
}

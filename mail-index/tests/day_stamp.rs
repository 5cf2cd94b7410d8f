//! `day_stamp` is the start of the local day, as Dovecot writes it.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use columba_interop::{require_tool, DovecotConfig, PrivateDovecot};
use columba_mail_index::local_day::{day_start_in_zone, local_day_start};
use columba_mail_index::{IndexDir, Transaction};

fn now() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as u32
}

/// Dovecot, running in zones east and west of UTC, stamps its first append
/// with the local midnight that Columba computes for the same zone.
#[test]
fn dovecot_stamps_the_local_day_columba_computes() {
    let doveadm = require_tool!("doveadm");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    let mut seen = Vec::new();
    for (i, zone) in ["Asia/Tokyo", "America/Los_Angeles", "Pacific/Kiritimati"]
        .into_iter()
        .enumerate()
    {
        let mailbox = format!("Zone{i}");
        let created = dovecot.doveadm(&["mailbox", "create", "-u", "alice", &mailbox]);
        assert!(created.status.success(), "{created:?}");
        let before = now();
        let mut child = Command::new(&doveadm)
            .arg("-c")
            .arg(dovecot.config_path())
            .args(["save", "-u", "alice", "-m", &mailbox])
            .env("TZ", zone)
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"Subject: day stamp\r\n\r\nbody\r\n")
            .unwrap();
        assert!(child.wait().unwrap().success());
        let after = now();
        let index = IndexDir::new(dovecot.maildir("alice").join(format!(".{mailbox}")));
        let view = index.open_view().unwrap();
        let stamp = view.header().day_stamp;
        let expected = day_start_in_zone(before, zone).unwrap();
        if expected != day_start_in_zone(after, zone).unwrap() {
            eprintln!("SKIPPED {zone}: local midnight passed during the save");
            continue;
        }
        assert_eq!(stamp, expected, "{zone}");
        assert_eq!(view.header().day_first_uid[0], 1, "{zone}");
        seen.push(stamp);
    }
    // The zones are far enough apart that their days start at different
    // instants, so a UTC day would fail at least one of them.
    seen.dedup();
    assert!(seen.len() >= 2, "{seen:?}");
}

/// Columba's own appends are stamped with the process's local day.
#[test]
fn columba_stamps_its_appends_with_the_local_day() {
    let dir = tempfile::tempdir().unwrap();
    let index = IndexDir::new(dir.path());
    index.create(7, 7).unwrap();
    let before = now();
    let mut t = Transaction::new();
    t.append(1, 0);
    index.commit(&t).unwrap();
    let after = now();
    let header = index.open_view().unwrap().header().clone();
    assert!(
        [local_day_start(before), local_day_start(after)].contains(&header.day_stamp),
        "{header:?}"
    );
    assert_eq!(header.day_first_uid[0], 1);
}

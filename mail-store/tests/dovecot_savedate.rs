//! SAVEDATE (RFC 8514) against a live Dovecot on the same Maildir: FETCH
//! SAVEDATE and SEARCH SAVEDBEFORE/SAVEDON/SAVEDSINCE agree for messages
//! saved by Dovecot and by Columba, before and after Dovecot cached
//! `date.save` and a flag change renamed the files (which moves their
//! ctime, Dovecot's fallback).

mod common;

use std::time::Duration;

use columba_interop::{require_tool, DovecotConfig, PrivateDovecot};
use columba_mail_store::search::{MessageFlags, SearchKey};
use columba_mail_store::store::{append, store_flags, MailboxSnapshot, StoreMode};
use columba_maildir::Mailbox;
use common::*;

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `"dd-Mon-yyyy hh:mm:ss +zzzz"` as Unix seconds.
fn parse_datetime(s: &str) -> i64 {
    let (date, rest) = s.split_once(' ').unwrap();
    let (time, zone) = rest.split_once(' ').unwrap();
    let d: Vec<&str> = date.trim().split('-').collect();
    let month = MONTHS.iter().position(|m| *m == d[1]).unwrap() as i64 + 1;
    let days = days_from_civil(d[2].parse().unwrap(), month, d[0].parse().unwrap());
    let t: Vec<i64> = time.split(':').map(|x| x.parse().unwrap()).collect();
    let z: i64 = zone.parse().unwrap();
    let zone_secs = (z / 100) * 3600 + (z % 100) * 60;
    days * 86_400 + t[0] * 3600 + t[1] * 60 + t[2] - zone_secs
}

fn imap_date(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{d}-{}-{y}", MONTHS[m as usize - 1])
}

/// Dovecot's `UID FETCH 1:* (SAVEDATE)` as (uid, Unix seconds).
fn dovecot_save_dates(imap: &mut ImapClient) -> Vec<(u32, i64)> {
    let (untagged, ok) = imap.command("UID FETCH 1:* (SAVEDATE)");
    assert!(ok.starts_with("OK"), "{ok}");
    untagged
        .iter()
        .filter_map(|u| {
            let line = String::from_utf8_lossy(u).to_string();
            let uid = line.split("UID ").nth(1)?.split([' ', ')']).next()?;
            let date = line.split("SAVEDATE \"").nth(1)?.split('"').next()?;
            Some((uid.parse().unwrap(), parse_datetime(date)))
        })
        .collect()
}

fn columba_save_dates(inbox: &Mailbox) -> Vec<(u32, i64)> {
    let mut view = MailboxSnapshot::open(inbox).unwrap();
    view.resolve_save_dates().unwrap();
    view.messages
        .iter()
        .map(|m| {
            (
                m.uid,
                m.save_date.expect("a Maildir message has a save date"),
            )
        })
        .collect()
}

fn dovecot_search(imap: &mut ImapClient, program: &str) -> Vec<u32> {
    let (untagged, ok) = imap.command(&format!("UID SEARCH {program}"));
    assert!(ok.starts_with("OK"), "{ok}");
    let line = String::from_utf8_lossy(&untagged[0]).to_string();
    line.trim_end()
        .trim_start_matches("* SEARCH")
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect()
}

fn columba_search(inbox: &Mailbox, program: &str) -> Vec<u32> {
    let mut view = MailboxSnapshot::open(inbox).unwrap();
    let key = SearchKey::parse(program).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let seqs = view.search(&key, 0, now).unwrap();
    seqs.iter()
        .map(|&s| view.messages[s as usize - 1].uid)
        .collect()
}

#[test]
fn save_dates_and_searches_match_dovecot() {
    require_tool!("dovecot");
    // the server's day boundaries are UTC here, as in Columba's search call
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    let dir = dovecot.maildir("alice");
    let inbox = Mailbox::at(&dir, &dir, "INBOX");
    let mut imap = ImapClient::connect(dovecot.imap_port);
    assert!(imap.command("LOGIN alice alicepw").1.starts_with("OK"));
    for i in 1..=2 {
        let msg = format!("Subject: d{i}\r\n\r\nbody\r\n");
        let (_, ok) = imap.command(&format!(
            "APPEND INBOX \"01-Jan-2020 00:00:00 +0000\" {{{}+}}\r\n{msg}",
            msg.len()
        ));
        assert!(ok.starts_with("OK"), "{ok}");
    }
    append(
        &inbox,
        b"Subject: c\n\nbody\n",
        MessageFlags::default(),
        &[],
        Some(1_577_836_800),
    )
    .unwrap();
    dovecot.fix_ownership("alice").unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    let seen = MessageFlags {
        seen: true,
        ..MessageFlags::default()
    };
    store_flags(&inbox, &[1], StoreMode::Add, seen, &[]).unwrap();
    dovecot.fix_ownership("alice").unwrap();
    assert!(imap.command("SELECT INBOX").1.starts_with("OK"));

    let theirs = dovecot_save_dates(&mut imap);
    assert_eq!(theirs.len(), 3);
    assert_eq!(columba_save_dates(&inbox), theirs);
    // the save date is not INTERNALDATE (set to 2020 above)
    assert!(theirs.iter().all(|&(_, t)| t > 1_600_000_000));

    // Dovecot has now decided to cache date.save; a rename moves the ctime
    std::thread::sleep(Duration::from_millis(1100));
    assert!(imap.command("UID FETCH 1:* (SAVEDATE)").1.starts_with("OK"));
    store_flags(&inbox, &[2, 3], StoreMode::Add, seen, &[]).unwrap();
    dovecot.fix_ownership("alice").unwrap();
    assert!(imap.command("NOOP").1.starts_with("OK"));
    let theirs = dovecot_save_dates(&mut imap);
    assert_eq!(columba_save_dates(&inbox), theirs);
    // Dovecot answers from its cache, not from the files' new ctime
    let mut view = MailboxSnapshot::open(&inbox).unwrap();
    view.resolve_files().unwrap();
    let ctimes: Vec<(u32, i64)> = view
        .messages
        .iter()
        .map(|m| {
            use std::os::unix::fs::MetadataExt;
            let ctime = std::fs::metadata(m.path.as_ref().unwrap()).unwrap().ctime();
            (m.uid, ctime)
        })
        .collect();
    assert_ne!(ctimes, theirs, "the cached date.save was not used");

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let today = imap_date(now);
    let tomorrow = imap_date(now + 86_400);
    for program in [
        format!("SAVEDSINCE {today}"),
        format!("SAVEDON {today}"),
        format!("SAVEDBEFORE {today}"),
        format!("SAVEDBEFORE {tomorrow}"),
        "SAVEDSINCE 1-Jan-2021".to_string(),
        "SAVEDBEFORE 1-Jan-2021".to_string(),
        "SAVEDATESUPPORTED".to_string(),
        format!("NOT SAVEDON {today}"),
    ] {
        assert_eq!(
            columba_search(&inbox, &program),
            dovecot_search(&mut imap, &program),
            "{program}"
        );
    }
    assert!(imap.command("LOGOUT").1.starts_with("OK"));
    let problems = dovecot.log_problems();
    assert!(problems.is_empty(), "{problems:?}");
}

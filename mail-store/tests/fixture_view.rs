//! The read-only mailbox view agrees with what Dovecot showed over IMAP for
//! the 01-alice fixture (`truth/imap-view.txt`): STATUS counts, and per
//! message UID, FLAGS (with \Recent and keywords), INTERNALDATE,
//! RFC822.SIZE and MODSEQ.

use columba_mail_store::search::SearchKey;
use columba_mail_store::store::MailboxSnapshot;
use columba_maildir::Mailbox;

fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn imap_date(t: i64) -> String {
    const M: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, m, d) = civil(t.div_euclid(86_400));
    let s = t.rem_euclid(86_400);
    format!(
        "{d:02}-{}-{y} {:02}:{:02}:{:02} +0000",
        M[m as usize - 1],
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

#[test]
fn view_matches_dovecot_imap_view() {
    let tmp = tempfile::tempdir().unwrap();
    columba_interop::install_fixture_maildir("01-alice-shapes-flags", tmp.path()).unwrap();
    let truth = std::fs::read_to_string(
        columba_interop::fixture_dir("01-alice-shapes-flags").join("truth/imap-view.txt"),
    )
    .unwrap();
    let mut current: Option<(String, MailboxSnapshot)> = None;
    let mut statuses = 0;
    let mut fetches = 0;
    for line in truth.lines() {
        let Some(resp) = line.strip_prefix("S: * ") else {
            continue;
        };
        if let Some(rest) = resp.strip_prefix("STATUS ") {
            let (name, items) = rest.split_once(" (").unwrap();
            let dir = if name == "INBOX" {
                tmp.path().to_path_buf()
            } else {
                tmp.path().join(format!(".{}", name.replace('/', ".")))
            };
            let mut snap = MailboxSnapshot::open(&Mailbox::at(&dir, tmp.path(), name)).unwrap();
            snap.resolve_files().unwrap();
            let st = snap.status();
            let ours = format!(
                "MESSAGES {} RECENT {} UIDNEXT {} UIDVALIDITY {} UNSEEN {} HIGHESTMODSEQ {})",
                st.messages, st.recent, st.uid_next, st.uid_validity, st.unseen, st.highest_modseq
            );
            assert_eq!(ours, items, "STATUS {name}");
            current = Some((name.to_string(), snap));
            statuses += 1;
        } else if resp.contains(" FETCH (UID ") {
            let (name, snap) = current.as_ref().unwrap();
            let seq: u32 = resp.split(' ').next().unwrap().parse().unwrap();
            let m = &snap.messages[seq as usize - 1];
            let ours = format!(
                "{seq} FETCH (UID {} FLAGS {} INTERNALDATE \"{}\" RFC822.SIZE {} MODSEQ ({}))",
                m.uid,
                m.flags_imap(),
                imap_date(m.internal_date().unwrap()),
                m.rfc822_size().unwrap(),
                m.modseq
            );
            assert_eq!(ours, resp, "{name}");
            fetches += 1;
        }
    }
    assert_eq!((statuses, fetches), (6, 21));
}

#[test]
fn status_size_matches_doveadm_vsize() {
    let tmp = tempfile::tempdir().unwrap();
    columba_interop::install_fixture_maildir("01-alice-shapes-flags", tmp.path()).unwrap();
    let tsv = std::fs::read_to_string(
        columba_interop::fixture_dir("01-alice-shapes-flags")
            .join("truth/doveadm-mailbox-status.tsv"),
    )
    .unwrap();
    let mut checked = 0;
    for line in tsv.lines().skip(2) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (name, vsize) = (cols[0], cols[7]);
        let dir = if name == "INBOX" {
            tmp.path().to_path_buf()
        } else {
            tmp.path()
                .join(columba_maildir::Maildir::dir_name(name).unwrap())
        };
        let mut snap = MailboxSnapshot::open(&Mailbox::at(&dir, tmp.path(), name)).unwrap();
        assert_eq!(snap.total_size().unwrap().to_string(), vsize, "{name}");
        checked += 1;
    }
    assert_eq!(checked, 6);
}

#[test]
fn list_of_the_fixture_matches_dovecot() {
    use columba_mail_store::list::SpecialUse;
    let tmp = tempfile::tempdir().unwrap();
    columba_interop::install_fixture_maildir("01-alice-shapes-flags", tmp.path()).unwrap();
    let maildir = columba_maildir::Maildir::open(tmp.path()).unwrap();
    let special = [
        ("Archive", SpecialUse::Archive),
        ("Drafts", SpecialUse::Drafts),
        ("Junk", SpecialUse::Junk),
        ("Sent", SpecialUse::Sent),
        ("Trash", SpecialUse::Trash),
    ];
    let tree = columba_mail_store::store::mailbox_tree(&maildir, &special).unwrap();
    let mut ours: Vec<String> = tree
        .list("", "*")
        .iter()
        .map(|e| {
            let attrs: Vec<&str> = e.attributes.iter().map(|a| a.as_str()).collect();
            format!(
                "* LIST ({}) \"/\" {}",
                attrs.join(" "),
                columba_maildir::mutf7::encode(&e.name)
            )
        })
        .collect();
    ours.sort();
    let truth = std::fs::read_to_string(
        columba_interop::fixture_dir("01-alice-shapes-flags").join("truth/imap-view.txt"),
    )
    .unwrap();
    let mut theirs: Vec<String> = truth
        .lines()
        .filter_map(|l| l.strip_prefix("S: "))
        .filter(|l| l.starts_with("* LIST "))
        .map(String::from)
        .collect();
    theirs.sort();
    assert_eq!(ours, theirs);
}

#[test]
fn search_over_the_view_uses_index_then_files() {
    let tmp = tempfile::tempdir().unwrap();
    columba_interop::install_fixture_maildir("01-alice-shapes-flags", tmp.path()).unwrap();
    let mut snap = MailboxSnapshot::open(&Mailbox::at(tmp.path(), tmp.path(), "INBOX")).unwrap();
    let mut search = |p: &str| {
        snap.search(&SearchKey::parse(p).unwrap(), 0, 1_800_000_000)
            .unwrap()
    };
    assert_eq!(search("UNSEEN"), [4, 5, 6, 10, 12, 13, 14, 15]);
    assert_eq!(search("KEYWORD Work"), [9, 10]);
    assert_eq!(search("RECENT"), [14, 15]);
    assert_eq!(search("DELETED"), [7]);
    assert_eq!(search("UID 10:*"), [8, 9, 10, 11, 12, 13, 14, 15]);
    assert_eq!(search("SUBJECT \"headers only\""), [11]);
    assert_eq!(search("LARGER 5000"), [3]);
    assert_eq!(search("SEEN NOT SMALLER 1000 BODY \"see attached\""), [3]);
}

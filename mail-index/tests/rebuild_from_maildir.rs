//! A lost `dovecot.index.log` and `dovecot.index` are rebuilt from what the
//! Maildir still holds (`dovecot-uidlist`, `dovecot-keywords`, file names):
//! every UID, flag and keyword of the fixture's ground truth survives, and a
//! live Dovecot opens the result without complaint and fetches the same.
//!
//! Needs the crate's `maildir` feature, which the workspace build turns on
//! (the `columba` tool enables it); `cargo test -p columba-mail-index
//! --features maildir` runs it alone.

#[cfg(not(feature = "maildir"))]
#[test]
fn rebuild_from_maildir_needs_the_maildir_feature() {
    eprintln!("SKIPPED: build with the `maildir` feature (or test the workspace) to run the Maildir rebuild tests");
}

#[cfg(feature = "maildir")]
mod with_maildir {
    use std::collections::BTreeMap;
    use std::path::Path;

    use columba_interop::{
        fixture_dir, install_fixture_maildir, require_tool, DovecotConfig, PrivateDovecot,
    };
    use columba_mail_index::{FileKind, IndexDir, SurvivingMailbox};

    const SCENARIO: &str = "02-bob-rotated-log";

    /// `uid -> sorted flags and keywords` (without `\Recent`).
    type Flags = BTreeMap<u32, Vec<String>>;

    fn sorted_flags(field: &str) -> Vec<String> {
        let mut f: Vec<String> = field
            .split(' ')
            .filter(|s| !s.is_empty() && *s != "\\Recent")
            .map(str::to_string)
            .collect();
        f.sort();
        f
    }

    /// The fixture's INBOX as `doveadm fetch` reported it, and its UIDNEXT
    /// and UIDVALIDITY from `doveadm mailbox status`.
    fn ground_truth() -> (Flags, u32, u32) {
        let truth = fixture_dir(SCENARIO).join("truth");
        let fetch = std::fs::read_to_string(truth.join("doveadm-fetch.tsv")).unwrap();
        let mut flags = Flags::new();
        for line in fetch.lines().skip(2) {
            let f: Vec<&str> = line.split('\t').collect();
            if f.len() >= 3 && f[0] == "INBOX" {
                flags.insert(f[1].parse().unwrap(), sorted_flags(f[2]));
            }
        }
        let status = std::fs::read_to_string(truth.join("doveadm-mailbox-status.tsv")).unwrap();
        let inbox: Vec<&str> = status
            .lines()
            .find(|l| l.starts_with("INBOX\t"))
            .unwrap()
            .split('\t')
            .collect();
        (flags, inbox[3].parse().unwrap(), inbox[4].parse().unwrap())
    }

    fn view_flags(index: &IndexDir) -> Flags {
        let view = index.open_view().unwrap();
        view.messages()
            .map(|m| {
                let mut f: Vec<String> = [
                    (0x01, "\\Answered"),
                    (0x02, "\\Flagged"),
                    (0x04, "\\Deleted"),
                    (0x08, "\\Seen"),
                    (0x10, "\\Draft"),
                ]
                .iter()
                .filter(|(b, _)| m.flags & b != 0)
                .map(|(_, n)| n.to_string())
                .collect();
                f.extend(m.keywords.iter().map(|k| k.to_string()));
                f.sort();
                (m.uid, f)
            })
            .collect()
    }

    /// Destroys the log (garbage in place of the head log, the rotated log
    /// and the index removed), then rebuilds from the Maildir.
    fn destroy_and_rebuild(maildir: &Path) -> IndexDir {
        let index = IndexDir::new(maildir);
        std::fs::write(index.path(FileKind::Log), b"\x01\x03garbage").unwrap();
        let _ = std::fs::remove_file(maildir.join("dovecot.index.log.2"));
        std::fs::remove_file(index.path(FileKind::Index)).unwrap();
        assert!(index.open_view().is_err());
        let surviving = SurvivingMailbox::from_maildir(maildir).unwrap();
        let (_, report) = index.open_or_recover(Some(&surviving)).unwrap();
        assert!(report.log_recreated, "{report:?}");
        index
    }

    #[test]
    fn surviving_mailbox_reads_uids_flags_and_keywords_from_the_maildir() {
        let tmp = tempfile::tempdir().unwrap();
        install_fixture_maildir(SCENARIO, tmp.path()).unwrap();
        let (truth, uid_next, uid_validity) = ground_truth();
        let surviving = SurvivingMailbox::from_maildir(tmp.path()).unwrap();
        assert_eq!(surviving.uid_validity, uid_validity);
        assert_eq!(surviving.next_uid, uid_next);
        let got: Flags = surviving
            .messages
            .iter()
            .map(|m| {
                let mut f: Vec<String> = columba_maildir::Flags::from_bits(m.flags)
                    .imap_names()
                    .into_iter()
                    .map(str::to_string)
                    .collect();
                f.extend(m.keywords.iter().cloned());
                f.sort();
                (m.uid, f)
            })
            .collect();
        assert_eq!(got, truth);
    }

    #[test]
    fn a_missing_uidlist_gives_an_empty_mailbox() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(
            SurvivingMailbox::from_maildir(tmp.path()).unwrap(),
            SurvivingMailbox::default()
        );
    }

    #[test]
    fn a_destroyed_log_is_rebuilt_from_the_maildir_with_every_uid_flag_and_keyword() {
        let tmp = tempfile::tempdir().unwrap();
        install_fixture_maildir(SCENARIO, tmp.path()).unwrap();
        let (truth, uid_next, uid_validity) = ground_truth();
        assert_eq!(truth.len(), 284);
        let index = destroy_and_rebuild(tmp.path());
        assert_eq!(view_flags(&index), truth);
        let view = index.open_view().unwrap();
        assert_eq!(view.header().next_uid, uid_next);
        assert_eq!(view.header().uid_validity, uid_validity);
    }

    #[test]
    fn dovecot_opens_a_mailbox_rebuilt_from_the_maildir() {
        require_tool!("doveadm");
        let dovecot =
            PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
        let maildir = dovecot.maildir("alice");
        install_fixture_maildir(SCENARIO, &maildir).unwrap();
        let (truth, uid_next, uid_validity) = ground_truth();
        let index = destroy_and_rebuild(&maildir);
        dovecot.fix_ownership("alice").unwrap();
        let out = dovecot.doveadm(&[
            "-f",
            "tab",
            "fetch",
            "-u",
            "alice",
            "uid flags",
            "mailbox",
            "INBOX",
            "all",
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(
            !stderr.contains("rror") && !stderr.contains("orrupt"),
            "{stderr}"
        );
        let fetched: Flags = String::from_utf8_lossy(&out.stdout)
            .lines()
            .skip(1)
            .map(|l| {
                let (uid, flags) = l.split_once('\t').unwrap();
                (uid.parse().unwrap(), sorted_flags(flags))
            })
            .collect();
        assert_eq!(fetched, truth);
        let out = dovecot.doveadm(&[
            "-f",
            "tab",
            "mailbox",
            "status",
            "-u",
            "alice",
            "messages uidnext uidvalidity",
            "INBOX",
        ]);
        assert!(out.status.success());
        let status = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut lines = status.lines();
        let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
        let row: Vec<&str> = lines.next().unwrap().split('\t').collect();
        let field = |name: &str| -> u64 {
            let at = header.iter().position(|h| *h == name).unwrap();
            row[at].parse().unwrap()
        };
        assert_eq!(field("messages"), truth.len() as u64);
        assert_eq!(field("uidnext"), u64::from(uid_next));
        assert_eq!(field("uidvalidity"), u64::from(uid_validity));
        // Columba still reads what Dovecot may have added since.
        assert_eq!(view_flags(&index), truth);
        let problems = dovecot.log_problems();
        assert!(problems.is_empty(), "Dovecot logged: {problems:#?}");
        let log = dovecot.log();
        assert!(
            !log.contains("ebuild") && !log.contains("fsck"),
            "Dovecot rebuilt the index:\n{log}"
        );
    }
}

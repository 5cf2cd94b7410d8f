//! On mailboxes written by Dovecot 2.3 (the fixtures), the file names
//! guessed from the uidlist and the index lead to the same files, with the
//! same RFC822.SIZE, as a listing of the directories finds.

use columba_mail_store::store::MailboxSnapshot;
use columba_maildir::Mailbox;

#[test]
fn guessed_names_find_the_files_a_listing_finds() {
    let mut compared = 0;
    let mut guessed_right = 0;
    for scenario in [
        "01-alice-shapes-flags",
        "02-bob-rotated-log",
        "03-carol-10k",
        "04-dave-folders",
    ] {
        let tmp = tempfile::tempdir().unwrap();
        columba_interop::install_fixture_maildir(scenario, tmp.path()).unwrap();
        let mut dirs = vec![(tmp.path().to_path_buf(), "INBOX".to_string())];
        for e in std::fs::read_dir(tmp.path()).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().into_string().unwrap();
            if let Some(folder) = name.strip_prefix('.') {
                if e.path().join("cur").is_dir() {
                    dirs.push((e.path(), folder.replace('.', "/")));
                }
            }
        }
        for (dir, name) in dirs {
            if !dir.join("dovecot.index.log").exists() {
                continue;
            }
            let mailbox = Mailbox::at(&dir, tmp.path(), &name);
            let mut guessed = MailboxSnapshot::open(&mailbox).unwrap();
            guessed.resolve_files().unwrap();
            let mut listed = MailboxSnapshot::open(&mailbox).unwrap();
            listed.resolve_files_by_listing().unwrap();
            for (g, l) in guessed.messages.iter().zip(&listed.messages) {
                assert_eq!(g.uid, l.uid);
                assert_eq!(g.locate(), l.path, "{scenario} {name} uid {}", g.uid);
                assert_eq!(
                    g.rfc822_size().ok(),
                    l.rfc822_size().ok(),
                    "{scenario} {name} uid {}",
                    g.uid
                );
                compared += 1;
                guessed_right += usize::from(g.path.is_some() && g.path == l.path);
            }
        }
    }
    assert!(compared > 0);
    eprintln!("{guessed_right} of {compared} names guessed without a directory look-up");
}

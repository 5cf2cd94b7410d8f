//! A sync answered as the changes since the session's view
//! (`MailStorage::sync_changes`, which `MaildirStorage` gives after a flag
//! change) must send the client exactly what a sync answered with the
//! whole view sends. Two copies of one mailbox get the same commands, one
//! through `MaildirStorage` and one through a storage that gives whole
//! views only; every answer must be the same, byte for byte.

mod common;

use columba_session::storage::{
    AppendSink, CopyOutcome, ListedMailbox, MailboxView, MessageFlags, Resync, SearchKey,
    StatusInfo, StoreMode,
};
use columba_session::{ImapSession, MailStorage, MaildirStorage, Result, SyncKind};
use common::{append_command, columba_session, run_in, session_over};

/// `MaildirStorage` with the trait's default `sync_changes`: every sync
/// gives the whole view.
struct WholeViews(MaildirStorage);

impl MailStorage for WholeViews {
    fn list(&mut self, r: &str, p: &str, sub: bool) -> Result<Vec<ListedMailbox>> {
        self.0.list(r, p, sub)
    }
    fn view(&mut self, m: &str, claim: bool) -> Result<MailboxView> {
        self.0.view(m, claim)
    }
    fn sync_view(&mut self, m: &str, kind: SyncKind, claim: bool) -> Result<Option<MailboxView>> {
        self.0.sync_view(m, kind, claim)
    }
    fn reselect(&mut self, m: &str, claim: bool) -> Result<Option<MailboxView>> {
        self.0.reselect(m, claim)
    }
    fn status(&mut self, m: &str, size: bool) -> Result<StatusInfo> {
        self.0.status(m, size)
    }
    fn message(&mut self, m: &str, uid: u32) -> Result<(Vec<u8>, i64)> {
        self.0.message(m, uid)
    }
    fn append(
        &mut self,
        m: &str,
        data: &[u8],
        flags: MessageFlags,
        keywords: &[String],
        date: Option<i64>,
    ) -> Result<(u32, u32)> {
        self.0.append(m, data, flags, keywords, date)
    }
    fn append_sink(&mut self, m: &str, size: u64) -> Result<Box<dyn AppendSink>> {
        self.0.append_sink(m, size)
    }
    fn store(
        &mut self,
        m: &str,
        uids: &[u32],
        mode: StoreMode,
        flags: MessageFlags,
        keywords: &[String],
        since: Option<u64>,
    ) -> Result<Vec<u32>> {
        self.0.store(m, uids, mode, flags, keywords, since)
    }
    fn expunge(&mut self, m: &str, uids: &[u32]) -> Result<Vec<u32>> {
        self.0.expunge(m, uids)
    }
    fn copy(&mut self, m: &str, d: &str, uids: &[u32], rm: bool) -> Result<CopyOutcome> {
        self.0.copy(m, d, uids, rm)
    }
    fn search(&mut self, m: &str, key: &SearchKey, now: i64) -> Result<Vec<u32>> {
        self.0.search(m, key, now)
    }
    fn create(&mut self, m: &str) -> Result<()> {
        self.0.create(m)
    }
    fn delete(&mut self, m: &str) -> Result<()> {
        self.0.delete(m)
    }
    fn rename(&mut self, f: &str, t: &str) -> Result<()> {
        self.0.rename(f, t)
    }
    fn subscribe(&mut self, m: &str, s: bool) -> Result<()> {
        self.0.subscribe(m, s)
    }
    fn resync(
        &mut self,
        m: &str,
        request: &columba_session::storage::QresyncRequest,
    ) -> Result<Option<Resync>> {
        self.0.resync(m, request)
    }
    fn command_done(&mut self) -> Result<()> {
        self.0.command_done()
    }
}

fn whole_views_session(root: &std::path::Path) -> ImapSession {
    session_over(Box::new(WholeViews(MaildirStorage::open(root).unwrap())))
}

/// A mailbox of 150 messages, some flagged, with its index.
fn mailbox(root: &std::path::Path) {
    for d in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    let mut s = columba_session(root);
    for i in 1..=150 {
        let out = run_in(
            &mut s,
            &append_command("a", &format!("Subject: {i}\r\n\r\nbody {i}\r\n")),
        );
        assert!(out.contains("a OK"), "{out}");
    }
    run_in(&mut s, "s SELECT INBOX");
    run_in(&mut s, "f STORE 1:40 +FLAGS (\\Seen)");
    run_in(&mut s, "l LOGOUT");
}

fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", from.display()))
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success());
}

/// Runs `script` (the watcher's commands, and another session's, in
/// turn) on both copies and compares the watcher's answers.
fn same_answers(enable: &str, script: &[(bool, &str)]) {
    let tmp = tempfile::tempdir().unwrap();
    let (one, two) = (tmp.path().join("one"), tmp.path().join("two"));
    std::fs::create_dir_all(&one).unwrap();
    std::fs::create_dir_all(&two).unwrap();
    mailbox(&one);
    copy_tree(&one, &two);
    let mut watcher = [columba_session(&one), whole_views_session(&two)];
    let mut other = [columba_session(&one), columba_session(&two)];
    for s in &mut watcher {
        if !enable.is_empty() {
            run_in(s, enable);
        }
        run_in(s, "w SELECT INBOX");
    }
    for s in &mut other {
        run_in(s, "o SELECT INBOX");
    }
    for (by_watcher, line) in script {
        let answers: Vec<String> = (0..2)
            .map(|i| {
                if *by_watcher {
                    run_in(&mut watcher[i], line)
                } else {
                    run_in(&mut other[i], line);
                    String::new()
                }
            })
            .collect();
        assert_eq!(answers[0], answers[1], "after {line:?} ({enable:?})");
    }
}

const SCRIPT: &[(bool, &str)] = &[
    (true, "n0 NOOP"),
    (false, "o1 STORE 5,70 +FLAGS (\\Flagged)"),
    (true, "n1 NOOP"),
    (true, "s1 STORE 6 +FLAGS (\\Answered)"),
    (true, "s2 STORE 1 +FLAGS (\\Seen)"),
    (true, "s3 STORE 7:9 +FLAGS.SILENT (\\Draft)"),
    (true, "s4 UID STORE 10,11 FLAGS ($Work)"),
    (false, "o2 STORE 12 +FLAGS ($Other \\Seen)"),
    (true, "f1 FETCH 12 (FLAGS)"),
    (true, "n2 NOOP"),
    (true, "s5 UID STORE 13 +FLAGS.SILENT (\\Deleted)"),
    (true, "s6 STORE 13 -FLAGS (\\Deleted)"),
    (false, "o3 STORE 14 +FLAGS (\\Deleted)"),
    (false, "o4 EXPUNGE"),
    (true, "f2 FETCH 14 (FLAGS)"),
    (true, "s7 STORE 15 +FLAGS (\\Seen)"),
    (true, "n3 NOOP"),
    (false, "o5 STORE 20 +FLAGS (\\Flagged)"),
    (true, "s8 STORE 21 +FLAGS (\\Flagged)"),
    (true, "n4 NOOP"),
    (true, "s9 STORE 30 (UNCHANGEDSINCE 1) +FLAGS (\\Seen)"),
    (true, "sa UID SEARCH KEYWORD $Work"),
    (true, "n5 NOOP"),
    (false, "o6 APPEND INBOX {18+}\r\nSubject: late\r\n\r\nx"),
    (true, "n6 NOOP"),
    (false, "o7 STORE 2 +FLAGS (\\Flagged)"),
    (true, "n7 NOOP"),
    (true, "sb STORE 151 +FLAGS (\\Seen)"),
    (true, "n8 NOOP"),
    (
        true,
        "a1 APPEND INBOX (\\Seen $New) {18+}\r\nSubject: late\r\n\r\nx",
    ),
    (true, "n9 NOOP"),
    (
        false,
        "o8 APPEND INBOX ($Other) {18+}\r\nSubject: late\r\n\r\nx",
    ),
    (false, "o9 STORE 3 +FLAGS (\\Answered)"),
    (true, "f3 FETCH 150:* (FLAGS)"),
    (true, "na NOOP"),
];

#[test]
fn changes_and_whole_views_give_the_same_answers() {
    same_answers("", SCRIPT);
}

#[test]
fn changes_and_whole_views_give_the_same_answers_with_condstore() {
    same_answers("e ENABLE CONDSTORE", SCRIPT);
}

#[test]
fn changes_and_whole_views_give_the_same_answers_with_qresync() {
    same_answers("e ENABLE QRESYNC", SCRIPT);
}

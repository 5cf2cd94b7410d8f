//! One bad entry in `cur/` of a live Dovecot 2.3 user's INBOX: a file the
//! mail user may not read, a directory named like a message, a dangling
//! symlink, a name without `:2,` and with odd characters. Columba's SELECT
//! (a sync, then the read-write open) succeeds and shows the messages with
//! the UIDs and flags Dovecot's SELECT and `FETCH 1:* (FLAGS UID)` show,
//! reports the bad entry in the sync's report, and renames or removes
//! nothing; reading the bad message's body fails where Dovecot's FETCH
//! fails.
//!
//! What Dovecot 2.3.19.1 does, for the record (each checked below):
//!
//! * mode 000: SELECT lists it with its UID and flags and logs nothing;
//!   `FETCH n (BODY.PEEK[])` (or RFC822.SIZE without `W=` in the name)
//!   answers `* BYE FETCH failed: Internal error occurred` and logs
//!   `open(...) failed: Permission denied`;
//! * a directory: SELECT gives it a UID; the first access `rmdir()`s it
//!   (logging `Maildir: rmdir()ed unwanted empty directory`) and expunges
//!   it. Columba skips it instead, leaves it alone, and agrees with
//!   Dovecot's view once Dovecot has removed it;
//! * a dangling symlink: SELECT lists it with its UID and flags; its body
//!   is `NIL` with `OK [EXPUNGEISSUED]`, logging `Maildir: Symlink
//!   destination doesn't exist for UID=n`; it stays in the mailbox;
//! * a name without info and with spaces, quotes and non-ASCII: an
//!   ordinary message without flags, its whole name the uidlist's base.
//!
//! Columba runs as the mail owner in a child process (this test binary
//! again): root reads every file.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use columba_interop::{maildir_entries, require_tool, DovecotConfig, PrivateDovecot};
use columba_mail_store::store::{sync, MailboxSnapshot};
use columba_maildir::Maildir;

const CHILD_DIR: &str = "COLUMBA_STORE_UNREADABLE_CHILD_DIR";

/// uid -> flags (IMAP names without `\Recent`, space-separated, sorted).
type FlagView = BTreeMap<u32, String>;

/// What Columba's SELECT showed and reported.
#[derive(Debug, Default)]
struct Ours {
    flags: FlagView,
    /// `name<TAB>kind` of skipped entries
    skipped: Vec<String>,
    /// `name<TAB>uid<TAB>problem` of unreadable messages
    unreadable: Vec<String>,
    /// uid -> the body read, or the error
    bodies: BTreeMap<u32, Result<Vec<u8>, String>>,
}

/// Worker: SELECT as Columba does it (a sync, then the read-write open)
/// on the Maildir named by the environment, printing what it saw, each
/// line after `@@`. Does nothing in a normal test run.
#[test]
fn child_selects_and_prints() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let inbox = Maildir::open(Path::new(&dir)).unwrap().inbox();
    let report = match sync(&inbox) {
        Ok(r) => r,
        Err(e) => return println!("@@ERR\tsync: {e}"),
    };
    for s in &report.skipped {
        println!("@@S\t{}\t{:?}", s.name.escape_debug(), s.kind);
    }
    for u in &report.unreadable {
        let uid = u.uid.map_or("-".to_string(), |u| u.to_string());
        println!("@@U\t{}\t{uid}\t{:?}", u.name.escape_debug(), u.problem);
    }
    let mut snapshot = match MailboxSnapshot::open_select(&inbox) {
        Ok(s) => s,
        Err(e) => return println!("@@ERR\tselect: {e}"),
    };
    // as before a FETCH of bodies
    if let Err(e) = snapshot.resolve_files() {
        return println!("@@ERR\tresolve_files: {e}");
    }
    for m in &snapshot.messages {
        let mut names: Vec<&str> = Vec::new();
        let f = &m.flags;
        for (set, name) in [
            (f.answered, "\\Answered"),
            (f.flagged, "\\Flagged"),
            (f.deleted, "\\Deleted"),
            (f.seen, "\\Seen"),
            (f.draft, "\\Draft"),
        ] {
            if set {
                names.push(name);
            }
        }
        names.sort_unstable();
        println!("@@M\t{}\t{}", m.uid, names.join(" "));
        match m.read() {
            Ok(body) => println!(
                "@@B\t{}\tok\t{}",
                m.uid,
                String::from_utf8_lossy(&body).escape_debug()
            ),
            Err(e) => println!("@@B\t{}\terr\t{}", m.uid, e.to_string().escape_debug()),
        }
    }
}

fn select_as_owner(dovecot: &PrivateDovecot) -> Ours {
    let maildir = dovecot.maildir("alice");
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "child_selects_and_prints",
        "--test-threads=1",
        "--nocapture",
    ])
    .env(CHILD_DIR, &maildir);
    dovecot.owner().apply(&mut cmd);
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut ours = Ours::default();
    // (libtest's own "test ... " may precede the first line)
    for line in text
        .lines()
        .filter_map(|l| l.split_once("@@").map(|(_, l)| l))
    {
        let cols: Vec<&str> = line.splitn(4, '\t').collect();
        match cols[0] {
            "ERR" => panic!("Columba's SELECT failed: {}", cols[1]),
            "S" => ours.skipped.push(cols[1..].join("\t")),
            "U" => ours.unreadable.push(cols[1..].join("\t")),
            "M" => {
                ours.flags
                    .insert(cols[1].parse().unwrap(), cols[2].to_string());
            }
            "B" => {
                let body = match cols[2] {
                    "ok" => Ok(unescape(cols[3]).into_bytes()),
                    _ => Err(cols[3].to_string()),
                };
                ours.bodies.insert(cols[1].parse().unwrap(), body);
            }
            _ => {}
        }
    }
    ours
}

/// Undoes `escape_debug` for the few escapes a test message has.
fn unescape(s: &str) -> String {
    s.replace("\\n", "\n")
        .replace("\\r", "\r")
        .replace("\\t", "\t")
        .replace("\\\"", "\"")
        .replace("\\'", "'")
        .replace("\\\\", "\\")
}

/// A small IMAP client that, unlike the shared one, survives the server's
/// `BYE` (Dovecot ends the session when a FETCH fails).
struct Imap {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
    tag: u32,
}

impl Imap {
    fn login(port: u16) -> Imap {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        let mut imap = Imap {
            stream,
            reader,
            tag: 0,
        };
        imap.response();
        let (_, tagged) = imap.command("LOGIN alice alicepw");
        assert!(tagged.starts_with("OK"), "{tagged}");
        imap
    }

    /// One response with its literals; `None` when the server hung up.
    fn response(&mut self) -> Option<String> {
        let mut out = Vec::new();
        loop {
            let mut line = Vec::new();
            if self.reader.read_until(b'\n', &mut line).unwrap() == 0 {
                return None;
            }
            out.extend_from_slice(&line);
            let text = String::from_utf8_lossy(&line);
            let literal = text
                .trim_end()
                .strip_suffix('}')
                .and_then(|t| t.rsplit_once('{'))
                .and_then(|(_, n)| n.parse::<usize>().ok());
            match literal {
                Some(n) => {
                    let mut buf = vec![0; n];
                    self.reader.read_exact(&mut buf).unwrap();
                    out.extend_from_slice(&buf);
                }
                None => return Some(String::from_utf8_lossy(&out).into_owned()),
            }
        }
    }

    /// (untagged responses, tagged response without the tag, or `BYE ...`
    /// when the server ended the session instead).
    fn command(&mut self, cmd: &str) -> (Vec<String>, String) {
        self.tag += 1;
        let tag = format!("t{} ", self.tag);
        self.stream
            .write_all(format!("{tag}{cmd}\r\n").as_bytes())
            .unwrap();
        let mut untagged = Vec::new();
        while let Some(r) = self.response() {
            if let Some(rest) = r.strip_prefix(&tag) {
                return (untagged, rest.trim_end().to_string());
            }
            untagged.push(r);
        }
        let bye = untagged
            .iter()
            .find_map(|u| u.strip_prefix("* ").filter(|u| u.starts_with("BYE")))
            .map(|u| u.trim_end().to_string())
            .unwrap_or_else(|| "hung up".to_string());
        (untagged, bye)
    }

    /// SELECT INBOX, then `FETCH 1:* (FLAGS UID)` as uid -> flags.
    fn select_flags(&mut self) -> FlagView {
        let (_, tagged) = self.command("SELECT INBOX");
        assert!(tagged.starts_with("OK"), "{tagged}");
        let (untagged, tagged) = self.command("FETCH 1:* (FLAGS UID)");
        assert!(tagged.starts_with("OK"), "{tagged}");
        let mut view = FlagView::new();
        for u in untagged {
            let flags_at = u.find("FLAGS (").unwrap() + 7;
            let flags_end = flags_at + u[flags_at..].find(')').unwrap();
            let mut flags: Vec<&str> = u[flags_at..flags_end]
                .split(' ')
                .filter(|f| !f.is_empty() && *f != "\\Recent")
                .collect();
            flags.sort_unstable();
            let uid_at = u.find("UID ").unwrap() + 4;
            let uid: String = u[uid_at..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            view.insert(uid.parse().unwrap(), flags.join(" "));
        }
        view
    }
}

/// Dovecot's SELECT view, then the tagged answer (or `BYE`) to a FETCH of
/// UID `uid`'s body with the untagged answers, in one session.
fn dovecot_select_and_fetch(dovecot: &PrivateDovecot, uid: u32) -> (FlagView, Vec<String>, String) {
    let mut imap = Imap::login(dovecot.imap_port);
    let view = imap.select_flags();
    let (untagged, tagged) = imap.command(&format!("UID FETCH {uid} (BODY.PEEK[])"));
    (view, untagged, tagged)
}

fn dovecot_select(dovecot: &PrivateDovecot) -> FlagView {
    Imap::login(dovecot.imap_port).select_flags()
}

/// A live Dovecot whose alice has three messages (UIDs 1-3, the second
/// `\Seen`) that Dovecot has indexed.
fn start_with_three_messages() -> PrivateDovecot {
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    for i in 0..3 {
        let mut child = Command::new(columba_interop::find_tool("doveadm").unwrap())
            .arg("-c")
            .arg(dovecot.config_path())
            .args(["save", "-u", "alice", "-m", "INBOX"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let msg = format!("Subject: m{i}\n\nbody {i}\n");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(msg.as_bytes())
            .unwrap();
        assert!(child.wait().unwrap().success());
    }
    let mut imap = Imap::login(dovecot.imap_port);
    imap.select_flags();
    let (_, tagged) = imap.command("STORE 2 +FLAGS (\\Seen)");
    assert!(tagged.starts_with("OK"), "{tagged}");
    imap.command("LOGOUT");
    dovecot
}

fn three() -> FlagView {
    FlagView::from([(1, String::new()), (2, "\\Seen".into()), (3, String::new())])
}

/// How many log lines report `text`; every other problem in the log fails
/// the test (Columba's writes must not upset Dovecot).
fn log_lines_with(dovecot: &PrivateDovecot, text: &str) -> usize {
    // Dovecot's log process writes the line a moment after the session
    // sent its answer: waited for, up to 5 s
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let problems = loop {
        let problems = dovecot.log_problems();
        if !problems.is_empty() || std::time::Instant::now() > deadline {
            break problems;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let others: Vec<&String> = problems.iter().filter(|l| !l.contains(text)).collect();
    assert!(others.is_empty(), "Dovecot log: {others:#?}");
    problems.len()
}

#[test]
fn unreadable_file_selects_as_in_dovecot() {
    require_tool!("dovecot");
    let dovecot = start_with_three_messages();
    let maildir = dovecot.maildir("alice");
    let name = "1700000000.M1P1.host:2,S";
    let path = maildir.join("cur").join(name);
    std::fs::write(&path, "Subject: x\n\nsecret\n").unwrap();
    dovecot.fix_ownership("alice").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
    let before = maildir_entries(&maildir);

    let ours = select_as_owner(&dovecot);
    let mut expected = three();
    expected.insert(4, "\\Seen".into());
    assert_eq!(ours.flags, expected);
    assert_eq!(
        ours.unreadable,
        [format!("cur/{name}\t4\tPermissionDenied")]
    );
    assert!(ours.skipped.is_empty(), "{ours:?}");
    assert!(
        matches!(&ours.bodies[&4], Err(e) if e.contains("ermission denied")),
        "{ours:?}"
    );
    assert!(ours.bodies[&1].is_ok());
    assert_eq!(
        maildir_entries(&maildir),
        before,
        "nothing renamed or removed"
    );

    let (theirs, _, fetched) = dovecot_select_and_fetch(&dovecot, 4);
    assert_eq!(theirs, ours.flags);
    assert!(fetched.starts_with("BYE FETCH failed"), "{fetched}");
    assert!(log_lines_with(&dovecot, "failed: Permission denied") > 0);
    // and after Dovecot's session, Columba's SELECT still agrees
    assert_eq!(select_as_owner(&dovecot).flags, theirs);
}

#[test]
fn directory_named_like_a_message_selects_as_in_dovecot() {
    require_tool!("dovecot");
    let dovecot = start_with_three_messages();
    let maildir = dovecot.maildir("alice");
    let name = "123.M1P1.host:2,";
    std::fs::create_dir(maildir.join("cur").join(name)).unwrap();
    dovecot.fix_ownership("alice").unwrap();
    let before = maildir_entries(&maildir);

    let ours = select_as_owner(&dovecot);
    assert_eq!(ours.flags, three());
    assert_eq!(ours.skipped, [format!("cur/{name}\tNotAFile")]);
    assert!(ours.unreadable.is_empty(), "{ours:?}");
    assert_eq!(
        maildir_entries(&maildir),
        before,
        "nothing renamed or removed"
    );

    // Dovecot numbers the directory at SELECT, then removes it on the
    // first access and expunges it: the view Columba showed at once.
    let (theirs, untagged, fetched) = dovecot_select_and_fetch(&dovecot, 4);
    let mut with_dir = three();
    with_dir.insert(4, String::new());
    assert_eq!(theirs, with_dir);
    assert!(fetched.starts_with("OK"), "{fetched} {untagged:?}");
    assert_eq!(
        log_lines_with(&dovecot, "rmdir()ed unwanted empty directory"),
        1
    );
    assert!(!maildir.join("cur").join(name).exists());
    assert_eq!(dovecot_select(&dovecot), three());
    assert_eq!(select_as_owner(&dovecot).flags, three());
}

#[test]
fn dangling_symlink_selects_as_in_dovecot() {
    require_tool!("dovecot");
    let dovecot = start_with_three_messages();
    let maildir = dovecot.maildir("alice");
    let name = "124.M1P1.host:2,S";
    std::os::unix::fs::symlink("/nonexistent/columba-test", maildir.join("cur").join(name))
        .unwrap();
    dovecot.fix_ownership("alice").unwrap();
    let before = maildir_entries(&maildir);

    let ours = select_as_owner(&dovecot);
    let mut expected = three();
    expected.insert(4, "\\Seen".into());
    assert_eq!(ours.flags, expected);
    assert_eq!(ours.unreadable, [format!("cur/{name}\t4\tDanglingSymlink")]);
    assert!(ours.bodies[&4].is_err(), "{ours:?}");
    assert_eq!(
        maildir_entries(&maildir),
        before,
        "nothing renamed or removed"
    );

    let (theirs, untagged, fetched) = dovecot_select_and_fetch(&dovecot, 4);
    assert_eq!(theirs, ours.flags);
    // Dovecot answers NIL and keeps the message
    assert!(fetched.starts_with("OK [EXPUNGEISSUED]"), "{fetched}");
    assert!(
        untagged.iter().any(|u| u.contains("BODY[] NIL")),
        "{untagged:?}"
    );
    assert!(log_lines_with(&dovecot, "Symlink destination doesn't exist for UID=4") > 0);
    assert_eq!(dovecot_select(&dovecot), ours.flags);
    assert_eq!(select_as_owner(&dovecot).flags, ours.flags);
}

#[test]
fn odd_name_without_info_selects_as_in_dovecot() {
    require_tool!("dovecot");
    let dovecot = start_with_three_messages();
    let maildir = dovecot.maildir("alice");
    let odd = "odd name; with \"quotes\" & \u{fc},x=y";
    std::fs::write(maildir.join("cur").join(odd), "Subject: odd\n\nodd\n").unwrap();
    dovecot.fix_ownership("alice").unwrap();
    let before = maildir_entries(&maildir);

    let ours = select_as_owner(&dovecot);
    let mut expected = three();
    expected.insert(4, String::new());
    assert_eq!(ours.flags, expected);
    assert!(
        ours.skipped.is_empty() && ours.unreadable.is_empty(),
        "{ours:?}"
    );
    assert_eq!(
        maildir_entries(&maildir),
        before,
        "nothing renamed or removed"
    );
    let uidlist = std::fs::read_to_string(maildir.join("dovecot-uidlist")).unwrap();
    assert!(
        uidlist.lines().any(|l| l == format!("4 :{odd}")),
        "{uidlist}"
    );

    let (theirs, untagged, fetched) = dovecot_select_and_fetch(&dovecot, 4);
    assert_eq!(theirs, ours.flags);
    assert!(fetched.starts_with("OK"), "{fetched}");
    let body = ours.bodies[&4].as_ref().unwrap();
    let crlf = String::from_utf8_lossy(body).replace('\n', "\r\n");
    assert!(
        untagged
            .iter()
            .any(|u| u.contains(&format!("{{{}}}\r\n{crlf}", crlf.len()))),
        "{untagged:?} {crlf:?}"
    );
    assert!(
        dovecot.log_problems().is_empty(),
        "{:?}",
        dovecot.log_problems()
    );
    assert_eq!(select_as_owner(&dovecot).flags, theirs);
}

#[test]
fn name_that_is_not_utf8_selects_as_in_dovecot() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    require_tool!("dovecot");
    let dovecot = start_with_three_messages();
    let maildir = dovecot.maildir("alice");
    // a Latin-1 name: Dovecot numbers it as any other message
    let raw = b"1700000000.M1P1.latin\xe9:2,S";
    std::fs::write(
        maildir.join("cur").join(OsStr::from_bytes(raw)),
        "Subject: l\n\nl\n",
    )
    .unwrap();
    dovecot.fix_ownership("alice").unwrap();
    let before = maildir_entries(&maildir);

    // Columba first: the file gets no UID here, nothing fails
    let ours = select_as_owner(&dovecot);
    assert_eq!(ours.flags, three());
    assert_eq!(
        ours.skipped,
        ["cur/1700000000.M1P1.latin\u{fffd}:2,S\tNotUtf8"]
    );
    assert_eq!(
        maildir_entries(&maildir),
        before,
        "nothing renamed or removed"
    );

    // Dovecot numbers it; Columba then keeps that UID and its flags (its
    // body cannot be read here)
    let theirs = dovecot_select(&dovecot);
    let mut four = three();
    four.insert(4, "\\Seen".into());
    assert_eq!(theirs, four);
    let ours = select_as_owner(&dovecot);
    assert_eq!(ours.flags, four);
    assert!(ours.bodies[&4].is_err(), "{ours:?}");
    assert_eq!(dovecot_select(&dovecot), four);
    assert!(
        dovecot.log_problems().is_empty(),
        "{:?}",
        dovecot.log_problems()
    );
}

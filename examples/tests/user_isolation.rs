//! Two users with different uids (as root): each session runs as its
//! user, so neither crafted mailbox names (`../`, absolute paths) nor
//! symlinks planted in a Maildir reach the other user's mail, and every
//! file LMTP or APPEND writes belongs to the user it was written for.

mod post_login_support;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use columba_interop::MailOwner;
use post_login_support::{second_owner, Server};

const BOB_SECRET: &str = "bob-secret-subject";

fn root_only() -> bool {
    if MailOwner::for_tests().needs_chown() {
        return true;
    }
    println!("SKIPPED: user isolation needs root (two uids)");
    false
}

fn owners_below(dir: &Path, out: &mut Vec<(String, u32, u32)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let meta = std::fs::symlink_metadata(entry.path()).unwrap();
        out.push((entry.path().display().to_string(), meta.uid(), meta.gid()));
        if meta.is_dir() {
            owners_below(&entry.path(), out);
        }
    }
}

fn two_users() -> Server {
    Server::start(
        &[
            ("alice", "alicepw", MailOwner::for_tests()),
            ("bob", "bobpw", second_owner()),
        ],
        "",
    )
}

#[test]
fn every_file_belongs_to_its_user_after_lmtp_and_append() {
    if !root_only() {
        return;
    }
    let server = two_users();
    // one transaction, two recipients: each copy written as its user
    let replies = server.deliver(
        &["alice@localhost", "bob@localhost"],
        "Subject: to both\r\n\r\nhello\r\n",
    );
    assert!(
        replies.iter().all(|r| r.starts_with("250 2.0.0")),
        "{replies:?}"
    );
    for user in ["alice", "bob"] {
        let (mut p, mut c) = server.imap(user, &format!("SessAppend{user:0>6}"));
        assert!(c.line().starts_with("a1 OK"));
        c.send("a2 APPEND INBOX {23}\r\n");
        assert!(c.line().starts_with("+ "));
        c.send("Subject: appended\r\n\r\nx\r\n");
        let done = c.until_tagged("a2");
        assert!(done.last().unwrap().starts_with("a2 OK"), "{done:?}");
        c.command("a3", "CREATE Archive");
        c.command("a4", "LOGOUT");
        assert!(p.wait_exit(Duration::from_secs(10)));
    }
    for (user, owner) in [("alice", MailOwner::for_tests()), ("bob", second_owner())] {
        let mut files = Vec::new();
        owners_below(&server.home(user), &mut files);
        assert!(
            files
                .iter()
                .filter(|(p, _, _)| p.contains("/new/") || p.contains("/cur/"))
                .count()
                >= 2,
            "{files:?}"
        );
        for (path, uid, gid) in &files {
            assert_eq!((*uid, *gid), (owner.uid, owner.gid), "{path}");
        }
    }
}

#[test]
fn crafted_names_and_symlinks_do_not_reach_another_users_mail() {
    if !root_only() {
        return;
    }
    let server = two_users();
    let replies = server.deliver(
        &["bob"],
        &format!("Subject: {BOB_SECRET}\r\n\r\nbob's mail\r\n"),
    );
    assert!(replies[0].starts_with("250 2.0.0"), "{replies:?}");
    let bob_maildir = server.maildir("bob");
    let bob_file = std::fs::read_dir(bob_maildir.join("new"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();

    // alice's first login creates her Maildir; then plant symlinks in it
    let (mut p, mut c) = server.imap("alice", "SessIsolation001");
    assert!(c.line().starts_with("a1 OK"));
    c.command("a2", "LOGOUT");
    assert!(p.wait_exit(Duration::from_secs(10)));
    let alice_maildir = server.maildir("alice");
    std::os::unix::fs::symlink(&bob_maildir, alice_maildir.join(".bobbox")).unwrap();
    std::os::unix::fs::symlink(
        &bob_file,
        alice_maildir.join("cur").join("1.planted.host:2,"),
    )
    .unwrap();
    let owner = MailOwner::for_tests();
    for link in [
        alice_maildir.join(".bobbox"),
        alice_maildir.join("cur").join("1.planted.host:2,"),
    ] {
        std::os::unix::fs::lchown(&link, Some(owner.uid), Some(owner.gid)).unwrap();
    }

    let (mut p, mut c) = server.imap("alice", "SessIsolation002");
    assert!(c.line().starts_with("a1 OK"));
    let bob_abs = bob_maildir.display().to_string();
    let mut transcript = Vec::new();
    for (i, name) in [
        "../bob/Maildir".to_string(),
        "../../bob/Maildir".to_string(),
        bob_abs.clone(),
        format!("{bob_abs}/new"),
        "..".to_string(),
        "../bob".to_string(),
        "bobbox".to_string(),
        ".bobbox".to_string(),
    ]
    .iter()
    .enumerate()
    {
        let select = c.command(&format!("s{i}"), &format!("SELECT \"{name}\""));
        let last = select.last().unwrap().clone();
        transcript.extend(select.clone());
        if last.starts_with(&format!("s{i} OK")) {
            // selected something: whatever it is, bob's mail is not in it
            let fetch = c.command(&format!("f{i}"), "FETCH 1:* (BODY.PEEK[HEADER])");
            transcript.extend(fetch);
        }
        let status = c.command(&format!("t{i}"), &format!("STATUS \"{name}\" (MESSAGES)"));
        transcript.extend(status);
        let create = c.command(&format!("c{i}"), &format!("CREATE \"{name}/x\""));
        transcript.extend(create);
    }
    // the planted message file in her own INBOX cannot be read either
    let inbox = c.command("i1", "SELECT INBOX");
    transcript.extend(inbox);
    transcript.extend(c.command("i2", "FETCH 1:* (BODY.PEEK[])"));
    transcript.extend(c.command("i3", "LIST \"\" \"*\""));
    c.command("z", "LOGOUT");
    assert!(p.wait_exit(Duration::from_secs(10)));
    let text = transcript.join("\n");
    assert!(
        !text.contains(BOB_SECRET),
        "bob's mail reached alice:\n{text}"
    );
    assert!(
        !text.contains("bob's mail"),
        "bob's mail reached alice:\n{text}"
    );

    // nothing was created in bob's Maildir, and his message is untouched
    let mut files = Vec::new();
    owners_below(&server.home("bob"), &mut files);
    let bob = second_owner();
    for (path, uid, gid) in &files {
        assert_eq!((*uid, *gid), (bob.uid, bob.gid), "{path}");
    }
    assert!(std::fs::read_to_string(&bob_file)
        .unwrap()
        .contains(BOB_SECRET));
}

#[test]
fn a_uid_below_first_valid_uid_is_refused_for_delivery() {
    if !root_only() {
        return;
    }
    let server = two_users();
    // a userdb entry with a system uid
    let users = server.dir.path().join("users");
    let mut text = std::fs::read_to_string(&users).unwrap();
    text.push_str(&format!(
        "daemonish:{{PLAIN}}x:100:100::{}::\n",
        server.dir.path().join("home/daemonish").display()
    ));
    std::fs::write(&users, text).unwrap();
    let (mut p, mut c) = server.lmtp("LmtpLowUid0123456789ab");
    c.send("LHLO t\r\n");
    while !c.line().starts_with("250 ") {}
    c.send("MAIL FROM:<s@example.com>\r\nRCPT TO:<daemonish>\r\nDATA\r\n");
    assert!(c.line().starts_with("250"));
    assert!(c.line().starts_with("250"));
    assert!(c.line().starts_with("354"));
    c.send("Subject: x\r\n\r\nx\r\n.\r\n");
    let reply = c.line();
    // Dovecot's words, with the time Dovecot appends: [YYYY-MM-DD HH:MM:SS]
    let prefix =
        "451 4.2.0 <daemonish> Internal error occurred. Refer to server log for more information. [";
    assert!(reply.starts_with(prefix), "{reply}");
    assert_eq!(
        reply.len(),
        prefix.len() + "2026-11-29 04:05:01]".len(),
        "{reply}"
    );
    c.send("QUIT\r\n");
    let _ = c.line();
    assert!(p.wait_exit(Duration::from_secs(10)));
    let log = p.log_text();
    assert!(
        log.contains(
            "Mail access for users with UID 100 not permitted (see first_valid_uid in config \
             file, uid from userdb lookup)."
        ),
        "{log}"
    );
    assert!(!server.dir.path().join("home/daemonish").exists());
}

#[test]
fn a_home_with_the_chroot_marker_runs_the_session_inside_the_chroot() {
    if !root_only() {
        return;
    }
    let mut server = two_users();
    // carol's home is /carol inside the chroot <dir>/jail (Dovecot's /./)
    let jail = server.dir.path().join("jail");
    let home = jail.join("carol");
    std::fs::create_dir_all(&home).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&jail, std::fs::Permissions::from_mode(0o755)).unwrap();
    let owner = MailOwner::for_tests();
    columba_interop::chown_tree(&home, owner).unwrap();
    let users = server.dir.path().join("users");
    let mut text = std::fs::read_to_string(&users).unwrap();
    text.push_str(&format!(
        "carol:{{PLAIN}}carolpw:{}:{}::{}/./carol::\n",
        owner.uid,
        owner.gid,
        jail.display()
    ));
    std::fs::write(&users, text).unwrap();
    server.users.push(post_login_support::TestUser {
        name: "carol",
        password: "carolpw",
        uid: owner.uid,
        gid: owner.gid,
    });

    let replies = server.deliver(&["carol"], "Subject: jailed\r\n\r\nin the jail\r\n");
    assert!(replies[0].starts_with("250 2.0.0"), "{replies:?}");
    let (mut p, mut c) = server.imap("carol", "SessChrootCarol1");
    assert!(c.line().starts_with("a1 OK"));
    let root = columba_privsep::ProcessPrivileges::of_pid(p.pid())
        .unwrap()
        .root;
    assert_eq!(root.as_deref(), Some(jail.as_path()));
    let select = c.command("a2", "SELECT INBOX");
    assert!(select.iter().any(|l| l == "* 1 EXISTS"), "{select:?}");
    let fetch = c.command("a3", "FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])");
    assert!(fetch.iter().any(|l| l == "Subject: jailed"), "{fetch:?}");
    c.command("a4", "LOGOUT");
    assert!(p.wait_exit(Duration::from_secs(10)));
    // the mail is under the jail, and nothing escaped to a path outside it
    assert!(jail.join("carol/Maildir/cur").is_dir());
    assert!(!Path::new("/carol").exists());
}

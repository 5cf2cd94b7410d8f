//! The post-login roles as processes, driven as the master drives them:
//! a handoff with a cookie from the auth role, the session resumed as
//! the user, IDLE woken by an LMTP delivery made by another process, the
//! indexer filling the cache, Dovecot's logout lines, and the
//! `mail_max_userip_connections` refusal compared with a live Dovecot.

mod post_login_support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use columba_interop::{require_tool, DovecotConfig, MailOwner, PrivateDovecot};
use columba_privsep::ProcessPrivileges;
use post_login_support::Server;

const MESSAGE: &str = "From: Ann Example <ann@example.com>\r\n\
To: alice@localhost\r\n\
Subject: =?UTF-8?Q?caf=C3=A9?= and more\r\n\
Message-ID: <post-login-1@example.com>\r\n\
Date: Sat, 28 Nov 2026 10:00:00 +0000\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/alternative; boundary=\"b1\"\r\n\
\r\n\
--b1\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
hello\r\n\
--b1\r\n\
Content-Type: text/html; charset=utf-8\r\n\
\r\n\
<p>hello</p>\r\n\
--b1--\r\n";

fn alice() -> Server {
    Server::start(&[("alice", "alicepw", MailOwner::for_tests())], "")
}

#[test]
fn the_session_resumes_as_the_user_and_logs_out_as_dovecot_does() {
    let server = alice();
    let (mut process, mut c) = server.imap("alice", "SessAAAAAAAAAAAA");
    let ok = c.line();
    assert!(
        ok.starts_with("a1 OK [CAPABILITY IMAP4rev1"),
        "{ok}\n{}",
        process.log_text()
    );
    assert!(ok.ends_with("Logged in"), "{ok}");

    // the process runs as the user now (as root: the user's uid, not 0)
    let owner = MailOwner::for_tests();
    let me = ProcessPrivileges::of_pid(process.pid()).unwrap();
    assert_eq!(me.uid, [owner.uid; 4], "{me:?}");
    assert_eq!(me.gid, [owner.gid; 4], "{me:?}");
    assert!(me.no_new_privs);
    assert_eq!(me.cap_effective, 0);

    let select = c.command("a2", "SELECT INBOX");
    assert!(
        select.last().unwrap().starts_with("a2 OK [READ-WRITE]"),
        "{select:?}"
    );
    // created on first login, owned by the user
    let maildir = server.maildir("alice");
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(maildir.join("cur")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (owner.uid, owner.gid));

    let logout = c.command("a3", "LOGOUT");
    assert_eq!(logout[0], "* BYE Logging out");
    assert!(process.wait_exit(Duration::from_secs(10)));
    let log = process.log_text();
    let prefix = format!("imap(alice)<{}><SessAAAAAAAAAAAA>: Info: ", process.pid());
    let line = log
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no logout line in {log}"));
    let rest = &line[prefix.len()..];
    assert!(rest.starts_with("Disconnected: Logged out in="), "{rest}");
    assert!(
        rest.ends_with(
            " deleted=0 expunged=0 trashed=0 hdr_count=0 hdr_bytes=0 body_count=0 body_bytes=0"
        ),
        "{rest}"
    );
    // in= counts the client's bytes Dovecot's way: the SELECT line and
    // the LOGOUT command without its line end (never read)
    let bytes_in = "a2 SELECT INBOX\r\n".len() + "a3 LOGOUT".len();
    assert!(rest.contains(&format!(" in={bytes_in} ")), "{rest}");
}

#[test]
fn a_wrong_or_reused_cookie_is_refused() {
    let server = alice();
    let (_auth, cookie) = server.login("alice", "alicepw");
    let state = columba_session::ImapHandoff {
        tag: "x1".into(),
        user: "alice".into(),
        method: "PLAIN".into(),
        tls: false,
        client_input: Vec::new(),
        client_id: Vec::new(),
        untagged_capability: false,
    }
    .encode();
    let wrong = format!(
        "{}{}",
        if cookie.starts_with('0') { "1" } else { "0" },
        &cookie[1..]
    );
    let (mut p, stream) = server.post_login("imap", "alice", &wrong, &state, "SessWrongCookie1");
    let mut c = post_login_support::Client::new(stream);
    assert_eq!(
        c.line(),
        "x1 NO [UNAVAILABLE] Internal error occurred. Refer to server log for more information."
    );
    assert!(p.wait_exit(Duration::from_secs(10)));
    assert!(
        p.log_text().contains("Login request failed"),
        "{}",
        p.log_text()
    );
    assert!(
        !p.log_text().contains(&cookie),
        "the cookie reached the log"
    );

    // the right cookie works once...
    let (mut p1, stream) = server.post_login("imap", "alice", &cookie, &state, "SessRightCookie1");
    let mut c1 = post_login_support::Client::new(stream);
    assert!(c1.line().starts_with("x1 OK"));
    // ...and a second process presenting it again is refused
    let (mut p2, stream) = server.post_login("imap", "alice", &cookie, &state, "SessReusedCookie");
    let mut c2 = post_login_support::Client::new(stream);
    assert!(c2.line().starts_with("x1 NO [UNAVAILABLE]"));
    assert!(p2.wait_exit(Duration::from_secs(10)));
    c1.command("x2", "LOGOUT");
    assert!(p1.wait_exit(Duration::from_secs(10)));
}

#[test]
fn idle_sees_an_lmtp_delivery_within_a_second() {
    let server = alice();
    let (mut process, mut c) = server.imap("alice", "SessIdleIdleIdle");
    assert!(c.line().starts_with("a1 OK"));
    let select = c.command("a2", "SELECT INBOX");
    assert!(select.iter().any(|l| l == "* 0 EXISTS"), "{select:?}");
    c.send("a3 IDLE\r\n");
    assert_eq!(c.line(), "+ idling");

    let replies = server.deliver(&["alice@localhost"], MESSAGE);
    let delivered = Instant::now();
    assert!(
        replies[0].starts_with("250 2.0.0 <alice@localhost> "),
        "{replies:?}"
    );
    c.timeout(Duration::from_secs(1));
    let exists = c.line();
    assert_eq!(exists, "* 1 EXISTS", "within a second of the delivery");
    assert!(delivered.elapsed() < Duration::from_secs(1));
    c.timeout(Duration::from_secs(20));
    c.send("DONE\r\n");
    let done = c.until_tagged("a3");
    assert!(done.last().unwrap().starts_with("a3 OK"), "{done:?}");
    c.command("a4", "LOGOUT");
    assert!(process.wait_exit(Duration::from_secs(10)));
}

#[test]
fn lmtp_delivers_as_the_recipient_and_logs_as_dovecot_does() {
    let server = alice();
    let (mut process, mut c) = server.lmtp("LmtpLogSess01234567890");
    c.send("LHLO test\r\n");
    while !c.line().starts_with("250 ") {}
    c.send("MAIL FROM:<s@example.com>\r\nRCPT TO:<alice+news@localhost>\r\nRCPT TO:<nobody@localhost>\r\n");
    assert!(c.line().starts_with("250"));
    assert!(c.line().starts_with("250"), "alice+news is alice");
    assert!(c.line().starts_with("550 5.1.1"));
    c.send("DATA\r\n");
    assert!(c.line().starts_with("354"));
    c.send(MESSAGE);
    c.send(".\r\n");
    let saved = c.line();
    assert!(
        saved.starts_with("250 2.0.0 <alice+news@localhost> LmtpLogSess01234567890 Saved"),
        "{saved}"
    );
    c.send("QUIT\r\n");
    assert!(c.line().starts_with("221"));
    assert!(process.wait_exit(Duration::from_secs(10)));

    let owner = MailOwner::for_tests();
    let new = server.maildir("alice").join("new");
    let files: Vec<_> = std::fs::read_dir(&new).unwrap().collect();
    assert_eq!(files.len(), 1);
    use std::os::unix::fs::MetadataExt;
    let meta = files[0].as_ref().unwrap().metadata().unwrap();
    assert_eq!((meta.uid(), meta.gid()), (owner.uid, owner.gid));

    let log = process.log_text();
    let pid = process.pid();
    for expect in [
        format!("lmtp({pid}): Info: Connect from 127.0.0.1"),
        format!(
            "lmtp(alice)<{pid}><LmtpLogSess01234567890>: Info: msgid=<post-login-1@example.com>: saved mail to INBOX"
        ),
        format!("lmtp({pid}): Info: Disconnect from 127.0.0.1: Logged out (state=READY)"),
    ] {
        assert!(log.lines().any(|l| l == expect), "{expect:?} not in\n{log}");
    }
}

/// `columba dump` of the cache, as text.
fn dump_cache(server: &Server) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_columba"))
        .arg("dump")
        .arg(server.maildir("alice").join("dovecot.index.cache"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

#[test]
fn the_indexer_fills_the_cache_that_dovecot_then_answers_from() {
    let server = alice();
    let replies = server.deliver(&["alice"], MESSAGE);
    assert!(replies[0].starts_with("250 2.0.0"), "{replies:?}");
    // the indexer runs a worker after the delivery: wait for its records
    let deadline = Instant::now() + Duration::from_secs(20);
    let dump = loop {
        let dump = dump_cache(&server);
        if dump.contains("imap.bodystructure") && dump.contains("hdr.Subject") {
            break dump;
        }
        assert!(
            Instant::now() < deadline,
            "no cache records after the delivery:\n{dump}\n{}",
            server.singleton_logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(dump.contains("hdr.From"), "{dump}");

    let (mut process, mut c) = server.imap("alice", "SessFetchCached1");
    assert!(c.line().starts_with("a1 OK"));
    c.command("a2", "SELECT INBOX");
    let fetch = c.command("a3", "FETCH 1 (ENVELOPE BODYSTRUCTURE)");
    c.command("a4", "LOGOUT");
    assert!(process.wait_exit(Duration::from_secs(10)));
    assert!(fetch.last().unwrap().starts_with("a3 OK"), "{fetch:?}");

    // A live Dovecot on the same Maildir, with the message file made
    // unreadable (its processes run as the owner, without capabilities):
    // only the cache the indexer wrote can answer, and it answers with
    // the same bytes as our session.
    require_tool!("dovecot");
    let maildir = server.maildir("alice");
    let cur = maildir.join("cur");
    let file = std::fs::read_dir(&cur)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o000)).unwrap();
    let mut config = DovecotConfig::default().user("alice", "alicepw");
    config.mail_location = format!("maildir:{}", maildir.display());
    let dovecot = PrivateDovecot::start(config).unwrap();
    let imap = TcpStream::connect(("127.0.0.1", dovecot.imap_port)).unwrap();
    imap.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut w = imap.try_clone().unwrap();
    let mut r = BufReader::new(imap);
    w.write_all(
        b"a1 LOGIN alice alicepw\r\na2 EXAMINE INBOX\r\na3 FETCH 1 (ENVELOPE BODYSTRUCTURE)\r\na4 LOGOUT\r\n",
    )
    .unwrap();
    let mut theirs = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if line.starts_with("* 1 FETCH") {
            theirs = line.trim_end().to_string();
        }
    }
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(fetch[0], theirs, "{}", dovecot.log());
    assert!(
        dovecot.log_problems().is_empty(),
        "{:?}",
        dovecot.log_problems()
    );
}

#[test]
fn too_many_connections_from_user_and_ip_are_refused_in_dovecots_words() {
    let server = Server::start(
        &[("alice", "alicepw", MailOwner::for_tests())],
        "mail_max_userip_connections = 1",
    );
    let (mut first, mut c1) = server.imap("alice", "SessLimitFirst01");
    assert!(c1.line().starts_with("a1 OK"));
    let (mut second, mut c2) = server.imap("alice", "SessLimitSecond1");
    let refused = c2.line();
    assert!(second.wait_exit(Duration::from_secs(10)));
    let log = second.log_text();
    c1.command("a2", "LOGOUT");
    assert!(first.wait_exit(Duration::from_secs(10)));

    // Dovecot 2.3.19 says (its login process, after authentication):
    let expected_reply =
        "a1 NO [LIMIT] Maximum number of connections from user+IP exceeded (mail_max_userip_connections=1)";
    assert_eq!(refused, expected_reply);
    // as Dovecot's imap-login logs it
    let expected_log = "imap-login: Info: Disconnected: Maximum number of connections from \
        user+IP exceeded (mail_max_userip_connections=1): user=<alice>, method=PLAIN, \
        rip=127.0.0.1, lip=127.0.0.1, secured, session=<SessLimitSecond1>";
    assert!(log.lines().any(|l| l == expected_log), "{log}");

    // the limit is per process lifetime: after the first logged out, a new one is let in
    let (mut third, mut c3) = server.imap("alice", "SessLimitThird01");
    assert!(c3.line().starts_with("a1 OK"));
    c3.command("a2", "LOGOUT");
    assert!(third.wait_exit(Duration::from_secs(10)));

    // POP3 likewise: -ERR [IN-USE]
    let (mut p1, mut pc1) = server.pop3("alice", "SessPopLimit0001");
    assert_eq!(pc1.line(), "+OK Logged in.");
    let (mut p2, mut pc2) = server.pop3("alice", "SessPopLimit0002");
    assert_eq!(
        pc2.line(),
        "-ERR [IN-USE] Maximum number of connections from user+IP exceeded (mail_max_userip_connections=1)"
    );
    assert!(p2.wait_exit(Duration::from_secs(10)));
    pc1.send("QUIT\r\n");
    assert!(pc1.line().starts_with("+OK"));
    assert!(p1.wait_exit(Duration::from_secs(10)));

    // and that is what a live Dovecot answers
    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(
        DovecotConfig::default()
            .user("alice", "alicepw")
            .extra("mail_max_userip_connections = 1"),
    )
    .unwrap();
    let open = || {
        let s = TcpStream::connect(("127.0.0.1", dovecot.imap_port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut greeting = String::new();
        r.read_line(&mut greeting).unwrap();
        (s, r)
    };
    let (mut s1, mut r1) = open();
    s1.write_all(b"a1 LOGIN alice alicepw\r\n").unwrap();
    let mut l = String::new();
    r1.read_line(&mut l).unwrap();
    assert!(l.starts_with("a1 OK"), "{l}");
    let (mut s2, mut r2) = open();
    s2.write_all(b"a1 LOGIN alice alicepw\r\n").unwrap();
    let mut l2 = String::new();
    r2.read_line(&mut l2).unwrap();
    assert_eq!(l2.trim_end(), expected_reply);
    // and its log line is ours but for the session id
    drop((s1, s2));
    let without_session = |l: &str| -> String {
        let start = l.find("imap-login: ").unwrap_or(0);
        let end = l.rfind("session=<").unwrap_or(l.len());
        l[start..end].to_string()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let theirs = loop {
        if let Some(l) = dovecot
            .log()
            .lines()
            .find(|l| l.contains("Maximum number of connections"))
        {
            break without_session(l);
        }
        assert!(Instant::now() < deadline, "{}", dovecot.log());
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(without_session(expected_log), theirs);
}

#[test]
fn pop3_resumes_and_logs_dovecots_counters() {
    let server = alice();
    server.deliver(&["alice"], MESSAGE);
    let (mut process, mut c) = server.pop3("alice", "SessPop3Counters");
    assert_eq!(c.line(), "+OK Logged in.");
    c.send("STAT\r\n");
    let stat = c.line();
    assert!(stat.starts_with("+OK 1 "), "{stat}");
    let size: usize = stat[6..].parse().unwrap();
    c.send("RETR 1\r\n");
    let mut retr = Vec::new();
    loop {
        let l = c.line();
        if l == "." {
            break;
        }
        retr.push(l);
    }
    c.send("DELE 1\r\nQUIT\r\n");
    assert!(c.line().starts_with("+OK"));
    assert!(c.line().starts_with("+OK"));
    assert!(process.wait_exit(Duration::from_secs(10)));
    let log = process.log_text();
    let expect = format!(
        "pop3(alice)<{}><SessPop3Counters>: Info: Disconnected: Logged out top=0/0, retr=1/{}, del=1/1, size={size}",
        process.pid(),
        size
    );
    assert!(log.lines().any(|l| l == expect), "{expect:?} not in\n{log}");
    // QUIT expunged it
    assert_eq!(
        std::fs::read_dir(server.maildir("alice").join("cur"))
            .unwrap()
            .count(),
        0
    );
}

/// Sends `count` messages, one transaction each, on one LMTP connection;
/// returns how long it took.
fn lmtp_burst(
    reader: &mut dyn BufRead,
    writer: &mut dyn Write,
    rcpt: &str,
    count: usize,
) -> Duration {
    let mut line = String::new();
    let mut expect = |reader: &mut dyn BufRead, prefix: &str| loop {
        line.clear();
        assert!(reader.read_line(&mut line).unwrap() > 0, "closed");
        if line.starts_with(prefix) && line.as_bytes().get(3) == Some(&b' ') {
            return;
        }
        assert!(line.starts_with(&prefix[..1]), "{line}");
    };
    writer.write_all(b"LHLO bench\r\n").unwrap();
    expect(reader, "250");
    let start = Instant::now();
    for i in 0..count {
        writer
            .write_all(
                format!(
                    "MAIL FROM:<s@example.com>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n\
                     Message-ID: <bench-{i}@example.com>\r\n{}.\r\n",
                    MESSAGE.split_once("\r\n").map_or(MESSAGE, |(_, rest)| rest)
                )
                .as_bytes(),
            )
            .unwrap();
        expect(reader, "250"); // MAIL
        expect(reader, "250"); // RCPT
        expect(reader, "354");
        expect(reader, "250"); // saved
    }
    start.elapsed()
}

/// LMTP delivery side by side with Dovecot 2.3 in one run, and the
/// post-login start (handoff to tagged OK: REQUEST, anvil, privilege
/// drop, Maildir open):
/// `cargo test --release -p columba --test post_login -- --ignored --nocapture`.
#[test]
#[ignore]
fn bench_lmtp_delivery_against_dovecot() {
    const COUNT: usize = 200;
    let server = alice();
    let mut starts = Vec::new();
    for i in 0..20 {
        let start = Instant::now();
        let (mut p, mut c) = server.imap("alice", &format!("SessBenchStart{i:02}"));
        assert!(c.line().starts_with("a1 OK"));
        starts.push(start.elapsed());
        c.command("a2", "LOGOUT");
        p.wait_exit(Duration::from_secs(10));
    }
    starts.sort();
    let (mut process, mut c) = server.lmtp("LmtpBenchSession012345");
    let ours = {
        let (reader, writer) = c.parts();
        lmtp_burst(reader, writer, "alice", COUNT)
    };
    c.send("QUIT\r\n");
    process.wait_exit(Duration::from_secs(10));

    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    let lmtp = TcpStream::connect(("127.0.0.1", dovecot.lmtp_port)).unwrap();
    let mut w = lmtp.try_clone().unwrap();
    let mut r = BufReader::new(lmtp);
    let mut greeting = String::new();
    r.read_line(&mut greeting).unwrap();
    let theirs = lmtp_burst(&mut r, &mut w, "alice", COUNT);
    let _ = w.write_all(b"QUIT\r\n");

    let per = |d: Duration| d.as_secs_f64() * 1000.0 / COUNT as f64;
    println!(
        "LMTP, {COUNT} messages of {} bytes on one connection: columba {:.2} ms/msg, \
         dovecot {:.2} ms/msg, ratio columba/dovecot {:.2}",
        MESSAGE.len(),
        per(ours),
        per(theirs),
        ours.as_secs_f64() / theirs.as_secs_f64()
    );
    println!(
        "post-login start (handoff to tagged OK), 20 runs: median {:.2} ms, max {:.2} ms",
        starts[10].as_secs_f64() * 1000.0,
        starts[19].as_secs_f64() * 1000.0
    );
}

#[test]
fn a_large_message_goes_through_the_spool_intact() {
    let server = alice();
    let mut body = String::from("Subject: large\r\nMessage-ID: <large@example.com>\r\n\r\n");
    let mut i = 0u64;
    while body.len() < 5 * 1024 * 1024 {
        body.push_str(&format!("line {i} .. of a large message\r\n"));
        i += 1;
    }
    // a line starting with a dot is stuffed on the wire
    body.push_str("..leading dot\r\n");
    let replies = server.deliver(&["alice"], &body);
    assert!(replies[0].starts_with("250 2.0.0"), "{replies:?}");
    let new = server.maildir("alice").join("new");
    let file = std::fs::read_dir(&new)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let stored = std::fs::read(file).unwrap();
    // with Dovecot LMTP's Return-Path, Delivered-To and Received,
    // unstuffed, and stored with LF line ends as Dovecot stores Maildir
    // files
    let header_start = "Return-Path: <sender@example.com>\nDelivered-To: alice\nReceived: from test ([127.0.0.1])\n";
    assert!(stored.starts_with(header_start.as_bytes()));
    let received_end = stored
        .windows(2)
        .position(|w| w == b"\nS")
        .expect("the message after the trace headers")
        + 1;
    let stored = stored[received_end..].to_vec();
    let expected = body
        .replace("\r\n..leading dot", "\r\n.leading dot")
        .replace("\r\n", "\n");
    let diverge = stored
        .iter()
        .zip(expected.as_bytes())
        .position(|(a, b)| a != b)
        .unwrap_or(stored.len().min(expected.len()));
    assert!(
        stored == expected.as_bytes(),
        "{} stored, {} expected, first difference at {diverge}: {:?} vs {:?}",
        stored.len(),
        expected.len(),
        String::from_utf8_lossy(
            &stored[diverge.saturating_sub(40)..(diverge + 40).min(stored.len())]
        ),
        &expected[diverge.saturating_sub(40)..(diverge + 40).min(expected.len())]
    );
}

/// The fields of a `Disconnected: Logged out ...` line, without `out=`
/// (the servers' capability lists differ in length).
fn logout_fields(line: &str) -> Vec<String> {
    let rest = &line[line
        .find("Disconnected: Logged out ")
        .expect("a logout line")..];
    rest.split_whitespace()
        .skip(3)
        .filter(|f| !f.starts_with("out="))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_imap_logout_line_counts_what_dovecots_counts() {
    const COMMANDS: &str = "b1 SELECT INBOX\r\nb2 FETCH 1 (BODY.PEEK[HEADER])\r\n\
        b3 FETCH 1 (BODY.PEEK[TEXT])\r\nb4 FETCH 1:2 (BODY.PEEK[])\r\n\
        b5 STORE 1 +FLAGS (\\Deleted)\r\nb6 EXPUNGE\r\nb7 LOGOUT\r\n";
    let server = alice();
    server.deliver(&["alice"], MESSAGE);
    server.deliver(&["alice"], MESSAGE);
    let (mut process, mut c) = server.imap("alice", "SessLogoutFields");
    assert!(c.line().starts_with("a1 OK"));
    c.send(COMMANDS);
    let _ = c.rest();
    assert!(process.wait_exit(Duration::from_secs(10)));
    let log = process.log_text();
    let ours = logout_fields(log.lines().find(|l| l.contains("Disconnected")).unwrap());

    require_tool!("dovecot");
    // Dovecot's default: a Received header too (the test setup turns it off)
    let dovecot = PrivateDovecot::start(
        DovecotConfig::default()
            .user("alice", "alicepw")
            .extra("lmtp_add_received_header = yes"),
    )
    .unwrap();
    for _ in 0..2 {
        let mut lmtp = TcpStream::connect(("127.0.0.1", dovecot.lmtp_port)).unwrap();
        lmtp.write_all(
            format!(
                "LHLO test\r\nMAIL FROM:<sender@example.com>\r\nRCPT TO:<alice>\r\nDATA\r\n{MESSAGE}.\r\nQUIT\r\n"
            )
            .as_bytes(),
        )
        .unwrap();
        let mut all = String::new();
        let _ = std::io::Read::read_to_string(&mut lmtp, &mut all);
        assert!(all.contains("Saved"), "{all}");
    }
    let imap = TcpStream::connect(("127.0.0.1", dovecot.imap_port)).unwrap();
    imap.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut w = imap.try_clone().unwrap();
    let mut r = BufReader::new(imap);
    let mut greeting = String::new();
    r.read_line(&mut greeting).unwrap();
    w.write_all(b"a1 LOGIN alice alicepw\r\n").unwrap();
    let mut ok = String::new();
    while !ok.starts_with("a1 ") {
        ok.clear();
        r.read_line(&mut ok).unwrap();
    }
    w.write_all(COMMANDS.as_bytes()).unwrap();
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut r, &mut rest);
    let deadline = Instant::now() + Duration::from_secs(10);
    let theirs = loop {
        if let Some(l) = dovecot
            .log()
            .lines()
            .find(|l| l.contains("imap(alice)") && l.contains("Disconnected: Logged out"))
        {
            break logout_fields(l);
        }
        assert!(Instant::now() < deadline, "{}", dovecot.log());
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(ours, theirs);
}

/// `columba stats --json` for the test server.
fn stats(server: &Server) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_columba"))
        .args(["stats", "--json", "--config"])
        .arg(&server.config)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn commands_and_deliveries_reach_columba_stats() {
    let server = alice();
    server.deliver(&["alice"], MESSAGE);
    let (mut process, mut c) = server.imap("alice", "SessStatsCounter");
    assert!(c.line().starts_with("a1 OK"));
    c.command("a2", "SELECT INBOX");
    c.command("a3", "FETCH 1 (BODY[])");
    c.command("a4", "NOOP");
    c.command("a5", "LOGOUT");
    assert!(process.wait_exit(Duration::from_secs(10)));
    let (mut p, mut c) = server.pop3("alice", "SessStatsPop3001");
    assert_eq!(c.line(), "+OK Logged in.");
    c.send("STAT\r\nQUIT\r\n");
    c.line();
    c.line();
    assert!(p.wait_exit(Duration::from_secs(10)));
    // the stats role applies counts as they arrive: wait a moment for them
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = stats(&server);
        let get = |k: &str| s.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
        // four commands after login (the login's own answer is not one)
        if get("imap.commands") == 4 && get("pop3.commands") == 2 && get("lmtp.deliveries") == 1 {
            assert_eq!(get("lmtp.delivery_failures"), 0, "{s}");
            break;
        }
        assert!(Instant::now() < deadline, "{s}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn idle_sees_flag_changes_and_expunges_made_by_another_imap_process() {
    let server = alice();
    server.deliver(&["alice"], MESSAGE);
    server.deliver(&["alice"], MESSAGE);
    // one login at a time: the test plays every login process with its
    // own pid, and the auth server keys logins by pid and request id
    let (mut pa, mut a) = server.imap("alice", "SessIdleWatcherA");
    assert!(a.line().starts_with("a1 OK"));
    let (mut pb, mut b) = server.imap("alice", "SessIdleChangerB");
    assert!(b.line().starts_with("a1 OK"));
    a.command("a2", "SELECT INBOX");
    b.command("b2", "SELECT INBOX");
    a.send("a3 IDLE\r\n");
    assert_eq!(a.line(), "+ idling");
    a.timeout(Duration::from_secs(2));

    b.command("b3", "STORE 1 +FLAGS (\\Flagged)");
    let flags = a.line();
    assert!(
        flags.starts_with("* 1 FETCH (") && flags.contains("\\Flagged"),
        "{flags}"
    );
    b.command("b4", "STORE 2 +FLAGS (\\Deleted)");
    let _ = a.line();
    b.command("b5", "EXPUNGE");
    assert_eq!(a.line(), "* 2 EXPUNGE");

    a.timeout(Duration::from_secs(20));
    a.send("DONE\r\n");
    assert!(a.until_tagged("a3").last().unwrap().starts_with("a3 OK"));
    a.command("a4", "LOGOUT");
    b.command("b6", "LOGOUT");
    assert!(pa.wait_exit(Duration::from_secs(10)));
    assert!(pb.wait_exit(Duration::from_secs(10)));
    // b's logout line counts its own work
    assert!(
        pb.log_text().contains(" deleted=1 expunged=1 trashed=0 "),
        "{}",
        pb.log_text()
    );
}

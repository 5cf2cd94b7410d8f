//! The same IMAP and POP3 commands sent to a live private Dovecot and to
//! the Columba sessions (each over a fresh mailbox); the responses must
//! match line for line once Dovecot's timings and the UIDVALIDITY values
//! are masked.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

use columba_interop::{require_tool, DovecotConfig, PrivateDovecot};
use columba_session::{ImapConfig, ImapSession, MaildirStorage, Pop3Config, Pop3Session};

/// Masks what legitimately differs: timings, UIDVALIDITY, server names.
fn normalize(text: &str) -> String {
    let mut out = String::new();
    for line in text.split_inclusive("\r\n") {
        let mut l = line.to_string();
        if let Some(i) = l.find(" (0.") {
            if l.contains("secs)") {
                let end = l.find("secs)").unwrap() + 5;
                l.replace_range(i..end, "");
            }
        }
        for key in ["UIDVALIDITY ", "APPENDUID ", "COPYUID "] {
            if let Some(i) = l.find(key) {
                let start = i + key.len();
                let end = start + l[start..].find(|c: char| !c.is_ascii_digit()).unwrap_or(0);
                l.replace_range(start..end, "V");
            }
        }
        out.push_str(&l);
    }
    out
}

/// Sends each command to Dovecot and reads until its tagged answer.
fn dovecot_imap(port: u16, user: &str, pw: &str, script: &[&str]) -> String {
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut w = stream;
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    w.write_all(format!("l LOGIN {user} {pw}\r\n").as_bytes())
        .unwrap();
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        if line.starts_with("l ") {
            break;
        }
    }
    let mut all = String::new();
    for cmd in script {
        let tag = cmd.split(' ').next().unwrap().to_string();
        w.write_all(cmd.as_bytes()).unwrap();
        w.write_all(b"\r\n").unwrap();
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            // literals: read the announced bytes too
            if let Some(n) = line
                .trim_end()
                .strip_suffix('}')
                .and_then(|s| s.rsplit_once('{'))
                .and_then(|(_, n)| n.parse::<usize>().ok())
            {
                let mut buf = vec![0; n];
                reader.read_exact(&mut buf).unwrap();
                line.push_str(&String::from_utf8_lossy(&buf));
                let mut rest = String::new();
                reader.read_line(&mut rest).unwrap();
                line.push_str(&rest);
            }
            all.push_str(&line);
            if line.starts_with(&format!("{tag} ")) {
                break;
            }
        }
    }
    all
}

fn columba_imap(script: &[&str]) -> String {
    let home = tempfile::tempdir().unwrap();
    let mut s = ImapSession::new(ImapConfig {
        plaintext_without_tls: true,
        ..ImapConfig::default()
    });
    s.take_output();
    s.feed(b"l LOGIN u p\r\n");
    s.poll_event();
    let storage = MaildirStorage::open(&home.path().join("Maildir")).unwrap();
    s.login_succeeded("u", Box::new(storage));
    s.take_output();
    let mut all = String::new();
    for cmd in script {
        s.feed(cmd.as_bytes());
        s.feed(b"\r\n");
        all.push_str(&String::from_utf8(s.take_output()).unwrap());
    }
    all
}

const MESSAGE: &str = "From: Ann <ann@example.com>\r\nTo: bob@example.com\r\nSubject: hello\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\nMessage-ID: <1@example.com>\r\n\r\nbody line\r\n";

#[test]
fn imap_mailbox_commands_answer_as_dovecot_does() {
    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    let append = format!(
        "b APPEND INBOX (\\Flagged) {{{}+}}\r\n{MESSAGE}",
        MESSAGE.len()
    );
    let script: Vec<&str> = vec![
        "a SELECT INBOX",
        &append,
        "c NOOP",
        "d FETCH 1 (UID FLAGS RFC822.SIZE ENVELOPE BODYSTRUCTURE)",
        "e FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)] BODY.PEEK[TEXT])",
        "f STORE 1 +FLAGS (\\Seen $Label1)",
        "g UID SEARCH SEEN FLAGGED",
        "h SEARCH SUBJECT hello",
        "i STATUS INBOX (MESSAGES UNSEEN UIDNEXT)",
        "j STORE 1 +FLAGS.SILENT (\\Deleted)",
        "k EXPUNGE",
        "m CLOSE",
    ];
    let theirs = normalize(&dovecot_imap(
        dovecot.imap_port,
        "alice",
        "alicepw",
        &script,
    ));
    let ours = normalize(&columba_imap(&script));
    let (t, o): (Vec<&str>, Vec<&str>) = (theirs.lines().collect(), ours.lines().collect());
    for (i, (a, b)) in t.iter().zip(o.iter()).enumerate() {
        assert_eq!(a, b, "line {i}\nDovecot:\n{theirs}\nColumba:\n{ours}");
    }
    assert_eq!(t.len(), o.len(), "Dovecot:\n{theirs}\nColumba:\n{ours}");
}

#[test]
fn pop3_answers_as_dovecot_does() {
    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    // the same message in both mailboxes
    let home = tempfile::tempdir().unwrap();
    let root = home.path().join("Maildir");
    let mut ours_store = MaildirStorage::open(&root).unwrap();
    use columba_session::MailStorage;
    ours_store
        .append("INBOX", MESSAGE.as_bytes(), Default::default(), &[], None)
        .unwrap();
    let mut imap = TcpStream::connect(("127.0.0.1", dovecot.imap_port)).unwrap();
    let append = format!(
        "l LOGIN alice alicepw\r\nb APPEND INBOX {{{}+}}\r\n{MESSAGE}\r\nc LOGOUT\r\n",
        MESSAGE.len()
    );
    imap.write_all(append.as_bytes()).unwrap();
    let mut sink = String::new();
    let _ = imap.read_to_string(&mut sink);

    let script = "USER alice\r\nPASS alicepw\r\nSTAT\r\nLIST\r\nRETR 1\r\nTOP 1 0\r\nRETR 2\r\nDELE 1\r\nSTAT\r\nRSET\r\nQUIT\r\n";
    let mut pop = TcpStream::connect(("127.0.0.1", dovecot.pop3_port)).unwrap();
    let mut greeting = [0u8; 256];
    let _ = pop.read(&mut greeting).unwrap();
    pop.write_all(script.as_bytes()).unwrap();
    let mut theirs = String::new();
    pop.read_to_string(&mut theirs).unwrap();

    let mut s = Pop3Session::new(Pop3Config {
        plaintext_without_tls: true,
        ..Pop3Config::default()
    });
    s.take_output();
    s.feed(script.as_bytes());
    s.poll_event();
    s.login_succeeded("alice", Box::new(MaildirStorage::open(&root).unwrap()));
    let ours = String::from_utf8(s.take_output()).unwrap();
    assert_eq!(theirs, ours);
}

#[test]
fn searchres_answers_as_dovecot_does() {
    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    let append = |tag: &str, flags: &str| {
        format!(
            "{tag} APPEND INBOX ({flags}) {{{}+}}\r\n{MESSAGE}",
            MESSAGE.len()
        )
    };
    let (a1, a2, a3, a4) = (
        append("b1", "\\Seen"),
        append("b2", ""),
        append("b3", "\\Seen \\Flagged"),
        append("b4", "\\Seen"),
    );
    let script: Vec<&str> = vec![
        &a1,
        &a2,
        &a3,
        &a4,
        "a SELECT INBOX",
        "c SEARCH RETURN (SAVE) SEEN",
        "d FETCH $ (UID FLAGS)",
        "e UID SEARCH UID $ FLAGGED",
        "f SEARCH RETURN (SAVE MIN MAX) SEEN",
        "g FETCH $ (UID)",
        "h SEARCH RETURN (COUNT SAVE) UNSEEN",
        "i UID FETCH $ (FLAGS)",
        "j STORE $ +FLAGS.SILENT (\\Deleted)",
        "k UID EXPUNGE $",
        "l SEARCH $",
        "m SEARCH RETURN (SAVE) SEEN",
        "n UNSELECT",
        "o SELECT INBOX",
        "p SEARCH $",
    ];
    let theirs = normalize(&dovecot_imap(
        dovecot.imap_port,
        "alice",
        "alicepw",
        &script,
    ));
    let ours = normalize(&columba_imap(&script));
    assert_eq!(theirs, ours, "Dovecot:\n{theirs}\nColumba:\n{ours}");
}

#[test]
fn qresync_reports_vanished_as_dovecot_does() {
    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    let append = format!("b APPEND INBOX {{{}+}}\r\n{MESSAGE}", MESSAGE.len());
    let script: Vec<&str> = vec![
        &append,
        &append,
        &append,
        &append,
        "e ENABLE QRESYNC",
        "s SELECT INBOX",
        "t STORE 1:2 +FLAGS.SILENT (\\Deleted)",
        "u UID EXPUNGE 1:2",
        "v STORE 2 +FLAGS.SILENT (\\Deleted)",
        "w EXPUNGE",
        "x FETCH 1 (FLAGS)",
    ];
    let theirs = normalize(&dovecot_imap(
        dovecot.imap_port,
        "alice",
        "alicepw",
        &script,
    ));
    let ours = normalize(&columba_imap(&script));
    assert_eq!(theirs, ours, "Dovecot:\n{theirs}\nColumba:\n{ours}");
}

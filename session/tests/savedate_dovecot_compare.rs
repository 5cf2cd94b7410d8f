//! SAVEDATE (RFC 8514) end to end: a live private Dovecot and the Columba
//! session read the same Maildir, and FETCH SAVEDATE and the SAVEDBEFORE,
//! SAVEDON, SAVEDSINCE and SAVEDATESUPPORTED search keys get the same
//! answers from both; both advertise SAVEDATE.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{SystemTime, UNIX_EPOCH};

use columba_interop::{require_tool, DovecotConfig, PrivateDovecot};
use columba_session::{ImapConfig, ImapSession, MaildirStorage};

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `d-Mon-yyyy` of a Unix time (UTC).
fn imap_day(t: i64) -> String {
    let z = t.div_euclid(86_400) + 719_468;
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

/// Sends each command to Dovecot and returns the answer of each.
fn dovecot_imap(port: u16, script: &[String]) -> Vec<String> {
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut w = stream;
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let mut answers = Vec::new();
    for cmd in std::iter::once(&"l LOGIN alice alicepw".to_string()).chain(script) {
        let tag = cmd.split(' ').next().unwrap().to_string();
        w.write_all(cmd.as_bytes()).unwrap();
        w.write_all(b"\r\n").unwrap();
        let mut all = String::new();
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
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
        answers.push(all);
    }
    answers
}

/// The Columba session's answer to each command.
fn columba_imap(root: &std::path::Path, script: &[String]) -> Vec<String> {
    let mut s = ImapSession::new(ImapConfig {
        plaintext_without_tls: true,
        ..ImapConfig::default()
    });
    s.take_output();
    s.feed(b"l LOGIN alice alicepw\r\n");
    s.poll_event();
    s.login_succeeded("alice", Box::new(MaildirStorage::open(root).unwrap()));
    let mut answers = vec![String::from_utf8(s.take_output()).unwrap()];
    for cmd in script {
        s.feed(cmd.as_bytes());
        s.feed(b"\r\n");
        answers.push(String::from_utf8(s.take_output()).unwrap());
    }
    answers
}

/// Without Dovecot's `(0.001 + 0.000 secs)` timings.
fn untimed(s: &str) -> String {
    s.split_inclusive("\r\n")
        .map(|l| match (l.find(" (0."), l.find("secs)")) {
            (Some(i), Some(j)) => format!("{}{}", &l[..i], &l[j + 5..]),
            _ => l.to_string(),
        })
        .collect()
}

const MESSAGE: &str = "From: Ann <ann@example.com>\r\nSubject: saved\r\n\r\nbody\r\n";

#[test]
fn fetch_and_search_savedate_answer_as_dovecot_does() {
    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let (today, tomorrow, yesterday) = (
        imap_day(now),
        imap_day(now + 86_400),
        imap_day(now - 86_400),
    );
    // Dovecot saves the messages; one has an INTERNALDATE years back, so
    // SAVEDATE and INTERNALDATE differ
    let append = |tag: &str, date: &str| {
        format!(
            "{tag} APPEND INBOX (\\Seen) {date}{{{}+}}\r\n{MESSAGE}",
            MESSAGE.len()
        )
    };
    let saving = vec![
        append("s1", ""),
        append("s2", "\"01-Feb-2010 10:00:00 +0000\" "),
        append("s3", ""),
        "s4 SELECT INBOX".to_string(),
        // Dovecot caches date.save for the first message it fetches it of
        "s5 FETCH 1 (SAVEDATE)".to_string(),
        "s6 LOGOUT".to_string(),
    ];
    let saved = dovecot_imap(dovecot.imap_port, &saving);
    assert!(saved[1].contains("OK [APPENDUID"), "{saved:?}");
    assert!(saved[0].contains(" SAVEDATE"), "Dovecot: {}", saved[0]);

    let script: Vec<String> = vec![
        "a EXAMINE INBOX".into(),
        "b FETCH 1:* (UID SAVEDATE)".into(),
        "c UID FETCH 2 (INTERNALDATE SAVEDATE FLAGS)".into(),
        "d SEARCH SAVEDATESUPPORTED".into(),
        format!("e SEARCH SAVEDON {today}"),
        format!("f SEARCH SAVEDBEFORE {today}"),
        format!("g SEARCH SAVEDSINCE {today}"),
        format!("h UID SEARCH SAVEDBEFORE {tomorrow} SAVEDSINCE {yesterday}"),
        "i SEARCH BEFORE 1-Jan-2020 NOT SAVEDBEFORE 1-Jan-2020".into(),
        "j SEARCH OR SAVEDON 1-Feb-2010 SAVEDATESUPPORTED".into(),
        "k FETCH 2 (SAVEDATE RFC822.SIZE ENVELOPE)".into(),
    ];
    let theirs = dovecot_imap(dovecot.imap_port, &script);
    let ours = columba_imap(&dovecot.maildir("alice"), &script);
    assert!(ours[0].contains(" SAVEDATE"), "Columba: {}", ours[0]);
    // the EXAMINE answers are compared elsewhere; from FETCH on, the same
    for i in 2..theirs.len() {
        assert_eq!(
            untimed(&theirs[i]),
            ours[i],
            "{}\nDovecot:\n{}\nColumba:\n{}",
            script[i - 1],
            theirs[i],
            ours[i]
        );
    }
    assert!(theirs[2].contains("SAVEDATE \""), "{}", theirs[2]);
    assert!(
        theirs[6].starts_with("* SEARCH\r\n"),
        "nothing saved before today: {}",
        theirs[6]
    );
}

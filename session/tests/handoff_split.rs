//! A session split between a login process and a post-login process
//! (`login_handoff`, the handoff encoded and decoded, then `resume`) must
//! answer byte for byte as one unsplit session does, wherever the client's
//! pipelined bytes were cut into reads.

use std::path::{Path, PathBuf};

use columba_session::storage::MessageFlags;
use columba_session::{
    ImapConfig, ImapEvent, ImapHandoff, ImapSession, MailStorage, MaildirStorage, Pop3Config,
    Pop3Event, Pop3Handoff, Pop3Session,
};

/// A Maildir with three messages, made once and copied for every run so
/// that every run starts from the same files (same UIDVALIDITY).
fn template() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("Maildir");
    let mut s = MaildirStorage::open(&root).unwrap();
    for (i, seen) in [(1, true), (2, false), (3, false)] {
        let msg = format!("From: a@example.org\r\nSubject: m{i}\r\n\r\nbody {i}\r\n");
        let flags = MessageFlags {
            seen,
            ..MessageFlags::default()
        };
        s.append("INBOX", msg.as_bytes(), flags, &[], Some(1_700_000_000))
            .unwrap();
    }
    s.create("Work").unwrap();
    (dir, root)
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}

fn fresh_storage(template: &Path, scratch: &Path) -> Box<dyn MailStorage> {
    let _ = std::fs::remove_dir_all(scratch);
    copy_tree(template, scratch);
    Box::new(MaildirStorage::open(scratch).unwrap())
}

fn imap_config() -> ImapConfig {
    ImapConfig {
        plaintext_without_tls: true,
        ..ImapConfig::default()
    }
}

/// Runs `chunks` through one IMAP session; with `split`, the login happens
/// in a login session that hands off to a resumed session. Returns
/// everything sent to the client.
fn run_imap(chunks: &[&[u8]], split: bool, template: &Path, scratch: &Path) -> Vec<u8> {
    let mut session = ImapSession::new(imap_config());
    session.set_now(1_700_000_100);
    let mut sent = session.take_output();
    let mut resumed = false;
    for chunk in chunks {
        session.feed(chunk);
        loop {
            sent.extend(session.take_output());
            let Some(event) = session.poll_event() else {
                break;
            };
            match event {
                ImapEvent::Authenticate { credentials, .. } => {
                    if credentials.password != b"pw" {
                        session.login_failed(false);
                        continue;
                    }
                    let storage = fresh_storage(template, scratch);
                    if split && !resumed {
                        let handoff = session.login_handoff(&credentials.user);
                        assert!(session.take_output().is_empty());
                        let decoded = ImapHandoff::decode(&handoff.encode()).unwrap();
                        assert_eq!(decoded, handoff);
                        session = ImapSession::resume(imap_config(), decoded, storage);
                        session.set_now(1_700_000_100);
                        resumed = true;
                    } else {
                        session.login_succeeded(&credentials.user, storage);
                    }
                }
                ImapEvent::Close => {
                    sent.extend(session.take_output());
                    return sent;
                }
                _ => {}
            }
        }
    }
    sent
}

fn pop3_config() -> Pop3Config {
    Pop3Config {
        plaintext_without_tls: true,
        ..Pop3Config::default()
    }
}

fn run_pop3(chunks: &[&[u8]], split: bool, template: &Path, scratch: &Path) -> Vec<u8> {
    let mut session = Pop3Session::new(pop3_config());
    let mut sent = session.take_output();
    let mut resumed = false;
    for chunk in chunks {
        session.feed(chunk);
        loop {
            sent.extend(session.take_output());
            let Some(event) = session.poll_event() else {
                break;
            };
            match event {
                Pop3Event::Authenticate { credentials, .. } => {
                    if credentials.password != b"pw" {
                        session.login_failed(false);
                        continue;
                    }
                    let storage = fresh_storage(template, scratch);
                    if split && !resumed {
                        let handoff = session.login_handoff(&credentials.user);
                        assert!(session.take_output().is_empty());
                        let decoded = Pop3Handoff::decode(&handoff.encode()).unwrap();
                        assert_eq!(decoded, handoff);
                        session = Pop3Session::resume(pop3_config(), decoded, storage);
                        resumed = true;
                    } else {
                        session.login_succeeded(&credentials.user, storage);
                    }
                }
                Pop3Event::Close => {
                    sent.extend(session.take_output());
                    return sent;
                }
                _ => {}
            }
        }
    }
    sent
}

type Runner = fn(&[&[u8]], bool, &Path, &Path) -> Vec<u8>;

/// Every cut of `script` into two reads, and one byte per read, split or
/// not, gives the same bytes as the whole script in one read unsplit.
fn check_every_split(script: &[u8], run: Runner, must_contain: &str) {
    let (_t, template) = template();
    let scratch_dir = tempfile::tempdir().unwrap();
    let scratch = scratch_dir.path().join("Maildir");
    let expected = run(&[script], false, &template, &scratch);
    let text = String::from_utf8_lossy(&expected).into_owned();
    assert!(text.contains(must_contain), "{text}");
    for k in 0..=script.len() {
        let chunks = [&script[..k], &script[k..]];
        let got = run(&chunks, true, &template, &scratch);
        assert_eq!(
            String::from_utf8_lossy(&got),
            text,
            "split after {k} bytes: {:?}",
            String::from_utf8_lossy(&script[..k])
        );
    }
    let bytes: Vec<&[u8]> = script.chunks(1).collect();
    let got = run(&bytes, true, &template, &scratch);
    assert_eq!(String::from_utf8_lossy(&got), text, "one byte per read");
}

#[test]
fn imap_login_pipelined() {
    check_every_split(
        b"a0 ID (\"name\" \"test\")\r\na1 LOGIN demo bad\r\na2 LOGIN demo pw\r\n\
          a3 SELECT INBOX\r\na4 FETCH 1:* (UID FLAGS)\r\na5 STORE 2 +FLAGS (\\Seen)\r\n\
          a6 LOGOUT\r\n",
        run_imap,
        "a2 OK [CAPABILITY IMAP4rev1",
    );
}

#[test]
fn imap_authenticate_plain_with_and_without_initial_response() {
    // AGRlbW8AcHc= is "\0demo\0pw"
    check_every_split(
        b"a1 AUTHENTICATE PLAIN\r\nAGRlbW8AYmFk\r\na2 AUTHENTICATE PLAIN\r\nAGRlbW8AcHc=\r\n\
          a3 LIST \"\" *\r\na4 STATUS Work (MESSAGES)\r\na5 LOGOUT\r\n",
        run_imap,
        "a2 OK [CAPABILITY IMAP4rev1",
    );
    check_every_split(
        b"a1 AUTHENTICATE PLAIN AGRlbW8AcHc=\r\na2 EXAMINE INBOX\r\na3 UID SEARCH UNSEEN\r\n\
          a4 APPEND Work {5+}\r\nhello\r\na5 LOGOUT\r\n",
        run_imap,
        "a1 OK [CAPABILITY IMAP4rev1",
    );
}

#[test]
fn imap_login_with_literals_and_a_partial_command_at_the_cut() {
    check_every_split(
        b"a1 LOGIN {4+}\r\ndemo {2+}\r\npw\r\na2 SELECT {5+}\r\nINBOX\r\na3 NOOP\r\na4 LOG",
        run_imap,
        "a2 OK [READ-WRITE] Select completed.",
    );
}

#[test]
fn pop3_login_pipelined() {
    check_every_split(
        b"CAPA\r\nUSER demo\r\nPASS bad\r\nUSER demo\r\nPASS pw\r\nSTAT\r\nLIST\r\nUIDL 2\r\n\
          RETR 1\r\nDELE 1\r\nQUIT\r\n",
        run_pop3,
        "+OK Logged in.",
    );
    check_every_split(
        b"AUTH PLAIN\r\nAGRlbW8AcHc=\r\nSTAT\r\nTOP 2 0\r\nQUIT\r\n",
        run_pop3,
        "+OK Logged in.",
    );
}

#[test]
fn the_handoff_carries_id_and_method() {
    let mut s = ImapSession::new(imap_config());
    s.feed(b"a ID (\"name\" \"Mutt\" \"version\" NIL)\r\nb AUTHENTICATE PLAIN AGRlbW8AcHc=\r\nc NOOP\r\nd NO");
    assert!(matches!(
        s.poll_event(),
        Some(ImapEvent::Authenticate { .. })
    ));
    let h = s.login_handoff("demo");
    assert_eq!(h.tag, "b");
    assert_eq!(h.method, "PLAIN");
    assert_eq!(h.client_input, b"c NOOP\r\nd NO");
    assert_eq!(
        h.client_id,
        vec![
            ("name".to_string(), Some("Mutt".to_string())),
            ("version".to_string(), None)
        ]
    );
    // the login session is done
    s.feed(b"OP\r\n");
    assert!(s.take_output().starts_with(b"* OK"));
    assert!(s.take_output().is_empty());
}

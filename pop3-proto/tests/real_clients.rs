//! Real POP3 clients (Python's poplib, curl, fetchmail) talking to a real
//! Dovecot through a recording proxy: every message either side sends
//! decodes, with single- and multi-line answers told apart from the
//! client's commands as the client itself does.

mod support;

use std::process::{Command, Stdio};

use columba_interop::require_tool;
use columba_pop3_proto::transcript::Direction;
use support::RecordingProxy;

const POPLIB_SESSION: &str = r#"
import poplib, sys
p = poplib.POP3('127.0.0.1', int(sys.argv[1]), timeout=30)
p.getwelcome()
p.capa()
p.user('alice')
p.pass_('alicepw')
p.stat()
p.list()
p.list(2)
p.uidl()
p.uidl(2)
p.top(2, 1)
p.retr(1)
p.retr(2)
p.retr(3)
p.noop()
p.dele(1)
p.rset()
try:
    p.utf8()
except poplib.error_proto:
    pass
p.quit()
"#;

fn run(command: &mut Command) {
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?}: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn client_commands(transcript: &[u8]) -> Vec<String> {
    columba_pop3_proto::transcript::trace(transcript)
        .iter()
        .filter(|e| e.direction == Direction::Client)
        .map(|e| {
            let line = String::from_utf8_lossy(e.result.as_ref().unwrap()).into_owned();
            line.split(' ').next().unwrap().trim_end().to_string()
        })
        .collect()
}

#[test]
fn python_poplib_session_decodes() {
    require_tool!("dovecot");
    let python = require_tool!("python3");
    let dovecot = support::dovecot_with_mail();
    let proxy = RecordingProxy::start(dovecot.pop3_port);
    run(Command::new(python)
        .args(["-c", POPLIB_SESSION])
        .arg(proxy.port.to_string()));
    let transcript = proxy.transcript();
    support::maybe_write("pop3-python-poplib.txt", &transcript);
    support::assert_all_ok(&transcript);
    let commands = client_commands(&transcript);
    assert!(commands.contains(&"TOP".to_string()), "{commands:?}");
    assert!(commands.contains(&"UTF8".to_string()), "{commands:?}");
}

#[test]
fn curl_sessions_decode() {
    require_tool!("dovecot");
    let curl = require_tool!("curl");
    let dovecot = support::dovecot_with_mail();
    let sessions: [(&str, &[&str]); 4] = [
        ("pop3-curl-list.txt", &[]),
        ("pop3-curl-retr.txt", &["--url-path", "2"]),
        ("pop3-curl-uidl.txt", &["-X", "UIDL"]),
        (
            "pop3-curl-auth-login.txt",
            &["--login-options", "AUTH=LOGIN", "--url-path", "3"],
        ),
    ];
    for (name, args) in sessions {
        let proxy = RecordingProxy::start(dovecot.pop3_port);
        let mut url = format!("pop3://127.0.0.1:{}/", proxy.port);
        let mut rest = Vec::new();
        let mut iter = args.iter();
        while let Some(&arg) = iter.next() {
            if arg == "--url-path" {
                url.push_str(iter.next().unwrap());
            } else {
                rest.push(arg);
            }
        }
        run(Command::new(&curl)
            .args([
                "-sS",
                "--max-time",
                "30",
                "-u",
                "alice:alicepw",
                "-o",
                "/dev/null",
            ])
            .args(rest)
            .arg(url));
        let transcript = proxy.transcript();
        support::maybe_write(name, &transcript);
        support::assert_all_ok(&transcript);
    }
}

#[test]
fn fetchmail_session_decodes() {
    require_tool!("dovecot");
    let fetchmail = require_tool!("fetchmail");
    let dovecot = support::dovecot_with_mail();
    let proxy = RecordingProxy::start(dovecot.pop3_port);
    let home = dovecot.root().join("fetchmail-home");
    std::fs::create_dir_all(&home).unwrap();
    let rc = home.join("fetchmailrc");
    std::fs::write(
        &rc,
        format!(
            "set no syslog\n\
             poll 127.0.0.1 service {} protocol pop3\n\
             \tuser \"alice\" password \"alicepw\" keep fetchall\n\
             \tmda \"/bin/sh -c 'cat >/dev/null'\"\n",
            proxy.port
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&rc, std::fs::Permissions::from_mode(0o600)).unwrap();
    run(Command::new(fetchmail)
        .env("HOME", &home)
        .env("FETCHMAILHOME", &home)
        .args(["--nodetach", "--sslproto", "", "-f"])
        .arg(&rc));
    let transcript = proxy.transcript();
    support::maybe_write("pop3-fetchmail.txt", &transcript);
    support::assert_all_ok(&transcript);
    let commands = client_commands(&transcript);
    assert!(
        commands.contains(&"RETR".to_string()) || commands.contains(&"TOP".to_string()),
        "{commands:?}"
    );
}

//! `columba config`: a `columba.toml` is read, checked and printed the way
//! `doveconf -n` prints the same settings of a `dovecot.conf`.

use std::path::Path;
use std::process::{Command, Output};

use columba_interop::require_tool;

fn columba(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_columba"))
        .args(args)
        .output()
        .expect("run columba")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn the_example_configuration_loads() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/columba.example.toml");
    let all = columba(&["config", "--all", example]);
    assert!(all.status.success(), "{}", stderr(&all));
    let text = stdout(&all);
    for line in [
        "mail_location = maildir:~/Maildir\n",
        "disable_plaintext_auth = yes\n",
        "service imap-login {\n",
        "  inet_listener imaps {\n",
        "    port = 993\n",
        "    ssl = yes\n",
    ] {
        assert!(text.contains(line), "{line:?} not in:\n{text}");
    }
    // Everything in it is commented out: nothing differs from the defaults.
    let changed = columba(&["config", example]);
    assert!(changed.status.success(), "{}", stderr(&changed));
    assert_eq!(stdout(&changed), "");
}

/// The same settings as `dovecot.conf` and as `columba.toml`: `columba
/// config` prints exactly what `doveconf -n` prints.
#[test]
fn columba_config_prints_what_doveconf_prints() {
    let doveconf = require_tool!("doveconf");
    let dir = tempfile::tempdir().unwrap();
    let users = write(dir.path(), "users", "alice:{PLAIN}x::::::\n");
    let dovecot_conf = write(
        dir.path(),
        "dovecot.conf",
        &format!(
            "protocols = imap pop3\nssl = no\ndisable_plaintext_auth = no\n\
             auth_mechanisms = plain login\nmail_location = maildir:/var/vmail/%d/%n\n\
             first_valid_uid = 1000\nlogin_greeting = Hello there\n\
             auth_master_user_separator = *\nmail_max_userip_connections = 20\n\
             passdb {{\n  driver = passwd-file\n  args = {users}\n}}\n\
             userdb {{\n  driver = passwd-file\n  args = {users}\n}}\n\
             service imap-login {{\n  inet_listener imap {{\n    port = 1143\n  }}\n}}\n"
        ),
    );
    let columba_toml = write(
        dir.path(),
        "columba.toml",
        &format!(
            "protocols = [\"imap\", \"pop3\"]\nssl = \"no\"\ndisable_plaintext_auth = false\n\
             auth_mechanisms = [\"plain\", \"login\"]\nmail_location = \"maildir:/var/vmail/%d/%n\"\n\
             first_valid_uid = 1000\nlogin_greeting = \"Hello there\"\n\
             auth_master_user_separator = \"*\"\nmail_max_userip_connections = 20\n\
             [[passdb]]\ndriver = \"passwd-file\"\nargs = \"{users}\"\n\
             [[userdb]]\ndriver = \"passwd-file\"\nargs = \"{users}\"\n\
             [service.imap-login.inet_listener.imap]\nport = 1143\n"
        ),
    );
    let theirs = Command::new(doveconf)
        .args(["-n", "-c", &dovecot_conf])
        .output()
        .unwrap();
    assert!(theirs.status.success(), "{}", stderr(&theirs));
    let theirs: String = stdout(&theirs)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    let ours = columba(&["config", "--check", &columba_toml]);
    assert!(ours.status.success(), "{}", stderr(&ours));
    assert_eq!(stdout(&ours), theirs);
}

#[test]
fn check_names_every_wrong_setting() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        dir.path(),
        "bad.toml",
        "ssl_min_protocol = \"SSLv3\"\n\
         auth_mechanisms = [\"plain\", \"ntlm\"]\n\
         mail_location = \"mbox:~/mail\"\n\
         first_valid_gid = 100\nlast_valid_gid = 10\n\
         [[passdb]]\ndriver = \"passwd-file\"\nargs = \"users\"\n\
         [[userdb]]\ndriver = \"static\"\nargs = \"uid=vmail\"\n\
         [service.imap-login.inet_listener.imap]\nport = 2143\naddress = [\"127.0.0.1\"]\n\
         [service.imap-login.inet_listener.imaps]\nport = 2143\nssl = true\n",
    );
    let out = columba(&["config", "--check", &bad]);
    assert_eq!(out.status.code(), Some(78), "{}", stderr(&out));
    let e = stderr(&out);
    for needle in [
        "ssl_min_protocol = \"SSLv3\": must be TLSv1.2 or TLSv1.3",
        "auth_mechanisms: unknown mechanism \"ntlm\"",
        "mail_location = \"mbox:~/mail\": driver \"mbox\" is Dovecot's, but Columba serves only maildir",
        "first_valid_gid = 100 is above last_valid_gid = 10",
        "ssl_cert: missing",
        "both listen on",
    ] {
        assert!(e.contains(needle), "{needle:?} not in:\n{e}");
    }
    // every problem is on its own line, prefixed with the file
    assert!(e.lines().all(|l| l.starts_with("columba config: ")), "{e}");

    let typo = write(
        dir.path(),
        "typo.toml",
        "mail_locaton = \"maildir:~/Maildir\"\n",
    );
    let out = columba(&["config", &typo]);
    assert_eq!(out.status.code(), Some(78));
    assert!(stderr(&out).contains("mail_locaton"), "{}", stderr(&out));

    let missing = columba(&["config", "/nonexistent/columba.toml"]);
    assert_eq!(missing.status.code(), Some(78));
    assert!(stderr(&missing).contains("/nonexistent/columba.toml"));
}

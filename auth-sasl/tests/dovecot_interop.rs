//! Interop with real Dovecot 2.3: `doveadm pw` both ways, Columba's clients
//! against Dovecot's auth service, and Dovecot's clients (`doveadm auth test`,
//! `doveadm user`) against Columba's auth server.

mod common;

use std::process::Command;

use columba_auth_sasl::password::{generate, Scheme, StoredPassword};
use columba_auth_sasl::protocol::client::UnixAuthClient;
use columba_auth_sasl::protocol::master_client::UnixMasterClient;
use columba_auth_sasl::sasl::ClientCredentials;
use columba_interop::{require_tool, DovecotConfig, PrivateDovecot};
use common::{params, TestService};

/// The schemes of the issue, as `doveadm pw -s` names them.
const SCHEMES: &[&str] = &[
    "CLEAR",
    "PLAIN",
    "PLAIN-MD5",
    "LDAP-MD5",
    "SHA",
    "SSHA",
    "SHA256",
    "SSHA256",
    "SHA512",
    "SSHA512",
    "MD5-CRYPT",
    "SHA256-CRYPT",
    "SHA512-CRYPT",
    "BLF-CRYPT",
    "ARGON2I",
    "ARGON2ID",
    "PBKDF2",
    "CRAM-MD5",
    "SCRAM-SHA-1",
    "SCRAM-SHA-256",
    "CRYPT",
    "DES-CRYPT",
    "SMD5",
    "DIGEST-MD5",
    "SHA256.HEX",
    "SSHA.B64",
    "PLAIN-MD5.BASE64",
];

const PASSWORD: &str = "Tr0ub4dor&3 x";
const USER: &str = "alice@example.com";

#[test]
fn doveadm_hashes_verify_in_columba() {
    let doveadm = require_tool!("doveadm");
    for scheme in SCHEMES {
        let out = Command::new(&doveadm)
            .args(["pw", "-s", scheme, "-p", PASSWORD, "-u", USER])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{scheme}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let hash = String::from_utf8(out.stdout).unwrap().trim().to_string();
        let stored =
            StoredPassword::parse(&hash, Scheme::Crypt).unwrap_or_else(|e| panic!("{hash}: {e}"));
        assert!(stored.verify(PASSWORD.as_bytes(), USER).unwrap(), "{hash}");
        assert!(!stored.verify(b"tr0ub4dor&3 x", USER).unwrap(), "{hash}");
    }
}

#[test]
fn columba_hashes_pass_doveadm_pw_t() {
    let doveadm = require_tool!("doveadm");
    for scheme in SCHEMES {
        let hash = generate(scheme, PASSWORD.as_bytes(), USER, None).unwrap();
        let out = Command::new(&doveadm)
            .args(["pw", "-t", &hash, "-p", PASSWORD, "-u", USER])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("(verified)"),
            "{scheme}: {hash}: {text} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = Command::new(&doveadm)
            .args(["pw", "-t", &hash, "-p", "wrong", "-u", USER])
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "{scheme}: doveadm accepted a wrong password for {hash}"
        );
    }
}

fn dovecot() -> PrivateDovecot {
    PrivateDovecot::start(
        DovecotConfig::default()
            .user("alice", "alicepw")
            .user("bob", "bobpw")
            .extra("auth_failure_delay = 0"),
    )
    .unwrap()
}

#[test]
fn columba_client_authenticates_against_dovecot() {
    require_tool!("dovecot");
    let dovecot = dovecot();
    let mut c = UnixAuthClient::connect(&dovecot.socket("auth-client")).unwrap();
    let mechs: Vec<String> = c
        .handshake()
        .mechanisms
        .iter()
        .map(|(m, _)| m.clone())
        .collect();
    assert!(mechs.contains(&"SCRAM-SHA-256".to_string()), "{mechs:?}");
    assert_eq!(c.handshake().cookie.as_ref().map(String::len), Some(32));
    for mech in ["PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256"] {
        let mut p = params("imap");
        p.push("no-penalty".into());
        let out = c
            .authenticate(mech, ClientCredentials::new("alice", "alicepw"), &p)
            .unwrap();
        assert!(out.success, "{mech}: {out:?}\n{}", dovecot.log());
        assert_eq!(out.user.as_deref(), Some("alice"));
        let out = c
            .authenticate(mech, ClientCredentials::new("bob", "wrong"), &p)
            .unwrap();
        assert!(!out.success, "{mech}: wrong password accepted");
    }
    assert!(
        dovecot.log_problems().is_empty(),
        "{:?}",
        dovecot.log_problems()
    );
}

#[test]
fn columba_master_client_looks_up_in_dovecot() {
    require_tool!("dovecot");
    let dovecot = dovecot();
    let mut m = UnixMasterClient::connect(&dovecot.socket("auth-userdb")).unwrap();
    let p = vec!["service=imap".to_string()];
    let (user, fields) = m.user("alice", &p).unwrap().unwrap();
    assert_eq!(user, "alice");
    assert_eq!(
        fields.get("home").map(std::path::PathBuf::from),
        Some(dovecot.home("alice"))
    );
    assert_eq!(
        fields.get("uid"),
        Some(dovecot.owner().uid.to_string().as_str())
    );
    assert!(m.user("nobody", &p).unwrap().is_none());
    let pass = m.pass("bob", &p).unwrap().unwrap();
    assert_eq!(pass.get("user"), Some("bob"));
    assert!(m.pass("nobody", &p).unwrap().is_none());
    let mut users = m.list(&[]).unwrap();
    users.sort();
    assert_eq!(users, ["alice", "bob"]);
}

const COLUMBA_USERS: &str = "\
alice:{SSHA256}dkXviH74iKNpeVJMy0aKB94YQNnlhtZR+0Z/BjzruoBElvRu:5000:5000::/home/alice::userdb_mail=maildir:~/Maildir
bob:{SHA512-CRYPT}$6$mPTr9xWJjFuavuHF$1jIH1azVBN.BPnTgFJzVGRDBq5M53FN5hE8bLAib9n.KR/IMwIRdeIj6wwvojQKmiZzzSy/Zv9EL.Ut4C08bI/:5000:5000::/home/bob
";

#[test]
fn doveadm_authenticates_against_columba() {
    let doveadm = require_tool!("doveadm");
    let s = TestService::start(COLUMBA_USERS, |_| {});
    let run = |args: &[&str]| {
        let out = Command::new(&doveadm).args(args).output().unwrap();
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let client = s.socket("auth-client");
    let client = client.to_str().unwrap();
    let (ok, text) = run(&["auth", "test", "-a", client, "alice", "secret"]);
    assert!(ok, "{text}");
    assert!(text.contains("passdb: alice auth succeeded"), "{text}");
    let (ok, text) = run(&["auth", "test", "-a", client, "bob", "secret"]);
    assert!(ok, "{text}");
    let (ok, text) = run(&["auth", "test", "-a", client, "alice", "wrong"]);
    assert!(!ok && text.contains("auth failed"), "{text}");
    let userdb = s.socket("auth-userdb");
    let (ok, text) = run(&["user", "-a", userdb.to_str().unwrap(), "alice"]);
    assert!(ok, "{text}");
    assert!(
        text.contains("uid") && text.contains("5000") && text.contains("/home/alice"),
        "{text}"
    );
    assert!(text.contains("maildir:~/Maildir"), "{text}");
    let (ok, text) = run(&["user", "-a", userdb.to_str().unwrap(), "nobody"]);
    assert!(!ok, "{text}");
    let (ok, text) = run(&["user", "-a", userdb.to_str().unwrap(), "*"]);
    assert!(
        ok && text.contains("alice") && text.contains("bob"),
        "{text}"
    );
}

#[test]
fn columba_client_authenticates_against_columba_with_dovecot_hashes() {
    let doveadm = require_tool!("doveadm");
    let mut passwd = String::new();
    for (i, scheme) in [
        "SHA512-CRYPT",
        "BLF-CRYPT",
        "ARGON2ID",
        "SCRAM-SHA-256",
        "CRAM-MD5",
    ]
    .iter()
    .enumerate()
    {
        let out = Command::new(&doveadm)
            .args(["pw", "-s", scheme, "-p", "pw"])
            .output()
            .unwrap();
        let hash = String::from_utf8(out.stdout).unwrap();
        passwd.push_str(&format!("u{i}:{}:5000:5000::/home/u{i}\n", hash.trim()));
    }
    let s = TestService::start(&passwd, |_| {});
    let mut c = UnixAuthClient::connect(&s.socket("auth-client")).unwrap();
    for i in 0..5 {
        let out = c
            .authenticate(
                "PLAIN",
                ClientCredentials::new(&format!("u{i}"), "pw"),
                &params("imap"),
            )
            .unwrap();
        assert!(out.success, "u{i}");
    }
    // SCRAM from stored SCRAM credentials, CRAM-MD5 from stored CRAM-MD5 contexts.
    assert!(
        c.authenticate(
            "SCRAM-SHA-256",
            ClientCredentials::new("u3", "pw"),
            &params("imap")
        )
        .unwrap()
        .success
    );
    assert!(
        c.authenticate(
            "CRAM-MD5",
            ClientCredentials::new("u4", "pw"),
            &params("imap")
        )
        .unwrap()
        .success
    );
}

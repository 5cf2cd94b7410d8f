//! passdb/userdb backends: passwd-file details, static userdb templates, the TTL cache.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use columba_auth_sasl::db::{
    ip_allowed, parse_passwd_file, CachedPassDb, LookupRequest, PassDb, PassdbEntry, PasswdFile,
    StaticUserDb, UserDb,
};
use columba_auth_sasl::password::Scheme;
use columba_auth_sasl::Error;

#[test]
fn passwd_file_lines_are_parsed_like_dovecot() {
    let text = b"# comment\n\
        \n\
        :skipped\n\
        vmail:{CRAM-MD5}cd3ba7deaad6e5ca23448ba42e379747a9e0f7f1fbc00c8a81bbaac395731b56:5000:5000::/home/vmail::userdb_quota_rule=*:storage=1G allow_nets=127.0.0.0/8\n\
        root:x:0:0::/root\n\
        vmail:dup:5000:5000\n\
        old:{PLAIN}x:5000:5000::/home/old:::maildir:~/Maildir\n\
        pam:5ebe2294ecd0e0f08eab7690d2a6ee69[34]\n";
    let (entries, errors) = parse_passwd_file(text, "users".as_ref());
    let names: Vec<&str> = entries.iter().map(|e| e.user.as_str()).collect();
    assert_eq!(names, ["vmail", "old", "pam"]);
    let vmail = &entries[0];
    assert_eq!(
        (vmail.uid, vmail.gid, vmail.home.as_deref()),
        (Some(5000), Some(5000), Some("/home/vmail"))
    );
    // Extra fields are split on spaces; the colon inside the value survives.
    assert_eq!(vmail.extra.get("userdb_quota_rule"), Some("*:storage=1G"));
    assert_eq!(vmail.extra.get("allow_nets"), Some("127.0.0.0/8"));
    // Old format: field 8 empty, the rest is the mail location.
    assert_eq!(
        entries[1].extra.get("userdb_mail"),
        Some("maildir:~/Maildir")
    );
    // libpam-pwdfile suffix [34] means PLAIN-MD5.
    assert_eq!(
        entries[2].password,
        "{PLAIN-MD5}5ebe2294ecd0e0f08eab7690d2a6ee69"
    );
    assert!(!entries[2].has_userdb);
    // uid 0 and the duplicate are rejected with their line numbers.
    let lines: Vec<usize> = errors
        .iter()
        .map(|e| match e {
            Error::PasswdFile { line, .. } => *line,
            other => panic!("{other}"),
        })
        .collect();
    assert_eq!(lines, [5, 6]);
    assert!(
        errors[0].to_string().starts_with("users:5: invalid uid"),
        "{}",
        errors[0]
    );
}

#[test]
fn per_domain_files_and_variables() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("example.org"),
        "alice:{PLAIN}pw:5000:5000::/var/vmail/%d/%n::userdb_mail=maildir:/var/vmail/%d/%n/Maildir\n",
    )
    .unwrap();
    let path = format!("{}/%d", dir.path().display());
    let file = PasswdFile::new(path).username_format("%n");
    let req = LookupRequest::new("alice@example.org", "imap");
    let entry = PassDb::lookup(&file, &req).unwrap().unwrap();
    assert!(entry
        .password
        .unwrap()
        .verify(b"pw", "alice@example.org")
        .unwrap());
    let fields = UserDb::lookup(&file, &req).unwrap().unwrap();
    assert_eq!(fields.get("home"), Some("/var/vmail/example.org/alice"));
    assert_eq!(
        fields.get("mail"),
        Some("maildir:/var/vmail/example.org/alice/Maildir")
    );
    // A domain without a file has no users.
    assert!(
        PassDb::lookup(&file, &LookupRequest::new("alice@example.net", "imap"))
            .unwrap()
            .is_none()
    );
}

#[test]
fn bare_passwords_use_the_default_scheme() {
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users");
    std::fs::write(
        &users,
        "a:$1$QdJGdWCb$mnNgti0/AIP202iM5zs0u.\nb:secret\nc:\n",
    )
    .unwrap();
    let crypt = PasswdFile::new(users.to_str().unwrap());
    let plain = PasswdFile::from_args(&format!("scheme=PLAIN {}", users.display())).unwrap();
    let pw = |db: &PasswdFile, u: &str| {
        PassDb::lookup(db, &LookupRequest::new(u, "imap"))
            .unwrap()
            .unwrap()
            .password
            .unwrap()
    };
    assert!(pw(&crypt, "a").verify(b"secret", "a").unwrap());
    assert_eq!(pw(&crypt, "b").scheme, Scheme::Crypt);
    assert!(pw(&plain, "b").verify(b"secret", "b").unwrap());
    assert!(pw(&plain, "c").verify(b"", "c").unwrap());
}

#[test]
fn static_userdb_expands_templates() {
    let db = StaticUserDb::new("uid=vmail gid=vmail home=/var/vmail/%d/%n allow_all_users=yes");
    let fields = db
        .lookup(&LookupRequest::new("bob@example.com", "lmtp"))
        .unwrap()
        .unwrap();
    assert_eq!(fields.get("uid"), Some("vmail"));
    assert_eq!(fields.get("home"), Some("/var/vmail/example.com/bob"));
    assert!(!fields.contains("allow_all_users"));

    struct Only(&'static str);
    impl PassDb for Only {
        fn lookup(&self, r: &LookupRequest) -> columba_auth_sasl::Result<Option<PassdbEntry>> {
            Ok((r.user == self.0).then(|| PassdbEntry {
                user: r.user.clone(),
                password: None,
                extra: Default::default(),
            }))
        }
    }
    let db = StaticUserDb::new("uid=1000 gid=1000 home=/home/%u")
        .require_passdb_user(Arc::new(Only("carol")));
    assert!(db
        .lookup(&LookupRequest::new("carol", "imap"))
        .unwrap()
        .is_some());
    assert!(db
        .lookup(&LookupRequest::new("dave", "imap"))
        .unwrap()
        .is_none());
}

struct Counting(AtomicUsize);

impl PassDb for Counting {
    fn lookup(&self, r: &LookupRequest) -> columba_auth_sasl::Result<Option<PassdbEntry>> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok((r.user != "nobody").then(|| PassdbEntry {
            user: r.user.clone(),
            password: None,
            extra: Default::default(),
        }))
    }
}

#[test]
fn cache_serves_within_ttl_and_flushes() {
    let inner = Arc::new(Counting(AtomicUsize::new(0)));
    let cache = CachedPassDb::new(
        inner.clone(),
        Duration::from_millis(300),
        Duration::from_millis(100),
    );
    let alice = LookupRequest::new("alice", "imap");
    let nobody = LookupRequest::new("nobody", "imap");
    for _ in 0..3 {
        assert!(cache.lookup(&alice).unwrap().is_some());
        assert!(cache.lookup(&nobody).unwrap().is_none());
    }
    assert_eq!(inner.0.load(Ordering::SeqCst), 2);
    std::thread::sleep(Duration::from_millis(150));
    cache.lookup(&alice).unwrap();
    cache.lookup(&nobody).unwrap(); // negative entry expired
    assert_eq!(inner.0.load(Ordering::SeqCst), 3);
    assert_eq!(cache.flush(&["alice"]), 1);
    cache.lookup(&alice).unwrap();
    assert_eq!(inner.0.load(Ordering::SeqCst), 4);
    assert_eq!(cache.flush(&[]), 2);
}

#[test]
fn allow_nets() {
    let ip = |s: &str| Some(s.parse().unwrap());
    assert!(ip_allowed("127.0.0.0/8", ip("127.1.2.3")));
    assert!(!ip_allowed("127.0.0.0/8", ip("10.0.0.1")));
    assert!(ip_allowed("10.0.0.1,192.168.0.0/16", ip("192.168.4.4")));
    assert!(ip_allowed("2001:db8::/32 local", ip("2001:db8::1")));
    assert!(ip_allowed("local", None));
    assert!(!ip_allowed("127.0.0.1", None));
    assert!(ip_allowed("127.0.0.1", ip("::ffff:127.0.0.1")));
}

//! `columba serve --demo`: a data directory with a demo user, a
//! self-signed certificate and a `columba.toml` the master then runs like
//! any other configuration.
//!
//! Run again on the same directory, it keeps the demo user's password,
//! the certificate and the mail. As root, the demo user gets a dedicated
//! unprivileged uid/gid (5000, or the next one free in the system's user
//! and group databases) owning its home, so the post-login processes
//! really drop to it; otherwise it gets the current user's ids.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use columba_session::MaildirStorage;

use super::error::ServeError;

/// The demo user's name.
pub const DEMO_USER: &str = "demo";
/// The uid/gid the demo user gets as root, if free.
pub const DEMO_ID: u32 = 5000;

/// What `--demo` was asked for (0 ports: any free port).
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Address every listener binds.
    pub listen: IpAddr,
    /// IMAP (STARTTLS) port.
    pub imap_port: u16,
    /// IMAPS port.
    pub imaps_port: u16,
    /// POP3 (STLS) port.
    pub pop3_port: u16,
    /// POP3S port.
    pub pop3s_port: u16,
    /// LMTP port.
    pub lmtp_port: u16,
    /// Refuse plaintext authentication without TLS even on loopback
    /// (`ssl = required`).
    pub require_tls: bool,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            listen: IpAddr::from([127, 0, 0, 1]),
            imap_port: 1143,
            imaps_port: 1993,
            pop3_port: 1110,
            pop3s_port: 1995,
            lmtp_port: 2424,
            require_tls: false,
        }
    }
}

/// A prepared demo.
#[derive(Clone)]
pub struct Demo {
    /// The data directory (absolute).
    pub data_dir: PathBuf,
    /// `<data>/columba.toml`.
    pub config_path: PathBuf,
    /// The demo user's name.
    pub user: String,
    /// The demo user's password (shown in the banner; never logged).
    pub password: String,
    /// The demo user's uid.
    pub uid: u32,
    /// The demo user's gid.
    pub gid: u32,
    /// The demo user's home.
    pub home: PathBuf,
    /// The self-signed certificate.
    pub cert_path: PathBuf,
}

impl std::fmt::Debug for Demo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Demo")
            .field("data_dir", &self.data_dir)
            .field("config_path", &self.config_path)
            .field("user", &self.user)
            .field("password", &"<hidden>")
            .field("uid", &self.uid)
            .field("gid", &self.gid)
            .finish()
    }
}

impl Demo {
    /// The startup banner (without the final `ready`), given the bound
    /// listeners by name (`imap`, `imaps`, `pop3`, `pop3s`, `lmtp`).
    pub fn banner(&self, listeners: &[(String, SocketAddr)]) -> String {
        let addr = |name: &str| {
            listeners
                .iter()
                .find(|(n, _)| n == name)
                .map_or_else(|| "-".to_string(), |(_, a)| a.to_string())
        };
        let (imap, imaps, pop3, pop3s, lmtp) = (
            addr("imap"),
            addr("imaps"),
            addr("pop3"),
            addr("pop3s"),
            addr("lmtp"),
        );
        let pw = &self.password;
        let mut b = String::new();
        b.push_str("Columba demo server (Dovecot's process model: master, login and post-login processes)\n");
        b.push_str(&format!("  data directory: {}\n", self.data_dir.display()));
        b.push_str(&format!(
            "  configuration: {}\n",
            self.config_path.display()
        ));
        b.push_str(&format!("  user: {}   password: {pw}\n", self.user));
        b.push_str(&format!(
            "  mail: {}\n",
            self.home.join("Maildir").display()
        ));
        b.push_str(&format!("  IMAP  {imap} (STARTTLS)   IMAPS {imaps}\n"));
        b.push_str(&format!("  POP3  {pop3} (STLS)       POP3S {pop3s}\n"));
        b.push_str(&format!("  LMTP  {lmtp}\n"));
        b.push_str(&format!(
            "  certificate: {} (self-signed)\n",
            self.cert_path.display()
        ));
        b.push_str("Try:\n");
        b.push_str(&format!(
            "  curl -k imaps://{imaps}/INBOX -u {}:{pw}\n",
            self.user
        ));
        b.push_str(&format!(
            "  curl -k --ssl-reqd imap://{imap}/ -u {}:{pw}\n",
            self.user
        ));
        b.push_str(&format!(
            "  curl -k pop3s://{pop3s}/ -u {}:{pw}\n",
            self.user
        ));
        b
    }
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ServeError {
    let what = what.into();
    move |e| ServeError::io(what, e)
}

/// A random password of 16 letters and digits.
fn random_password() -> Result<String, ServeError> {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(io("read /dev/urandom"))?;
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect())
}

/// Writes `data` to `path` with mode 0600, then fsyncs it.
fn write_private(path: &Path, data: &[u8]) -> Result<(), ServeError> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io(format!("write {}", path.display())))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(io(format!("chmod {}", path.display())))?;
    f.write_all(data)
        .and_then(|()| f.sync_all())
        .map_err(io(format!("write {}", path.display())))
}

/// Ids used in a `passwd`/`group`-format file (field 3).
fn ids_in(path: &str) -> Vec<u32> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(':').nth(2)?.parse().ok())
        .collect()
}

/// The demo user's ids: as root the first id from [`DEMO_ID`] on that no
/// system user or group has; otherwise the current user's.
pub fn demo_ids() -> (u32, u32) {
    if !columba_privsep::ids::is_root() {
        return (
            rustix::process::geteuid().as_raw(),
            rustix::process::getegid().as_raw(),
        );
    }
    let (users, groups) = (ids_in("/etc/passwd"), ids_in("/etc/group"));
    let id = (DEMO_ID..DEMO_ID + 1000)
        .find(|id| !users.contains(id) && !groups.contains(id))
        .unwrap_or(DEMO_ID);
    (id, id)
}

/// Gives `path` and everything under it to `uid`/`gid` (symlinks themselves).
fn chown_tree(path: &Path, uid: u32, gid: u32) -> Result<(), ServeError> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))
        .map_err(io(format!("chown {}", path.display())))?;
    let meta = std::fs::symlink_metadata(path).map_err(io(format!("stat {}", path.display())))?;
    if meta.is_dir() {
        for entry in std::fs::read_dir(path).map_err(io(format!("read {}", path.display())))? {
            let entry = entry.map_err(io(format!("read {}", path.display())))?;
            chown_tree(&entry.path(), uid, gid)?;
        }
    }
    Ok(())
}

/// A TOML basic string.
fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The demo's `columba.toml`.
fn config_text(options: &DemoOptions, uid: u32, gid: u32) -> String {
    let listen = quote(&options.listen.to_string());
    let ssl = if options.require_tls {
        "required"
    } else {
        "yes"
    };
    format!(
        "# Written by `columba serve --demo`; the master runs it like any other\n\
         # configuration (see columba.example.toml for every setting).\n\
         protocols = [\"imap\", \"pop3\", \"lmtp\"]\n\
         listen = [{listen}]\n\
         base_dir = \"run\"\n\
         ssl = \"{ssl}\"\n\
         ssl_cert = \"cert.pem\"\n\
         ssl_key = \"key.pem\"\n\
         disable_plaintext_auth = true\n\
         auth_mechanisms = [\"plain\", \"login\"]\n\
         mail_location = \"maildir:~/Maildir\"\n\
         first_valid_uid = {first_uid}\n\
         first_valid_gid = {first_gid}\n\
         \n\
         [[passdb]]\n\
         driver = \"passwd-file\"\n\
         args = \"users\"\n\
         \n\
         [[userdb]]\n\
         driver = \"passwd-file\"\n\
         args = \"users\"\n\
         \n\
         [service.imap-login]\n\
         chroot = \"login\"\n\
         [service.imap-login.inet_listener.imap]\n\
         port = {imap}\n\
         [service.imap-login.inet_listener.imaps]\n\
         port = {imaps}\n\
         ssl = true\n\
         \n\
         [service.pop3-login]\n\
         chroot = \"login\"\n\
         [service.pop3-login.inet_listener.pop3]\n\
         port = {pop3}\n\
         [service.pop3-login.inet_listener.pop3s]\n\
         port = {pop3s}\n\
         ssl = true\n\
         \n\
         [service.lmtp.inet_listener.lmtp]\n\
         port = {lmtp}\n\
         [service.lmtp.unix_listener.lmtp]\n",
        first_uid = uid.min(500),
        first_gid = gid.clamp(1, 500),
        imap = options.imap_port,
        imaps = options.imaps_port,
        pop3 = options.pop3_port,
        pop3s = options.pop3s_port,
        lmtp = options.lmtp_port,
    )
}

/// Creates (or reuses) the demo data directory and writes its
/// `columba.toml`: the `users` passwd-file with the demo user (password
/// kept across runs, ids as [`demo_ids`] says, home `<data>/home/demo`),
/// the user's Maildir, a self-signed certificate for `localhost` and
/// `127.0.0.1`, and the configuration. Secrets are written 0600.
pub fn prepare(data: &Path, options: &DemoOptions) -> Result<Demo, ServeError> {
    std::fs::create_dir_all(data).map_err(io(format!("create {}", data.display())))?;
    let data_dir =
        std::fs::canonicalize(data).map_err(io(format!("resolve {}", data.display())))?;
    // The post-login processes run as the demo user: let them through.
    std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o755))
        .map_err(io(format!("chmod {}", data_dir.display())))?;
    let (uid, gid) = demo_ids();
    let home = data_dir.join("home").join(DEMO_USER);
    let users = data_dir.join("users");
    let existing = std::fs::read_to_string(&users).ok();
    let password = match existing {
        Some(text) => text
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{DEMO_USER}:{{PLAIN}}")))
            .and_then(|rest| rest.split(':').next())
            .filter(|pw| !pw.is_empty())
            .map(str::to_string)
            .ok_or_else(|| {
                ServeError::Config(format!(
                    "{} exists but has no {DEMO_USER}:{{PLAIN}} line",
                    users.display()
                ))
            })?,
        None => random_password()?,
    };
    let line = format!(
        "{DEMO_USER}:{{PLAIN}}{password}:{uid}:{gid}::{}::\n",
        home.display()
    );
    write_private(&users, line.as_bytes())?;
    let maildir = home.join("Maildir");
    MaildirStorage::open(&maildir).map_err(|e| ServeError::Storage(e.to_string()))?;
    if columba_privsep::ids::is_root() {
        chown_tree(&home, uid, gid)?;
        std::fs::set_permissions(
            data_dir.join("home"),
            std::fs::Permissions::from_mode(0o755),
        )
        .map_err(io("chmod home"))?;
    }
    let (cert, key) = (data_dir.join("cert.pem"), data_dir.join("key.pem"));
    if !cert.exists() || !key.exists() {
        let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        let generated = rcgen::generate_simple_self_signed(names)
            .map_err(|e| ServeError::Tls(format!("self-signed certificate: {e}")))?;
        write_private(&key, generated.signing_key.serialize_pem().as_bytes())?;
        std::fs::write(&cert, generated.cert.pem()).map_err(io("write cert.pem"))?;
    }
    let config_path = data_dir.join("columba.toml");
    write_private(&config_path, config_text(options, uid, gid).as_bytes())?;
    Ok(Demo {
        data_dir,
        config_path,
        user: DEMO_USER.to_string(),
        password,
        uid,
        gid,
        home,
        cert_path: cert,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::config::Config;

    #[test]
    fn the_demo_configuration_loads_validates_and_keeps_the_password() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("demo");
        let options = DemoOptions {
            imap_port: 0,
            imaps_port: 0,
            pop3_port: 0,
            pop3s_port: 0,
            lmtp_port: 0,
            ..DemoOptions::default()
        };
        let demo = prepare(&data, &options).unwrap();
        assert!(!format!("{demo:?}").contains(&demo.password));
        let config = Config::load(&demo.config_path).unwrap();
        config.validate().unwrap();
        assert_eq!(config.base_dir, demo.data_dir.join("run"));
        let loopback = IpAddr::from([127, 0, 0, 1]);
        let policy = crate::serve::login::policy::LoginPolicy::new(&config, loopback, loopback);
        assert!(policy.unwrap().plaintext_allowed(false));
        let names: Vec<String> = config
            .inet_listeners()
            .into_iter()
            .map(|l| l.name)
            .collect();
        assert_eq!(names, ["imap", "imaps", "pop3", "pop3s", "lmtp"]);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data.join("users")), 0o600);
        assert_eq!(mode(&data.join("key.pem")), 0o600);
        let users = std::fs::read_to_string(data.join("users")).unwrap();
        assert!(users.starts_with(&format!(
            "demo:{{PLAIN}}{}:{}:{}::",
            demo.password, demo.uid, demo.gid
        )));
        if columba_privsep::ids::is_root() {
            use std::os::unix::fs::MetadataExt;
            assert!(demo.uid >= DEMO_ID);
            assert_eq!(
                std::fs::metadata(demo.home.join("Maildir")).unwrap().uid(),
                demo.uid
            );
        }

        let again = prepare(
            &data,
            &DemoOptions {
                require_tls: true,
                ..options
            },
        )
        .unwrap();
        assert_eq!(again.password, demo.password);
        let strict = Config::load(&again.config_path).unwrap();
        let policy = crate::serve::login::policy::LoginPolicy::new(&strict, loopback, loopback);
        assert!(!policy.unwrap().plaintext_allowed(false));
        let banner = again.banner(&[("imaps".into(), "127.0.0.1:9993".parse().unwrap())]);
        assert!(banner.contains(&format!("  user: demo   password: {}\n", demo.password)));
        assert!(banner.contains("IMAPS 127.0.0.1:9993\n"));
    }
}

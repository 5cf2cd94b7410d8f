//! `columba.toml`: the server's configuration. Setting names are Dovecot
//! 2.3's (`mail_location`, `disable_plaintext_auth`, `ssl_min_protocol`,
//! `service imap-login { inet_listener imaps { port = 993 } }` becomes
//! `[service.imap-login.inet_listener.imaps] port = 993`), so a Dovecot
//! administrator recognises every line; `columba.example.toml` documents
//! each one.
//!
//! Every role process reads the same file (the master passes its path), so
//! what a process may use is decided here once, and checked by
//! [`Config::validate`] before anything starts.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::error::ServeError;

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Protocols served: `imap`, `pop3`, `lmtp`.
    pub protocols: Vec<Protocol>,
    /// Addresses the inet listeners bind (Dovecot's `listen`).
    pub listen: Vec<IpAddr>,
    /// Directory for the Unix sockets between the roles (Dovecot's
    /// `base_dir`); relative paths are relative to the configuration file.
    pub base_dir: PathBuf,
    /// Log file; empty means standard error (Dovecot's `log_path`).
    pub log_path: Option<PathBuf>,
    /// strftime-like prefix of each log line (Dovecot's `log_timestamp`).
    pub log_timestamp: String,
    /// The greeting's text (Dovecot's `login_greeting`).
    pub login_greeting: String,
    /// Networks whose connections may claim another client address and
    /// count as secured (Dovecot's `login_trusted_networks`), in CIDR form.
    pub login_trusted_networks: Vec<String>,
    /// The unprivileged user login processes run as (Dovecot's
    /// `default_login_user`, `dovenull`).
    pub default_login_user: String,
    /// The unprivileged user internal roles run as (Dovecot's
    /// `default_internal_user`, `dovecot`).
    pub default_internal_user: String,
    /// TLS: `yes`, `no` or `required` (Dovecot's `ssl`).
    pub ssl: SslMode,
    /// Certificate chain, PEM (Dovecot's `ssl_cert`; a leading `<` is accepted).
    pub ssl_cert: Option<PathBuf>,
    /// Private key, PEM (Dovecot's `ssl_key`; a leading `<` is accepted).
    pub ssl_key: Option<PathBuf>,
    /// Oldest TLS version accepted: `TLSv1.2` or `TLSv1.3`.
    pub ssl_min_protocol: String,
    /// Refuse plaintext authentication without TLS, except from loopback
    /// and `login_trusted_networks` (Dovecot's `disable_plaintext_auth`).
    pub disable_plaintext_auth: bool,
    /// SASL mechanisms offered (Dovecot's `auth_mechanisms`).
    pub auth_mechanisms: Vec<String>,
    /// Dovecot's `auth_username_format` (`%Lu` lower-cases).
    pub auth_username_format: String,
    /// Separator of `user*master` logins (Dovecot's `auth_master_user_separator`).
    pub auth_master_user_separator: Option<String>,
    /// Seconds a failed authentication is delayed (Dovecot's `auth_failure_delay`).
    pub auth_failure_delay: u64,
    /// Worker threads for slow password schemes (Dovecot's `auth_worker_max_count`).
    pub auth_worker_max_count: usize,
    /// Log each failed authentication's reason (Dovecot's `auth_verbose`).
    pub auth_verbose: bool,
    /// Lowest uid a mail user may have (Dovecot's `first_valid_uid`).
    pub first_valid_uid: u32,
    /// Highest uid a mail user may have, 0 for no limit.
    pub last_valid_uid: u32,
    /// Lowest gid a mail user may have.
    pub first_valid_gid: u32,
    /// Highest gid a mail user may have, 0 for no limit.
    pub last_valid_gid: u32,
    /// Where mail lives: `maildir:~/Maildir`, `maildir:/var/vmail/%d/%n`, ...
    /// (Dovecot's `mail_location`, with its `%u %n %d %h ~` templates).
    pub mail_location: String,
    /// uid for users whose userdb gives none (Dovecot's `mail_uid`).
    pub mail_uid: Option<String>,
    /// gid for users whose userdb gives none (Dovecot's `mail_gid`).
    pub mail_gid: Option<String>,
    /// Home directory template for users whose userdb gives none (Dovecot's `mail_home`).
    pub mail_home: Option<String>,
    /// chroot for post-login processes (Dovecot's `mail_chroot`).
    pub mail_chroot: Option<String>,
    /// Connections allowed per user and client address, 0 for no limit
    /// (Dovecot's `mail_max_userip_connections`).
    pub mail_max_userip_connections: u32,
    /// Largest message APPEND or LMTP accepts, bytes, 0 for no limit.
    pub imap_max_append_size: u64,
    /// POP3 UIDL format (Dovecot's `pop3_uidl_format`).
    pub pop3_uidl_format: String,
    /// The host name in greetings and LMTP replies (Dovecot's `hostname`).
    pub hostname: Option<String>,
    /// LMTP/LDA address extension delimiter (Dovecot's `recipient_delimiter`).
    pub recipient_delimiter: String,
    /// Password databases, tried in order (Dovecot's `passdb { }` blocks).
    pub passdb: Vec<DbConfig>,
    /// User databases, tried in order (Dovecot's `userdb { }` blocks).
    pub userdb: Vec<DbConfig>,
    /// Mailboxes with special-use and auto-creation (Dovecot's
    /// `namespace inbox { mailbox Sent { special_use = \Sent } }`).
    pub mailbox: BTreeMap<String, MailboxConfig>,
    /// Per-role settings (Dovecot's `service <name> { }` blocks).
    pub service: BTreeMap<String, ServiceConfig>,
}

/// A protocol named in `protocols`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// IMAP (imap-login, imap).
    Imap,
    /// POP3 (pop3-login, pop3).
    Pop3,
    /// LMTP (lmtp).
    Lmtp,
}

/// Dovecot's `ssl` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SslMode {
    /// No TLS: no STARTTLS, no implicit-TLS listeners.
    No,
    /// TLS offered.
    Yes,
    /// TLS required before any authentication, loopback included.
    Required,
}

/// A passdb or userdb block.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DbConfig {
    /// `passwd-file` or `static`.
    pub driver: String,
    /// Driver arguments (for passwd-file: the file, optionally preceded by
    /// `scheme=...` / `username_format=...`; for static: `uid=... gid=... home=...`).
    pub args: String,
    /// A master-user passdb.
    pub master: bool,
    /// With `master`: also run the normal passdbs for the target user.
    pub pass: bool,
    /// Fields added when missing (Dovecot's `default_fields`).
    pub default_fields: String,
    /// Fields replacing what the db returned (Dovecot's `override_fields`).
    pub override_fields: String,
}

/// A mailbox block: special-use and auto-creation.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailboxConfig {
    /// `\Sent`, `\Drafts`, `\Trash`, `\Junk`, `\Archive`, `\All`.
    pub special_use: String,
    /// `no`, `create` or `subscribe`.
    pub auto: String,
}

/// A service block: listeners and process settings of one role.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceConfig {
    /// TCP listeners by name (`imap`, `imaps`, `pop3`, `pop3s`, `lmtp`).
    pub inet_listener: BTreeMap<String, InetListener>,
    /// Unix listeners by name, under `base_dir` unless absolute.
    pub unix_listener: BTreeMap<String, UnixListener>,
    /// User the role runs as (empty: the role's default).
    pub user: Option<String>,
    /// Group the role runs as.
    pub group: Option<String>,
    /// chroot of the role (for login roles: relative to `base_dir`).
    pub chroot: Option<String>,
    /// Most processes of this role at once.
    pub process_limit: Option<u32>,
    /// Idle processes kept ready.
    pub process_min_avail: Option<u32>,
    /// Address-space limit, e.g. `256M` (Dovecot's `vsz_limit`).
    pub vsz_limit: Option<String>,
}

/// A TCP listener.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InetListener {
    /// Addresses; empty means `listen`.
    pub address: Vec<IpAddr>,
    /// Port; 0 picks a free one (reported in the startup banner).
    pub port: u16,
    /// Implicit TLS.
    pub ssl: bool,
}

/// A Unix socket listener.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UnixListener {
    /// Mode, octal, e.g. `0600`.
    pub mode: Option<String>,
    /// Owner.
    pub user: Option<String>,
    /// Group.
    pub group: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        let listener = |port: u16, ssl: bool| InetListener {
            address: Vec::new(),
            port,
            ssl,
        };
        let mut service = BTreeMap::new();
        service.insert(
            "imap-login".to_string(),
            ServiceConfig {
                inet_listener: BTreeMap::from([
                    ("imap".to_string(), listener(143, false)),
                    ("imaps".to_string(), listener(993, true)),
                ]),
                chroot: Some("login".into()),
                ..ServiceConfig::default()
            },
        );
        service.insert(
            "pop3-login".to_string(),
            ServiceConfig {
                inet_listener: BTreeMap::from([
                    ("pop3".to_string(), listener(110, false)),
                    ("pop3s".to_string(), listener(995, true)),
                ]),
                chroot: Some("login".into()),
                ..ServiceConfig::default()
            },
        );
        service.insert(
            "lmtp".to_string(),
            ServiceConfig {
                unix_listener: BTreeMap::from([("lmtp".to_string(), UnixListener::default())]),
                ..ServiceConfig::default()
            },
        );
        Config {
            protocols: vec![Protocol::Imap, Protocol::Pop3, Protocol::Lmtp],
            listen: vec![IpAddr::from([0, 0, 0, 0])],
            base_dir: PathBuf::from("/run/columba"),
            log_path: None,
            log_timestamp: "%b %d %H:%M:%S ".into(),
            login_greeting: "Columba ready.".into(),
            login_trusted_networks: Vec::new(),
            default_login_user: "dovenull".into(),
            default_internal_user: "dovecot".into(),
            ssl: SslMode::Yes,
            ssl_cert: None,
            ssl_key: None,
            ssl_min_protocol: "TLSv1.2".into(),
            disable_plaintext_auth: true,
            auth_mechanisms: vec!["plain".into()],
            auth_username_format: "%Lu".into(),
            auth_master_user_separator: None,
            auth_failure_delay: 2,
            auth_worker_max_count: 30,
            auth_verbose: false,
            first_valid_uid: 500,
            last_valid_uid: 0,
            first_valid_gid: 1,
            last_valid_gid: 0,
            mail_location: "maildir:~/Maildir".into(),
            mail_uid: None,
            mail_gid: None,
            mail_home: None,
            mail_chroot: None,
            mail_max_userip_connections: 10,
            imap_max_append_size: 0,
            pop3_uidl_format: "%08Xu%08Xv".into(),
            hostname: None,
            recipient_delimiter: "+".into(),
            passdb: Vec::new(),
            userdb: Vec::new(),
            mailbox: BTreeMap::new(),
            service,
        }
    }
}

impl Config {
    /// Parses a configuration from TOML text. Services named in the file
    /// replace the default service blocks of the same name.
    pub fn from_toml(text: &str) -> Result<Config, ServeError> {
        #[derive(Deserialize)]
        struct Services {
            #[serde(default)]
            service: BTreeMap<String, ServiceConfig>,
        }
        let mut config: Config =
            toml::from_str(text).map_err(|e| ServeError::Config(e.to_string()))?;
        // `#[serde(default)]` gave defaults only for a missing table: keep
        // the default services the file does not mention.
        let named: Services =
            toml::from_str(text).map_err(|e| ServeError::Config(e.to_string()))?;
        let mut services = Config::default().service;
        for (name, block) in named.service {
            services.insert(name, block);
        }
        config.service = services;
        Ok(config)
    }

    /// Reads and parses `path`; relative paths in it (`base_dir`,
    /// `log_path`, `ssl_cert`, `ssl_key`, passwd-file arguments) are made
    /// relative to the file's directory.
    pub fn load(path: &Path) -> Result<Config, ServeError> {
        let text = std::fs::read_to_string(path).map_err(|e| ServeError::Io {
            what: format!("read {}", path.display()),
            source: e,
        })?;
        let mut config = Config::from_toml(&text)
            .map_err(|e| ServeError::Config(format!("{}: {e}", path.display())))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        config.resolve_paths(dir);
        Ok(config)
    }

    /// Makes relative paths relative to `dir`.
    pub fn resolve_paths(&mut self, dir: &Path) {
        let fix = |p: &mut PathBuf| {
            if let Ok(stripped) = p.strip_prefix("<") {
                *p = stripped.to_path_buf();
            }
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        };
        fix(&mut self.base_dir);
        if let Some(p) = &mut self.log_path {
            fix(p);
        }
        if let Some(p) = &mut self.ssl_cert {
            fix(p);
        }
        if let Some(p) = &mut self.ssl_key {
            fix(p);
        }
        for db in self.passdb.iter_mut().chain(self.userdb.iter_mut()) {
            if db.driver == "passwd-file" {
                let mut words: Vec<String> =
                    db.args.split_whitespace().map(str::to_string).collect();
                if let Some(file) = words.last_mut() {
                    if !file.contains('=') && Path::new(file.as_str()).is_relative() {
                        *file = dir.join(&*file).display().to_string();
                    }
                }
                db.args = words.join(" ");
            }
        }
    }

    /// Checks what the file cannot express by its types alone: values in
    /// range, files present, listeners unique.
    pub fn validate(&self) -> Result<(), ServeError> {
        if self.ssl != SslMode::No && (self.ssl_cert.is_none() || self.ssl_key.is_none()) {
            return Err(ServeError::Config(
                "ssl is enabled but ssl_cert or ssl_key is missing".into(),
            ));
        }
        if !matches!(self.ssl_min_protocol.as_str(), "TLSv1.2" | "TLSv1.3") {
            return Err(ServeError::Config(format!(
                "ssl_min_protocol = {:?}: TLSv1.2 or TLSv1.3",
                self.ssl_min_protocol
            )));
        }
        if self.passdb.is_empty() {
            return Err(ServeError::Config("no passdb configured".into()));
        }
        Ok(())
    }

    /// The service block of `name` (`imap-login`, `lmtp`, ...), or an empty one.
    pub fn service(&self, name: &str) -> ServiceConfig {
        self.service.get(name).cloned().unwrap_or_default()
    }

    /// Whether `protocol` is served.
    pub fn serves(&self, protocol: Protocol) -> bool {
        self.protocols.contains(&protocol)
    }

    /// The path of a Unix socket `name` under `base_dir`.
    pub fn socket(&self, name: &str) -> PathBuf {
        self.base_dir.join(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_dovecot() {
        let c = Config::default();
        assert_eq!(c.mail_location, "maildir:~/Maildir");
        assert!(c.disable_plaintext_auth);
        assert_eq!(c.service("imap-login").inet_listener["imaps"].port, 993);
        assert!(c.service("imap-login").inet_listener["imaps"].ssl);
    }

    #[test]
    fn a_file_overrides_and_keeps_other_services() {
        let c = Config::from_toml(
            "mail_location = \"maildir:/var/vmail/%d/%n\"\n\
             [service.lmtp.inet_listener.lmtp]\nport = 2424\n",
        )
        .unwrap();
        assert_eq!(c.mail_location, "maildir:/var/vmail/%d/%n");
        assert_eq!(c.service("lmtp").inet_listener["lmtp"].port, 2424);
        assert_eq!(c.service("imap-login").inet_listener["imap"].port, 143);
    }

    #[test]
    fn unknown_settings_are_refused() {
        let e = Config::from_toml("mail_locaton = \"x\"\n").unwrap_err();
        assert!(e.to_string().contains("mail_locaton"), "{e}");
    }
}

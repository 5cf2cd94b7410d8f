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

mod mail_location;
mod network;
mod render;
pub mod unix_listener;
mod validate;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::ServeError;
pub use unix_listener::DEFAULT_MODE as UNIX_LISTENER_DEFAULT_MODE;

pub use mail_location::{check_mail_location, check_template};
pub use network::{parse_networks, Cidr};

/// The whole configuration file.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_path: Option<PathBuf>,
    /// Log file for `Info:` lines; unset means `log_path` (Dovecot's
    /// `info_log_path`).
    pub info_log_path: Option<PathBuf>,
    /// strftime-like prefix of each log line (Dovecot's `log_timestamp`:
    /// `%Y %m %d %e %H %M %S %b %a %y %j %%` are understood).
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssl_cert: Option<PathBuf>,
    /// Private key, PEM (Dovecot's `ssl_key`; a leading `<` is accepted).
    #[serde(skip_serializing_if = "Option::is_none")]
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_master_user_separator: Option<String>,
    /// The user ANONYMOUS logs in as (Dovecot's `auth_anonymous_username`).
    pub auth_anonymous_username: String,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mail_uid: Option<String>,
    /// gid for users whose userdb gives none (Dovecot's `mail_gid`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mail_gid: Option<String>,
    /// Home directory template for users whose userdb gives none (Dovecot's `mail_home`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mail_home: Option<String>,
    /// chroot for post-login processes (Dovecot's `mail_chroot`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mail_chroot: Option<String>,
    /// Connections allowed per user and client address, 0 for no limit
    /// (Dovecot's `mail_max_userip_connections`).
    pub mail_max_userip_connections: u32,
    /// Largest message APPEND or LMTP accepts, bytes, 0 for no limit.
    pub imap_max_append_size: u64,
    /// POP3 UIDL format (Dovecot's `pop3_uidl_format`).
    pub pop3_uidl_format: String,
    /// The host name in greetings and LMTP replies (Dovecot's `hostname`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// LMTP/LDA address extension delimiter (Dovecot's `recipient_delimiter`).
    pub recipient_delimiter: String,
    /// Postmaster address in LMTP rejections (Dovecot's `postmaster_address`,
    /// `%d` is the recipient's domain).
    pub postmaster_address: String,
    /// LMTP saves `user+detail@` mail to the mailbox `detail` (Dovecot's
    /// `lmtp_save_to_detail_mailbox`).
    pub lmtp_save_to_detail_mailbox: bool,
    /// Deliveries create a missing mailbox (Dovecot's `lda_mailbox_autocreate`).
    pub lda_mailbox_autocreate: bool,
    /// Seconds between IDLE's `* OK Still here` (Dovecot's `imap_idle_notify_interval`).
    pub imap_idle_notify_interval: u64,
    /// Longest IMAP command line, bytes (Dovecot's `imap_max_line_length`).
    pub imap_max_line_length: usize,
    /// Processes per service when its block sets none (Dovecot's `default_process_limit`).
    pub default_process_limit: u32,
    /// Connections per process when a service sets none (Dovecot's `default_client_limit`).
    pub default_client_limit: u32,
    /// Address-space limit of processes when a service sets none, e.g.
    /// `256M`, `0` for none (Dovecot's `default_vsz_limit`).
    pub default_vsz_limit: String,
    /// Stopping the server also disconnects logged-in clients (Dovecot's
    /// `shutdown_clients`).
    pub shutdown_clients: bool,
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailboxConfig {
    /// `\Sent`, `\Drafts`, `\Trash`, `\Junk`, `\Archive`, `\All`.
    pub special_use: String,
    /// `no`, `create` or `subscribe`.
    pub auto: String,
}

/// A service block: listeners and process settings of one role.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceConfig {
    /// TCP listeners by name (`imap`, `imaps`, `pop3`, `pop3s`, `lmtp`).
    pub inet_listener: BTreeMap<String, InetListener>,
    /// Unix listeners by name, under `base_dir` unless absolute.
    pub unix_listener: BTreeMap<String, UnixListener>,
    /// User the role runs as (empty: the role's default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Group the role runs as.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// chroot of the role (for login roles: relative to `base_dir`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chroot: Option<String>,
    /// Most processes of this role at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process_limit: Option<u32>,
    /// Idle processes kept ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process_min_avail: Option<u32>,
    /// Address-space limit, e.g. `256M` (Dovecot's `vsz_limit`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vsz_limit: Option<String>,
    /// Connections one process serves at once (Dovecot's `client_limit`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_limit: Option<u32>,
    /// Connections a process serves before it exits, 0 for unlimited
    /// (Dovecot's `service_count`; login processes default to 1, one
    /// process per connection).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_count: Option<u32>,
}

/// A TCP listener.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UnixListener {
    /// Mode, octal, e.g. `0600`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Owner.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Group.
    #[serde(skip_serializing_if = "Option::is_none")]
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
            info_log_path: None,
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
            auth_anonymous_username: "anonymous".into(),
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
            postmaster_address: "postmaster@%d".into(),
            lmtp_save_to_detail_mailbox: false,
            lda_mailbox_autocreate: false,
            imap_idle_notify_interval: 120,
            imap_max_line_length: 65536,
            default_process_limit: 100,
            default_client_limit: 1000,
            default_vsz_limit: "256M".into(),
            shutdown_clients: true,
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
    /// relative to the file's directory. A string setting written as
    /// `"<file"` takes its value from that file, as in Dovecot
    /// (`ssl_cert`/`ssl_key` are paths either way).
    pub fn load(path: &Path) -> Result<Config, ServeError> {
        let text = std::fs::read_to_string(path).map_err(|e| ServeError::Io {
            what: format!("read {}", path.display()),
            source: e,
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut config = Config::from_toml(&text)
            .map_err(|e| ServeError::Config(format!("{}: {e}", path.display())))?;
        config
            .read_value_files(dir)
            .map_err(|e| ServeError::Config(format!("{}: {e}", path.display())))?;
        config.resolve_paths(dir);
        Ok(config)
    }

    /// Replaces `"<file"` values of the free-text settings by the file's
    /// contents (trailing newline removed), Dovecot's `setting = <file`.
    fn read_value_files(&mut self, dir: &Path) -> Result<(), String> {
        let read = |name: &str, value: &mut String| -> Result<(), String> {
            let Some(file) = value.strip_prefix('<') else {
                return Ok(());
            };
            let file = dir.join(file.trim());
            let text = std::fs::read_to_string(&file)
                .map_err(|e| format!("{name} = <{}: {e}", file.display()))?;
            *value = text.trim_end_matches(['\n', '\r']).to_string();
            Ok(())
        };
        read("login_greeting", &mut self.login_greeting)?;
        read("postmaster_address", &mut self.postmaster_address)?;
        read("auth_username_format", &mut self.auth_username_format)?;
        read("mail_location", &mut self.mail_location)?;
        if let Some(h) = &mut self.hostname {
            read("hostname", h)?;
        }
        Ok(())
    }

    /// Makes relative paths relative to `dir`.
    pub fn resolve_paths(&mut self, dir: &Path) {
        let fix = |p: &mut PathBuf| {
            if let Ok(stripped) = p.strip_prefix("<") {
                *p = stripped.to_path_buf();
            } else if let Some(s) = p.to_str().and_then(|s| s.strip_prefix('<')) {
                *p = PathBuf::from(s.trim_start());
            }
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        };
        fix(&mut self.base_dir);
        for p in [
            &mut self.log_path,
            &mut self.info_log_path,
            &mut self.ssl_cert,
            &mut self.ssl_key,
        ]
        .into_iter()
        .flatten()
        {
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
    /// range, known names, files present, listeners unique. The error
    /// lists every problem, one per line, each naming its setting.
    pub fn validate(&self) -> Result<(), ServeError> {
        let problems = validate::problems(self);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ServeError::Config(problems.join("\n")))
        }
    }

    /// `login_trusted_networks` as CIDR blocks (entries that do not parse,
    /// which [`validate`](Self::validate) reports, are left out).
    pub fn trusted_networks(&self) -> Vec<Cidr> {
        self.login_trusted_networks
            .iter()
            .flat_map(|e| e.split([' ', ',', '\t']))
            .filter_map(|w| w.parse().ok())
            .collect()
    }

    /// Whether `ip` is in `login_trusted_networks`: such clients may
    /// claim another address (XCLIENT/ID) and count as secured.
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted_networks().iter().any(|n| n.contains(ip))
    }

    /// Every TCP listener of the served protocols: one entry per address
    /// (implicit-TLS listeners only when `ssl` is not `no`, as Dovecot
    /// skips them).
    pub fn inet_listeners(&self) -> Vec<InetListenerSpec> {
        let mut out = Vec::new();
        for (service, protocol) in [
            ("imap-login", Protocol::Imap),
            ("pop3-login", Protocol::Pop3),
            ("lmtp", Protocol::Lmtp),
        ] {
            if !self.serves(protocol) {
                continue;
            }
            let Some(block) = self.service.get(service) else {
                continue;
            };
            for (name, listener) in &block.inet_listener {
                // As Dovecot's master: with ssl = no, implicit-TLS
                // listeners are not opened.
                if listener.ssl && self.ssl == SslMode::No {
                    continue;
                }
                let addresses = if listener.address.is_empty() {
                    &self.listen
                } else {
                    &listener.address
                };
                for ip in addresses {
                    out.push(InetListenerSpec {
                        service: service.to_string(),
                        protocol,
                        name: name.clone(),
                        addr: SocketAddr::new(*ip, listener.port),
                        ssl: listener.ssl,
                    });
                }
            }
        }
        out
    }

    /// The address-space limit of service `name` in bytes (its
    /// `vsz_limit`, else `default_vsz_limit`), `None` for unlimited.
    pub fn vsz_limit(&self, name: &str) -> Option<u64> {
        let text = self
            .service(name)
            .vsz_limit
            .unwrap_or_else(|| self.default_vsz_limit.clone());
        parse_size(&text).ok().filter(|&n| n > 0)
    }

    /// The file mode of the Unix listener `listener` of `service`, or
    /// `default` when the configuration sets none.
    pub fn unix_listener_mode(&self, service: &str, listener: &str, default: u32) -> u32 {
        self.service(service)
            .unix_listener
            .get(listener)
            .and_then(|l| l.mode.as_deref())
            .and_then(|m| parse_mode(m).ok())
            .unwrap_or(default)
    }

    /// The configuration as `doveconf` prints it (`service imap-login {
    /// inet_listener imap { port = 143 } }`); with `only_changed`, only the
    /// settings that differ from the defaults, like `doveconf -n`.
    pub fn render(&self, only_changed: bool) -> String {
        render::render(self, only_changed)
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

/// One bound address of an inet listener, as [`Config::inet_listeners`]
/// lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InetListenerSpec {
    /// The service block (`imap-login`, `pop3-login`, `lmtp`).
    pub service: String,
    /// The protocol spoken.
    pub protocol: Protocol,
    /// The listener's name (`imap`, `imaps`, ...).
    pub name: String,
    /// Address and port (port 0: any free port).
    pub addr: SocketAddr,
    /// Implicit TLS.
    pub ssl: bool,
}

/// Parses Dovecot's size syntax: `1024`, `64k`, `256M`, `1G`, `2 T`
/// (binary units, case-insensitive, optional `B`).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let t = t.strip_suffix(['B', 'b']).unwrap_or(t).trim_end();
    let digits = t
        .trim_end_matches(|c: char| c.is_ascii_alphabetic())
        .trim_end();
    let unit = t[digits.len()..].trim().to_ascii_lowercase();
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a size (like 256M)"))?;
    let shift = match unit.as_str() {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        _ => return Err(format!("{text:?}: unknown unit {unit:?} (k, M, G, T)")),
    };
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("{text:?} is too large"))
}

/// Parses an octal file mode (`0600`, `666`).
pub fn parse_mode(text: &str) -> Result<u32, String> {
    match u32::from_str_radix(text.trim(), 8) {
        Ok(m) if m <= 0o7777 => Ok(m),
        _ => Err(format!("{text:?} is not an octal file mode (like 0600)")),
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

    const EXAMPLE: &str = include_str!("../../columba.example.toml");

    /// The field names of a settings block, from serde's "expected one
    /// of" list for an unknown field in `toml`.
    fn field_names(toml: &str) -> Vec<String> {
        let e = Config::from_toml(toml).unwrap_err().to_string();
        let list = &e[e.find("expected").expect(&e)..];
        list.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn the_example_documents_every_setting() {
        Config::from_toml(EXAMPLE).expect("the example parses");
        let blocks = [
            "zzz = 1\n",
            "[[passdb]]\nzzz = 1\n",
            "[mailbox.x]\nzzz = 1\n",
            "[service.x]\nzzz = 1\n",
            "[service.x.inet_listener.y]\nzzz = 1\n",
            "[service.x.unix_listener.y]\nzzz = 1\n",
        ];
        let mut missing = Vec::new();
        for block in blocks {
            let names = field_names(block);
            assert!(names.len() > 1, "{block}: {names:?}");
            for name in names {
                let documented = EXAMPLE.contains(&format!("#{name} = "))
                    || EXAMPLE.contains(&format!("#[[{name}]]"))
                    || EXAMPLE.contains(&format!("#[{name}."))
                    || EXAMPLE.contains(&format!(".{name}."));
                if !documented {
                    missing.push(name);
                }
            }
        }
        assert!(
            missing.is_empty(),
            "not in columba.example.toml: {missing:?}"
        );
    }

    #[test]
    fn the_examples_documented_defaults_are_the_defaults() {
        // Uncomment every top-level `#name = value` line.
        let mut text = String::new();
        for line in EXAMPLE.lines() {
            if line.starts_with("#[") {
                break;
            }
            if let Some(rest) = line.strip_prefix('#') {
                if rest.starts_with(|c: char| c.is_ascii_lowercase()) && rest.contains(" = ") {
                    text.push_str(rest);
                    text.push('\n');
                }
            }
        }
        let c = Config::from_toml(&text).unwrap();
        let changed = c.render(true);
        // Settings without a default are shown with an example value.
        let examples = [
            "log_path",
            "info_log_path",
            "ssl_cert",
            "ssl_key",
            "hostname",
            "auth_master_user_separator",
            "mail_uid",
            "mail_gid",
            "mail_home",
            "mail_chroot",
        ];
        for line in changed.lines() {
            let name = line.split(" = ").next().unwrap();
            assert!(
                examples.contains(&name),
                "documented default differs: {line}"
            );
        }
    }

    #[test]
    fn validation_names_each_wrong_setting() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("columba.toml");
        std::fs::write(
            &path,
            "ssl_min_protocol = \"TLSv1.1\"\n\
             auth_mechanisms = [\"plain\", \"digest-md6\"]\n\
             mail_location = \"maildir:/var/vmail/%q\"\n\
             first_valid_uid = 1000\nlast_valid_uid = 999\n\
             login_trusted_networks = [\"10.0.0.0/40\"]\n\
             ssl_cert = \"missing.pem\"\nssl_key = \"missing.key\"\n\
             [[passdb]]\ndriver = \"ldap\"\nargs = \"x\"\n\
             [[userdb]]\ndriver = \"mystery\"\n\
             [service.imap-login.inet_listener.imap]\nport = 1143\n\
             [service.pop3-login.inet_listener.pop3]\nport = 1143\n",
        )
        .unwrap();
        let c = Config::load(&path).unwrap();
        let e = c.validate().unwrap_err().to_string();
        for needle in [
            "ssl_min_protocol = \"TLSv1.1\"",
            "auth_mechanisms: unknown mechanism \"digest-md6\"",
            "mail_location = \"maildir:/var/vmail/%q\": path: unknown variable %q",
            "first_valid_uid = 1000 is above last_valid_uid = 999",
            "login_trusted_networks: \"10.0.0.0/40\"",
            "ssl_cert: cannot read",
            "ssl_key: cannot read",
            "passdb[0]: driver \"ldap\" is Dovecot's",
            "userdb[0]: unknown driver \"mystery\"",
            "service.imap-login.inet_listener.imap and service.pop3-login.inet_listener.pop3 both listen on 0.0.0.0:1143",
        ] {
            assert!(e.contains(needle), "{needle} not in:\n{e}");
        }
    }

    #[test]
    fn trusted_networks_and_the_plaintext_rule() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // The rule itself lives with the login processes that apply it.
        let allowed = |c: &Config, remote: IpAddr, local: IpAddr, tls: bool| {
            crate::serve::login::policy::LoginPolicy::new(c, remote, local)
                .unwrap()
                .plaintext_allowed(tls)
        };
        let c = Config::from_toml("login_trusted_networks = [\"192.0.2.0/24 2001:db8::/32\"]\n")
            .unwrap();
        assert!(c.is_trusted(ip("192.0.2.200")));
        assert!(!c.is_trusted(ip("198.51.100.1")));
        let (lip, far) = (ip("203.0.113.1"), ip("198.51.100.7"));
        assert!(allowed(&c, far, lip, true), "TLS");
        assert!(!allowed(&c, far, lip, false), "a stranger without TLS");
        assert!(
            allowed(&c, ip("127.0.0.1"), ip("127.0.0.1"), false),
            "loopback"
        );
        assert!(allowed(&c, lip, lip, false), "same address as ours");
        assert!(allowed(&c, ip("2001:db8::9"), lip, false), "trusted");
        let open = Config::from_toml("disable_plaintext_auth = false\n").unwrap();
        assert!(allowed(&open, far, lip, false));
        let strict =
            Config::from_toml("ssl = \"required\"\ndisable_plaintext_auth = false\n").unwrap();
        assert!(!allowed(&strict, ip("127.0.0.1"), ip("127.0.0.1"), false));
        assert!(allowed(&strict, far, lip, true));
    }

    #[test]
    fn values_from_files_and_sizes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("greeting.txt"), "Hello from a file\n").unwrap();
        let path = dir.path().join("columba.toml");
        std::fs::write(
            &path,
            "login_greeting = \"<greeting.txt\"\nssl_cert = \"<cert.pem\"\n",
        )
        .unwrap();
        let c = Config::load(&path).unwrap();
        assert_eq!(c.login_greeting, "Hello from a file");
        assert_eq!(c.ssl_cert, Some(dir.path().join("cert.pem")));
        assert_eq!(parse_size("256M"), Ok(256 << 20));
        assert_eq!(parse_size("64 k"), Ok(64 << 10));
        assert!(parse_size("12 parsecs").is_err());
        assert_eq!(c.vsz_limit("imap"), Some(256 << 20));
        assert_eq!(parse_mode("0666"), Ok(0o666));
        assert!(parse_mode("0999").is_err());
    }
}

//! [`Config::validate`](super::Config::validate): every check the types
//! cannot express, each problem worded with the setting's name.

use std::net::IpAddr;

use super::super::role::Role;
use super::{check_mail_location, check_template, parse_mode, parse_networks, parse_size};
use super::{Config, SslMode};

/// passdb drivers Columba serves.
const PASSDB_DRIVERS: &[&str] = &["passwd-file"];
/// userdb drivers Columba serves.
const USERDB_DRIVERS: &[&str] = &["passwd-file", "static"];
/// Dovecot drivers Columba does not serve (named so the message can say so).
const DOVECOT_DB_DRIVERS: &[&str] = &[
    "pam",
    "passwd",
    "shadow",
    "sql",
    "ldap",
    "lua",
    "checkpassword",
    "bsdauth",
    "dict",
    "oauth2",
    "imap",
    "prefetch",
];

/// Every problem in `config`, in the order of the settings.
pub fn problems(config: &Config) -> Vec<String> {
    let mut out = Vec::new();
    let mut say = |s: String| out.push(s);

    // TLS
    if config.ssl != SslMode::No {
        for (name, path) in [("ssl_cert", &config.ssl_cert), ("ssl_key", &config.ssl_key)] {
            match path {
                None => say(format!(
                    "{name}: missing (ssl = {}; set ssl = \"no\" to serve without TLS)",
                    ssl_name(config.ssl)
                )),
                Some(p) => {
                    if let Err(e) = std::fs::File::open(p) {
                        say(format!("{name}: cannot read {}: {e}", p.display()));
                    }
                }
            }
        }
    }
    if !matches!(config.ssl_min_protocol.as_str(), "TLSv1.2" | "TLSv1.3") {
        say(format!(
            "ssl_min_protocol = {:?}: must be TLSv1.2 or TLSv1.3 (older versions are not offered)",
            config.ssl_min_protocol
        ));
    }

    // Authentication
    let known: Vec<&str> = columba_auth_sasl::sasl::MECHANISMS
        .iter()
        .map(|(m, _)| *m)
        .collect();
    let mut mechanisms = 0;
    for mech in config
        .auth_mechanisms
        .iter()
        .flat_map(|m| m.split_whitespace())
    {
        mechanisms += 1;
        if !known.iter().any(|k| k.eq_ignore_ascii_case(mech)) {
            say(format!(
                "auth_mechanisms: unknown mechanism {mech:?} (known: {})",
                known.join(" ").to_lowercase()
            ));
        }
    }
    if mechanisms == 0 {
        say("auth_mechanisms: empty (at least plain)".into());
    }
    if let Err(e) = check_template(&config.auth_username_format) {
        say(format!("auth_username_format: {e}"));
    }
    if let Some(sep) = &config.auth_master_user_separator {
        if sep.chars().count() != 1 {
            say(format!(
                "auth_master_user_separator = {sep:?}: must be one character"
            ));
        }
    }
    if config.auth_worker_max_count == 0 {
        say("auth_worker_max_count: must be at least 1".into());
    }
    if config.auth_failure_delay > 3600 {
        say(format!(
            "auth_failure_delay = {}: more than an hour",
            config.auth_failure_delay
        ));
    }
    if config.passdb.iter().all(|d| d.master) {
        say("passdb: none configured (add a [[passdb]] block)".into());
    }
    if config.userdb.is_empty() {
        say(
            "userdb: none configured (add a [[userdb]] block, e.g. the passdb's passwd-file)"
                .into(),
        );
    }
    for (kind, list, drivers) in [
        ("passdb", &config.passdb, PASSDB_DRIVERS),
        ("userdb", &config.userdb, USERDB_DRIVERS),
    ] {
        for (i, db) in list.iter().enumerate() {
            let at = format!("{kind}[{i}]");
            if drivers.contains(&db.driver.as_str()) {
                if db.driver == "passwd-file" && db.args.split_whitespace().last().is_none() {
                    say(format!("{at}: passwd-file needs the file in args"));
                }
            } else if DOVECOT_DB_DRIVERS.contains(&db.driver.as_str()) {
                say(format!(
                    "{at}: driver {:?} is Dovecot's, Columba serves {}",
                    db.driver,
                    drivers.join(", ")
                ));
            } else {
                say(format!(
                    "{at}: unknown driver {:?} (known: {})",
                    db.driver,
                    drivers.join(", ")
                ));
            }
            if kind == "userdb" && (db.master || db.pass) {
                say(format!("{at}: master and pass apply to passdbs only"));
            }
        }
    }

    // Users and mail
    if config.last_valid_uid != 0 && config.first_valid_uid > config.last_valid_uid {
        say(format!(
            "first_valid_uid = {} is above last_valid_uid = {}",
            config.first_valid_uid, config.last_valid_uid
        ));
    }
    if config.last_valid_gid != 0 && config.first_valid_gid > config.last_valid_gid {
        say(format!(
            "first_valid_gid = {} is above last_valid_gid = {}",
            config.first_valid_gid, config.last_valid_gid
        ));
    }
    if let Err(e) = check_mail_location(&config.mail_location) {
        say(format!("mail_location = {:?}: {e}", config.mail_location));
    }
    for (name, value) in [
        ("mail_home", &config.mail_home),
        ("mail_chroot", &config.mail_chroot),
    ] {
        if let Some(v) = value {
            if let Err(e) = check_template(v) {
                say(format!("{name} = {v:?}: {e}"));
            }
        }
    }
    if let Err(e) = super::mail_location::check_uidl_format(&config.pop3_uidl_format) {
        say(format!("pop3_uidl_format: {e}"));
    }
    if config.imap_max_line_length < 1024 {
        say(format!(
            "imap_max_line_length = {}: at least 1024",
            config.imap_max_line_length
        ));
    }
    for (name, mailbox) in &config.mailbox {
        if !matches!(
            mailbox.special_use.as_str(),
            "" | "\\Sent" | "\\Drafts" | "\\Trash" | "\\Junk" | "\\Archive" | "\\All" | "\\Flagged"
        ) {
            say(format!(
                "mailbox.{name}.special_use = {:?}: not a special-use flag (\\Sent, \\Drafts, \\Trash, \\Junk, \\Archive, \\All, \\Flagged)",
                mailbox.special_use
            ));
        }
        if !matches!(mailbox.auto.as_str(), "" | "no" | "create" | "subscribe") {
            say(format!(
                "mailbox.{name}.auto = {:?}: no, create or subscribe",
                mailbox.auto
            ));
        }
    }

    // Login and network
    if let Err(e) = parse_networks(&config.login_trusted_networks) {
        say(format!("login_trusted_networks: {e}"));
    }
    if let Err(e) = crate::serve::log::timestamp::check_format(&config.log_timestamp) {
        say(format!("log_timestamp = {:?}: {e}", config.log_timestamp));
    }
    if let Err(e) = parse_size(&config.default_vsz_limit) {
        say(format!("default_vsz_limit: {e}"));
    }

    // Services and listeners
    for (name, block) in &config.service {
        if Role::from_name(name).is_none() {
            let known: Vec<&str> = Role::ALL.iter().map(|r| r.name()).collect();
            say(format!(
                "service.{name}: unknown service (known: {})",
                known.join(", ")
            ));
        }
        if let Some(v) = &block.vsz_limit {
            if let Err(e) = parse_size(v) {
                say(format!("service.{name}.vsz_limit: {e}"));
            }
        }
        for (lname, l) in &block.unix_listener {
            if let Some(m) = &l.mode {
                if let Err(e) = parse_mode(m) {
                    say(format!("service.{name}.unix_listener.{lname}.mode: {e}"));
                }
            }
            if let Err(e) = l.owner() {
                say(format!("service.{name}.unix_listener.{lname}: {e}"));
            }
            let path = config.unix_listener_path(lname);
            if name == "auth" {
                if let Err(suffix) = crate::serve::auth::socket_kind::socket_kind(&path) {
                    say(format!(
                        "service.auth.unix_listener.{lname}: \"-{suffix}\" auth sockets are not served"
                    ));
                }
            }
            // base_dir is created at start; any other directory must be there.
            if let Some(dir) = path
                .parent()
                .filter(|_| !path.starts_with(&config.base_dir))
            {
                if !dir.is_dir() {
                    say(format!(
                        "service.{name}.unix_listener.{lname}: directory {} does not exist",
                        dir.display()
                    ));
                }
            }
        }
    }
    let listeners = config.inet_listeners();
    for (i, a) in listeners.iter().enumerate() {
        for b in &listeners[..i] {
            if a.addr.port() == 0 || a.addr.port() != b.addr.port() {
                continue;
            }
            if overlaps(a.addr.ip(), b.addr.ip()) {
                say(format!(
                    "service.{}.inet_listener.{} and service.{}.inet_listener.{} both listen on {}",
                    b.service, b.name, a.service, a.name, a.addr
                ));
            }
        }
    }
    out
}

/// Two addresses on one port collide: equal, or either is the wildcard of
/// the same family (the kernel refuses the second bind).
fn overlaps(a: IpAddr, b: IpAddr) -> bool {
    a == b || (a.is_ipv4() == b.is_ipv4() && (a.is_unspecified() || b.is_unspecified()))
}

fn ssl_name(mode: SslMode) -> &'static str {
    match mode {
        SslMode::No => "no",
        SslMode::Yes => "yes",
        SslMode::Required => "required",
    }
}

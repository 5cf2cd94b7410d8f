//! The auth role: Dovecot's auth process. It serves `columba-auth-sasl`'s
//! [`AuthService`](columba_auth_sasl::server::unix::AuthService) on
//! `base_dir/auth-client` and `auth-login` (login processes and SASL
//! clients such as Postfix; results are kept for the post-login process's
//! `REQUEST`), `auth-master` (`REQUEST`, `USER`, `PASS`, `LIST`) and
//! `auth-userdb` (`USER`, for lmtp and deliveries), with the modes Dovecot
//! 2.3 gives them: 0600, 0600, 0600 and 0666. Every
//! `service.auth.unix_listener.<name>` sets the mode and owner (`user`,
//! `group`) of the fixed socket of that name, or adds a socket (absolute
//! path as given, relative under `base_dir`) of the kind its name says
//! ([`socket_kind`]), like Postfix's `private/auth` in Dovecot's
//! documented Postfix setup.
//!
//! The passdb/userdb blocks, `auth_mechanisms`, `auth_username_format`
//! (`%Lu` by lower-casing, other formats by rewriting each lookup),
//! `auth_master_user_separator`, `auth_failure_delay`,
//! `auth_worker_max_count` and `auth_anonymous_username` come from the
//! configuration ([`auth_config`]). The penalty after failed logins per
//! client address is the `AuthServer`'s own (one auth process serves every
//! login, so it sees them all), not anvil's.

pub mod fields;
pub mod role;
pub mod socket_kind;
pub mod username;

use std::sync::Arc;
use std::time::Duration;

use columba_auth_sasl::db::{PassDb, PasswdFile, StaticUserDb, UserDb};
use columba_auth_sasl::server::AuthConfig;

use self::fields::{FieldRules, RuledPassDb, RuledUserDb};
use self::username::{needs_rewrite, FormattedPassDb, FormattedUserDb};
use super::config::{Config, DbConfig};
use super::error::ServeError;

pub use role::run;

/// Socket names under `base_dir` and their modes, as Dovecot 2.3 sets them.
pub const SOCKETS: [(&str, u32); 4] = [
    ("auth-client", 0o600),
    ("auth-login", 0o600),
    ("auth-master", 0o600),
    ("auth-userdb", 0o666),
];

fn passdb(db: &DbConfig) -> Result<Arc<dyn PassDb>, ServeError> {
    let inner: Arc<dyn PassDb> = match db.driver.as_str() {
        "passwd-file" => Arc::new(
            PasswdFile::from_args(&db.args)
                .map_err(|e| ServeError::Config(format!("passdb passwd-file: {e}")))?,
        ),
        other => {
            return Err(ServeError::Config(format!(
                "passdb driver {other:?} is not served"
            )))
        }
    };
    let rules = FieldRules::new(&db.default_fields, &db.override_fields);
    Ok(if rules.is_empty() {
        inner
    } else {
        Arc::new(RuledPassDb { inner, rules })
    })
}

fn userdb(
    db: &DbConfig,
    first_passdb: Option<&Arc<dyn PassDb>>,
) -> Result<Arc<dyn UserDb>, ServeError> {
    let inner: Arc<dyn UserDb> = match db.driver.as_str() {
        "passwd-file" => Arc::new(
            PasswdFile::from_args(&db.args)
                .map_err(|e| ServeError::Config(format!("userdb passwd-file: {e}")))?,
        ),
        "static" => {
            let allow_all = db
                .args
                .split_whitespace()
                .any(|a| a == "allow_all_users=yes");
            let s = StaticUserDb::new(&db.args);
            // Dovecot's static userdb asks the passdb whether the user
            // exists unless allow_all_users=yes.
            Arc::new(match (allow_all, first_passdb) {
                (false, Some(p)) => s.require_passdb_user(Arc::clone(p)),
                _ => s,
            })
        }
        other => {
            return Err(ServeError::Config(format!(
                "userdb driver {other:?} is not served"
            )))
        }
    };
    let rules = FieldRules::new(&db.default_fields, &db.override_fields);
    Ok(if rules.is_empty() {
        inner
    } else {
        Arc::new(RuledUserDb { inner, rules })
    })
}

/// The host name: `hostname`, else the kernel's.
pub fn host_name(config: &Config) -> String {
    config.hostname.clone().unwrap_or_else(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".into())
    })
}

/// The auth server's configuration from the server's.
pub fn auth_config(config: &Config) -> Result<AuthConfig, ServeError> {
    let format = &config.auth_username_format;
    let mut passdbs = Vec::new();
    let mut master_passdbs = Vec::new();
    for db in &config.passdb {
        let mut p = passdb(db)?;
        if needs_rewrite(format) {
            p = Arc::new(FormattedPassDb {
                inner: p,
                format: format.clone(),
            });
        }
        if db.master {
            master_passdbs.push(p);
        } else {
            passdbs.push(p);
        }
    }
    let mut userdbs = Vec::new();
    for db in &config.userdb {
        let mut u = userdb(db, passdbs.first())?;
        if needs_rewrite(format) {
            u = Arc::new(FormattedUserDb {
                inner: u,
                format: format.clone(),
            });
        }
        userdbs.push(u);
    }
    let separator = match &config.auth_master_user_separator {
        Some(s) => s.chars().next(),
        None => None,
    };
    Ok(AuthConfig {
        mechanisms: config
            .auth_mechanisms
            .iter()
            .flat_map(|m| m.split_whitespace())
            .map(str::to_ascii_uppercase)
            .collect(),
        passdbs,
        master_passdbs,
        userdbs,
        master_user_separator: separator,
        anonymous_username: config.auth_anonymous_username.clone(),
        lowercase_usernames: config.auth_username_format.contains("%L"),
        failure_delay: Duration::from_secs(config.auth_failure_delay),
        worker_threads: config.auth_worker_max_count.max(1),
        hostname: host_name(config),
        ..AuthConfig::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_servers_settings_reach_the_auth_server() {
        let c = Config::from_toml(
            "auth_mechanisms = [\"plain login\", \"cram-md5\"]\n\
             auth_username_format = \"%u\"\n\
             auth_master_user_separator = \"*\"\n\
             auth_failure_delay = 0\n\
             [[passdb]]\ndriver = \"passwd-file\"\nargs = \"/nonexistent/users\"\n\
             [[passdb]]\ndriver = \"passwd-file\"\nargs = \"/nonexistent/masters\"\nmaster = true\n\
             [[userdb]]\ndriver = \"static\"\nargs = \"uid=5000 gid=5000 home=/var/vmail/%u\"\n",
        )
        .unwrap();
        let a = auth_config(&c).unwrap();
        assert_eq!(a.mechanisms, ["PLAIN", "LOGIN", "CRAM-MD5"]);
        assert_eq!(a.passdbs.len(), 1);
        assert_eq!(a.master_passdbs.len(), 1);
        assert_eq!(a.userdbs.len(), 1);
        assert_eq!(a.master_user_separator, Some('*'));
        assert!(!a.lowercase_usernames);
        assert_eq!(a.failure_delay, Duration::ZERO);
    }

    #[test]
    fn the_username_format_rewrites_lookups() {
        use columba_auth_sasl::db::LookupRequest;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("users"),
            "alice:{PLAIN}pw:1000:1000::/home/alice::\n",
        )
        .unwrap();
        let users = dir.path().join("users").display().to_string();
        let c = Config::from_toml(&format!(
            "auth_username_format = \"%Ln\"\n\
             [[passdb]]\ndriver = \"passwd-file\"\nargs = \"{users}\"\n\
             [[userdb]]\ndriver = \"passwd-file\"\nargs = \"{users}\"\n"
        ))
        .unwrap();
        let a = auth_config(&c).unwrap();
        let r = LookupRequest::new("Alice@Example.org", "imap");
        let entry = a.passdbs[0].lookup(&r).unwrap().expect("found as alice");
        assert_eq!(entry.user, "alice");
        let fields = a.userdbs[0].lookup(&r).unwrap().expect("found as alice");
        assert_eq!(fields.get("home"), Some("/home/alice"));
    }
}

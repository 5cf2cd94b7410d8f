//! A user's environment after login: what the userdb answered (an
//! auth-master `REQUEST` reply or a `USER` lookup) plus the configuration,
//! turned into the ids, home, chroot and mail location the post-login,
//! lmtp and indexer-worker processes run with, the way Dovecot's
//! mail-storage-service does it:
//!
//! - uid and gid from the userdb (`uid`, `gid`: numbers or names), else
//!   `mail_uid` / `mail_gid`; checked against `first_valid_uid` ..
//!   `last_valid_uid` (gid likewise) and refused with Dovecot's words;
//! - home from the userdb (`home`), else the `mail_home` template;
//! - chroot from the userdb (`chroot`), else `mail_chroot`, or Dovecot's
//!   `/./` in the home (`/var/mail/./alice`: chroot `/var/mail`, home `/alice`);
//! - mail location from the userdb (`mail`), else `mail_location`, with
//!   the templates `%u %n %d %h %%` (and `%{user}`, `%L`/`%U` case
//!   modifiers) and `~/` for the home. The store keeps indexes and control
//!   files in the Maildir itself and uses the Maildir++ layout, so
//!   `:INDEX=`/`:CONTROL=` elsewhere and other layouts are refused, clearly,
//!   rather than silently ignored.
//!
//! [`UserEnv::drop_privileges`] then applies `columba_privsep`'s
//! [`PostLoginRecipe`]: process-wide uid/gid and supplementary groups,
//! no_new_privs, not dumpable, chroot. Without root, each step that needs
//! root is skipped and recorded.

use std::path::{Component, Path, PathBuf};

use columba_auth_sasl::db::Fields;
use columba_privsep::PostLoginRecipe;

use super::config::Config;
use super::error::ServeError;

/// The ids of the running process, for the decisions that depend on
/// whether it is root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CurrentIds {
    /// Effective uid.
    pub euid: u32,
    /// Effective gid.
    pub egid: u32,
}

impl CurrentIds {
    /// This process's ids.
    pub fn of_this_process() -> Result<CurrentIds, ServeError> {
        let me = columba_privsep::ProcessPrivileges::of_pid(std::process::id())?;
        Ok(CurrentIds {
            euid: me.uid[1],
            egid: me.gid[1],
        })
    }

    /// Whether the process runs as root.
    pub fn is_root(&self) -> bool {
        self.euid == 0
    }
}

/// Where a uid or gid came from (named in Dovecot's refusal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdSource {
    /// The userdb's `uid`/`gid` field.
    Userdb,
    /// `mail_uid` / `mail_gid`.
    Setting,
    /// Not root and nothing configured: the process's own id.
    Process,
}

/// Where a user's mail lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailLocation {
    /// The driver (`maildir`).
    pub driver: String,
    /// The Maildir++ root, absolute, as seen inside the chroot when there is one.
    pub root: PathBuf,
}

/// A user's environment, ready for the privilege drop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserEnv {
    /// The user name.
    pub user: String,
    /// uid to run as.
    pub uid: u32,
    /// Where the uid came from.
    pub uid_source: IdSource,
    /// gid to run as.
    pub gid: u32,
    /// Where the gid came from.
    pub gid_source: IdSource,
    /// Home directory (inside the chroot when there is one).
    pub home: Option<PathBuf>,
    /// chroot directory.
    pub chroot: Option<PathBuf>,
    /// The mail location.
    pub mail: MailLocation,
    /// Add this user's groups from the group database (userdb
    /// `system_groups_user`).
    pub system_groups_user: Option<String>,
}

fn user_error(text: impl Into<String>) -> ServeError {
    ServeError::User(text.into())
}

/// The variables of Dovecot's templates.
struct Vars<'a> {
    user: &'a str,
    home: Option<&'a str>,
}

impl Vars<'_> {
    fn value(&self, name: &str, template: &str) -> Result<String, ServeError> {
        let (local, domain) = match self.user.split_once('@') {
            Some((l, d)) => (l, d),
            None => (self.user, ""),
        };
        Ok(match name {
            "u" | "user" => self.user.to_string(),
            "n" | "username" => local.to_string(),
            "d" | "domain" => domain.to_string(),
            "h" | "home" => match self.home {
                Some(h) => h.to_string(),
                None => {
                    return Err(user_error(format!(
                        "Home directory not set for user. Can't expand %h in: {template}"
                    )))
                }
            },
            other => {
                return Err(user_error(format!(
                    "Unknown variable '%{other}' in: {template}"
                )))
            }
        })
    }
}

/// Expands Dovecot's `%` templates: `%u %n %d %h %%`, the long forms
/// `%{user} %{username} %{domain} %{home}`, and the case modifiers
/// `%L` (lower) and `%U` (upper) before a variable (`%Lu`).
fn expand(template: &str, vars: &Vars<'_>) -> Result<String, ServeError> {
    let mut out = String::with_capacity(template.len());
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut modifier = None;
        let mut next = chars.next();
        if matches!(next, Some('L' | 'U')) {
            modifier = next;
            next = chars.next();
        }
        let name = match next {
            Some('%') if modifier.is_none() => {
                out.push('%');
                continue;
            }
            Some('{') => {
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(ch) if name.len() < 32 => name.push(ch),
                        _ => return Err(user_error(format!("Unterminated %{{ in: {template}"))),
                    }
                }
                name
            }
            Some(ch) => ch.to_string(),
            None => return Err(user_error(format!("A lone % at the end of: {template}"))),
        };
        let value = vars.value(&name, template)?;
        match modifier {
            Some('L') => out.push_str(&value.to_lowercase()),
            Some('U') => out.push_str(&value.to_uppercase()),
            _ => out.push_str(&value),
        }
    }
    Ok(out)
}

/// `~` and `~/rest` with the home; other paths as they are.
fn expand_home(path: &str, home: Option<&str>, what: &str) -> Result<String, ServeError> {
    let rest = if path == "~" {
        ""
    } else if let Some(rest) = path.strip_prefix("~/") {
        rest
    } else {
        return Ok(path.to_string());
    };
    let Some(home) = home else {
        return Err(user_error(format!(
            "Home directory not set for user. Can't expand ~/ for {what}"
        )));
    };
    Ok(if rest.is_empty() {
        home.to_string()
    } else {
        format!("{}/{rest}", home.trim_end_matches('/'))
    })
}

/// A path made of normal components only (no `..`), absolute.
fn clean_absolute(path: &str, what: &str) -> Result<PathBuf, ServeError> {
    let p = Path::new(path);
    if !p.is_absolute() {
        return Err(user_error(format!(
            "Relative {what} paths not supported: {path}"
        )));
    }
    if p.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(user_error(format!("{what} path contains '..': {path}")));
    }
    Ok(p.components().collect())
}

/// Splits a mail location at single `:`; `::` stands for a literal `:`.
fn split_location(location: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut chars = location.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ':' {
            if chars.peek() == Some(&':') {
                chars.next();
                if let Some(p) = parts.last_mut() {
                    p.push(':');
                }
            } else {
                parts.push(String::new());
            }
        } else if let Some(p) = parts.last_mut() {
            p.push(c);
        }
    }
    parts
}

/// Parses an expanded mail location (`maildir:<root>[:KEY=VALUE...]`).
fn parse_location(location: &str, home: Option<&str>) -> Result<MailLocation, ServeError> {
    if location.is_empty() {
        return Err(user_error(
            "mail_location not set and autodetection is not supported \
             (set mail_location = maildir:~/Maildir)",
        ));
    }
    let Some((driver, rest)) = location.split_once(':') else {
        return Err(user_error(format!(
            "Unknown mail storage driver in mail_location: {location} \
             (maildir:<path> is supported)"
        )));
    };
    if driver != "maildir" {
        return Err(user_error(format!(
            "Unknown mail storage driver {driver} (only maildir is supported)"
        )));
    }
    let parts = split_location(rest);
    let root_text = expand_home(&parts[0], home, &format!("mail root dir in: {location}"))?;
    let root = clean_absolute(&root_text, "mail root")?;
    for param in &parts[1..] {
        let (key, value) = match param.split_once('=') {
            Some((k, v)) => (k.to_ascii_uppercase(), v),
            None => (param.to_ascii_uppercase(), ""),
        };
        match key.as_str() {
            "LAYOUT" => {
                if !value.eq_ignore_ascii_case("maildir++") {
                    return Err(user_error(format!(
                        "LAYOUT={value} is not supported: the store uses the \
                         Maildir++ layout (LAYOUT=maildir++)"
                    )));
                }
            }
            "INDEX" | "CONTROL" => {
                let dir = expand_home(value, home, &format!("{key} in: {location}"))?;
                let same = Path::new(&dir).is_absolute()
                    && clean_absolute(&dir, "index")
                        .map(|d| d == root)
                        .unwrap_or(false);
                if !same {
                    return Err(user_error(format!(
                        "{key}={value} is not supported: the store keeps its \
                         {} files in the Maildir itself",
                        key.to_lowercase()
                    )));
                }
            }
            "" => {}
            _ => {
                return Err(user_error(format!(
                    "Unsupported mail_location parameter: {param}"
                )))
            }
        }
    }
    Ok(MailLocation {
        driver: driver.to_string(),
        root,
    })
}

/// A uid: a number or a user name from the system's user database.
fn parse_uid(text: &str) -> Result<u32, ServeError> {
    if let Ok(n) = text.parse::<u32>() {
        return Ok(n);
    }
    columba_privsep::ids::lookup_user(text)
        .map(|e| e.uid)
        .map_err(|_| user_error(format!("Unknown UID user: {text}")))
}

/// A gid: a number or a group name from `/etc/group`.
fn parse_gid(text: &str) -> Result<u32, ServeError> {
    if let Ok(n) = text.parse::<u32>() {
        return Ok(n);
    }
    let groups = std::fs::read_to_string("/etc/group").unwrap_or_default();
    groups
        .lines()
        .filter_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            let gid = f.nth(1)?.parse::<u32>().ok()?;
            (name == text).then_some(gid)
        })
        .next()
        .ok_or_else(|| user_error(format!("Unknown GID group: {text}")))
}

fn check_range(
    kind: &str,
    id: u32,
    first: u32,
    last: u32,
    source: IdSource,
) -> Result<(), ServeError> {
    if source == IdSource::Process {
        return Ok(());
    }
    let (setting, lower) = match kind {
        "UID" => ("first_valid_uid", "uid"),
        _ => ("first_valid_gid", "gid"),
    };
    if id < first || (last != 0 && id > last) || (kind == "UID" && id == 0) {
        let from = match source {
            IdSource::Userdb => "userdb lookup".to_string(),
            _ => format!("mail_{lower} setting"),
        };
        return Err(user_error(format!(
            "Mail access for users with {kind} {id} not permitted \
             (see {setting} in config file, {lower} from {from})."
        )));
    }
    Ok(())
}

impl UserEnv {
    /// The environment of `user` from its userdb `fields` and `config`,
    /// for a process running with `current` ids.
    pub fn resolve(
        user: &str,
        fields: &Fields,
        config: &Config,
        current: CurrentIds,
    ) -> Result<UserEnv, ServeError> {
        // ids
        let (uid, uid_source) = match (fields.get("uid"), config.mail_uid.as_deref()) {
            (Some(u), _) if !u.is_empty() => (parse_uid(u)?, IdSource::Userdb),
            (_, Some(u)) if !u.is_empty() => (parse_uid(u)?, IdSource::Setting),
            _ if current.is_root() => {
                return Err(user_error(
                    "Couldn't drop privileges: User is missing UID (see mail_uid setting)",
                ))
            }
            _ => (current.euid, IdSource::Process),
        };
        check_range(
            "UID",
            uid,
            config.first_valid_uid,
            config.last_valid_uid,
            uid_source,
        )?;
        let (gid, gid_source) = match (fields.get("gid"), config.mail_gid.as_deref()) {
            (Some(g), _) if !g.is_empty() => (parse_gid(g)?, IdSource::Userdb),
            (_, Some(g)) if !g.is_empty() => (parse_gid(g)?, IdSource::Setting),
            _ if current.is_root() => {
                return Err(user_error(
                    "Couldn't drop privileges: User is missing GID (see mail_gid setting)",
                ))
            }
            _ => (current.egid, IdSource::Process),
        };
        check_range(
            "GID",
            gid,
            config.first_valid_gid,
            config.last_valid_gid,
            gid_source,
        )?;
        if !current.is_root() && uid != current.euid {
            return Err(user_error(format!(
                "Can't switch to uid {uid}: this server runs as uid {} without root",
                current.euid
            )));
        }

        // home and chroot
        let no_home = Vars { user, home: None };
        let home = match fields.get("home") {
            Some(h) if !h.is_empty() => Some(h.to_string()),
            _ => match config.mail_home.as_deref() {
                Some(t) if !t.is_empty() => Some(expand(t, &no_home)?),
                _ => None,
            },
        };
        let chroot_setting = match fields.get("chroot") {
            Some(c) if !c.is_empty() => Some(c.to_string()),
            _ => match config.mail_chroot.as_deref() {
                Some(t) if !t.is_empty() => Some(expand(t, &no_home)?),
                _ => None,
            },
        };
        let (chroot, home) = split_chroot(chroot_setting, home)?;

        // mail location
        let template = match fields.get("mail") {
            Some(m) if !m.is_empty() => m.to_string(),
            _ => config.mail_location.clone(),
        };
        let home_text = home.as_ref().map(|h| h.display().to_string());
        let vars = Vars {
            user,
            home: home_text.as_deref(),
        };
        let location = expand(&template, &vars)?;
        let mail = parse_location(&location, home_text.as_deref())?;

        Ok(UserEnv {
            user: user.to_string(),
            uid,
            uid_source,
            gid,
            gid_source,
            home,
            chroot,
            mail,
            system_groups_user: fields
                .get("system_groups_user")
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        })
    }

    /// The privilege drop for this user.
    pub fn recipe(&self, config: &Config) -> PostLoginRecipe {
        let first_uid = if self.uid_source == IdSource::Process {
            config.first_valid_uid.min(self.uid)
        } else {
            config.first_valid_uid
        };
        let first_gid = if self.gid_source == IdSource::Process {
            config.first_valid_gid.min(self.gid)
        } else {
            config.first_valid_gid
        };
        let mut recipe = PostLoginRecipe::new(self.uid, self.gid)
            .first_valid_uid(first_uid)
            .last_valid_uid(config.last_valid_uid)
            .first_valid_gid(first_gid)
            .last_valid_gid(config.last_valid_gid);
        if let Some(user) = &self.system_groups_user {
            recipe = recipe.init_groups(user.clone());
        }
        if let Some(dir) = &self.chroot {
            recipe = recipe.chroot(dir.clone());
        }
        // chdir to the home only when it exists: a first login creates it
        // after the drop, as the user.
        if let Some(home) = &self.home {
            if self.outside_path(home, self.chroot.is_some()).is_dir() {
                recipe = recipe.home(home.clone());
            }
        }
        recipe
    }

    /// Drops this process to the user: process-wide uid/gid and groups,
    /// chroot, no_new_privs, not dumpable. Without root, the steps that
    /// need it are skipped (see the record). Call it while the process has
    /// one thread, before opening any mailbox.
    pub fn drop_privileges(&self, config: &Config) -> Result<DroppedUser, ServeError> {
        let chrooted = self.chroot.is_some() && columba_privsep::ids::is_root();
        // the steps skipped without root are reported once, by the master
        self.recipe(config).apply()?;
        Ok(DroppedUser {
            mail_root: self.mail_root_for(chrooted),
        })
    }

    /// A path as seen inside the chroot, as seen from outside it.
    fn outside_path(&self, inside: &Path, chroot_configured: bool) -> PathBuf {
        match (&self.chroot, chroot_configured) {
            (Some(root), true) => root.join(inside.strip_prefix("/").unwrap_or(inside)),
            _ => inside.to_path_buf(),
        }
    }

    /// The mail root to open: as is inside an applied chroot; under the
    /// chroot directory when the chroot was skipped (not root).
    pub fn mail_root_for(&self, chrooted: bool) -> PathBuf {
        if chrooted {
            self.mail.root.clone()
        } else {
            self.outside_path(&self.mail.root, true)
        }
    }
}

/// What the privilege drop did.
#[derive(Debug)]
pub struct DroppedUser {
    /// The Maildir++ root to open now.
    pub mail_root: PathBuf,
}

/// chroot and home from the settings and Dovecot's `/./` convention.
fn split_chroot(
    chroot: Option<String>,
    home: Option<String>,
) -> Result<(Option<PathBuf>, Option<PathBuf>), ServeError> {
    let (chroot, home) = match (chroot, home) {
        (None, Some(h)) if h.contains("/./") => {
            let (root, inside) = h.split_once("/./").unwrap_or((&h, ""));
            let root = if root.is_empty() { "/" } else { root };
            (Some(root.to_string()), Some(format!("/{inside}")))
        }
        (Some(c), Some(h)) => {
            // a home under the chroot is given from outside: make it inside
            let c_trim = c.trim_end_matches('/');
            let h = match h.split_once("/./") {
                Some((before, inside)) if before == c_trim => format!("/{inside}"),
                _ => match h.strip_prefix(c_trim) {
                    Some(inside) if inside.starts_with('/') => inside.to_string(),
                    _ => h,
                },
            };
            (Some(c), Some(h))
        }
        other => other,
    };
    let chroot = match chroot {
        Some(c) if c != "/" => Some(clean_absolute(&c, "chroot")?),
        _ => None,
    };
    let home = home
        .map(|h| clean_absolute(&h, "home directory"))
        .transpose()?;
    Ok((chroot, home))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: CurrentIds = CurrentIds { euid: 0, egid: 0 };
    const USER: CurrentIds = CurrentIds {
        euid: 1000,
        egid: 1000,
    };

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        let mut f = Fields::new();
        for (k, v) in pairs {
            f.set(k, Some(v));
        }
        f
    }

    fn config() -> Config {
        Config::default()
    }

    fn resolve(user: &str, pairs: &[(&str, &str)], c: &Config) -> Result<UserEnv, String> {
        UserEnv::resolve(user, &fields(pairs), c, ROOT).map_err(|e| e.to_string())
    }

    #[test]
    fn userdb_fields_give_ids_home_and_maildir() {
        let env = resolve(
            "alice",
            &[("uid", "5000"), ("gid", "5000"), ("home", "/home/alice")],
            &config(),
        )
        .unwrap();
        assert_eq!((env.uid, env.gid), (5000, 5000));
        assert_eq!(env.uid_source, IdSource::Userdb);
        assert_eq!(env.home.as_deref(), Some(Path::new("/home/alice")));
        assert_eq!(env.mail.root, PathBuf::from("/home/alice/Maildir"));
        assert_eq!(env.chroot, None);
    }

    #[test]
    fn templates_expand_as_dovecot_expands_them() {
        let mut c = config();
        c.mail_location = "maildir:/var/vmail/%d/%n/%%/%Lu".into();
        let env = resolve("Bob@Example.org", &[("uid", "5000"), ("gid", "5000")], &c).unwrap();
        assert_eq!(
            env.mail.root,
            PathBuf::from("/var/vmail/Example.org/Bob/%/bob@example.org")
        );
        c.mail_location = "maildir:%h/mail:LAYOUT=maildir++".into();
        let env = resolve(
            "u",
            &[("uid", "5000"), ("gid", "5000"), ("home", "/h/u")],
            &c,
        )
        .unwrap();
        assert_eq!(env.mail.root, PathBuf::from("/h/u/mail"));
        c.mail_location = "maildir:/m/%{domain}/%{username}/%{user}".into();
        let env = resolve("a@b", &[("uid", "5000"), ("gid", "5000")], &c).unwrap();
        assert_eq!(env.mail.root, PathBuf::from("/m/b/a/a@b"));
        c.mail_location = "maildir:/m/%Ud".into();
        let env = resolve("a@b.c", &[("uid", "5000"), ("gid", "5000")], &c).unwrap();
        assert_eq!(env.mail.root, PathBuf::from("/m/B.C"));
    }

    #[test]
    fn userdb_mail_field_overrides_mail_location() {
        let env = resolve(
            "u",
            &[
                ("uid", "5000"),
                ("gid", "5000"),
                ("home", "/h/u"),
                ("mail", "maildir:~/other"),
            ],
            &config(),
        )
        .unwrap();
        assert_eq!(env.mail.root, PathBuf::from("/h/u/other"));
    }

    #[test]
    fn mail_home_template_when_the_userdb_has_no_home() {
        let mut c = config();
        c.mail_home = Some("/srv/mail/%d/%n".into());
        let env = resolve("kim@example.com", &[("uid", "5000"), ("gid", "5000")], &c).unwrap();
        assert_eq!(
            env.home.as_deref(),
            Some(Path::new("/srv/mail/example.com/kim"))
        );
        assert_eq!(
            env.mail.root,
            PathBuf::from("/srv/mail/example.com/kim/Maildir")
        );
    }

    #[test]
    fn mail_uid_and_mail_gid_fill_in_names_and_numbers() {
        let mut c = config();
        c.mail_uid = Some("5000".into());
        c.mail_gid = Some("root".into());
        c.first_valid_gid = 0;
        let env = resolve("u", &[("home", "/h/u")], &c).unwrap();
        assert_eq!((env.uid, env.gid), (5000, 0));
        assert_eq!(env.uid_source, IdSource::Setting);
        c.mail_gid = Some("no-such-group-here".into());
        let e = resolve("u", &[("home", "/h/u")], &c).unwrap_err();
        assert_eq!(e, "Unknown GID group: no-such-group-here");
        c.mail_uid = Some("no-such-user-here".into());
        let e = resolve("u", &[("home", "/h/u")], &c).unwrap_err();
        assert_eq!(e, "Unknown UID user: no-such-user-here");
    }

    #[test]
    fn ids_outside_the_valid_ranges_are_refused_with_dovecots_words() {
        let c = config();
        let e = resolve("u", &[("uid", "100"), ("gid", "5000"), ("home", "/h")], &c).unwrap_err();
        assert_eq!(
            e,
            "Mail access for users with UID 100 not permitted (see first_valid_uid in \
             config file, uid from userdb lookup)."
        );
        let e = resolve("u", &[("uid", "0"), ("gid", "5000"), ("home", "/h")], &{
            let mut c = config();
            c.first_valid_uid = 0;
            c
        })
        .unwrap_err();
        assert!(e.contains("UID 0 not permitted"), "{e}");
        let mut c = config();
        c.last_valid_uid = 4000;
        let e = resolve("u", &[("uid", "5000"), ("gid", "5000"), ("home", "/h")], &c).unwrap_err();
        assert!(e.contains("UID 5000 not permitted"), "{e}");
        let mut c = config();
        c.first_valid_gid = 100;
        let e = resolve("u", &[("uid", "5000"), ("gid", "50"), ("home", "/h")], &c).unwrap_err();
        assert_eq!(
            e,
            "Mail access for users with GID 50 not permitted (see first_valid_gid in \
             config file, gid from userdb lookup)."
        );
        let mut c = config();
        c.mail_uid = Some("10".into());
        let e = resolve("u", &[("gid", "5000"), ("home", "/h")], &c).unwrap_err();
        assert!(e.ends_with("uid from mail_uid setting)."), "{e}");
    }

    /// Dovecot 2.3.19's doveadm says, for the same userdb entries:
    /// `Error: Couldn't drop privileges: User is missing UID (see mail_uid
    /// setting)` and `Error: Mail access for users with UID 100 not
    /// permitted (see first_valid_uid in config file, uid from userdb
    /// lookup).`
    #[test]
    fn root_needs_a_uid_and_a_gid() {
        let e = resolve("u", &[("home", "/h")], &config()).unwrap_err();
        assert_eq!(
            e,
            "Couldn't drop privileges: User is missing UID (see mail_uid setting)"
        );
        let e = resolve("u", &[("uid", "5000"), ("home", "/h")], &config()).unwrap_err();
        assert_eq!(
            e,
            "Couldn't drop privileges: User is missing GID (see mail_gid setting)"
        );
    }

    #[test]
    fn without_root_the_process_ids_are_used_and_others_refused() {
        let env = UserEnv::resolve("u", &fields(&[("home", "/h/u")]), &config(), USER).unwrap();
        assert_eq!((env.uid, env.gid), (1000, 1000));
        assert_eq!(env.uid_source, IdSource::Process);
        let e = UserEnv::resolve(
            "u",
            &fields(&[("uid", "5000"), ("gid", "5000"), ("home", "/h/u")]),
            &config(),
            USER,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("Can't switch to uid 5000"), "{e}");
    }

    #[test]
    fn chroot_from_the_home_marker_the_setting_and_the_userdb() {
        let ids = [("uid", "5000"), ("gid", "5000")];
        let mut pairs = ids.to_vec();
        pairs.push(("home", "/var/mail/./alice"));
        let env = resolve("alice", &pairs, &config()).unwrap();
        assert_eq!(env.chroot.as_deref(), Some(Path::new("/var/mail")));
        assert_eq!(env.home.as_deref(), Some(Path::new("/alice")));
        assert_eq!(env.mail.root, PathBuf::from("/alice/Maildir"));
        assert_eq!(env.mail_root_for(true), PathBuf::from("/alice/Maildir"));
        assert_eq!(
            env.mail_root_for(false),
            PathBuf::from("/var/mail/alice/Maildir")
        );

        let mut c = config();
        c.mail_chroot = Some("/srv/%d".into());
        let mut pairs = ids.to_vec();
        pairs.push(("home", "/srv/example.com/bob"));
        let env = resolve("bob@example.com", &pairs, &c).unwrap();
        assert_eq!(env.chroot.as_deref(), Some(Path::new("/srv/example.com")));
        assert_eq!(env.home.as_deref(), Some(Path::new("/bob")));

        let mut pairs = ids.to_vec();
        pairs.push(("home", "/bob"));
        pairs.push(("chroot", "/jail"));
        let env = resolve("bob", &pairs, &config()).unwrap();
        assert_eq!(env.chroot.as_deref(), Some(Path::new("/jail")));
        assert_eq!(env.home.as_deref(), Some(Path::new("/bob")));
        assert_eq!(env.mail_root_for(false), PathBuf::from("/jail/bob/Maildir"));
    }

    #[test]
    fn what_the_store_cannot_do_is_refused_clearly() {
        let ids = [("uid", "5000"), ("gid", "5000"), ("home", "/h/u")];
        for (location, expect) in [
            ("maildir:~/Maildir:LAYOUT=fs", "LAYOUT=fs is not supported"),
            (
                "maildir:~/Maildir:INDEX=/var/index/%u",
                "INDEX=/var/index/u is not supported",
            ),
            ("maildir:~/Maildir:CONTROL=~/control", "CONTROL=~/control"),
            (
                "maildir:~/Maildir:VOLATILEDIR=/tmp/x",
                "Unsupported mail_location parameter",
            ),
            (
                "mbox:~/mail:INBOX=/var/mail/%u",
                "Unknown mail storage driver mbox",
            ),
            ("sdbox:~/dbox", "Unknown mail storage driver sdbox"),
            ("", "autodetection is not supported"),
            ("maildir:Maildir", "Relative mail root paths not supported"),
            ("maildir:~/../../etc", "'..'"),
            ("maildir:/m/%z", "Unknown variable '%z'"),
            ("maildir:/m/%", "A lone %"),
        ] {
            let mut c = config();
            c.mail_location = location.to_string();
            let e = resolve("u", &ids, &c).unwrap_err();
            assert!(e.contains(expect), "{location}: {e}");
        }
        // the index in the Maildir itself is what the store does anyway
        let mut c = config();
        c.mail_location = "maildir:~/Maildir:INDEX=~/Maildir:LAYOUT=Maildir++".into();
        assert!(resolve("u", &ids, &c).is_ok());
        // `::` is a literal colon
        c.mail_location = "maildir:/m/a::b".into();
        assert_eq!(
            resolve("u", &ids, &c).unwrap().mail.root,
            PathBuf::from("/m/a:b")
        );
    }

    #[test]
    fn a_home_is_needed_for_tilde_and_percent_h() {
        let ids = [("uid", "5000"), ("gid", "5000")];
        let e = resolve("u", &ids, &config()).unwrap_err();
        assert!(e.starts_with("Home directory not set for user"), "{e}");
        let mut c = config();
        c.mail_location = "maildir:%h/Maildir".into();
        let e = resolve("u", &ids, &c).unwrap_err();
        assert!(e.contains("Can't expand %h"), "{e}");
        let e = resolve(
            "u",
            &[("uid", "5000"), ("gid", "5000"), ("home", "relative/home")],
            &config(),
        )
        .unwrap_err();
        assert!(
            e.contains("Relative home directory paths not supported"),
            "{e}"
        );
    }

    #[test]
    fn the_recipe_carries_the_ranges_and_refuses_root() {
        let env = resolve(
            "u",
            &[("uid", "5000"), ("gid", "5000"), ("home", "/nonexistent/u")],
            &config(),
        )
        .unwrap();
        assert!(env.recipe(&config()).validate().is_ok());
        let mut c = config();
        c.first_valid_uid = 6000;
        assert!(env.recipe(&c).validate().is_err());
    }
}

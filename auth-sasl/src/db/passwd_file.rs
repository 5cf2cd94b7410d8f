//! Dovecot's passwd-file: `user:password:uid:gid:gecos:home:shell:extra_fields`,
//! as passdb and userdb, re-read when the file changes, with `%` variables
//! in the path.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use super::{expand, Fields, LookupRequest, PassDb, PassdbEntry, UserDb};
use crate::password::{Scheme, StoredPassword};
use crate::{Error, Result};

/// Longest passwd-file accepted (bytes); larger files are refused.
pub const MAX_PASSWD_FILE_SIZE: u64 = 256 * 1024 * 1024;

/// One user line of a passwd-file.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswdEntry {
    /// 1-based line number.
    pub line: usize,
    /// The user name (lookup key).
    pub user: String,
    /// The password field as written (`{SCHEME}…` or bare); a secret.
    pub password: String,
    /// Numeric uid, if the line has one.
    pub uid: Option<u32>,
    /// Numeric gid, if the line has one.
    pub gid: Option<u32>,
    /// Home directory, if set.
    pub home: Option<String>,
    /// Whether the line had userdb fields (at least 3 fields).
    pub has_userdb: bool,
    /// Extra fields, unexpanded.
    pub extra: Fields,
}

impl std::fmt::Debug for PasswdEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswdEntry")
            .field("line", &self.line)
            .field("user", &self.user)
            .field("uid", &self.uid)
            .field("gid", &self.gid)
            .field("home", &self.home)
            .field("extra", &self.extra)
            .finish_non_exhaustive()
    }
}

/// Resolves a uid/gid field: a number or a name from `/etc/passwd` / `/etc/group`.
fn resolve_id(field: &str, db: &str) -> Option<u32> {
    if let Ok(n) = field.parse::<u32>() {
        return Some(n);
    }
    let text = std::fs::read_to_string(db).ok()?;
    text.lines().find_map(|l| {
        let mut parts = l.split(':');
        (parts.next()? == field).then_some(())?;
        parts.next()?;
        parts.next()?.parse().ok()
    })
}

/// Parses a passwd-file. Returns the usable entries and one error per
/// rejected line (bad uid/gid, duplicate user, not UTF-8…), as Dovecot logs
/// them and carries on.
pub fn parse_passwd_file(data: &[u8], path: &Path) -> (Vec<PasswdEntry>, Vec<Error>) {
    let mut entries: Vec<PasswdEntry> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut errors = Vec::new();
    for (i, raw) in data.split(|&b| b == b'\n').enumerate() {
        let line_no = i + 1;
        let err = |reason: &str| Error::PasswdFile {
            path: path.to_path_buf(),
            line: line_no,
            reason: reason.to_string(),
        };
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.is_empty() || raw[0] == b'#' || raw[0] == b':' {
            continue;
        }
        let Ok(line) = std::str::from_utf8(raw) else {
            errors.push(err("line is not UTF-8"));
            continue;
        };
        let fields: Vec<&str> = line.split(':').collect();
        let user = fields[0];
        if user.is_empty() {
            continue;
        }
        let mut password = fields.get(1).copied().unwrap_or("").to_string();
        // libpam-pwdfile: "hash[NN]".
        if !password.starts_with('{') && !password.starts_with('$') {
            if let Some(open) = password.rfind('[') {
                if password.ends_with(']') && open > 0 {
                    let tag = &password[open + 1..password.len() - 1];
                    let scheme = match tag {
                        "34" => "PLAIN-MD5",
                        "56" => "DIGEST-MD5",
                        _ => "CRYPT",
                    };
                    password = format!("{{{scheme}}}{}", &password[..open]);
                }
            }
        }
        let has_userdb = fields.len() >= 3;
        let mut uid = None;
        let mut gid = None;
        if let Some(f) = fields.get(2).filter(|f| !f.is_empty()) {
            match resolve_id(f, "/etc/passwd") {
                Some(0) | None => {
                    errors.push(err(&format!("invalid uid {f:?}")));
                    continue;
                }
                Some(n) => uid = Some(n),
            }
        }
        if let Some(f) = fields.get(3).filter(|f| !f.is_empty()) {
            match resolve_id(f, "/etc/group") {
                Some(0) | None => {
                    errors.push(err(&format!("invalid gid {f:?}")));
                    continue;
                }
                Some(n) => gid = Some(n),
            }
        }
        let home = fields
            .get(5)
            .filter(|f| !f.is_empty())
            .map(|s| s.to_string());
        let mut extra = Fields::new();
        if fields.len() > 7 {
            let rest = fields[7..].join(":");
            if fields[7].is_empty() && fields.len() > 8 {
                // Old format: the rest is the mail location.
                extra.set("userdb_mail", Some(&fields[8..].join(":")));
            } else {
                extra = Fields::parse_space_separated(&rest);
            }
        }
        if let Some(&first) = seen.get(user) {
            errors.push(err(&format!(
                "duplicate user {user:?} (first on line {first})"
            )));
            continue;
        }
        seen.insert(user.to_string(), line_no);
        entries.push(PasswdEntry {
            line: line_no,
            user: user.to_string(),
            password,
            uid,
            gid,
            home,
            has_userdb,
            extra,
        });
    }
    (entries, errors)
}

struct Loaded {
    stamp: (SystemTime, u64, u64),
    users: HashMap<String, PasswdEntry>,
    order: Vec<String>,
}

/// A passwd-file used as passdb and/or userdb. The path may contain `%`
/// variables (one file per domain, …). Each lookup checks the file's
/// mtime/size/inode and re-reads it when it changed.
pub struct PasswdFile {
    path_template: String,
    default_scheme: Scheme,
    username_format: String,
    files: Mutex<HashMap<PathBuf, Loaded>>,
}

impl std::fmt::Debug for PasswdFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswdFile")
            .field("path", &self.path_template)
            .finish_non_exhaustive()
    }
}

impl PasswdFile {
    /// A passwd-file at `path` (may contain `%u`, `%n`, `%d`…); bare
    /// passwords are `CRYPT` unless [`scheme`](Self::scheme) says otherwise.
    pub fn new(path: impl Into<String>) -> PasswdFile {
        PasswdFile {
            path_template: path.into(),
            default_scheme: Scheme::Crypt,
            username_format: "%u".into(),
            files: Mutex::new(HashMap::new()),
        }
    }

    /// Parses Dovecot's `args` string: `[scheme=S] [username_format=F] path`.
    pub fn from_args(args: &str) -> Result<PasswdFile> {
        let mut file = PasswdFile::new(String::new());
        for arg in args.split_whitespace() {
            if let Some(s) = arg.strip_prefix("scheme=") {
                file.default_scheme =
                    Scheme::from_name(s).ok_or_else(|| Error::UnknownScheme(s.into()))?;
            } else if let Some(f) = arg.strip_prefix("username_format=") {
                file.username_format = f.into();
            } else {
                file.path_template = arg.into();
            }
        }
        if file.path_template.is_empty() {
            return Err(Error::Unsupported("passwd-file args name no file".into()));
        }
        Ok(file)
    }

    /// Sets the scheme of passwords without `{SCHEME}`.
    pub fn scheme(mut self, scheme: Scheme) -> PasswdFile {
        self.default_scheme = scheme;
        self
    }

    /// Sets the lookup key format (default `%u`; e.g. `%n` for local parts).
    pub fn username_format(mut self, format: &str) -> PasswdFile {
        self.username_format = format.into();
        self
    }

    /// Runs `f` on the entry for the request, re-reading the file if it changed.
    fn with_entry<T>(
        &self,
        request: &LookupRequest,
        f: impl FnOnce(&PasswdEntry) -> T,
    ) -> Result<Option<T>> {
        let path = PathBuf::from(expand(&self.path_template, request));
        let key = expand(&self.username_format, request);
        let mut files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        self.refresh(&mut files, &path)?;
        Ok(files.get(&path).and_then(|l| l.users.get(&key)).map(f))
    }

    fn refresh(&self, files: &mut HashMap<PathBuf, Loaded>, path: &Path) -> Result<()> {
        use std::os::unix::fs::MetadataExt;
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound && self.path_template.contains('%') =>
            {
                // Per-user/domain file that does not exist: no such users.
                files.remove(path);
                return Ok(());
            }
            Err(e) => return Err(Error::io(format!("stat {}", path.display()), e)),
        };
        let stamp = (
            meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            meta.len(),
            meta.ino(),
        );
        if files.get(path).is_some_and(|l| l.stamp == stamp) {
            return Ok(());
        }
        if meta.len() > MAX_PASSWD_FILE_SIZE {
            return Err(Error::PasswdFile {
                path: path.to_path_buf(),
                line: 0,
                reason: format!("file larger than {MAX_PASSWD_FILE_SIZE} bytes"),
            });
        }
        let data =
            std::fs::read(path).map_err(|e| Error::io(format!("read {}", path.display()), e))?;
        let (entries, _errors) = parse_passwd_file(&data, path);
        let order = entries.iter().map(|e| e.user.clone()).collect();
        let users = entries.into_iter().map(|e| (e.user.clone(), e)).collect();
        files.insert(
            path.to_path_buf(),
            Loaded {
                stamp,
                users,
                order,
            },
        );
        Ok(())
    }

    /// Problems in the file (rejected lines), for `columba auth` diagnostics.
    pub fn check(&self, request: &LookupRequest) -> Result<Vec<Error>> {
        let path = PathBuf::from(expand(&self.path_template, request));
        let data =
            std::fs::read(&path).map_err(|e| Error::io(format!("read {}", path.display()), e))?;
        Ok(parse_passwd_file(&data, &path).1)
    }
}

fn expand_fields(fields: &Fields, request: &LookupRequest) -> Fields {
    let mut out = Fields::new();
    for (k, v) in fields.iter() {
        out.set(k, v.map(|v| expand(v, request)).as_deref());
    }
    out
}

impl PassDb for PasswdFile {
    fn lookup(&self, request: &LookupRequest) -> Result<Option<PassdbEntry>> {
        let scheme = self.default_scheme;
        let found = self.with_entry(request, |e| (e.password.clone(), e.extra.clone()))?;
        let Some((password, extra)) = found else {
            return Ok(None);
        };
        let mut extra = expand_fields(&extra, request);
        let password = if extra.contains("nopassword") || extra.contains("noauthenticate") {
            None
        } else if let Some(p) = extra.get("password").map(str::to_string) {
            extra.remove("password");
            Some(StoredPassword::parse(&p, scheme)?)
        } else {
            Some(StoredPassword::parse(&password, scheme)?)
        };
        let user = extra
            .get("user")
            .map(str::to_string)
            .unwrap_or_else(|| request.user.clone());
        Ok(Some(PassdbEntry {
            user,
            password,
            extra,
        }))
    }
}

impl UserDb for PasswdFile {
    fn lookup(&self, request: &LookupRequest) -> Result<Option<Fields>> {
        let found = self.with_entry(request, |e| e.clone())?;
        let Some(e) = found.filter(|e| e.has_userdb) else {
            return Ok(None);
        };
        let mut fields = Fields::new();
        if let Some(uid) = e.uid {
            fields.set("uid", Some(&uid.to_string()));
        }
        if let Some(gid) = e.gid {
            fields.set("gid", Some(&gid.to_string()));
        }
        if let Some(home) = &e.home {
            fields.set("home", Some(&expand(home, request)));
        }
        for (k, v) in e.extra.iter() {
            if let Some(k) = k.strip_prefix("userdb_") {
                fields.set(k, v.map(|v| expand(v, request)).as_deref());
            }
        }
        Ok(Some(fields))
    }

    fn iterate(&self) -> Result<Option<Vec<String>>> {
        if self.path_template.contains('%') {
            return Ok(None);
        }
        let path = PathBuf::from(&self.path_template);
        let mut files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        self.refresh(&mut files, &path)?;
        Ok(Some(
            files
                .get(&path)
                .map(|l| l.order.clone())
                .unwrap_or_default(),
        ))
    }
}

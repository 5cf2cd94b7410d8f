//! The auth server: configuration (mechanisms, passdbs, userdbs, master
//! users, penalty) and the decisions of an authentication, independent of
//! sockets. [`unix`] serves it on Unix sockets the way Dovecot's auth
//! process does; a mail server embeds an [`AuthServer`] and serves its own.

mod bind;
mod penalty;
pub mod unix;
mod verdict;
mod workers;

pub use penalty::Penalty;
pub use verdict::{AuthEvent, AuthFailure, AuthVerdict, FailCode};
pub use workers::WorkerPool;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::db::{
    ip_allowed, CachedPassDb, Fields, LookupRequest, PassDb, PassdbEntry, TokenValidator, UserDb,
};
use crate::password::StoredPassword;
use crate::sasl::split_master_user;
use crate::Secret;

/// Passdb extra fields the auth server consumes instead of passing them to the client.
const HIDDEN_FIELDS: &[&str] = &[
    "password",
    "password_noscheme",
    "nopassword",
    "noauthenticate",
    "allow_nets",
    "allow_real_nets",
    "user",
    "username",
    "domain",
    "login_user",
    "fail",
    "delay_until",
];

/// Receives one [`AuthEvent`] per finished authentication.
pub type EventLog = Arc<dyn Fn(&AuthEvent) + Send + Sync>;

/// The auth server's configuration.
#[derive(Clone)]
pub struct AuthConfig {
    /// Mechanisms offered, in `MECH` order (e.g. `PLAIN`, `LOGIN`, `CRAM-MD5`).
    pub mechanisms: Vec<String>,
    /// passdbs, tried in order.
    pub passdbs: Vec<Arc<dyn PassDb>>,
    /// passdbs of master users (who may log in as others).
    pub master_passdbs: Vec<Arc<dyn PassDb>>,
    /// userdbs, tried in order.
    pub userdbs: Vec<Arc<dyn UserDb>>,
    /// `auth_master_user_separator` (e.g. `*` for `user*master`).
    pub master_user_separator: Option<char>,
    /// `auth_anonymous_username`.
    pub anonymous_username: String,
    /// Lower-case user names (`auth_username_format = %Lu`, Dovecot's default).
    pub lowercase_usernames: bool,
    /// `auth_failure_delay`: failed replies are held this long.
    pub failure_delay: Duration,
    /// Apply the per-IP penalty.
    pub penalty: bool,
    /// Bearer-token validation for OAUTHBEARER / XOAUTH2.
    pub token_validator: Option<Arc<dyn TokenValidator>>,
    /// Host name in CRAM-MD5 challenges.
    pub hostname: String,
    /// Threads verifying passwords (the auth-worker role).
    pub worker_threads: usize,
    /// Lookup caches, flushed by the master's `CACHE-FLUSH`.
    pub caches: Vec<Arc<CachedPassDb>>,
    /// Called once per finished authentication (the application's auth log).
    pub event_log: Option<EventLog>,
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("mechanisms", &self.mechanisms)
            .field("passdbs", &self.passdbs.len())
            .field("userdbs", &self.userdbs.len())
            .field("failure_delay", &self.failure_delay)
            .field("event_log", &self.event_log.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            mechanisms: vec!["PLAIN".into(), "LOGIN".into()],
            passdbs: Vec::new(),
            master_passdbs: Vec::new(),
            userdbs: Vec::new(),
            master_user_separator: None,
            anonymous_username: "anonymous".into(),
            lowercase_usernames: true,
            failure_delay: Duration::from_secs(2),
            penalty: true,
            token_validator: None,
            hostname: "localhost".into(),
            worker_threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            caches: Vec::new(),
            event_log: None,
        }
    }
}

/// A finished login-socket authentication waiting for the master's `REQUEST`.
#[derive(Debug, Clone)]
pub struct FinishedLogin {
    /// The login connection's cookie (hex).
    pub cookie: String,
    /// The user.
    pub user: String,
    /// The mechanism used.
    pub mechanism: String,
    /// The master user, if one logged in as `user`.
    pub master_user: Option<String>,
}

/// The auth server's decisions, shared by all connections.
pub struct AuthServer {
    config: AuthConfig,
    penalty: Mutex<Penalty>,
    logins: Mutex<HashMap<(u32, u32), FinishedLogin>>,
}

impl std::fmt::Debug for AuthServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthServer")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Who is logging in: `login` is the user whose session starts; `auth` the
/// identity whose credentials are checked (a master user, or the same).
struct Identities {
    login: String,
    auth: String,
    master: bool,
}

impl AuthServer {
    /// A server with this configuration.
    pub fn new(config: AuthConfig) -> AuthServer {
        AuthServer {
            config,
            penalty: Mutex::new(Penalty::default()),
            logins: Mutex::new(HashMap::new()),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    /// The per-IP penalty state.
    pub fn penalty(&self) -> std::sync::MutexGuard<'_, Penalty> {
        self.penalty.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn normalize(&self, user: &str) -> String {
        if self.config.lowercase_usernames {
            user.to_lowercase()
        } else {
            user.to_string()
        }
    }

    fn identities(&self, authcid: &str, authzid: Option<&str>) -> Identities {
        let authcid = self.normalize(authcid);
        if let Some(z) = authzid.map(|z| self.normalize(z)).filter(|z| *z != authcid) {
            return Identities {
                login: z,
                auth: authcid,
                master: true,
            };
        }
        if let Some(sep) = self.config.master_user_separator {
            if let Some((user, master)) = split_master_user(&authcid, sep) {
                return Identities {
                    login: user.to_string(),
                    auth: master.to_string(),
                    master: true,
                };
            }
        }
        Identities {
            login: authcid.clone(),
            auth: authcid,
            master: false,
        }
    }

    fn lookup_in(
        dbs: &[Arc<dyn PassDb>],
        request: &LookupRequest,
    ) -> Result<Option<PassdbEntry>, AuthFailure> {
        for db in dbs {
            match db.lookup(request) {
                Ok(Some(e)) => return Ok(Some(e)),
                Ok(None) => {}
                Err(_) => return Err(AuthFailure::temp("Temporary authentication failure")),
            }
        }
        Ok(None)
    }

    /// The passdb entry of the identity whose credentials are checked.
    fn credential_entry(
        &self,
        ids: &Identities,
        base: &LookupRequest,
    ) -> Result<Option<PassdbEntry>, AuthFailure> {
        let mut req = base.clone();
        req.user = ids.auth.clone();
        if ids.master {
            if self.config.master_passdbs.is_empty() {
                return Err(AuthFailure {
                    user: Some(ids.auth.clone()),
                    code: Some(FailCode::AuthzFail),
                    reason: Some("Authorization failed".into()),
                    penalize: true,
                    ..Default::default()
                });
            }
            Self::lookup_in(&self.config.master_passdbs, &req)
        } else {
            Self::lookup_in(&self.config.passdbs, &req)
        }
    }

    /// Checks the passdb entry's rules and builds the success reply.
    fn finish(&self, ids: &Identities, entry: PassdbEntry, base: &LookupRequest) -> AuthVerdict {
        let fail_with = |reason: Option<&str>| {
            AuthVerdict::Fail(AuthFailure {
                user: Some(ids.login.clone()),
                reason: reason.map(str::to_string),
                nodelay: entry.extra.contains("nodelay"),
                penalize: true,
                ..Default::default()
            })
        };
        if entry.extra.contains("fail") {
            return fail_with(entry.extra.get("reason"));
        }
        if let Some(nets) = entry.extra.get("allow_nets") {
            if !ip_allowed(nets, base.remote_ip) {
                return fail_with(None);
            }
        }
        let mut login = ids.login.clone();
        let mut fields = Fields::new();
        if ids.master {
            // The target user must exist in the normal passdbs.
            let mut req = base.clone();
            req.user = login.clone();
            match Self::lookup_in(&self.config.passdbs, &req) {
                Ok(Some(target)) => {
                    login = target.user;
                    for (k, v) in target.extra.iter() {
                        if !HIDDEN_FIELDS.contains(&k) {
                            fields.set(k, v);
                        }
                    }
                }
                Ok(None) => {
                    return AuthVerdict::Fail(AuthFailure {
                        user: Some(login),
                        code: Some(FailCode::AuthzFail),
                        reason: Some("Authorization failed".into()),
                        penalize: true,
                        ..Default::default()
                    })
                }
                Err(f) => return AuthVerdict::Fail(f),
            }
            fields.set("auth_user", Some(&ids.auth));
        } else {
            login = entry.user.clone();
            for (k, v) in entry.extra.iter() {
                if !HIDDEN_FIELDS.contains(&k) {
                    fields.set(k, v);
                }
            }
        }
        if login != ids.login && !ids.master {
            fields.set("original_user", Some(&ids.login));
        }
        AuthVerdict::Ok {
            user: login,
            fields,
        }
    }

    /// Whether verifying a plaintext password for this login needs a worker
    /// thread: only when the stored password's scheme is a slow hash
    /// (crypt, bcrypt, PBKDF2, SCRAM, Argon2). Unknown users and fast schemes
    /// are answered on the connection's thread.
    pub fn plain_needs_worker(
        &self,
        request: &LookupRequest,
        authcid: &str,
        authzid: Option<&str>,
    ) -> bool {
        let ids = self.identities(authcid, authzid);
        match self.credential_entry(&ids, request) {
            Ok(Some(entry)) => entry.password.as_ref().is_some_and(|p| p.scheme.is_slow()),
            _ => false,
        }
    }

    /// Verifies a plaintext password (PLAIN, LOGIN). Slow for hashed
    /// schemes: run it on a worker (see [`plain_needs_worker`](Self::plain_needs_worker)).
    pub fn verify_plain(
        &self,
        request: &LookupRequest,
        authcid: &str,
        authzid: Option<&str>,
        password: &Secret,
    ) -> AuthVerdict {
        let ids = self.identities(authcid, authzid);
        let entry = match self.credential_entry(&ids, request) {
            Ok(Some(e)) => e,
            Ok(None) => return AuthVerdict::Fail(AuthFailure::credentials(Some(&ids.login))),
            Err(f) => return AuthVerdict::Fail(f),
        };
        let ok = match &entry.password {
            None => entry.extra.contains("nopassword") || entry.extra.contains("noauthenticate"),
            Some(stored) => match stored.verify(password.expose(), &ids.auth) {
                Ok(ok) => ok,
                Err(_) => {
                    return AuthVerdict::Fail(AuthFailure::temp("Temporary authentication failure"))
                }
            },
        };
        if !ok {
            return AuthVerdict::Fail(AuthFailure {
                nodelay: entry.extra.contains("nodelay"),
                ..AuthFailure::credentials(Some(&ids.login))
            });
        }
        self.finish(&ids, entry, request)
    }

    /// Looks up stored credentials for CRAM-MD5 / SCRAM: the password to
    /// give the mechanism, and the verdict to use if it then succeeds.
    pub fn credentials(
        &self,
        request: &LookupRequest,
        authcid: &str,
        authzid: Option<&str>,
    ) -> (Option<StoredPassword>, AuthVerdict) {
        let ids = self.identities(authcid, authzid);
        match self.credential_entry(&ids, request) {
            Ok(Some(entry)) => {
                let stored = entry.password.clone();
                (stored, self.finish(&ids, entry, request))
            }
            Ok(None) => (
                None,
                AuthVerdict::Fail(AuthFailure::credentials(Some(&ids.login))),
            ),
            Err(f) => (None, AuthVerdict::Fail(f)),
        }
    }

    /// A user whose identity was established elsewhere (EXTERNAL's
    /// certificate, a valid token): checks the passdb's rules only.
    pub fn resolve(
        &self,
        request: &LookupRequest,
        user: &str,
        authzid: Option<&str>,
    ) -> AuthVerdict {
        let ids = self.identities(user, authzid);
        match self.credential_entry(&ids, request) {
            Ok(Some(entry)) => self.finish(&ids, entry, request),
            Ok(None) => AuthVerdict::Fail(AuthFailure::credentials(Some(&ids.login))),
            Err(f) => AuthVerdict::Fail(f),
        }
    }

    /// Validates a bearer token for `user`, then resolves the user.
    pub fn verify_token(&self, request: &LookupRequest, user: &str, token: &Secret) -> AuthVerdict {
        let valid = self
            .config
            .token_validator
            .as_ref()
            .is_some_and(|v| v.validate(user, token.expose()));
        if !valid {
            return AuthVerdict::Fail(AuthFailure::credentials(Some(user)));
        }
        self.resolve(request, user, None)
    }

    /// userdb lookup (`USER`): the first userdb that knows the user.
    pub fn user_lookup(&self, request: &LookupRequest) -> crate::Result<Option<(String, Fields)>> {
        let mut req = request.clone();
        req.user = self.normalize(&request.user);
        for db in &self.config.userdbs {
            if let Some(fields) = db.lookup(&req)? {
                let user = fields
                    .get("user")
                    .map(str::to_string)
                    .unwrap_or_else(|| req.user.clone());
                let mut fields = fields;
                fields.remove("user");
                return Ok(Some((user, fields)));
            }
        }
        Ok(None)
    }

    /// passdb lookup without a password (`PASS`): the entry's visible fields.
    pub fn pass_lookup(&self, request: &LookupRequest) -> crate::Result<Option<(String, Fields)>> {
        let mut req = request.clone();
        req.user = self.normalize(&request.user);
        for db in &self.config.passdbs {
            if let Some(entry) = db.lookup(&req)? {
                let mut fields = Fields::new();
                for (k, v) in entry.extra.iter() {
                    if !HIDDEN_FIELDS.contains(&k) {
                        fields.set(k, v);
                    }
                }
                return Ok(Some((entry.user, fields)));
            }
        }
        Ok(None)
    }

    /// All users of the userdbs that can list them, filtered by a `*`/`?` mask.
    pub fn list_users(&self, mask: Option<&str>) -> crate::Result<Vec<String>> {
        let mut out = Vec::new();
        for db in &self.config.userdbs {
            if let Some(users) = db.iterate()? {
                out.extend(
                    users
                        .into_iter()
                        .filter(|u| mask.is_none_or(|m| wildcard_match(m, u))),
                );
            }
        }
        Ok(out)
    }

    /// Remembers a finished login-socket authentication for `REQUEST`.
    pub fn record_login(&self, client_pid: u32, auth_id: u32, login: FinishedLogin) {
        let mut logins = self.logins.lock().unwrap_or_else(|e| e.into_inner());
        if logins.len() > 100_000 {
            logins.clear();
        }
        logins.insert((client_pid, auth_id), login);
    }

    /// Takes a finished login for `REQUEST`, if the cookie matches.
    pub fn take_login(&self, client_pid: u32, auth_id: u32, cookie: &str) -> Option<FinishedLogin> {
        let mut logins = self.logins.lock().unwrap_or_else(|e| e.into_inner());
        let found = logins.get(&(client_pid, auth_id))?;
        if !found.cookie.eq_ignore_ascii_case(cookie) {
            return None;
        }
        logins.remove(&(client_pid, auth_id))
    }

    /// Forgets the finished logins of a login connection that closed.
    pub fn forget_logins(&self, client_pid: u32, cookie: &str) {
        let mut logins = self.logins.lock().unwrap_or_else(|e| e.into_inner());
        logins.retain(|(pid, _), l| *pid != client_pid || l.cookie != cookie);
    }
}

/// `*` / `?` wildcard matching (LIST masks).
pub fn wildcard_match(mask: &str, s: &str) -> bool {
    let (m, s): (Vec<char>, Vec<char>) = (mask.chars().collect(), s.chars().collect());
    let (mut mi, mut si, mut star, mut mark) = (0, 0, None, 0);
    while si < s.len() {
        if mi < m.len() && (m[mi] == '?' || m[mi] == s[si]) {
            mi += 1;
            si += 1;
        } else if mi < m.len() && m[mi] == '*' {
            star = Some(mi);
            mi += 1;
            mark = si;
        } else if let Some(st) = star {
            mi = st + 1;
            mark += 1;
            si = mark;
        } else {
            return false;
        }
    }
    m[mi..].iter().all(|&c| c == '*')
}

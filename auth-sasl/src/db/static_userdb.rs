//! The static userdb: the same fields for every user, from a template such
//! as `uid=vmail gid=vmail home=/var/vmail/%d/%n`.

use std::sync::Arc;

use super::{expand, Fields, LookupRequest, PassDb, UserDb};
use crate::Result;

/// Fields from a template; optionally checks that the user exists in a passdb
/// (Dovecot's `allow_all_users=no`).
pub struct StaticUserDb {
    template: Fields,
    passdb: Option<Arc<dyn PassDb>>,
}

impl std::fmt::Debug for StaticUserDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticUserDb")
            .field("template", &self.template)
            .finish_non_exhaustive()
    }
}

impl StaticUserDb {
    /// From Dovecot's `args` (space-separated `key=value`); `allow_all_users=yes` is accepted and dropped.
    pub fn new(args: &str) -> StaticUserDb {
        let mut template = Fields::parse_space_separated(args);
        template.remove("allow_all_users");
        StaticUserDb {
            template,
            passdb: None,
        }
    }

    /// Only users this passdb knows exist.
    pub fn require_passdb_user(mut self, passdb: Arc<dyn PassDb>) -> StaticUserDb {
        self.passdb = Some(passdb);
        self
    }
}

impl UserDb for StaticUserDb {
    fn lookup(&self, request: &LookupRequest) -> Result<Option<Fields>> {
        if let Some(p) = &self.passdb {
            if p.lookup(request)?.is_none() {
                return Ok(None);
            }
        }
        let mut out = Fields::new();
        for (k, v) in self.template.iter() {
            out.set(k, v.map(|v| expand(v, request)).as_deref());
        }
        Ok(Some(out))
    }
}

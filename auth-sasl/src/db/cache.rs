//! A passdb lookup cache with a time to live (Dovecot's `auth_cache_*`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{LookupRequest, PassDb, PassdbEntry};
use crate::Result;

/// Caches another passdb's answers, positive for `ttl` and negative (unknown
/// user) for `negative_ttl`. Temporary failures are never cached.
pub struct CachedPassDb {
    inner: Arc<dyn PassDb>,
    ttl: Duration,
    negative_ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, Option<PassdbEntry>)>>,
}

impl std::fmt::Debug for CachedPassDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedPassDb")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl CachedPassDb {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn PassDb>, ttl: Duration, negative_ttl: Duration) -> CachedPassDb {
        CachedPassDb {
            inner,
            ttl,
            negative_ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Drops the named users' entries (all when `users` is empty); returns how many were dropped.
    pub fn flush(&self, users: &[&str]) -> usize {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if users.is_empty() {
            let n = entries.len();
            entries.clear();
            return n;
        }
        users
            .iter()
            .filter(|u| entries.remove(&format!("{}\0", u)).is_some())
            .count()
    }
}

impl PassDb for CachedPassDb {
    fn lookup(&self, request: &LookupRequest) -> Result<Option<PassdbEntry>> {
        let key = format!("{}\0", request.user);
        let now = Instant::now();
        if let Some((at, hit)) = self
            .entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            let ttl = if hit.is_some() {
                self.ttl
            } else {
                self.negative_ttl
            };
            if now.duration_since(*at) < ttl {
                return Ok(hit.clone());
            }
        }
        let fresh = self.inner.lookup(request)?;
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, (now, fresh.clone()));
        Ok(fresh)
    }
}

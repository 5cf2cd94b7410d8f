//! `auth_username_format` beyond `%u`/`%Lu`: lookups use the user name
//! rewritten by the format (e.g. `%Ln` looks `Alice@Example.org` up as
//! `alice`), and the passdb's answer names the user that logs in, as in
//! Dovecot.

use std::sync::Arc;

use columba_auth_sasl::db::{expand, Fields, LookupRequest, PassDb, PassdbEntry, UserDb};

/// Whether `format` needs rewriting beyond what the auth server's
/// lower-casing already does.
pub fn needs_rewrite(format: &str) -> bool {
    !matches!(format, "%u" | "%Lu" | "%{user}")
}

fn rewrite(format: &str, request: &LookupRequest) -> LookupRequest {
    let mut r = request.clone();
    r.user = expand(format, request);
    r
}

/// A passdb whose lookups use the formatted user name.
pub struct FormattedPassDb {
    /// The passdb.
    pub inner: Arc<dyn PassDb>,
    /// `auth_username_format`.
    pub format: String,
}

impl PassDb for FormattedPassDb {
    fn lookup(&self, request: &LookupRequest) -> columba_auth_sasl::Result<Option<PassdbEntry>> {
        self.inner.lookup(&rewrite(&self.format, request))
    }
}

/// A userdb whose lookups use the formatted user name.
pub struct FormattedUserDb {
    /// The userdb.
    pub inner: Arc<dyn UserDb>,
    /// `auth_username_format`.
    pub format: String,
}

impl UserDb for FormattedUserDb {
    fn lookup(&self, request: &LookupRequest) -> columba_auth_sasl::Result<Option<Fields>> {
        self.inner.lookup(&rewrite(&self.format, request))
    }

    fn iterate(&self) -> columba_auth_sasl::Result<Option<Vec<String>>> {
        self.inner.iterate()
    }
}

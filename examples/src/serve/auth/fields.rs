//! Dovecot's `default_fields` and `override_fields` of a passdb or userdb
//! block, applied around the driver's lookup.

use std::sync::Arc;

use columba_auth_sasl::db::{expand, Fields, LookupRequest, PassDb, PassdbEntry, UserDb};

/// The two field lists of a block, `%` variables expanded per lookup.
#[derive(Debug, Clone, Default)]
pub struct FieldRules {
    defaults: Fields,
    overrides: Fields,
}

impl FieldRules {
    /// From the block's `default_fields` and `override_fields` texts
    /// (space-separated `key=value`).
    pub fn new(default_fields: &str, override_fields: &str) -> FieldRules {
        FieldRules {
            defaults: Fields::parse_space_separated(default_fields),
            overrides: Fields::parse_space_separated(override_fields),
        }
    }

    /// Whether there is nothing to apply.
    pub fn is_empty(&self) -> bool {
        self.defaults.is_empty() && self.overrides.is_empty()
    }

    /// Adds the defaults the fields lack, then sets the overrides.
    pub fn apply(&self, fields: &mut Fields, request: &LookupRequest) {
        for (k, v) in self.defaults.iter() {
            if !fields.contains(k) {
                fields.set(k, v.map(|v| expand(v, request)).as_deref());
            }
        }
        for (k, v) in self.overrides.iter() {
            fields.set(k, v.map(|v| expand(v, request)).as_deref());
        }
    }
}

/// A passdb with field rules.
pub struct RuledPassDb {
    /// The driver.
    pub inner: Arc<dyn PassDb>,
    /// The rules.
    pub rules: FieldRules,
}

impl PassDb for RuledPassDb {
    fn lookup(&self, request: &LookupRequest) -> columba_auth_sasl::Result<Option<PassdbEntry>> {
        Ok(self.inner.lookup(request)?.map(|mut entry| {
            self.rules.apply(&mut entry.extra, request);
            entry
        }))
    }
}

/// A userdb with field rules.
pub struct RuledUserDb {
    /// The driver.
    pub inner: Arc<dyn UserDb>,
    /// The rules.
    pub rules: FieldRules,
}

impl UserDb for RuledUserDb {
    fn lookup(&self, request: &LookupRequest) -> columba_auth_sasl::Result<Option<Fields>> {
        Ok(self.inner.lookup(request)?.map(|mut fields| {
            self.rules.apply(&mut fields, request);
            fields
        }))
    }

    fn iterate(&self) -> columba_auth_sasl::Result<Option<Vec<String>>> {
        self.inner.iterate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_and_overrides_replace() {
        let rules = FieldRules::new("home=/home/%u quota=1G", "uid=5000");
        let mut f = Fields::parse_space_separated("uid=1000 quota=2G");
        rules.apply(&mut f, &LookupRequest::new("alice", "imap"));
        assert_eq!(f.get("uid"), Some("5000"));
        assert_eq!(f.get("quota"), Some("2G"));
        assert_eq!(f.get("home"), Some("/home/alice"));
    }
}

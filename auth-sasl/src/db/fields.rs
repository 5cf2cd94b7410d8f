//! An ordered list of `key=value` / bare `key` fields.

/// Ordered fields as passdbs and userdbs return them. Keys are unique; a
/// later `set` replaces the value in place.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields(Vec<(String, Option<String>)>);

impl Fields {
    /// No fields.
    pub fn new() -> Fields {
        Fields(Vec::new())
    }

    /// Sets `key` (`None` = bare flag).
    pub fn set(&mut self, key: &str, value: Option<&str>) {
        let value = value.map(str::to_string);
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key.to_string(), value)),
        }
    }

    /// The value of `key` (`Some("")` for a bare flag).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_deref().unwrap_or(""))
    }

    /// Whether `key` is present.
    pub fn contains(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: &str) {
        self.0.retain(|(k, _)| k != key);
    }

    /// The fields in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_deref()))
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Parses space-separated `key=value` / `key` items (passwd-file extra
    /// fields, static userdb args).
    pub fn parse_space_separated(s: &str) -> Fields {
        let mut f = Fields::new();
        for item in s.split(' ').filter(|i| !i.is_empty()) {
            match item.split_once('=') {
                Some((k, v)) => f.set(k, Some(v)),
                None => f.set(item, None),
            }
        }
        f
    }

    /// Appends the fields to a protocol line as TAB-separated, tab-escaped items.
    pub fn write_tab_separated(&self, out: &mut String) {
        for (k, v) in self.iter() {
            out.push('\t');
            crate::escape::tab_escape_into(out, k);
            if let Some(v) = v {
                out.push('=');
                crate::escape::tab_escape_into(out, v);
            }
        }
    }
}

//! LIST semantics over a set of mailbox names: pattern matching, the
//! hierarchy attributes (`\HasChildren`, `\HasNoChildren`, `\Noselect`,
//! `\NonExistent`), `\Subscribed`, and special-use attributes from
//! configuration, as Dovecot 2.3 answers `LIST ... RETURN (SUBSCRIBED
//! SPECIAL-USE CHILDREN)` for a Maildir++ store.
//!
//! ```
//! use columba_mail_store::list::{Attribute, MailboxTree, SpecialUse};
//!
//! let mut tree = MailboxTree::new('/');
//! tree.add_mailbox("INBOX");
//! tree.add_mailbox("Archive/2024");
//! tree.set_special_use("Sent", SpecialUse::Sent);
//! tree.add_mailbox("Sent");
//! let top = tree.list("", "%");
//! let names: Vec<&str> = top.iter().map(|e| e.name.as_str()).collect();
//! assert_eq!(names, ["Archive", "INBOX", "Sent"]);
//! assert_eq!(top[0].attributes, [Attribute::NonExistent, Attribute::HasChildren]);
//! assert!(top[2].attributes.contains(&Attribute::Special(SpecialUse::Sent)));
//! ```

pub mod pattern;

use std::collections::{BTreeMap, BTreeSet};

/// A special-use attribute (RFC 6154).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SpecialUse {
    /// \All.
    All,
    /// \Archive.
    Archive,
    /// \Drafts.
    Drafts,
    /// \Flagged.
    Flagged,
    /// \Junk.
    Junk,
    /// \Sent.
    Sent,
    /// \Trash.
    Trash,
}

impl SpecialUse {
    /// The attribute as written in IMAP.
    pub fn as_str(self) -> &'static str {
        match self {
            SpecialUse::All => "\\All",
            SpecialUse::Archive => "\\Archive",
            SpecialUse::Drafts => "\\Drafts",
            SpecialUse::Flagged => "\\Flagged",
            SpecialUse::Junk => "\\Junk",
            SpecialUse::Sent => "\\Sent",
            SpecialUse::Trash => "\\Trash",
        }
    }

    /// Parses `\Sent` etc. (case-insensitive).
    pub fn parse(s: &str) -> Option<SpecialUse> {
        [
            SpecialUse::All,
            SpecialUse::Archive,
            SpecialUse::Drafts,
            SpecialUse::Flagged,
            SpecialUse::Junk,
            SpecialUse::Sent,
            SpecialUse::Trash,
        ]
        .into_iter()
        .find(|u| u.as_str().eq_ignore_ascii_case(s))
    }
}

/// A mailbox attribute in a LIST answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attribute {
    /// The name exists only as the parent of other mailboxes.
    NonExistent,
    /// Not selectable.
    Noselect,
    /// `\Subscribed`.
    Subscribed,
    /// Has child mailboxes.
    HasChildren,
    /// Has no child mailboxes.
    HasNoChildren,
    /// A special-use attribute.
    Special(SpecialUse),
}

impl Attribute {
    /// The attribute as written in IMAP.
    pub fn as_str(self) -> &'static str {
        match self {
            Attribute::NonExistent => "\\NonExistent",
            Attribute::Noselect => "\\Noselect",
            Attribute::Subscribed => "\\Subscribed",
            Attribute::HasChildren => "\\HasChildren",
            Attribute::HasNoChildren => "\\HasNoChildren",
            Attribute::Special(u) => u.as_str(),
        }
    }
}

/// One LIST answer line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListEntry {
    /// Mailbox name.
    pub name: String,
    /// Attributes, in Dovecot's order.
    pub attributes: Vec<Attribute>,
}

/// The mailboxes of one namespace, their subscriptions and special uses.
#[derive(Debug, Clone)]
pub struct MailboxTree {
    separator: char,
    mailboxes: BTreeSet<String>,
    subscriptions: BTreeSet<String>,
    special_use: BTreeMap<String, SpecialUse>,
}

impl MailboxTree {
    /// An empty tree with hierarchy separator `separator`.
    pub fn new(separator: char) -> MailboxTree {
        MailboxTree {
            separator,
            mailboxes: BTreeSet::new(),
            subscriptions: BTreeSet::new(),
            special_use: BTreeMap::new(),
        }
    }

    /// The hierarchy separator.
    pub fn separator(&self) -> char {
        self.separator
    }

    fn canonical(&self, name: &str) -> String {
        let n = pattern::normalize_pattern(name, self.separator);
        n.trim_end_matches(self.separator).to_string()
    }

    /// Adds an existing (selectable) mailbox.
    pub fn add_mailbox(&mut self, name: &str) {
        let n = self.canonical(name);
        if !n.is_empty() {
            self.mailboxes.insert(n);
        }
    }

    /// Marks `name` subscribed (it need not exist).
    pub fn subscribe(&mut self, name: &str) {
        let n = self.canonical(name);
        self.subscriptions.insert(n);
    }

    /// Configures a special-use attribute for `name`.
    pub fn set_special_use(&mut self, name: &str, usage: SpecialUse) {
        let n = self.canonical(name);
        self.special_use.insert(n, usage);
    }

    fn has_children(&self, name: &str) -> bool {
        let prefix = format!("{name}{}", self.separator);
        self.mailboxes
            .range(prefix.clone()..)
            .next()
            .is_some_and(|m| m.starts_with(&prefix))
    }

    /// Every parent name of existing mailboxes that does not exist itself.
    fn missing_parents(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for m in &self.mailboxes {
            let mut end = 0;
            while let Some(i) = m[end..].find(self.separator) {
                let parent = &m[..end + i];
                if !self.mailboxes.contains(parent) {
                    out.insert(parent.to_string());
                }
                end += i + self.separator.len_utf8();
            }
        }
        out
    }

    /// `LIST reference pattern RETURN (SUBSCRIBED SPECIAL-USE CHILDREN)`,
    /// sorted by name. `LIST "" ""` answers the separator entry (empty
    /// name, `\Noselect`).
    pub fn list(&self, reference: &str, pattern: &str) -> Vec<ListEntry> {
        if pattern.is_empty() {
            return vec![ListEntry {
                name: String::new(),
                attributes: vec![Attribute::Noselect],
            }];
        }
        let full = if reference.is_empty() || pattern.starts_with(self.separator) {
            pattern.to_string()
        } else {
            format!("{reference}{pattern}")
        };
        let mut out = Vec::new();
        let missing = self.missing_parents();
        let mut names: Vec<(&String, bool)> = self.mailboxes.iter().map(|m| (m, true)).collect();
        names.extend(missing.iter().map(|m| (m, false)));
        names.sort();
        for (name, exists) in names {
            if !pattern::matches(&full, name, self.separator) {
                continue;
            }
            let mut attributes = Vec::new();
            if !exists {
                attributes.push(Attribute::NonExistent);
            }
            if self.subscriptions.contains(name) {
                attributes.push(Attribute::Subscribed);
            }
            attributes.push(if self.has_children(name) {
                Attribute::HasChildren
            } else {
                Attribute::HasNoChildren
            });
            if exists {
                if let Some(u) = self.special_use.get(name) {
                    attributes.push(Attribute::Special(*u));
                }
            }
            out.push(ListEntry {
                name: name.clone(),
                attributes,
            });
        }
        out
    }

    /// `LIST (SUBSCRIBED) reference pattern`: subscribed names, with
    /// `\NonExistent` for those that do not exist.
    pub fn list_subscribed(&self, reference: &str, pattern: &str) -> Vec<ListEntry> {
        let full = if reference.is_empty() {
            pattern.to_string()
        } else {
            format!("{reference}{pattern}")
        };
        self.subscriptions
            .iter()
            .filter(|s| pattern::matches(&full, s, self.separator))
            .map(|s| {
                let mut attributes = Vec::new();
                if !self.mailboxes.contains(s) {
                    attributes.push(Attribute::NonExistent);
                }
                attributes.push(Attribute::Subscribed);
                if self.mailboxes.contains(s) {
                    attributes.push(if self.has_children(s) {
                        Attribute::HasChildren
                    } else {
                        Attribute::HasNoChildren
                    });
                    if let Some(u) = self.special_use.get(s) {
                        attributes.push(Attribute::Special(*u));
                    }
                }
                ListEntry {
                    name: s.clone(),
                    attributes,
                }
            })
            .collect()
    }
}

//! Test support shared by Columba's crates: finding real peers and running a
//! private Dovecot 2.3 on loopback.
//!
//! Interop tests run whenever the peer is installed. When it is not, the test
//! prints a visible `SKIPPED` line and returns, unless `COLUMBA_REQUIRE_INTEROP=1`
//! is set (CI sets it), in which case a missing peer fails the test.
//!
//! ```no_run
//! use columba_interop::{require_tool, DovecotConfig, PrivateDovecot};
//!
//! // Returns early (visibly skipped) when Dovecot is not installed.
//! require_tool!("dovecot");
//! let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
//! let out = dovecot.doveadm(&["mailbox", "status", "-u", "alice", "messages", "INBOX"]);
//! assert!(out.status.success());
//! ```
#![forbid(unsafe_code)]

mod dovecot;
mod fixtures;
mod maildir_entries;
mod owner;
mod tools;

pub use dovecot::{DovecotConfig, PrivateDovecot, TestUser};
pub use fixtures::{fixture_dir, install_fixture_maildir, testdata_dir};
pub use maildir_entries::maildir_entries;
pub use owner::{chown_tree, MailOwner};
pub use tools::{find_tool, free_port, interop_required, tool_or_skip};

/// Evaluates to the path of an installed tool, or returns from the calling test
/// after printing a visible skip notice. Panics when `COLUMBA_REQUIRE_INTEROP=1`
/// and the tool is missing.
#[macro_export]
macro_rules! require_tool {
    ($name:expr) => {
        match $crate::tool_or_skip($name, module_path!()) {
            Some(path) => path,
            None => return,
        }
    };
}

//! The post-login process: runs as the user the userdb named, optionally
//! chrooted to the mail home, with no_new_privs.

use std::os::fd::RawFd;
use std::path::PathBuf;

use super::plan::Plan;
use crate::ids::{self, TargetIds};
use crate::process;
use crate::record::{PrivsepRecord, Step};
use crate::{PrivsepError, Rlimits};

/// Dovecot's default `first_valid_uid`.
pub const DEFAULT_FIRST_VALID_UID: u32 = 500;

/// Privilege separation for a post-login process (Dovecot's `imap`/`pop3`
/// after authentication): the user's uid and gid from the userdb, never
/// root and never below `first_valid_uid` (as Dovecot refuses them),
/// optionally chrooted to the mail home, no_new_privs, no capabilities.
///
/// Supplementary groups are the primary gid only (as Dovecot sets them),
/// plus [`extra_groups`](Self::extra_groups), plus the user's groups from
/// the group database when [`init_groups`](Self::init_groups) names the user.
#[derive(Debug, Clone)]
pub struct PostLoginRecipe {
    uid: u32,
    gid: u32,
    first_valid_uid: u32,
    last_valid_uid: u32,
    first_valid_gid: u32,
    last_valid_gid: u32,
    init_groups: Option<String>,
    extra_groups: Vec<u32>,
    chroot: Option<PathBuf>,
    home: Option<PathBuf>,
    rlimits: Rlimits,
    keep_fds: Option<Vec<RawFd>>,
    keep_env: Option<Vec<String>>,
    no_new_privs: bool,
    dumpable: bool,
}

impl PostLoginRecipe {
    /// A recipe running as `uid`/`gid` (the userdb's answer).
    pub fn new(uid: u32, gid: u32) -> Self {
        PostLoginRecipe {
            uid,
            gid,
            first_valid_uid: DEFAULT_FIRST_VALID_UID,
            last_valid_uid: 0,
            first_valid_gid: 1,
            last_valid_gid: 0,
            init_groups: None,
            extra_groups: Vec::new(),
            chroot: None,
            home: None,
            rlimits: Rlimits {
                core: Some(0),
                ..Rlimits::default()
            },
            keep_fds: None,
            keep_env: None,
            no_new_privs: true,
            dumpable: false,
        }
    }

    /// Lowest uid accepted (Dovecot's `first_valid_uid`, default 500).
    pub fn first_valid_uid(mut self, uid: u32) -> Self {
        self.first_valid_uid = uid;
        self
    }

    /// Highest uid accepted; 0 means no upper bound (`last_valid_uid`).
    pub fn last_valid_uid(mut self, uid: u32) -> Self {
        self.last_valid_uid = uid;
        self
    }

    /// Lowest gid accepted (`first_valid_gid`, default 1: never the root group).
    pub fn first_valid_gid(mut self, gid: u32) -> Self {
        self.first_valid_gid = gid;
        self
    }

    /// Highest gid accepted; 0 means no upper bound (`last_valid_gid`).
    pub fn last_valid_gid(mut self, gid: u32) -> Self {
        self.last_valid_gid = gid;
        self
    }

    /// Adds the groups `user` has in the group database (like initgroups).
    pub fn init_groups(mut self, user: impl Into<String>) -> Self {
        self.init_groups = Some(user.into());
        self
    }

    /// Adds supplementary groups (Dovecot's `mail_access_groups`).
    pub fn extra_groups(mut self, groups: &[u32]) -> Self {
        self.extra_groups.extend_from_slice(groups);
        self
    }

    /// chroot to `dir` (Dovecot's `mail_chroot`; see also
    /// [`dovecot_home`](Self::dovecot_home)).
    pub fn chroot(mut self, dir: impl Into<PathBuf>) -> Self {
        self.chroot = Some(dir.into());
        self
    }

    /// Dovecot's way of naming a chroot in the home directory: in
    /// `/var/mail/./alice` the part before `/./` is the chroot and the rest
    /// the home inside it (`/alice`). A home without `/./` is only a home.
    pub fn dovecot_home(self, home: &str) -> Self {
        match home.split_once("/./") {
            Some((chroot, inside)) => {
                let chroot = if chroot.is_empty() { "/" } else { chroot };
                self.chroot(chroot).home(format!("/{inside}"))
            }
            None => self.home(home),
        }
    }

    /// The home directory to chdir to: inside the chroot when there is one
    /// (absolute from the new root), otherwise an absolute path.
    pub fn home(mut self, dir: impl Into<PathBuf>) -> Self {
        self.home = Some(dir.into());
        self
    }

    /// Replaces the resource limits (default: no core file).
    pub fn rlimits(mut self, rlimits: Rlimits) -> Self {
        self.rlimits = rlimits;
        self
    }

    /// Closes every inherited descriptor except `keep`.
    pub fn close_fds_except(mut self, keep: &[RawFd]) -> Self {
        self.keep_fds = Some(keep.to_vec());
        self
    }

    /// Clears the environment except the variables named.
    pub fn clear_env_except(mut self, keep: &[&str]) -> Self {
        self.keep_env = Some(keep.iter().map(|s| (*s).to_owned()).collect());
        self
    }

    /// Whether to set no_new_privs (default: yes).
    pub fn no_new_privs(mut self, on: bool) -> Self {
        self.no_new_privs = on;
        self
    }

    /// Whether the process stays dumpable (default: no; it handles mail).
    pub fn dumpable(mut self, dumpable: bool) -> Self {
        self.dumpable = dumpable;
        self
    }

    /// Checks the uid and gid against the valid ranges, without changing
    /// anything.
    pub fn validate(&self) -> Result<(), PrivsepError> {
        let uid = self.uid;
        if uid == 0 {
            return Err(PrivsepError::RefusedUid {
                uid,
                reason: "a post-login process never runs as root".into(),
            });
        }
        if uid < self.first_valid_uid {
            return Err(PrivsepError::RefusedUid {
                uid,
                reason: format!("below first_valid_uid {}", self.first_valid_uid),
            });
        }
        if self.last_valid_uid != 0 && uid > self.last_valid_uid {
            return Err(PrivsepError::RefusedUid {
                uid,
                reason: format!("above last_valid_uid {}", self.last_valid_uid),
            });
        }
        let gid = self.gid;
        if gid == 0 || gid < self.first_valid_gid {
            return Err(PrivsepError::RefusedGid {
                gid,
                reason: format!("below first_valid_gid {}", self.first_valid_gid.max(1)),
            });
        }
        if self.last_valid_gid != 0 && gid > self.last_valid_gid {
            return Err(PrivsepError::RefusedGid {
                gid,
                reason: format!("above last_valid_gid {}", self.last_valid_gid),
            });
        }
        if let Some(home) = &self.home {
            if !home.is_absolute() {
                return Err(PrivsepError::InvalidSetting {
                    what: "home",
                    reason: format!("{} is not absolute", home.display()),
                });
            }
        }
        Ok(())
    }

    /// Applies every step to this process, in order, and returns what was
    /// applied. Must run while the process has one thread. On error the
    /// process is half-restricted and should exit.
    pub fn apply(&self) -> Result<PrivsepRecord, PrivsepError> {
        self.validate()?;
        let mut record = PrivsepRecord::default();
        process::ensure_single_threaded()?;
        record.applied(Step::SingleThread, "1 thread");

        let mut groups = vec![self.gid];
        if let Some(user) = &self.init_groups {
            groups.extend(ids::user_groups(user, self.gid)?);
        }
        groups.extend_from_slice(&self.extra_groups);
        groups.sort_unstable();
        groups.dedup();
        if let Some(&root_group) = groups.iter().find(|&&g| g == 0) {
            return Err(PrivsepError::RefusedGid {
                gid: root_group,
                reason: "the root group among the supplementary groups".into(),
            });
        }
        record.applied(
            Step::ResolveIds,
            format!("uid {} gid {} groups {groups:?}", self.uid, self.gid),
        );
        let plan = Plan {
            target: TargetIds {
                uid: self.uid,
                gid: self.gid,
                groups,
            },
            rlimits: self.rlimits,
            keep_fds: self.keep_fds.clone(),
            keep_env: self.keep_env.clone(),
            chroot: self.chroot.clone(),
            chdir: self.home.clone(),
            no_new_privs: self.no_new_privs,
            dumpable: self.dumpable,
            seccomp: None,
        };
        plan.run(&mut record)?;
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dovecot_home_splits_at_the_chroot_marker() {
        let r = PostLoginRecipe::new(1000, 1000).dovecot_home("/var/mail/./alice/Maildir");
        assert_eq!(r.chroot.as_deref(), Some(std::path::Path::new("/var/mail")));
        assert_eq!(
            r.home.as_deref(),
            Some(std::path::Path::new("/alice/Maildir"))
        );
        let r = PostLoginRecipe::new(1000, 1000).dovecot_home("/home/alice");
        assert_eq!(r.chroot, None);
        assert_eq!(r.home.as_deref(), Some(std::path::Path::new("/home/alice")));
        assert!(r.validate().is_ok());
    }
}

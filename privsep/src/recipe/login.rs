//! The pre-auth login process: unprivileged user, empty chroot,
//! no_new_privs, seccomp, tight rlimits.

use std::os::fd::RawFd;
use std::path::PathBuf;

use super::plan::{check_chroot_dir, Plan};
use crate::ids::{self, TargetIds};
use crate::process;
use crate::record::{PrivsepRecord, Step};
use crate::{PrivsepError, Rlimits, SeccompAction, SeccompFilter};

/// Who the login process runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginUser {
    /// A user name looked up in the user database (Dovecot's `dovenull`).
    Name(String),
    /// Numeric ids, no lookup.
    Ids {
        /// User id.
        uid: u32,
        /// Group id.
        gid: u32,
    },
}

/// Privilege separation for a pre-auth login process (Dovecot's
/// `imap-login`/`pop3-login`): it talks to unauthenticated clients, so it
/// runs as an unprivileged user with no home, chrooted to an empty
/// directory, with no_new_privs, tight rlimits and, unlike Dovecot, a
/// seccomp filter that makes opening any file impossible.
///
/// Defaults: [`Rlimits::login`], seccomp killing the process on a forbidden
/// call, not dumpable, no chroot, descriptors and environment left alone
/// (name what to keep with [`close_fds_except`](Self::close_fds_except) and
/// [`clear_env_except`](Self::clear_env_except)).
#[derive(Debug, Clone)]
pub struct LoginProcessRecipe {
    user: LoginUser,
    chroot: Option<PathBuf>,
    rlimits: Rlimits,
    keep_fds: Option<Vec<RawFd>>,
    keep_env: Option<Vec<String>>,
    seccomp: Option<SeccompAction>,
    custom_filter: Option<SeccompFilter>,
    dumpable: bool,
}

impl LoginProcessRecipe {
    /// A recipe running the login process as `user` (looked up when applied).
    pub fn for_user(user: impl Into<String>) -> Self {
        Self::new(LoginUser::Name(user.into()))
    }

    /// A recipe running the login process as numeric `uid` and `gid`.
    pub fn for_ids(uid: u32, gid: u32) -> Self {
        Self::new(LoginUser::Ids { uid, gid })
    }

    fn new(user: LoginUser) -> Self {
        LoginProcessRecipe {
            user,
            chroot: None,
            rlimits: Rlimits::login(),
            keep_fds: None,
            keep_env: None,
            seccomp: Some(SeccompAction::KillProcess),
            custom_filter: None,
            dumpable: false,
        }
    }

    /// chroot to `dir` (an empty directory not writable by group or others).
    pub fn chroot(mut self, dir: impl Into<PathBuf>) -> Self {
        self.chroot = Some(dir.into());
        self
    }

    /// Replaces the resource limits.
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

    /// The seccomp filter's action on a forbidden call; `None`: no filter.
    pub fn seccomp(mut self, action: Option<SeccompAction>) -> Self {
        self.seccomp = action;
        self.custom_filter = None;
        self
    }

    /// Installs `filter` instead of the login filter, for a login process
    /// that needs more (build it from
    /// [`login_allow_list`](crate::seccomp::login_allow_list) plus entries).
    pub fn seccomp_filter(mut self, filter: SeccompFilter) -> Self {
        self.custom_filter = Some(filter);
        self
    }

    /// Whether the process stays dumpable (core files, ptrace by its uid).
    pub fn dumpable(mut self, dumpable: bool) -> Self {
        self.dumpable = dumpable;
        self
    }

    /// Applies every step to this process, in order, and returns what was
    /// applied. Must run while the process has one thread. On error the
    /// process is half-restricted and should exit.
    pub fn apply(&self) -> Result<PrivsepRecord, PrivsepError> {
        let mut record = PrivsepRecord::default();
        process::ensure_single_threaded()?;
        record.applied(Step::SingleThread, "1 thread");

        let (uid, gid, who) = match &self.user {
            LoginUser::Name(name) => {
                let entry = ids::lookup_user(name)?;
                let who = format!("{name} (home {:?}, shell {:?}) ", entry.home, entry.shell);
                (entry.uid, entry.gid, who)
            }
            LoginUser::Ids { uid, gid } => (*uid, *gid, String::new()),
        };
        if uid == 0 {
            return Err(PrivsepError::RefusedUid {
                uid,
                reason: "the login process never runs as root".into(),
            });
        }
        if gid == 0 {
            return Err(PrivsepError::RefusedGid {
                gid,
                reason: "the login process never runs with the root group".into(),
            });
        }
        if let Some(dir) = &self.chroot {
            check_chroot_dir(dir)?;
        }
        let seccomp = match &self.custom_filter {
            Some(filter) => Some(filter.clone()),
            None => self.seccomp.map(SeccompFilter::login).transpose()?,
        };
        let target = TargetIds {
            uid,
            gid,
            groups: vec![gid],
        };
        record.applied(Step::ResolveIds, format!("{who}uid {uid} gid {gid}"));

        let plan = Plan {
            target,
            rlimits: self.rlimits,
            keep_fds: self.keep_fds.clone(),
            keep_env: self.keep_env.clone(),
            chroot: self.chroot.clone(),
            chdir: None,
            no_new_privs: true,
            dumpable: self.dumpable,
            seccomp,
        };
        plan.run(&mut record)?;
        Ok(record)
    }
}

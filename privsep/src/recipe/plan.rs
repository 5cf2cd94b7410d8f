//! The ordered steps both recipes share.
//!
//! The order matters:
//!
//! 1. one thread only (capabilities and no_new_privs are per thread);
//! 2. everything that needs files is resolved by the recipe before the plan
//!    runs (user database, group list, the seccomp program is built);
//! 3. rlimits (raising a hard limit needs root, so before setuid);
//! 4. close descriptors and clear the environment (needs `/proc`, before chroot);
//! 5. chroot + chdir to its root (needs `CAP_SYS_CHROOT`);
//! 6. drop the capability bounding set (needs `CAP_SETPCAP`, lost at setuid);
//! 7. setgroups, setgid, setuid (groups and gid need root, so before uid);
//! 8. verify every id and that root cannot be regained; chdir to the home,
//!    as the user so its permissions apply;
//! 9. no_new_privs, clear capabilities, dumpable;
//! 10. seccomp last, so that nothing above needs a call it forbids.

use std::os::fd::RawFd;
use std::path::{Path, PathBuf};

use crate::caps::{self, BoundingSetDrop};
use crate::chroot::chroot_and_chdir;
use crate::ids::{self, TargetIds};
use crate::process;
use crate::record::{PrivsepRecord, Step};
use crate::{env, fds, PrivsepError, Rlimits, SeccompFilter};

/// Everything a recipe resolved, ready to apply.
pub(crate) struct Plan {
    pub(crate) target: TargetIds,
    pub(crate) rlimits: Rlimits,
    pub(crate) keep_fds: Option<Vec<RawFd>>,
    pub(crate) keep_env: Option<Vec<String>>,
    pub(crate) chroot: Option<PathBuf>,
    /// Working directory: inside the chroot when there is one.
    pub(crate) chdir: Option<PathBuf>,
    pub(crate) no_new_privs: bool,
    pub(crate) dumpable: bool,
    pub(crate) seccomp: Option<SeccompFilter>,
}

const NOT_CONFIGURED: &str = "not configured";

fn not_root(euid: u32) -> String {
    format!("not root (euid {euid})")
}

impl Plan {
    /// Applies every step in order, recording each in `record`. Stops at the
    /// first error; what was applied until then stays applied, so the
    /// caller must not go on (the recipes say: exit).
    pub(crate) fn run(&self, record: &mut PrivsepRecord) -> Result<(), PrivsepError> {
        let euid = ids::effective_uid();
        let root = euid == 0;

        if !self.rlimits.is_empty() {
            self.rlimits.apply()?;
            record.applied(Step::Rlimits, self.rlimits.to_string());
        } else {
            record.skipped(Step::Rlimits, NOT_CONFIGURED);
        }

        match &self.keep_fds {
            Some(keep) => {
                fds::close_inherited_fds(keep)?;
                record.applied(Step::CloseFds, format!("kept {keep:?}"));
            }
            None => record.skipped(Step::CloseFds, NOT_CONFIGURED),
        }

        match &self.keep_env {
            Some(keep) => {
                let keep: Vec<&str> = keep.iter().map(String::as_str).collect();
                let removed = env::clear_env_except(&keep);
                record.applied(
                    Step::ClearEnv,
                    format!("kept {keep:?}, removed {}", removed.len()),
                );
            }
            None => record.skipped(Step::ClearEnv, NOT_CONFIGURED),
        }

        match (&self.chroot, root) {
            (Some(dir), true) => {
                chroot_and_chdir(dir, None)?;
                record.applied(Step::Chroot, format!("{} cwd /", dir.display()));
            }
            (Some(_), false) => record.skipped(Step::Chroot, not_root(euid)),
            (None, _) => record.skipped(Step::Chroot, NOT_CONFIGURED),
        }

        match caps::drop_bounding_set()? {
            BoundingSetDrop::Dropped { last_cap } => {
                record.applied(Step::BoundingSet, format!("dropped 0..={last_cap}"))
            }
            BoundingSetDrop::NotPermitted { remaining } => record.skipped(
                Step::BoundingSet,
                format!("no CAP_SETPCAP; still in the bounding set: {remaining:#x}"),
            ),
        }

        let target = &self.target;
        let groups_set = if root {
            ids::set_groups(&target.groups)?;
            record.applied(Step::Groups, format!("{:?}", target.groups));
            true
        } else {
            record.skipped(Step::Groups, not_root(euid));
            false
        };
        self.set_id(record, Step::Gid, root, euid)?;
        self.set_id(record, Step::Uid, root, euid)?;

        let check = TargetIds {
            groups: if groups_set {
                target.groups.clone()
            } else {
                current_groups()?
            },
            ..target.clone()
        };
        ids::verify_dropped(&check)?;
        record.applied(
            Step::VerifyIds,
            if target.uid != 0 {
                "ids as asked; setuid(0) and setgroups refused"
            } else {
                "ids as asked"
            },
        );

        // The home is entered as the user, so its permissions apply (as
        // Dovecot does); inside the chroot when there is one.
        if let Some(dir) = &self.chdir {
            std::env::set_current_dir(dir)
                .map_err(|e| PrivsepError::os(format!("chdir {}", dir.display()), e))?;
            record.applied(Step::Chdir, dir.display().to_string());
        }

        if self.no_new_privs {
            process::set_no_new_privs()?;
            record.applied(Step::NoNewPrivs, "1");
        } else {
            record.skipped(Step::NoNewPrivs, NOT_CONFIGURED);
        }

        caps::clear_capabilities()?;
        record.applied(
            Step::Capabilities,
            "effective, permitted, inheritable, ambient empty",
        );

        process::set_dumpable(self.dumpable)?;
        record.applied(Step::Dumpable, if self.dumpable { "1" } else { "0" });

        match &self.seccomp {
            Some(filter) => {
                filter.install()?;
                record.applied(
                    Step::Seccomp,
                    format!(
                        "{} syscalls allowed, otherwise {}",
                        filter.allowed().len(),
                        filter.action()
                    ),
                );
            }
            None => record.skipped(Step::Seccomp, NOT_CONFIGURED),
        }
        Ok(())
    }

    /// setgid or setuid. Without root the call is still made when the ids
    /// differ (the kernel allows switching to the real or saved id); when it
    /// is refused the recipe fails, since the process would run as the
    /// wrong user.
    fn set_id(
        &self,
        record: &mut PrivsepRecord,
        step: Step,
        root: bool,
        euid: u32,
    ) -> Result<(), PrivsepError> {
        let (id, current, name) = match step {
            Step::Gid => (self.target.gid, current_gid_triple()?, "setgid"),
            _ => (self.target.uid, current_uid_triple()?, "setuid"),
        };
        if !root && current == [id; 3] {
            record.skipped(step, format!("{}; already {id}", not_root(euid)));
            return Ok(());
        }
        let result = match step {
            Step::Gid => ids::set_gid(id),
            _ => ids::set_uid(id),
        };
        match result {
            Ok(()) => {
                record.applied(step, id.to_string());
                Ok(())
            }
            Err(e) if !root && e.raw_os_error() == Some(libc::EPERM) => {
                Err(PrivsepError::NeedsRoot { step: name, euid })
            }
            Err(e) => Err(e),
        }
    }
}

fn current_uid_triple() -> Result<[u32; 3], PrivsepError> {
    crate::sys::creds::res_uid().map_err(|e| PrivsepError::os("getresuid", e))
}

fn current_gid_triple() -> Result<[u32; 3], PrivsepError> {
    crate::sys::creds::res_gid().map_err(|e| PrivsepError::os("getresgid", e))
}

fn current_groups() -> Result<Vec<u32>, PrivsepError> {
    crate::sys::creds::groups().map_err(|e| PrivsepError::os("getgroups", e))
}

/// Checks a chroot directory before use: it must be a directory that
/// neither group nor others can write to.
pub(crate) fn check_chroot_dir(dir: &Path) -> Result<(), PrivsepError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(dir)
        .map_err(|e| PrivsepError::os(format!("stat {}", dir.display()), e))?;
    if !meta.is_dir() {
        return Err(PrivsepError::InvalidSetting {
            what: "chroot",
            reason: format!("{} is not a directory", dir.display()),
        });
    }
    if meta.permissions().mode() & 0o022 != 0 {
        return Err(PrivsepError::InvalidSetting {
            what: "chroot",
            reason: format!("{} is writable by group or others", dir.display()),
        });
    }
    Ok(())
}

//! Dropping user and group ids, process-wide, and proving the drop held.

use crate::sys::creds;
use crate::PrivsepError;

/// A user from the user database, with what the drop needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserEntry {
    /// Login name.
    pub name: String,
    /// Numeric user id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Home directory as the database has it.
    pub home: String,
    /// Login shell as the database has it.
    pub shell: String,
}

/// Looks a user up by name in the system user database (NSS).
///
/// Call it before chroot and before closing descriptors: NSS may need files
/// and sockets outside the chroot.
pub fn lookup_user(name: &str) -> Result<UserEntry, PrivsepError> {
    match creds::lookup_user(name) {
        Ok(Some(e)) => Ok(UserEntry {
            name: e.name,
            uid: e.uid,
            gid: e.gid,
            home: e.home,
            shell: e.shell,
        }),
        Ok(None) => Err(PrivsepError::UnknownUser {
            name: name.to_owned(),
        }),
        Err(e) => Err(PrivsepError::os(format!("getpwnam_r {name:?}"), e)),
    }
}

/// The groups `user` belongs to according to the group database, `gid`
/// included: what `initgroups(3)` would set.
pub fn user_groups(user: &str, gid: u32) -> Result<Vec<u32>, PrivsepError> {
    creds::group_list(user, gid).map_err(|e| PrivsepError::os(format!("getgrouplist {user:?}"), e))
}

/// The ids a process is dropped to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetIds {
    /// Real, effective and saved uid.
    pub uid: u32,
    /// Real, effective and saved gid.
    pub gid: u32,
    /// Supplementary groups (may be empty).
    pub groups: Vec<u32>,
}

/// The effective uid of this process.
pub fn effective_uid() -> u32 {
    creds::euid()
}

/// Whether this process runs as root (effective uid 0).
pub fn is_root() -> bool {
    creds::euid() == 0
}

/// Sets the supplementary groups of every thread (needs `CAP_SETGID`).
pub fn set_groups(groups: &[u32]) -> Result<(), PrivsepError> {
    creds::set_groups(groups).map_err(|e| PrivsepError::os(format!("setgroups {groups:?}"), e))
}

/// Sets real, effective and saved gid of every thread.
pub fn set_gid(gid: u32) -> Result<(), PrivsepError> {
    creds::set_res_gid(gid).map_err(|e| PrivsepError::os(format!("setresgid {gid}"), e))
}

/// Sets real, effective and saved uid of every thread. From root to a
/// non-zero uid this also empties the permitted and effective capabilities.
pub fn set_uid(uid: u32) -> Result<(), PrivsepError> {
    creds::set_res_uid(uid).map_err(|e| PrivsepError::os(format!("setresuid {uid}"), e))
}

/// Checks that every id is what `target` asks for, and that neither uid 0
/// nor gid 0 can be regained (unless the target is that id).
pub fn verify_dropped(target: &TargetIds) -> Result<(), PrivsepError> {
    let uids = creds::res_uid().map_err(|e| PrivsepError::os("getresuid", e))?;
    if uids != [target.uid; 3] {
        return Err(PrivsepError::VerifyFailed {
            what: "uid (real, effective, saved)",
            expected: format!("{:?}", [target.uid; 3]),
            actual: format!("{uids:?}"),
        });
    }
    let gids = creds::res_gid().map_err(|e| PrivsepError::os("getresgid", e))?;
    if gids != [target.gid; 3] {
        return Err(PrivsepError::VerifyFailed {
            what: "gid (real, effective, saved)",
            expected: format!("{:?}", [target.gid; 3]),
            actual: format!("{gids:?}"),
        });
    }
    let mut actual = creds::groups().map_err(|e| PrivsepError::os("getgroups", e))?;
    let mut expected = target.groups.clone();
    actual.sort_unstable();
    actual.dedup();
    expected.sort_unstable();
    expected.dedup();
    if actual != expected {
        return Err(PrivsepError::VerifyFailed {
            what: "supplementary groups",
            expected: format!("{expected:?}"),
            actual: format!("{actual:?}"),
        });
    }
    if target.uid != 0 {
        // A successful setuid(0) means the drop did not hold; the process
        // is root again and the caller must not go on.
        if creds::set_uid(0).is_ok() {
            return Err(PrivsepError::RootRegained { how: "setuid(0)" });
        }
        if target.gid != 0 && creds::set_gid(0).is_ok() {
            return Err(PrivsepError::RootRegained { how: "setgid(0)" });
        }
        if creds::set_groups(&[0]).is_ok() {
            return Err(PrivsepError::RootRegained {
                how: "setgroups([0])",
            });
        }
    }
    Ok(())
}

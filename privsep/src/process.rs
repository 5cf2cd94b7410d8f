//! Process attributes: no_new_privs, the dumpable flag, the thread count.

use crate::sys::prctl;
use crate::PrivsepError;

/// Sets no_new_privs: from now on execve grants no privileges (setuid and
/// setgid bits and file capabilities are ignored). It cannot be unset.
pub fn set_no_new_privs() -> Result<(), PrivsepError> {
    prctl::set_no_new_privs().map_err(|e| PrivsepError::os("prctl(PR_SET_NO_NEW_PRIVS)", e))?;
    match prctl::no_new_privs() {
        Ok(true) => Ok(()),
        Ok(false) => Err(PrivsepError::VerifyFailed {
            what: "no_new_privs",
            expected: "1".into(),
            actual: "0".into(),
        }),
        Err(e) => Err(PrivsepError::os("prctl(PR_GET_NO_NEW_PRIVS)", e)),
    }
}

/// Sets the dumpable flag. A process that held secrets should not be
/// dumpable: no core file, no ptrace by its own uid, `/proc/<pid>` owned by root.
pub fn set_dumpable(dumpable: bool) -> Result<(), PrivsepError> {
    prctl::set_dumpable(dumpable).map_err(|e| PrivsepError::os("prctl(PR_SET_DUMPABLE)", e))
}

/// Number of threads of this process (the `Threads:` line of `/proc/self/status`).
pub fn thread_count() -> Result<usize, PrivsepError> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| PrivsepError::os("read /proc/self/status", e))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| PrivsepError::InvalidSetting {
            what: "/proc/self/status",
            reason: "no Threads: line".into(),
        })
}

/// Fails unless the process runs a single thread.
pub fn ensure_single_threaded() -> Result<(), PrivsepError> {
    match thread_count()? {
        1 => Ok(()),
        threads => Err(PrivsepError::MultiThreaded { threads }),
    }
}

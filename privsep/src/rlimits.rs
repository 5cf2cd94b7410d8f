//! Resource limits: address space, data size, open files, processes, core size.

use std::fmt;

use crate::sys::rlimit;
use crate::PrivsepError;

/// Resource limits to set; `None` leaves a limit as inherited.
///
/// Each limit is set as both soft and hard limit, so the process cannot
/// raise it again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rlimits {
    /// `RLIMIT_AS`: bytes of virtual address space.
    pub address_space: Option<u64>,
    /// `RLIMIT_DATA`: bytes of data segment (heap and private mappings).
    pub data: Option<u64>,
    /// `RLIMIT_NOFILE`: one more than the highest descriptor number.
    pub open_files: Option<u64>,
    /// `RLIMIT_NPROC`: processes (threads included) of the real uid.
    pub processes: Option<u64>,
    /// `RLIMIT_CORE`: bytes of core file (0: none).
    pub core: Option<u64>,
}

impl Rlimits {
    /// Limits for a pre-auth login process: 256 MiB of address space (as
    /// Dovecot's default `vsz_limit`), 1024 descriptors, no core file, and
    /// no new processes: `RLIMIT_NPROC` counts threads too, so the login
    /// process stays single-threaded, like Dovecot's (its seccomp filter
    /// forbids `clone` anyway).
    pub fn login() -> Self {
        Rlimits {
            address_space: Some(256 * 1024 * 1024),
            data: None,
            open_files: Some(1024),
            processes: Some(0),
            core: Some(0),
        }
    }

    /// Whether no limit is set.
    pub fn is_empty(&self) -> bool {
        self.entries().next().is_none()
    }

    fn entries(&self) -> impl Iterator<Item = (&'static str, libc::c_int, u64)> {
        [
            ("as", libc::RLIMIT_AS as libc::c_int, self.address_space),
            ("data", libc::RLIMIT_DATA as libc::c_int, self.data),
            (
                "nofile",
                libc::RLIMIT_NOFILE as libc::c_int,
                self.open_files,
            ),
            ("nproc", libc::RLIMIT_NPROC as libc::c_int, self.processes),
            ("core", libc::RLIMIT_CORE as libc::c_int, self.core),
        ]
        .into_iter()
        .filter_map(|(name, res, value)| value.map(|v| (name, res, v)))
    }

    /// Sets every configured limit, soft and hard. Lowering is always
    /// allowed; raising a hard limit needs root.
    pub fn apply(&self) -> Result<(), PrivsepError> {
        for (name, resource, value) in self.entries() {
            rlimit::set_rlimit(resource, value, value)
                .map_err(|e| PrivsepError::os(format!("setrlimit {name}={value}"), e))?;
        }
        Ok(())
    }
}

impl fmt::Display for Rlimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (name, _, value) in self.entries() {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            write!(f, "{name}={value}")?;
        }
        if first {
            f.write_str("none")?;
        }
        Ok(())
    }
}

/// Soft and hard limit currently set for a resource (one of `libc::RLIMIT_*`).
pub fn current_rlimit(resource: libc::c_int) -> Result<(u64, u64), PrivsepError> {
    rlimit::rlimit(resource).map_err(|e| PrivsepError::os("getrlimit", e))
}

//! Reading a process's privileges from outside: `/proc/<pid>/status` and
//! `/proc/<pid>/root`, to audit a running login or post-login process (ours
//! or Dovecot's).

use std::fmt;
use std::path::PathBuf;

use crate::PrivsepError;

/// The privilege-related state of a process, as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessPrivileges {
    /// Process id.
    pub pid: u32,
    /// Command name (`comm`).
    pub name: String,
    /// Real, effective, saved and file-system uid.
    pub uid: [u32; 4],
    /// Real, effective, saved and file-system gid.
    pub gid: [u32; 4],
    /// Supplementary groups.
    pub groups: Vec<u32>,
    /// no_new_privs is set.
    pub no_new_privs: bool,
    /// Seccomp mode: 0 none, 1 strict, 2 filter.
    pub seccomp: u8,
    /// Effective capabilities.
    pub cap_effective: u64,
    /// Permitted capabilities.
    pub cap_permitted: u64,
    /// Bounding set.
    pub cap_bounding: u64,
    /// Ambient capabilities.
    pub cap_ambient: u64,
    /// Root directory (the chroot), when readable.
    pub root: Option<PathBuf>,
}

impl ProcessPrivileges {
    /// Reads the state of process `pid`.
    pub fn of_pid(pid: u32) -> Result<Self, PrivsepError> {
        let path = format!("/proc/{pid}/status");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| PrivsepError::os(format!("read {path}"), e))?;
        let mut me = Self::parse_status(pid, &text)?;
        me.root = std::fs::read_link(format!("/proc/{pid}/root")).ok();
        Ok(me)
    }

    /// Parses the text of a `/proc/<pid>/status` file. Fails, naming the
    /// line, when a field is missing or malformed.
    pub fn parse_status(pid: u32, text: &str) -> Result<Self, PrivsepError> {
        let field = |name: &'static str| -> Result<(usize, &str), PrivsepError> {
            text.lines()
                .enumerate()
                .find_map(|(i, line)| {
                    let (key, value) = line.split_once(':')?;
                    (key == name).then(|| (i + 1, value.trim()))
                })
                .ok_or_else(|| PrivsepError::InvalidSetting {
                    what: "/proc status",
                    reason: format!("no {name}: line"),
                })
        };
        let bad = |name: &str, line: usize, value: &str| PrivsepError::InvalidSetting {
            what: "/proc status",
            reason: format!("line {line}: {name}: {value:?} is malformed"),
        };
        let ids = |name: &'static str| -> Result<[u32; 4], PrivsepError> {
            let (line, value) = field(name)?;
            let parsed: Vec<u32> = value
                .split_whitespace()
                .map(str::parse)
                .collect::<Result<_, _>>()
                .map_err(|_| bad(name, line, value))?;
            parsed.try_into().map_err(|_| bad(name, line, value))
        };
        let hex = |name: &'static str| -> Result<u64, PrivsepError> {
            let (line, value) = field(name)?;
            u64::from_str_radix(value, 16).map_err(|_| bad(name, line, value))
        };
        let number = |name: &'static str| -> Result<u8, PrivsepError> {
            let (line, value) = field(name)?;
            value.parse().map_err(|_| bad(name, line, value))
        };
        let name = field("Name")?.1.to_owned();
        let uid = ids("Uid")?;
        let gid = ids("Gid")?;
        let (groups_line, groups_value) = field("Groups")?;
        let groups = groups_value
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<_, _>>()
            .map_err(|_| bad("Groups", groups_line, groups_value))?;
        Ok(ProcessPrivileges {
            pid,
            name,
            uid,
            gid,
            groups,
            no_new_privs: number("NoNewPrivs")? == 1,
            seccomp: number("Seccomp")?,
            cap_effective: hex("CapEff")?,
            cap_permitted: hex("CapPrm")?,
            cap_bounding: hex("CapBnd")?,
            cap_ambient: hex("CapAmb")?,
            root: None,
        })
    }
}

impl fmt::Display for ProcessPrivileges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [ruid, euid, suid, _] = self.uid;
        let [rgid, egid, sgid, _] = self.gid;
        write!(
            f,
            "pid {} ({}): uid {ruid}/{euid}/{suid} gid {rgid}/{egid}/{sgid} groups {:?} \
             no_new_privs {} seccomp {} cap_eff {:#x} cap_prm {:#x} cap_bnd {:#x} cap_amb {:#x}",
            self.pid,
            self.name,
            self.groups,
            u8::from(self.no_new_privs),
            match self.seccomp {
                0 => "none",
                1 => "strict",
                2 => "filter",
                _ => "unknown",
            },
            self.cap_effective,
            self.cap_permitted,
            self.cap_bounding,
            self.cap_ambient,
        )?;
        if let Some(root) = &self.root {
            write!(f, " root {}", root.display())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let me = ProcessPrivileges::of_pid(std::process::id()).unwrap();
        assert_eq!(me.uid[1], crate::ids::effective_uid());
        assert!(me
            .to_string()
            .starts_with(&format!("pid {}", std::process::id())));
    }

    #[test]
    fn malformed_lines_are_named() {
        let text = "Name:\tx\nUid:\t1 2 3\nGid:\t0 0 0 0\n";
        let err = ProcessPrivileges::parse_status(1, text).unwrap_err();
        assert!(err.to_string().contains("line 2: Uid"), "{err}");
        let err = ProcessPrivileges::parse_status(1, "").unwrap_err();
        assert!(err.to_string().contains("no Name: line"), "{err}");
    }
}

//! The seccomp filter of the pre-auth login process: an allow-list of the
//! system calls a Rust program needs to talk over descriptors it already
//! has, and nothing that reaches the file system or the network anew.
//!
//! The filter is a classic BPF program built here:
//!
//! 1. load the architecture from `seccomp_data`; anything but the one this
//!    crate was built for kills the process (a 32-bit or x32 syscall entry
//!    would otherwise reach a different syscall table);
//! 2. on x86_64, syscall numbers with the x32 bit set are killed;
//! 3. each allowed syscall number returns `ALLOW`; `ioctl` is allowed only
//!    for the commands listed (checked on its second argument);
//! 4. anything else gets the configured default action: kill the process
//!    (`SECCOMP_RET_KILL_PROCESS`, the process dies of `SIGSYS`) or fail with
//!    an errno.
//!
//! The list, and why each entry is in it, is [`login_allow_list`]. A
//! `panic = "abort"` or `abort()` still ends the process under the filter:
//! `tgkill` is not allowed, so raising `SIGABRT` fails and the C library
//! falls back to a faulting instruction, or the filter kills the process.
//! A panic prints its message and unwinds as usual, but with
//! `RUST_BACKTRACE` set, symbolizing the backtrace opens the executable and
//! the filter kills the process after the message: clear that variable
//! (the recipes' `clear_env_except`) in a filtered login process.

use std::fmt;

use crate::sys::prctl;
use crate::PrivsepError;

/// What the filter does with a system call not on the allow-list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeccompAction {
    /// Kill the whole process (it dies of `SIGSYS`).
    KillProcess,
    /// Fail the call with this errno (for example `libc::EPERM`), so the
    /// program sees an ordinary error.
    Errno(i32),
}

impl SeccompAction {
    fn ret_value(self) -> Result<u32, PrivsepError> {
        match self {
            SeccompAction::KillProcess => Ok(libc::SECCOMP_RET_KILL_PROCESS),
            SeccompAction::Errno(errno) => {
                let data = u32::try_from(errno)
                    .ok()
                    .filter(|&e| e > 0 && e <= libc::SECCOMP_RET_DATA)
                    .ok_or_else(|| PrivsepError::InvalidSetting {
                        what: "seccomp errno",
                        reason: format!("{errno} is not an errno value"),
                    })?;
                Ok(libc::SECCOMP_RET_ERRNO | data)
            }
        }
    }
}

impl fmt::Display for SeccompAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SeccompAction::KillProcess => f.write_str("kill-process"),
            SeccompAction::Errno(e) => write!(f, "errno {e}"),
        }
    }
}

/// One entry of the allow-list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllowedSyscall {
    /// The system call's name.
    pub name: &'static str,
    /// Its number on this architecture.
    pub number: i64,
    /// When set, the call is allowed only when its second argument (low 32
    /// bits) is one of these values.
    pub only_arg1: Option<&'static [u32]>,
    /// Why the login process needs it.
    pub why: &'static str,
}

/// `ioctl` commands a socket event loop uses: `FIONBIO` (std's
/// `set_nonblocking`), `FIONREAD` (bytes waiting), `FIOCLEX`/`FIONCLEX`.
/// Terminal ioctls such as `TIOCSTI` stay forbidden.
const IOCTL_COMMANDS: &[u32] = &[
    libc::FIONBIO as u32,
    libc::FIONREAD as u32,
    libc::FIOCLEX as u32,
    libc::FIONCLEX as u32,
];

macro_rules! allow {
    ($list:ident, $name:ident, $why:expr) => {
        $list.push(AllowedSyscall {
            name: stringify!($name),
            number: i64::from(paste_sys!($name)),
            only_arg1: None,
            why: $why,
        })
    };
}

macro_rules! paste_sys {
    (read) => {
        libc::SYS_read
    };
    (readv) => {
        libc::SYS_readv
    };
    (write) => {
        libc::SYS_write
    };
    (writev) => {
        libc::SYS_writev
    };
    (recvfrom) => {
        libc::SYS_recvfrom
    };
    (sendto) => {
        libc::SYS_sendto
    };
    (recvmsg) => {
        libc::SYS_recvmsg
    };
    (sendmsg) => {
        libc::SYS_sendmsg
    };
    (shutdown) => {
        libc::SYS_shutdown
    };
    (accept4) => {
        libc::SYS_accept4
    };
    (getsockname) => {
        libc::SYS_getsockname
    };
    (getpeername) => {
        libc::SYS_getpeername
    };
    (getsockopt) => {
        libc::SYS_getsockopt
    };
    (setsockopt) => {
        libc::SYS_setsockopt
    };
    (ppoll) => {
        libc::SYS_ppoll
    };
    (pselect6) => {
        libc::SYS_pselect6
    };
    (epoll_create1) => {
        libc::SYS_epoll_create1
    };
    (epoll_ctl) => {
        libc::SYS_epoll_ctl
    };
    (epoll_pwait) => {
        libc::SYS_epoll_pwait
    };
    (eventfd2) => {
        libc::SYS_eventfd2
    };
    (pipe2) => {
        libc::SYS_pipe2
    };
    (fcntl) => {
        libc::SYS_fcntl
    };
    (close) => {
        libc::SYS_close
    };
    (exit) => {
        libc::SYS_exit
    };
    (exit_group) => {
        libc::SYS_exit_group
    };
    (clock_gettime) => {
        libc::SYS_clock_gettime
    };
    (clock_getres) => {
        libc::SYS_clock_getres
    };
    (gettimeofday) => {
        libc::SYS_gettimeofday
    };
    (clock_nanosleep) => {
        libc::SYS_clock_nanosleep
    };
    (nanosleep) => {
        libc::SYS_nanosleep
    };
    (brk) => {
        libc::SYS_brk
    };
    (mmap) => {
        libc::SYS_mmap
    };
    (munmap) => {
        libc::SYS_munmap
    };
    (mremap) => {
        libc::SYS_mremap
    };
    (madvise) => {
        libc::SYS_madvise
    };
    (mprotect) => {
        libc::SYS_mprotect
    };
    (futex) => {
        libc::SYS_futex
    };
    (sched_yield) => {
        libc::SYS_sched_yield
    };
    (sigaltstack) => {
        libc::SYS_sigaltstack
    };
    (rt_sigreturn) => {
        libc::SYS_rt_sigreturn
    };
    (rt_sigprocmask) => {
        libc::SYS_rt_sigprocmask
    };
    (restart_syscall) => {
        libc::SYS_restart_syscall
    };
    (getrandom) => {
        libc::SYS_getrandom
    };
    (getpid) => {
        libc::SYS_getpid
    };
    (gettid) => {
        libc::SYS_gettid
    };
    (poll) => {
        libc::SYS_poll
    };
    (epoll_wait) => {
        libc::SYS_epoll_wait
    };
    (accept) => {
        libc::SYS_accept
    };
    (select) => {
        libc::SYS_select
    };
}

/// The system calls the login filter allows on this architecture, with the
/// reason for each.
// Syscall numbers are `c_long`, which is not `i64` on every target.
#[allow(clippy::useless_conversion)]
pub fn login_allow_list() -> Vec<AllowedSyscall> {
    let mut l = Vec::with_capacity(56);
    allow!(l, read, "read from a client or auth socket");
    allow!(l, readv, "vectored reads (std's read_vectored)");
    allow!(
        l,
        write,
        "write to a client or auth socket, and the log on stderr"
    );
    allow!(l, writev, "vectored writes (std's write_vectored, the log)");
    allow!(l, recvfrom, "std's socket reads (recv)");
    allow!(l, sendto, "std's socket writes (send)");
    allow!(
        l,
        recvmsg,
        "descriptor passing and credentials (SCM_RIGHTS)"
    );
    allow!(
        l,
        sendmsg,
        "hand a client connection to the post-login process"
    );
    allow!(l, shutdown, "half-close a connection");
    allow!(l, accept4, "accept clients on a listening socket passed in");
    allow!(
        l,
        getsockname,
        "local address of a client connection, for the log"
    );
    allow!(
        l,
        getpeername,
        "remote address of a client connection, for the log"
    );
    allow!(l, getsockopt, "SO_ERROR, SO_PEERCRED on existing sockets");
    allow!(
        l,
        setsockopt,
        "TCP_NODELAY and buffer sizes on existing sockets"
    );
    allow!(l, ppoll, "wait for I/O");
    allow!(l, pselect6, "wait for I/O");
    allow!(l, epoll_create1, "create an event loop");
    allow!(l, epoll_ctl, "register descriptors with an event loop");
    allow!(l, epoll_pwait, "wait for I/O in an event loop");
    allow!(l, eventfd2, "event loop wake-ups");
    allow!(l, pipe2, "event loop wake-ups (self-pipe)");
    allow!(
        l,
        fcntl,
        "O_NONBLOCK and FD_CLOEXEC on existing descriptors"
    );
    allow!(l, close, "drop descriptors");
    allow!(l, exit, "end a thread");
    allow!(l, exit_group, "end the process");
    allow!(
        l,
        clock_gettime,
        "the clock (when the vDSO falls back to a syscall)"
    );
    allow!(l, clock_getres, "the clock's resolution");
    allow!(l, gettimeofday, "the wall clock");
    allow!(l, clock_nanosleep, "sleep (timeouts, back-off)");
    allow!(l, nanosleep, "sleep (timeouts, back-off)");
    allow!(l, brk, "grow the heap (malloc)");
    allow!(l, mmap, "large allocations (malloc)");
    allow!(l, munmap, "free large allocations");
    allow!(l, mremap, "grow large allocations (realloc)");
    allow!(
        l,
        madvise,
        "return freed memory to the kernel (malloc trim)"
    );
    allow!(l, mprotect, "malloc grows non-main arenas with mprotect");
    allow!(l, futex, "locks, once-cells, std's stdout/stderr locks");
    allow!(l, sched_yield, "spin-lock back-off");
    allow!(
        l,
        sigaltstack,
        "std's stack-overflow guard (set up and torn down per thread)"
    );
    allow!(l, rt_sigreturn, "return from a signal handler");
    allow!(
        l,
        rt_sigprocmask,
        "signal masking in the C library (abort, exit)"
    );
    allow!(l, restart_syscall, "resume a sleep interrupted by a signal");
    allow!(l, getrandom, "hash-map seeds and TLS randomness");
    allow!(l, getpid, "std::process::id, for the log");
    allow!(l, gettid, "thread ids for the log");
    #[cfg(target_arch = "x86_64")]
    {
        allow!(l, poll, "wait for I/O (x86_64 has the old call)");
        allow!(
            l,
            epoll_wait,
            "wait for I/O in an event loop (x86_64 has the old call)"
        );
        allow!(l, accept, "accept clients (x86_64 has the old call)");
        allow!(l, select, "wait for I/O (x86_64 has the old call)");
    }
    l.push(AllowedSyscall {
        name: "ioctl",
        number: i64::from(libc::SYS_ioctl),
        only_arg1: Some(IOCTL_COMMANDS),
        why: "FIONBIO (std's set_nonblocking), FIONREAD, FIOCLEX/FIONCLEX only",
    });
    l
}

/// The `AUDIT_ARCH_*` value of the architecture this crate was built for.
fn audit_arch() -> Result<u32, PrivsepError> {
    if cfg!(target_arch = "x86_64") {
        Ok(0xC000_003E)
    } else if cfg!(target_arch = "aarch64") {
        Ok(0xC000_00B7)
    } else {
        Err(PrivsepError::UnsupportedArch {
            arch: std::env::consts::ARCH,
        })
    }
}

// Classic BPF opcodes (linux/filter.h); every value fits in the 16-bit code field.
const BPF_LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const BPF_JMP_JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const BPF_JMP_JGE_K: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
const BPF_RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;

// Offsets in `struct seccomp_data`.
const OFFSET_NR: u32 = 0;
const OFFSET_ARCH: u32 = 4;
/// Low 32 bits of `args[1]` (both supported architectures are little-endian).
const OFFSET_ARG1_LOW: u32 = 16 + 8;

/// First syscall number of the x32 ABI on x86_64.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

fn stmt(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// A compiled seccomp filter, ready to install.
#[derive(Clone)]
pub struct SeccompFilter {
    program: Vec<libc::sock_filter>,
    allowed: Vec<AllowedSyscall>,
    action: SeccompAction,
}

impl fmt::Debug for SeccompFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SeccompFilter")
            .field("instructions", &self.program.len())
            .field("allowed", &self.allowed.len())
            .field("action", &self.action)
            .finish()
    }
}

impl SeccompFilter {
    /// The login process's filter: [`login_allow_list`], anything else gets
    /// `action`.
    pub fn login(action: SeccompAction) -> Result<Self, PrivsepError> {
        Self::from_allow_list(login_allow_list(), action)
    }

    /// A filter allowing exactly `allowed`; anything else gets `action`.
    pub fn from_allow_list(
        allowed: Vec<AllowedSyscall>,
        action: SeccompAction,
    ) -> Result<Self, PrivsepError> {
        let arch = audit_arch()?;
        let deny = action.ret_value()?;
        let mut p = vec![
            stmt(BPF_LD_W_ABS, OFFSET_ARCH),
            jump(BPF_JMP_JEQ_K, arch, 1, 0),
            stmt(BPF_RET_K, libc::SECCOMP_RET_KILL_PROCESS),
            stmt(BPF_LD_W_ABS, OFFSET_NR),
        ];
        if cfg!(target_arch = "x86_64") {
            p.push(jump(BPF_JMP_JGE_K, X32_SYSCALL_BIT, 0, 1));
            p.push(stmt(BPF_RET_K, libc::SECCOMP_RET_KILL_PROCESS));
        }
        let nr = |s: &AllowedSyscall| {
            u32::try_from(s.number).map_err(|_| PrivsepError::InvalidSetting {
                what: "seccomp allow-list",
                reason: format!("{} has no number on this architecture", s.name),
            })
        };
        for s in allowed.iter().filter(|s| s.only_arg1.is_none()) {
            p.push(jump(BPF_JMP_JEQ_K, nr(s)?, 0, 1));
            p.push(stmt(BPF_RET_K, libc::SECCOMP_RET_ALLOW));
        }
        for s in allowed.iter() {
            let Some(values) = s.only_arg1 else { continue };
            // Block: load arg, two instructions per value, deny.
            let block = u8::try_from(1 + 2 * values.len() + 1).map_err(|_| {
                PrivsepError::InvalidSetting {
                    what: "seccomp allow-list",
                    reason: format!("too many argument values for {}", s.name),
                }
            })?;
            p.push(jump(BPF_JMP_JEQ_K, nr(s)?, 0, block));
            p.push(stmt(BPF_LD_W_ABS, OFFSET_ARG1_LOW));
            for &v in values {
                p.push(jump(BPF_JMP_JEQ_K, v, 0, 1));
                p.push(stmt(BPF_RET_K, libc::SECCOMP_RET_ALLOW));
            }
            p.push(stmt(BPF_RET_K, deny));
        }
        p.push(stmt(BPF_RET_K, deny));
        Ok(SeccompFilter {
            program: p,
            allowed,
            action,
        })
    }

    /// Number of BPF instructions.
    pub fn instruction_count(&self) -> usize {
        self.program.len()
    }

    /// The allowed system calls.
    pub fn allowed(&self) -> &[AllowedSyscall] {
        &self.allowed
    }

    /// What happens to a call not on the list.
    pub fn action(&self) -> SeccompAction {
        self.action
    }

    /// Installs the filter on every thread of the process. It cannot be
    /// removed. no_new_privs must be set first unless the process holds
    /// `CAP_SYS_ADMIN`.
    pub fn install(&self) -> Result<(), PrivsepError> {
        prctl::install_seccomp_filter(&self.program).map_err(|e| PrivsepError::os("seccomp", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<&'static str> {
        login_allow_list().iter().map(|s| s.name).collect()
    }

    #[test]
    fn what_std_needs_at_run_time_is_allowed() {
        let names = names();
        for needed in [
            "read",
            "write",
            "recvmsg",
            "sendmsg",
            "close",
            "exit_group",
            "futex",
            "sigaltstack",
            "munmap",
            "madvise",
            "rt_sigreturn",
            "restart_syscall",
            "getrandom",
            "epoll_pwait",
            "ppoll",
            "clock_gettime",
            "mmap",
            "brk",
        ] {
            assert!(names.contains(&needed), "{needed} missing");
        }
    }

    #[test]
    fn nothing_that_reaches_files_processes_or_ids() {
        let numbers: Vec<i64> = login_allow_list().iter().map(|s| s.number).collect();
        let mut forbidden = vec![
            libc::SYS_openat,
            libc::SYS_execve,
            libc::SYS_socket,
            libc::SYS_connect,
            libc::SYS_clone,
            libc::SYS_setresuid,
            libc::SYS_kill,
            libc::SYS_tgkill,
            libc::SYS_statx,
            libc::SYS_ptrace,
            libc::SYS_chdir,
        ];
        #[cfg(target_arch = "x86_64")]
        forbidden.extend([libc::SYS_open, libc::SYS_fork, libc::SYS_stat]);
        for nr in forbidden {
            #[allow(clippy::useless_conversion)]
            let nr = i64::from(nr);
            assert!(!numbers.contains(&nr), "syscall {nr} is allowed");
        }
        let mut sorted = numbers.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), numbers.len(), "duplicate entries");
    }

    #[test]
    fn program_shape() {
        let filter = SeccompFilter::login(SeccompAction::KillProcess).unwrap();
        let list = login_allow_list();
        let plain = list.iter().filter(|s| s.only_arg1.is_none()).count();
        let header = if cfg!(target_arch = "x86_64") { 6 } else { 4 };
        let ioctl = 1 + 1 + 2 * IOCTL_COMMANDS.len() + 1;
        assert_eq!(filter.instruction_count(), header + 2 * plain + ioctl + 1);
        // Last instruction: the default action.
        let last = filter.program.last().unwrap();
        assert_eq!(last.k, libc::SECCOMP_RET_KILL_PROCESS);
        let errno = SeccompFilter::login(SeccompAction::Errno(libc::EPERM)).unwrap();
        assert_eq!(
            errno.program.last().unwrap().k,
            libc::SECCOMP_RET_ERRNO | libc::EPERM as u32
        );
    }

    /// Runs the classic BPF program the way the kernel does, on a
    /// `seccomp_data` of `arch`, `nr` and `args[1]`.
    fn run(program: &[libc::sock_filter], arch: u32, nr: u32, arg1: u64) -> u32 {
        let mut data = [0u8; 64];
        data[0..4].copy_from_slice(&nr.to_ne_bytes());
        data[4..8].copy_from_slice(&arch.to_ne_bytes());
        data[24..32].copy_from_slice(&arg1.to_ne_bytes());
        let mut acc = 0u32;
        let mut pc = 0usize;
        loop {
            let insn = program[pc];
            pc += 1;
            match insn.code {
                BPF_LD_W_ABS => {
                    let k = insn.k as usize;
                    acc = u32::from_ne_bytes(data[k..k + 4].try_into().unwrap());
                }
                BPF_JMP_JEQ_K => pc += usize::from(if acc == insn.k { insn.jt } else { insn.jf }),
                BPF_JMP_JGE_K => pc += usize::from(if acc >= insn.k { insn.jt } else { insn.jf }),
                BPF_RET_K => return insn.k,
                other => panic!("unexpected opcode {other:#x}"),
            }
        }
    }

    #[test]
    fn the_program_decides_as_the_list_says() {
        let filter = SeccompFilter::login(SeccompAction::Errno(libc::EPERM)).unwrap();
        let deny = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;
        let arch = audit_arch().unwrap();
        let list = login_allow_list();
        for nr in 0..600u32 {
            let entry = list.iter().find(|s| s.number == i64::from(nr));
            let verdict = run(&filter.program, arch, nr, 0);
            match entry {
                Some(s) if s.only_arg1.is_none() => {
                    assert_eq!(verdict, libc::SECCOMP_RET_ALLOW, "{}", s.name)
                }
                _ => assert_eq!(verdict, deny, "syscall {nr}"),
            }
        }
        let ioctl = libc::SYS_ioctl as u32;
        for &cmd in IOCTL_COMMANDS {
            assert_eq!(
                run(&filter.program, arch, ioctl, u64::from(cmd)),
                libc::SECCOMP_RET_ALLOW
            );
        }
        // TIOCSTI would push input into a terminal.
        assert_eq!(run(&filter.program, arch, ioctl, 0x5412), deny);
        // Another architecture, or the x32 ABI, is killed whatever the call.
        let read = libc::SYS_read as u32;
        assert_eq!(
            run(&filter.program, 0x4000_0003, read, 0),
            libc::SECCOMP_RET_KILL_PROCESS
        );
        if cfg!(target_arch = "x86_64") {
            assert_eq!(
                run(&filter.program, arch, X32_SYSCALL_BIT | read, 0),
                libc::SECCOMP_RET_KILL_PROCESS
            );
        }
    }

    #[test]
    fn errno_must_be_an_errno() {
        for bad in [0, -1, 0x1_0000] {
            assert!(SeccompFilter::login(SeccompAction::Errno(bad)).is_err());
        }
    }
}

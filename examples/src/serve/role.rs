//! The roles of the process model and how the master starts them.
//!
//! The master starts every role as a new process of the same binary:
//! `columba serve --role <name> --config <file>`, with one end of a Unix
//! socket pair as standard input (the control channel, see
//! [`control`](super::control)) and, once the log role runs, a connection
//! to the log role as standard error. A role reads the configuration file
//! itself, before it drops any privilege.

use std::io::IsTerminal;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use columba_privsep::{FdChannel, PeerPolicy};

use super::config::Config;
use super::error::ServeError;

/// A role: one kind of process of the server (Dovecot's service names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The central log: takes every role's log lines, writes them out.
    Log,
    /// Connection counts per user and address, auth penalties.
    Anvil,
    /// passdb/userdb, the auth-client and auth-master sockets.
    Auth,
    /// Counters, read by `columba stats`.
    Stats,
    /// Queues cache-filling work after deliveries.
    Indexer,
    /// Fills one user's cache, as that user.
    IndexerWorker,
    /// Pre-auth IMAP: greeting, TLS, authentication.
    ImapLogin,
    /// Pre-auth POP3.
    Pop3Login,
    /// Post-login IMAP, as the user.
    Imap,
    /// Post-login POP3, as the user.
    Pop3,
    /// LMTP delivery.
    Lmtp,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 11] = [
        Role::Log,
        Role::Anvil,
        Role::Auth,
        Role::Stats,
        Role::Indexer,
        Role::IndexerWorker,
        Role::ImapLogin,
        Role::Pop3Login,
        Role::Imap,
        Role::Pop3,
        Role::Lmtp,
    ];

    /// The role's name: Dovecot's service name, also the log prefix.
    pub fn name(self) -> &'static str {
        match self {
            Role::Log => "log",
            Role::Anvil => "anvil",
            Role::Auth => "auth",
            Role::Stats => "stats",
            Role::Indexer => "indexer",
            Role::IndexerWorker => "indexer-worker",
            Role::ImapLogin => "imap-login",
            Role::Pop3Login => "pop3-login",
            Role::Imap => "imap",
            Role::Pop3 => "pop3",
            Role::Lmtp => "lmtp",
        }
    }

    /// The role named `name`.
    pub fn from_name(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == name)
    }
}

/// What a role process starts with.
pub struct RoleContext {
    /// Which role this process is.
    pub role: Role,
    /// The configuration, read from `config_path`.
    pub config: Config,
    /// The configuration file (to pass on to processes this role starts).
    pub config_path: PathBuf,
    /// The control channel to the master.
    pub control: FdChannel,
}

impl RoleContext {
    /// In a role process: reads the configuration and takes the control
    /// channel from standard input.
    pub fn from_stdin(role: Role, config_path: &Path) -> Result<RoleContext, ServeError> {
        let config = Config::load(config_path)?;
        let stdin = std::io::stdin();
        if stdin.is_terminal() {
            return Err(ServeError::Control(
                "roles are started by `columba serve`, not by hand".into(),
            ));
        }
        let fd = stdin
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| ServeError::io("control channel", e))?;
        let control = FdChannel::new(UnixStream::from(fd), PeerPolicy::any());
        Ok(RoleContext {
            role,
            config,
            config_path: config_path.to_path_buf(),
            control,
        })
    }
}

impl RoleContext {
    /// Waits until `client` or the control channel is readable (or hung
    /// up), or `tick` passes; says which of the two is ready.
    pub fn wait_readable(
        &self,
        client: &UnixStream,
        tick: std::time::Duration,
    ) -> std::io::Result<(bool, bool)> {
        use rustix::event::{poll, PollFd, PollFlags, Timespec};
        let mut fds = [
            PollFd::new(client, PollFlags::IN),
            PollFd::new(self.control.stream(), PollFlags::IN),
        ];
        let ts = Timespec {
            tv_sec: tick.as_secs() as _,
            tv_nsec: tick.subsec_nanos() as _,
        };
        match poll(&mut fds, Some(&ts)) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
        let ready = |f: &PollFd<'_>| {
            f.revents()
                .intersects(PollFlags::IN | PollFlags::HUP | PollFlags::ERR)
        };
        Ok((ready(&fds[0]), ready(&fds[1])))
    }
}

/// A role process the master started.
pub struct Spawned {
    /// The process.
    pub child: Child,
    /// The master's end of its control channel.
    pub control: FdChannel,
}

/// Starts `role` as a new process of this binary; `stderr` is where its
/// log lines go (the log role's socket), or the master's own standard
/// error when `None`.
pub fn spawn(
    role: Role,
    config_path: &Path,
    stderr: Option<OwnedFd>,
) -> Result<Spawned, ServeError> {
    let exe = std::env::current_exe().map_err(|e| ServeError::io("find own executable", e))?;
    let (master_end, child_end) =
        UnixStream::pair().map_err(|e| ServeError::io("control socket pair", e))?;
    let mut command = Command::new(exe);
    command
        .args(["serve", "--role", role.name(), "--config"])
        .arg(config_path)
        .stdin(Stdio::from(OwnedFd::from(child_end)))
        .stdout(Stdio::null())
        .env_clear();
    if let Some(fd) = stderr {
        command.stderr(Stdio::from(fd));
    }
    let child = command
        .spawn()
        .map_err(|e| ServeError::io(format!("start the {} role", role.name()), e))?;
    Ok(Spawned {
        child,
        control: FdChannel::new(master_end, PeerPolicy::any()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::from_name(role.name()), Some(role));
        }
        assert_eq!(Role::from_name("master"), None);
    }
}

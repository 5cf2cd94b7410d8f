//! Privilege separation for mail servers, as Dovecot does it: a pre-auth
//! login process that runs as an unprivileged user in an empty chroot, and a
//! post-login process that runs as the mail user; plus what Dovecot lacks, a
//! seccomp filter that stops a compromised login process from opening files.
//!
//! Descriptors (a client connection, a listener) move between the processes
//! over Unix sockets in small, bounded frames, and the receiver checks who
//! sent them:
//!
//! ```
//! use std::io::{Read, Seek, Write};
//! use std::os::fd::AsFd;
//! use columba_privsep::{FdChannel, PeerPolicy, PostLoginRecipe, PrivsepError};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A login process hands a descriptor to a post-login process.
//! let (mut login, mut post_login) = FdChannel::pair()?;
//! let mut file = tempfile::tempfile()?;
//! file.write_all(b"client connection")?;
//! file.rewind()?;
//! login.send(b"user=alice", &[file.as_fd()])?;
//!
//! let frame = post_login.recv()?.expect("a frame");
//! assert_eq!(frame.payload, b"user=alice");
//! assert_eq!(frame.peer.pid, std::process::id() as i32);
//! let mut received = std::fs::File::from(frame.fds.into_iter().next().unwrap());
//! let mut text = String::new();
//! received.read_to_string(&mut text)?;
//! assert_eq!(text, "client connection");
//!
//! // A post-login process never runs as root, nor below first_valid_uid.
//! let refused = PostLoginRecipe::new(0, 0).validate();
//! assert!(matches!(refused, Err(PrivsepError::RefusedUid { uid: 0, .. })));
//! assert!(PostLoginRecipe::new(100, 100).first_valid_uid(1000).validate().is_err());
//! # Ok(())
//! # }
//! ```
//!
//! Applying a recipe changes the calling process for good, so it is the
//! first thing a freshly started login or post-login process does, while it
//! still has a single thread:
//!
//! ```no_run
//! use columba_privsep::{LoginProcessRecipe, SeccompAction};
//!
//! let record = LoginProcessRecipe::for_user("dovenull")
//!     .chroot("/run/columba/empty")
//!     .close_fds_except(&[0, 1, 2, 3])
//!     .clear_env_except(&["TZ"])
//!     .seccomp(Some(SeccompAction::KillProcess))
//!     .apply()
//!     .expect("privilege separation");
//! eprintln!("login process: {record}");
//! ```
//!
//! Layers: `sys` holds every system call (the only `unsafe` code, each block
//! with its reason); the modules above it are safe steps (ids, chroot,
//! rlimits, capabilities, seccomp, descriptors, environment); `recipe`
//! orders them; `fdpass` carries descriptors; `inspect` reads another
//! process's privileges from `/proc` for audits and tests.
#![deny(unsafe_code)]

pub mod caps;
pub mod chroot;
pub mod env;
mod error;
pub mod fdpass;
pub mod fds;
pub mod ids;
pub mod inspect;
pub mod process;
mod recipe;
mod record;
pub mod rlimits;
pub mod seccomp;
mod sys;

pub use error::PrivsepError;
pub use fdpass::{FdChannel, FrameLimits, PeerCred, PeerPolicy, ReceivedFrame};
pub use inspect::ProcessPrivileges;
pub use recipe::{LoginProcessRecipe, LoginUser, PostLoginRecipe, DEFAULT_FIRST_VALID_UID};
pub use record::{Outcome, PrivsepRecord, Step, StepRecord};
pub use rlimits::Rlimits;
pub use seccomp::{SeccompAction, SeccompFilter};

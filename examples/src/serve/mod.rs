//! The Columba server: Dovecot 2.3's process model over the Columba crates.
//!
//! ```text
//!                    master (root): config, listeners, starts/reaps roles
//!      +----------------+-------------+---------+---------+-----------+
//!     log            anvil          auth      stats     indexer ---> indexer-worker (as user)
//!  (all stderr)  (user+ip counts,  (auth-client,                    fills the cache
//!                 penalties)        auth-master)
//!
//!  client --TCP--> master accepts --fd--> imap-login / pop3-login
//!                                          (login user, chroot, no_new_privs, seccomp;
//!                                           TLS; SASL relayed to auth-client)
//!                 login --HANDOFF+fd+cookie--> master --> imap / pop3 (post-login)
//!                   (TLS stays in the login        auth-master REQUEST(cookie) -> userdb,
//!                    process, which proxies)       drop to the user's uid/gid, then open
//!                                                  the mailbox, serve the session
//!  MTA --LMTP--> master accepts --fd--> lmtp (delivers as each recipient)
//! ```
//!
//! Every role is a process of the same binary (`columba serve --role
//! <name>`, see [`role`]); the master talks to each over a control channel
//! ([`control`]). Sessions themselves are `columba-session`'s sans-IO state
//! machines; this module holds only the adapters: sockets, TLS, processes
//! and privileges.

pub mod anvil;
pub mod auth;
pub mod config;
pub mod control;
pub mod demo;
pub mod dispatch;
pub mod error;
pub mod indexer;
pub mod lmtp;
pub mod log;
pub mod login;
pub mod master;
pub mod post_login;
pub mod role;
pub mod singleton;
pub mod stats;
pub mod tls;
pub mod user;

pub use config::Config;

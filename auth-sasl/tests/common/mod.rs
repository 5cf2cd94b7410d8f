//! Helpers shared by the socket tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use columba_auth_sasl::db::{PassDb, PasswdFile, UserDb};
use columba_auth_sasl::server::unix::{dovecot_sockets, AuthService};
use columba_auth_sasl::server::{AuthConfig, AuthServer};

/// A Columba auth service on a temporary directory with a passwd-file.
pub struct TestService {
    /// The running service (dropped first).
    pub service: Option<AuthService>,
    /// Sockets and the passwd-file live here.
    pub dir: tempfile::TempDir,
}

impl TestService {
    /// Starts a service on `passwd`, letting `tweak` adjust the configuration.
    pub fn start(passwd: &str, tweak: impl FnOnce(&mut AuthConfig)) -> TestService {
        let dir = tempfile::tempdir().unwrap();
        let users = dir.path().join("users");
        std::fs::write(&users, passwd).unwrap();
        let file = Arc::new(PasswdFile::new(users.to_str().unwrap()));
        let mut config = AuthConfig {
            mechanisms: [
                "PLAIN",
                "LOGIN",
                "CRAM-MD5",
                "SCRAM-SHA-1",
                "SCRAM-SHA-256",
                "ANONYMOUS",
                "EXTERNAL",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            passdbs: vec![file.clone() as Arc<dyn PassDb>],
            userdbs: vec![file as Arc<dyn UserDb>],
            failure_delay: Duration::from_millis(10),
            penalty: false,
            worker_threads: 2,
            ..AuthConfig::default()
        };
        tweak(&mut config);
        let server = Arc::new(AuthServer::new(config));
        let service = AuthService::start(server, &dovecot_sockets(dir.path())).unwrap();
        TestService {
            dir,
            service: Some(service),
        }
    }

    /// A socket path (`auth-client`, `auth-login`, `auth-master`, `auth-userdb`).
    pub fn socket(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The passwd-file.
    pub fn users_file(&self) -> PathBuf {
        self.dir.path().join("users")
    }
}

/// AUTH/lookup parameters for `service` from 127.0.0.2.
pub fn params(service: &str) -> Vec<String> {
    vec![
        format!("service={service}"),
        "rip=127.0.0.2".into(),
        "lip=127.0.0.1".into(),
    ]
}

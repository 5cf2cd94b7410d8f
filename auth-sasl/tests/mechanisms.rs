//! The mechanisms' sans-IO state machines, client against server in memory,
//! and the token/EXTERNAL/ANONYMOUS paths through a real socket.

mod common;

use std::sync::Arc;

use columba_auth_sasl::db::TokenValidator;
use columba_auth_sasl::password::{Scheme, StoredPassword};
use columba_auth_sasl::protocol::client::UnixAuthClient;
use columba_auth_sasl::sasl::{
    client_mechanism, server_mechanism, ChannelBinding, ClientCredentials, MechError,
    ServerOptions, ServerStep,
};
use common::{params, TestService};

/// Runs client and server against each other; answers credential requests with `stored`.
fn run(
    mech: &str,
    client: ClientCredentials,
    options: &ServerOptions,
    stored: &StoredPassword,
) -> Result<ServerStep, MechError> {
    let mut c = client_mechanism(mech, client).unwrap();
    let mut s = server_mechanism(mech, options).unwrap();
    let mut input = if c.has_initial_response() {
        Some(c.step(None).unwrap())
    } else {
        None
    };
    for _ in 0..6 {
        let mut step = s.step(input.as_deref())?;
        if let ServerStep::NeedCredentials { .. } = step {
            step = s.credentials(Some(stored))?;
        }
        match step {
            ServerStep::Challenge(ch) => input = Some(c.step(Some(&ch)).unwrap()),
            ServerStep::Success { final_data, .. } => {
                c.finish(final_data.as_deref()).unwrap();
                return Ok(ServerStep::Success {
                    authcid: String::new(),
                    authzid: None,
                    final_data,
                });
            }
            other => return Ok(other),
        }
    }
    panic!("{mech}: too many steps");
}

#[test]
fn scram_plus_checks_channel_binding() {
    let binding = ChannelBinding {
        kind: "tls-exporter".into(),
        data: b"exported keying material".to_vec(),
    };
    let options = ServerOptions {
        channel_binding: Some(binding.clone()),
        ..ServerOptions::default()
    };
    let stored = StoredPassword::new(Scheme::Plain, "pencil");
    let mut creds = ClientCredentials::new("user", "pencil");
    creds.channel_binding = Some(binding.clone());
    for mech in ["SCRAM-SHA-1-PLUS", "SCRAM-SHA-256-PLUS"] {
        assert!(
            matches!(
                run(mech, creds.clone(), &options, &stored),
                Ok(ServerStep::Success { .. })
            ),
            "{mech}"
        );
    }
    // Different binding data (a man in the middle): rejected.
    let mut other = creds.clone();
    other.channel_binding = Some(ChannelBinding {
        kind: "tls-exporter".into(),
        data: b"other".to_vec(),
    });
    assert!(run("SCRAM-SHA-256-PLUS", other, &options, &stored).is_err());
    // A -PLUS server refuses clients that don't bind.
    let mut c =
        client_mechanism("SCRAM-SHA-256", ClientCredentials::new("user", "pencil")).unwrap();
    let mut s = server_mechanism("SCRAM-SHA-256-PLUS", &options).unwrap();
    assert!(s.step(Some(&c.step(None).unwrap())).is_err());
    // Without binding data there is no -PLUS server.
    assert!(server_mechanism("SCRAM-SHA-256-PLUS", &ServerOptions::default()).is_none());
}

#[test]
fn scram_wrong_password_and_tampered_messages_fail() {
    let stored = StoredPassword::new(Scheme::Plain, "pencil");
    let o = ServerOptions::default();
    assert_eq!(
        run(
            "SCRAM-SHA-256",
            ClientCredentials::new("user", "wrong"),
            &o,
            &stored
        )
        .err(),
        Some(MechError::Failed)
    );
    let mut s = server_mechanism("SCRAM-SHA-1", &o).unwrap();
    assert!(s.step(Some(b"x,,n=user,r=abc")).is_err());
    let mut s = server_mechanism("SCRAM-SHA-1", &o).unwrap();
    assert!(s.step(Some(b"n,,n=us=ZZer,r=abc")).is_err());
}

#[test]
fn authzid_travels_in_plain_and_scram() {
    let stored = StoredPassword::new(Scheme::Plain, "pw");
    let o = ServerOptions::default();
    let mut c = client_mechanism(
        "PLAIN",
        ClientCredentials::new("admin", "pw").authzid("alice"),
    )
    .unwrap();
    let mut s = server_mechanism("PLAIN", &o).unwrap();
    match s.step(Some(&c.step(None).unwrap())).unwrap() {
        ServerStep::VerifyPlain {
            authcid, authzid, ..
        } => {
            assert_eq!(
                (authcid.as_str(), authzid.as_deref()),
                ("admin", Some("alice"))
            )
        }
        other => panic!("{other:?}"),
    }
    let mut c = client_mechanism(
        "SCRAM-SHA-256",
        ClientCredentials::new("ad,min", "pw").authzid("al=ice"),
    )
    .unwrap();
    let mut s = server_mechanism("SCRAM-SHA-256", &o).unwrap();
    match s.step(Some(&c.step(None).unwrap())).unwrap() {
        ServerStep::NeedCredentials { authcid, authzid } => {
            assert_eq!(
                (authcid.as_str(), authzid.as_deref()),
                ("ad,min", Some("al=ice"))
            )
        }
        other => panic!("{other:?}"),
    }
    let _ = stored;
}

#[test]
fn password_debug_output_is_redacted() {
    let mut c = client_mechanism("PLAIN", ClientCredentials::new("u", "hunter2")).unwrap();
    let mut s = server_mechanism("PLAIN", &ServerOptions::default()).unwrap();
    let step = s.step(Some(&c.step(None).unwrap())).unwrap();
    assert!(!format!("{step:?}").contains("hunter2"));
    assert!(!format!("{:?}", ClientCredentials::new("u", "hunter2")).contains("hunter2"));
}

struct FixedToken;

impl TokenValidator for FixedToken {
    fn validate(&self, user: &str, token: &[u8]) -> bool {
        user == "alice" && token == b"good-token"
    }
}

#[test]
fn tokens_external_and_anonymous_over_the_socket() {
    let s = TestService::start("alice:{PLAIN}alicepw:5000:5000::/home/alice\n", |c| {
        c.mechanisms
            .extend(["OAUTHBEARER".to_string(), "XOAUTH2".to_string()]);
        c.token_validator = Some(Arc::new(FixedToken));
    });
    let mut c = UnixAuthClient::connect(&s.socket("auth-client")).unwrap();
    for mech in ["OAUTHBEARER", "XOAUTH2"] {
        let out = c
            .authenticate(
                mech,
                ClientCredentials::new("alice", "good-token"),
                &params("imap"),
            )
            .unwrap();
        assert!(out.success, "{mech}: {out:?}");
        let out = c
            .authenticate(
                mech,
                ClientCredentials::new("alice", "bad-token"),
                &params("imap"),
            )
            .unwrap();
        assert!(!out.success, "{mech}");
    }
    let mut p = params("imap");
    p.extend([
        "valid-client-cert".to_string(),
        "cert_username=alice".to_string(),
    ]);
    let out = c
        .authenticate("EXTERNAL", ClientCredentials::new("", ""), &p)
        .unwrap();
    assert!(out.success, "{out:?}");
    assert_eq!(out.user.as_deref(), Some("alice"));
    // No verified certificate: no EXTERNAL.
    assert!(
        !c.authenticate("EXTERNAL", ClientCredentials::new("", ""), &params("imap"))
            .unwrap()
            .success
    );
    let out = c
        .authenticate(
            "ANONYMOUS",
            ClientCredentials::new("trace", ""),
            &params("imap"),
        )
        .unwrap();
    assert!(out.success);
    assert_eq!(out.user.as_deref(), Some("anonymous"));
    assert!(out.fields.contains("anonymous"));
}

#[test]
fn failures_from_an_ip_delay_its_next_requests() {
    let s = TestService::start("alice:{PLAIN}alicepw\n", |c| {
        c.penalty = true;
        c.failure_delay = std::time::Duration::from_millis(50);
    });
    let mut c = UnixAuthClient::connect(&s.socket("auth-client")).unwrap();
    let p = params("imap");
    let t = std::time::Instant::now();
    assert!(
        !c.authenticate("PLAIN", ClientCredentials::new("alice", "x"), &p)
            .unwrap()
            .success
    );
    assert!(
        t.elapsed() >= std::time::Duration::from_millis(50),
        "failure not delayed"
    );
    // The next request from that IP waits out the 2 s penalty...
    let t = std::time::Instant::now();
    assert!(
        c.authenticate("PLAIN", ClientCredentials::new("alice", "alicepw"), &p)
            .unwrap()
            .success
    );
    assert!(
        t.elapsed() >= std::time::Duration::from_millis(1500),
        "{:?}",
        t.elapsed()
    );
    // ... which success cleared; `no-penalty` requests never wait.
    let t = std::time::Instant::now();
    assert!(
        c.authenticate("PLAIN", ClientCredentials::new("alice", "alicepw"), &p)
            .unwrap()
            .success
    );
    assert!(t.elapsed() < std::time::Duration::from_millis(1000));
    assert!(
        !c.authenticate("PLAIN", ClientCredentials::new("alice", "x"), &p)
            .unwrap()
            .success
    );
    let mut np = p.clone();
    np.push("no-penalty".into());
    let t = std::time::Instant::now();
    assert!(
        c.authenticate("PLAIN", ClientCredentials::new("alice", "alicepw"), &np)
            .unwrap()
            .success
    );
    assert!(t.elapsed() < std::time::Duration::from_millis(1000));
}

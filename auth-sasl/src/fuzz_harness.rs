//! Entry points for the fuzz targets in `fuzz/fuzz_targets/auth_*.rs`; the
//! crate's tests replay the committed corpora through the same functions.
//! Each must never panic, whatever the input.

use std::time::Instant;

use crate::db::parse_passwd_file;
use crate::password::{Scheme, StoredPassword};
use crate::protocol::client::AuthClient;
use crate::protocol::commands::{parse_client_command, parse_master_command};
use crate::protocol::master_client::parse_master_reply;
use crate::protocol::server_conn::{Action, BackendReply, ClientConnection, ConnectionInfo};
use crate::sasl::{server_mechanism, ServerOptions, ServerStep, MECHANISMS};
use crate::server::{AuthFailure, AuthVerdict};

/// Feeds bytes to a server-side auth-client connection (all mechanisms
/// offered), answering every backend job with a failure, plus the line parser.
pub fn client_protocol(data: &[u8]) {
    for line in data.split(|&b| b == b'\n') {
        let _ = parse_client_command(line);
    }
    let info = ConnectionInfo {
        server_pid: 1,
        connection_id: 1,
        cookie: "00".repeat(16),
        login: true,
    };
    let mechs: Vec<String> = MECHANISMS.iter().map(|(m, _)| m.to_string()).collect();
    let (mut conn, _) = ClientConnection::new(info, &mechs, ServerOptions::default());
    let mut actions = conn.feed(b"VERSION\t1\t2\nCPID\t7\n", Instant::now());
    actions.extend(conn.feed(data, Instant::now()));
    let mut rounds = 0;
    while !actions.is_empty() && rounds < 100 {
        rounds += 1;
        let mut next = Vec::new();
        for a in actions {
            if let Action::Backend { id, .. } = a {
                let reply =
                    BackendReply::Verdict(AuthVerdict::Fail(AuthFailure::credentials(None)));
                next.extend(conn.backend_done(id, reply));
            }
        }
        actions = next;
    }
}

/// The master protocol: command parser, reply parser, and the auth-client
/// client's reply handling.
pub fn master_protocol(data: &[u8]) {
    for line in data.split(|&b| b == b'\n') {
        let _ = parse_master_command(line);
        let _ = parse_master_reply(line);
    }
    let (mut client, _) = AuthClient::new(1);
    let _ = client.feed(data);
}

/// Parses a passwd-file and every fast password in it.
pub fn passwd_file(data: &[u8]) {
    let (entries, _) = parse_passwd_file(data, std::path::Path::new("fuzz"));
    for e in entries {
        password(e.password.as_bytes());
    }
}

/// Parses a stored password and verifies a fixed password against it, for
/// the schemes cheap enough to fuzz (crypt/bcrypt/PBKDF2/SCRAM/Argon2 costs
/// come from the input and are skipped).
pub fn password(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(stored) = StoredPassword::parse(text, Scheme::Plain) {
        let _ = stored.cram_md5_state();
        if !stored.scheme.is_slow() || matches!(stored.scheme, Scheme::DesCrypt | Scheme::Md5Crypt)
        {
            let _ = stored.verify(b"secret", "user@example.com");
        }
    }
}

/// Runs one server mechanism over the input: the first byte picks the
/// mechanism, the rest is split at 0xFF into client messages; credentials
/// requests are answered with `{PLAIN}secret`.
pub fn mechanism_server(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let (name, _) = MECHANISMS[pick as usize % MECHANISMS.len()];
    let options = ServerOptions {
        channel_binding: Some(crate::sasl::ChannelBinding {
            kind: "tls-exporter".into(),
            data: vec![1, 2, 3],
        }),
        ..ServerOptions::default()
    };
    let Some(mut mech) = server_mechanism(name, &options) else {
        return;
    };
    let stored = StoredPassword::new(Scheme::Plain, "secret");
    let mut first = true;
    for msg in rest.split(|&b| b == 0xff) {
        let input = if first && msg.is_empty() {
            None
        } else {
            Some(msg)
        };
        first = false;
        let mut step = mech.step(input);
        // Answer credential requests (fast: SCRAM derivation from PLAIN uses 4096 rounds; keep it bounded).
        for _ in 0..2 {
            match step {
                Ok(ServerStep::NeedCredentials { .. }) => step = mech.credentials(Some(&stored)),
                Ok(ServerStep::VerifyToken { .. }) => {
                    let _ = mech.token_rejected();
                    break;
                }
                _ => break,
            }
        }
        if step.is_err() {
            break;
        }
    }
}

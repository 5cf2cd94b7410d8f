//! Replays every committed fuzz corpus file of this crate's targets under
//! plain `cargo test`.

use std::path::PathBuf;

use columba_auth_sasl::fuzz_harness;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        run(&data);
        n += 1;
    }
    assert!(n > 0, "empty corpus {}", dir.display());
}

#[test]
fn auth_client_line() {
    replay("auth_client_line", fuzz_harness::client_protocol);
}

#[test]
fn auth_master_line() {
    replay("auth_master_line", fuzz_harness::master_protocol);
}

#[test]
fn auth_passwd_file() {
    replay("auth_passwd_file", fuzz_harness::passwd_file);
}

#[test]
fn auth_password() {
    replay("auth_password", fuzz_harness::password);
}

#[test]
fn auth_mech_server() {
    replay("auth_mech_server", fuzz_harness::mechanism_server);
}

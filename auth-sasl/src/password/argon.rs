//! ARGON2I / ARGON2ID in libsodium's `crypto_pwhash_str` format.

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine as _;

use super::{ct_eq, random::random_bytes, Scheme};
use crate::{Error, Result};

fn algorithm(scheme: Scheme) -> (argon2::Algorithm, &'static str, &'static str) {
    if scheme == Scheme::Argon2i {
        (argon2::Algorithm::Argon2i, "argon2i", "ARGON2I")
    } else {
        (argon2::Algorithm::Argon2id, "argon2id", "ARGON2ID")
    }
}

/// Verifies `$argon2X$v=19$m=M,t=T,p=P$salt$hash`.
pub(super) fn verify(scheme: Scheme, value: &str, password: &[u8]) -> Result<bool> {
    let (alg, id, name) = algorithm(scheme);
    let bad = |why: &str| Error::malformed(name, why.to_string());
    let parts: Vec<&str> = value.split('$').collect();
    if parts.len() != 6 || !parts[0].is_empty() || parts[1] != id {
        return Err(bad("expected $argon2…$v=…$m=…,t=…,p=…$salt$hash"));
    }
    if parts[2] != "v=19" {
        return Err(bad("only version 19 is supported"));
    }
    let (mut m, mut t, mut p) = (None, None, None);
    for kv in parts[3].split(',') {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| bad("malformed parameter"))?;
        let v: u32 = v.parse().map_err(|_| bad("parameter is not a number"))?;
        match k {
            "m" => m = Some(v),
            "t" => t = Some(v),
            "p" => p = Some(v),
            _ => return Err(bad("unknown parameter")),
        }
    }
    let (m, t, p) = (
        m.ok_or_else(|| bad("missing m"))?,
        t.ok_or_else(|| bad("missing t"))?,
        p.ok_or_else(|| bad("missing p"))?,
    );
    // Bound the memory a stored string can make us allocate (4 GiB in KiB).
    if m > 4 * 1024 * 1024 || t > 1024 || p > 255 {
        return Err(bad("cost parameters out of range"));
    }
    let salt = STANDARD_NO_PAD
        .decode(parts[4])
        .map_err(|_| bad("salt is not base64"))?;
    let hash = STANDARD_NO_PAD
        .decode(parts[5])
        .map_err(|_| bad("hash is not base64"))?;
    let params = argon2::Params::new(m, t, p, Some(hash.len())).map_err(|e| bad(&e.to_string()))?;
    let ctx = argon2::Argon2::new(alg, argon2::Version::V0x13, params);
    let mut out = vec![0u8; hash.len()];
    ctx.hash_password_into(password, &salt, &mut out)
        .map_err(|e| bad(&e.to_string()))?;
    Ok(ct_eq(&out, &hash))
}

/// Generates a string with the parameters `doveadm pw` uses by default
/// (ARGON2I: m=32768,t=4; ARGON2ID: m=65536,t=3); `rounds` overrides t.
pub(super) fn generate(scheme: Scheme, password: &[u8], rounds: Option<u32>) -> Result<String> {
    let (alg, id, name) = algorithm(scheme);
    let (m, default_t) = if scheme == Scheme::Argon2i {
        (32768, 4)
    } else {
        (65536, 3)
    };
    let t = rounds.unwrap_or(default_t).max(1);
    let params = argon2::Params::new(m, t, 1, Some(32))
        .map_err(|e| Error::malformed(name, e.to_string()))?;
    let salt = random_bytes(16);
    let mut out = [0u8; 32];
    argon2::Argon2::new(alg, argon2::Version::V0x13, params)
        .hash_password_into(password, &salt, &mut out)
        .map_err(|e| Error::malformed(name, e.to_string()))?;
    Ok(format!(
        "${id}$v=19$m={m},t={t},p=1${}${}",
        STANDARD_NO_PAD.encode(salt),
        STANDARD_NO_PAD.encode(out)
    ))
}

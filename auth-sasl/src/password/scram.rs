//! SCRAM credentials (RFC 5802 / RFC 7677): the `{SCRAM-SHA-1}` and
//! `{SCRAM-SHA-256}` stored form `<iterations>,<b64 salt>,<b64 StoredKey>,<b64 ServerKey>`.

use base64::Engine as _;
use hmac::{KeyInit, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::password::B64;
use crate::{Error, Result};

/// The hash function of a SCRAM variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScramHash {
    /// SCRAM-SHA-1.
    Sha1,
    /// SCRAM-SHA-256.
    Sha256,
}

/// Dovecot's default SCRAM iteration count.
pub const SCRAM_DEFAULT_ITERATIONS: u32 = 4096;
/// Upper bound accepted when reading stored credentials or a server-first message.
pub const SCRAM_MAX_ITERATIONS: u32 = 10_000_000;

impl ScramHash {
    /// The mechanism / scheme name.
    pub fn name(self) -> &'static str {
        match self {
            ScramHash::Sha1 => "SCRAM-SHA-1",
            ScramHash::Sha256 => "SCRAM-SHA-256",
        }
    }

    /// H(data).
    pub fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            ScramHash::Sha1 => Sha1::digest(data).to_vec(),
            ScramHash::Sha256 => Sha256::digest(data).to_vec(),
        }
    }

    /// HMAC(key, data).
    pub fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        match self {
            ScramHash::Sha1 => {
                let mut m =
                    <hmac::Hmac<Sha1> as KeyInit>::new_from_slice(key).expect("HMAC takes any key");
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }
            ScramHash::Sha256 => {
                let mut m = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key)
                    .expect("HMAC takes any key");
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }
        }
    }

    /// Hi(password, salt, iterations) = PBKDF2-HMAC-H.
    pub fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            ScramHash::Sha1 => {
                let mut out = vec![0u8; 20];
                pbkdf2::pbkdf2::<hmac::Hmac<Sha1>>(password, salt, iterations, &mut out)
                    .expect("HMAC takes any key");
                out
            }
            ScramHash::Sha256 => {
                let mut out = vec![0u8; 32];
                pbkdf2::pbkdf2::<hmac::Hmac<Sha256>>(password, salt, iterations, &mut out)
                    .expect("HMAC takes any key");
                out
            }
        }
    }
}

/// What a SCRAM server stores about a user.
#[derive(Clone, PartialEq, Eq)]
pub struct ScramCredentials {
    /// The hash function.
    pub hash: ScramHash,
    /// PBKDF2 iteration count.
    pub iterations: u32,
    /// The salt.
    pub salt: Vec<u8>,
    /// H(ClientKey).
    pub stored_key: Vec<u8>,
    /// HMAC(SaltedPassword, "Server Key").
    pub server_key: Vec<u8>,
}

impl std::fmt::Debug for ScramCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramCredentials")
            .field("hash", &self.hash)
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

impl ScramCredentials {
    /// Derives the credentials from a plaintext password.
    pub fn derive(
        hash: ScramHash,
        password: &[u8],
        salt: &[u8],
        iterations: u32,
    ) -> ScramCredentials {
        let salted = hash.salted_password(password, salt, iterations);
        let client_key = hash.hmac(&salted, b"Client Key");
        ScramCredentials {
            hash,
            iterations,
            salt: salt.to_vec(),
            stored_key: hash.hash(&client_key),
            server_key: hash.hmac(&salted, b"Server Key"),
        }
    }

    /// Parses Dovecot's stored form (without the `{SCHEME}` prefix).
    pub fn parse(hash: ScramHash, s: &str) -> Result<ScramCredentials> {
        let name = match hash {
            ScramHash::Sha1 => "SCRAM-SHA-1",
            ScramHash::Sha256 => "SCRAM-SHA-256",
        };
        let parts: Vec<&str> = s.split(',').collect();
        if parts.len() != 4 {
            return Err(Error::malformed(name, "expected 4 comma-separated fields"));
        }
        let iterations: u32 = parts[0]
            .parse()
            .map_err(|_| Error::malformed(name, "iteration count is not a number"))?;
        if iterations == 0 || iterations > SCRAM_MAX_ITERATIONS {
            return Err(Error::malformed(name, "iteration count out of range"));
        }
        let dec = |i: usize, what: &str| {
            B64.decode(parts[i])
                .map_err(|_| Error::malformed(name, format!("{what} is not base64")))
        };
        let salt = dec(1, "salt")?;
        let stored_key = dec(2, "StoredKey")?;
        let server_key = dec(3, "ServerKey")?;
        let len = hash.hash(b"").len();
        if stored_key.len() != len || server_key.len() != len {
            return Err(Error::malformed(name, "key length does not match the hash"));
        }
        Ok(ScramCredentials {
            hash,
            iterations,
            salt,
            stored_key,
            server_key,
        })
    }

    /// Dovecot's stored form (without the `{SCHEME}` prefix).
    pub fn encode(&self) -> String {
        format!(
            "{},{},{},{}",
            self.iterations,
            B64.encode(&self.salt),
            B64.encode(&self.stored_key),
            B64.encode(&self.server_key)
        )
    }
}

//! Dovecot's password schemes in the `{SCHEME}` syntax: verify and generate,
//! interoperable with `doveadm pw` both ways. Comparisons run in constant time.
//!
//! ```
//! use columba_auth_sasl::password::{generate, StoredPassword, Scheme};
//!
//! let stored = StoredPassword::parse("{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=", Scheme::Crypt).unwrap();
//! assert!(stored.verify(b"secret", "alice").unwrap());
//! let fresh = generate("SSHA256", b"secret", "alice", None).unwrap();
//! assert!(StoredPassword::parse(&fresh, Scheme::Crypt).unwrap().verify(b"secret", "alice").unwrap());
//! ```

mod argon;
pub mod hmac_md5;
pub mod random;
pub mod scram;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

use crate::{Error, Result};
use hmac_md5::HmacMd5State;
use random::{hex_decode, hex_encode, random_bytes, random_salt};
use scram::{ScramCredentials, ScramHash, SCRAM_DEFAULT_ITERATIONS};

/// Standard base64 that accepts input with or without padding.
pub(crate) const B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A password scheme known to Dovecot 2.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `PLAIN`: the password itself.
    Plain,
    /// `CLEAR`: alias of PLAIN.
    Clear,
    /// `CLEARTEXT`: alias of PLAIN.
    Cleartext,
    /// `PLAIN-TRUNC`: `<len>-<password>`, compared on the first `len` bytes.
    PlainTrunc,
    /// `CRYPT`: any crypt(3) string (DES, `$1$`, `$5$`, `$6$`, `$2?$`); generated as bcrypt.
    Crypt,
    /// `DES-CRYPT`: traditional 13-character DES crypt.
    DesCrypt,
    /// `MD5-CRYPT`: `$1$salt$hash`.
    Md5Crypt,
    /// `MD5`: MD5-CRYPT, also accepting PLAIN-MD5 digests.
    Md5,
    /// `SHA256-CRYPT`: `$5$`.
    Sha256Crypt,
    /// `SHA512-CRYPT`: `$6$`.
    Sha512Crypt,
    /// `BLF-CRYPT`: bcrypt `$2y$`.
    BlfCrypt,
    /// `SHA`: SHA-1, base64.
    Sha,
    /// `SHA1`: alias of SHA.
    Sha1,
    /// `SHA256`: SHA-256, base64.
    Sha256,
    /// `SHA512`: SHA-512, base64.
    Sha512,
    /// `SMD5`: MD5 with an appended salt, base64.
    Smd5,
    /// `SSHA`: SHA-1 with an appended salt, base64.
    Ssha,
    /// `SSHA256`: SHA-256 with an appended salt, base64.
    Ssha256,
    /// `SSHA512`: SHA-512 with an appended salt, base64.
    Ssha512,
    /// `PLAIN-MD5`: MD5, hex.
    PlainMd5,
    /// `LDAP-MD5`: MD5, base64.
    LdapMd5,
    /// `DIGEST-MD5`: MD5(`user:realm:password`), hex.
    DigestMd5,
    /// `CRAM-MD5`: HMAC-MD5 precomputed contexts, hex.
    CramMd5,
    /// `HMAC-MD5`: alias of CRAM-MD5.
    HmacMd5,
    /// `PBKDF2`: `$1$salt$rounds$hex(PBKDF2-HMAC-SHA1)`.
    Pbkdf2,
    /// `SCRAM-SHA-1` credentials.
    ScramSha1,
    /// `SCRAM-SHA-256` credentials.
    ScramSha256,
    /// `ARGON2I`: libsodium's `$argon2i$` string.
    Argon2i,
    /// `ARGON2ID`: libsodium's `$argon2id$` string.
    Argon2id,
}

const NAMES: &[(&str, Scheme)] = &[
    ("PLAIN", Scheme::Plain),
    ("CLEAR", Scheme::Clear),
    ("CLEARTEXT", Scheme::Cleartext),
    ("PLAIN-TRUNC", Scheme::PlainTrunc),
    ("CRYPT", Scheme::Crypt),
    ("DES-CRYPT", Scheme::DesCrypt),
    ("MD5-CRYPT", Scheme::Md5Crypt),
    ("MD5", Scheme::Md5),
    ("SHA256-CRYPT", Scheme::Sha256Crypt),
    ("SHA512-CRYPT", Scheme::Sha512Crypt),
    ("BLF-CRYPT", Scheme::BlfCrypt),
    ("SHA", Scheme::Sha),
    ("SHA1", Scheme::Sha1),
    ("SHA256", Scheme::Sha256),
    ("SHA512", Scheme::Sha512),
    ("SMD5", Scheme::Smd5),
    ("SSHA", Scheme::Ssha),
    ("SSHA256", Scheme::Ssha256),
    ("SSHA512", Scheme::Ssha512),
    ("PLAIN-MD5", Scheme::PlainMd5),
    ("LDAP-MD5", Scheme::LdapMd5),
    ("DIGEST-MD5", Scheme::DigestMd5),
    ("CRAM-MD5", Scheme::CramMd5),
    ("HMAC-MD5", Scheme::HmacMd5),
    ("PBKDF2", Scheme::Pbkdf2),
    ("SCRAM-SHA-1", Scheme::ScramSha1),
    ("SCRAM-SHA-256", Scheme::ScramSha256),
    ("ARGON2I", Scheme::Argon2i),
    ("ARGON2ID", Scheme::Argon2id),
];

/// How a scheme's raw bytes are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Written as is (text formats such as crypt strings).
    None,
    /// Standard base64.
    Base64,
    /// Hex digits.
    Hex,
}

impl Scheme {
    /// Every scheme, in the order `columba pw -l` lists them.
    pub fn all() -> impl Iterator<Item = Scheme> {
        NAMES.iter().map(|&(_, s)| s)
    }

    /// Looks a scheme up by name (case-insensitive, without `{}` or suffix).
    pub fn from_name(name: &str) -> Option<Scheme> {
        NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|&(_, s)| s)
    }

    /// The canonical upper-case name.
    pub fn name(self) -> &'static str {
        NAMES
            .iter()
            .find(|(_, s)| *s == self)
            .map(|(n, _)| *n)
            .expect("every scheme has a name")
    }

    /// Whether verifying is slow enough to belong on a worker thread.
    pub fn is_slow(self) -> bool {
        matches!(
            self,
            Scheme::Crypt
                | Scheme::DesCrypt
                | Scheme::Md5Crypt
                | Scheme::Md5
                | Scheme::Sha256Crypt
                | Scheme::Sha512Crypt
                | Scheme::BlfCrypt
                | Scheme::Pbkdf2
                | Scheme::ScramSha1
                | Scheme::ScramSha256
                | Scheme::Argon2i
                | Scheme::Argon2id
        )
    }

    /// The default encoding of the scheme's raw bytes.
    pub fn default_encoding(self) -> Encoding {
        match self {
            Scheme::Sha
            | Scheme::Sha1
            | Scheme::Sha256
            | Scheme::Sha512
            | Scheme::Smd5
            | Scheme::Ssha
            | Scheme::Ssha256
            | Scheme::Ssha512
            | Scheme::LdapMd5 => Encoding::Base64,
            Scheme::PlainMd5 | Scheme::DigestMd5 | Scheme::CramMd5 | Scheme::HmacMd5 => {
                Encoding::Hex
            }
            _ => Encoding::None,
        }
    }

    /// Whether the scheme is a plaintext form (from which any mechanism's
    /// credentials can be derived).
    pub fn is_plaintext(self) -> bool {
        matches!(self, Scheme::Plain | Scheme::Clear | Scheme::Cleartext)
    }
}

/// Digest and salt-appending schemes: (hash, raw digest length, salted).
type DigestFn = fn(&[u8]) -> Vec<u8>;

fn digest_kind(scheme: Scheme) -> Option<(DigestFn, usize, bool)> {
    let md5: fn(&[u8]) -> Vec<u8> = |d| Md5::digest(d).to_vec();
    let sha1: fn(&[u8]) -> Vec<u8> = |d| Sha1::digest(d).to_vec();
    let sha256: fn(&[u8]) -> Vec<u8> = |d| Sha256::digest(d).to_vec();
    let sha512: fn(&[u8]) -> Vec<u8> = |d| Sha512::digest(d).to_vec();
    Some(match scheme {
        Scheme::Sha | Scheme::Sha1 => (sha1, 20, false),
        Scheme::Sha256 => (sha256, 32, false),
        Scheme::Sha512 => (sha512, 64, false),
        Scheme::PlainMd5 | Scheme::LdapMd5 => (md5, 16, false),
        Scheme::Smd5 => (md5, 16, true),
        Scheme::Ssha => (sha1, 20, true),
        Scheme::Ssha256 => (sha256, 32, true),
        Scheme::Ssha512 => (sha512, 64, true),
        _ => return None,
    })
}

/// Parses a scheme name with an optional `.b64`/`.base64`/`.hex` suffix.
pub fn parse_scheme_name(spec: &str) -> Result<(Scheme, Option<Encoding>)> {
    let (name, enc) = match spec.rsplit_once('.') {
        Some((n, s)) if s.eq_ignore_ascii_case("b64") || s.eq_ignore_ascii_case("base64") => {
            (n, Some(Encoding::Base64))
        }
        Some((n, s)) if s.eq_ignore_ascii_case("hex") => (n, Some(Encoding::Hex)),
        _ => (spec, None),
    };
    let scheme = Scheme::from_name(name).ok_or_else(|| Error::UnknownScheme(spec.to_string()))?;
    Ok((scheme, enc))
}

/// A password as a passdb stores it: scheme, optional encoding override and
/// the encoded value. `Debug` does not show the value.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredPassword {
    /// The scheme.
    pub scheme: Scheme,
    /// The encoding forced by a `.b64`/`.hex` suffix, if any.
    pub encoding: Option<Encoding>,
    value: String,
}

impl std::fmt::Debug for StoredPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredPassword")
            .field("scheme", &self.scheme)
            .field("encoding", &self.encoding)
            .finish_non_exhaustive()
    }
}

impl StoredPassword {
    /// Parses `{SCHEME}value`, a bare `$1$…` (MD5-CRYPT) or a bare value in
    /// `default_scheme`.
    pub fn parse(s: &str, default_scheme: Scheme) -> Result<StoredPassword> {
        if let Some(rest) = s.strip_prefix('{') {
            if let Some(end) = rest.find('}') {
                let (scheme, encoding) = parse_scheme_name(&rest[..end])?;
                return Ok(StoredPassword {
                    scheme,
                    encoding,
                    value: rest[end + 1..].to_string(),
                });
            }
        }
        let scheme = if s.starts_with("$1$") && s.split('$').count() >= 4 {
            Scheme::Md5Crypt
        } else {
            default_scheme
        };
        Ok(StoredPassword {
            scheme,
            encoding: None,
            value: s.to_string(),
        })
    }

    /// A stored password from its parts.
    pub fn new(scheme: Scheme, value: impl Into<String>) -> StoredPassword {
        StoredPassword {
            scheme,
            encoding: None,
            value: value.into(),
        }
    }

    /// The encoded value (without `{SCHEME}`). Treat it as a secret.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The plaintext, if this is a plaintext scheme.
    pub fn plaintext(&self) -> Option<Vec<u8>> {
        if !self.scheme.is_plaintext() {
            return None;
        }
        self.decode_text().ok()
    }

    fn decode_text(&self) -> Result<Vec<u8>> {
        let name = self.scheme.name();
        match self.encoding {
            None | Some(Encoding::None) => Ok(self.value.as_bytes().to_vec()),
            Some(Encoding::Base64) => B64
                .decode(self.value.trim())
                .map_err(|_| Error::malformed(name, "value is not base64")),
            Some(Encoding::Hex) => hex_decode(self.value.trim())
                .ok_or_else(|| Error::malformed(name, "value is not hex")),
        }
    }

    /// Decodes a fixed-length binary value, guessing hex when the length says so.
    fn decode_raw(&self, raw_len: Option<usize>) -> Result<Vec<u8>> {
        let name = self.scheme.name();
        let v = self.value.trim();
        let enc = match self.encoding {
            Some(e) => e,
            None => match raw_len {
                Some(n) if v.len() == n * 2 && hex_decode(v).is_some() => Encoding::Hex,
                _ => self.scheme.default_encoding(),
            },
        };
        let raw = match enc {
            Encoding::Hex => {
                hex_decode(v).ok_or_else(|| Error::malformed(name, "value is not hex"))?
            }
            Encoding::Base64 | Encoding::None => B64
                .decode(v)
                .map_err(|_| Error::malformed(name, "value is not base64"))?,
        };
        if let Some(n) = raw_len {
            if raw.len() != n {
                return Err(Error::malformed(
                    name,
                    format!("decoded length {} is not {n}", raw.len()),
                ));
            }
        }
        Ok(raw)
    }

    /// Verifies `password` for `user` (the user matters only for DIGEST-MD5).
    /// `Ok(false)` is a wrong password; `Err` a stored value that cannot be used.
    pub fn verify(&self, password: &[u8], user: &str) -> Result<bool> {
        let name = self.scheme.name();
        match self.scheme {
            Scheme::Plain | Scheme::Clear | Scheme::Cleartext => {
                Ok(ct_eq(&self.decode_text()?, password))
            }
            Scheme::PlainTrunc => {
                let (len, stored) = self
                    .value
                    .split_once('-')
                    .ok_or_else(|| Error::malformed(name, "missing <len>-"))?;
                let len: usize = len
                    .parse()
                    .map_err(|_| Error::malformed(name, "length is not a number"))?;
                let stored = stored.as_bytes();
                if stored.len() > len {
                    return Err(Error::malformed(
                        name,
                        "stored password longer than its length",
                    ));
                }
                if stored.len() < len {
                    // Not truncated: must match exactly.
                    return Ok(ct_eq(stored, password));
                }
                Ok(password.len() >= len && ct_eq(stored, &password[..len]))
            }
            Scheme::Crypt
            | Scheme::DesCrypt
            | Scheme::Md5Crypt
            | Scheme::Sha256Crypt
            | Scheme::Sha512Crypt
            | Scheme::BlfCrypt => verify_crypt(name, &self.value, password),
            Scheme::Md5 => {
                if self.value.starts_with("$1$") {
                    verify_crypt(name, &self.value, password)
                } else {
                    let raw = self.decode_raw(Some(16))?;
                    Ok(ct_eq(&raw, &Md5::digest(password)))
                }
            }
            Scheme::DigestMd5 => {
                let raw = self.decode_raw(Some(16))?;
                Ok(ct_eq(&raw, &digest_md5(user, password)))
            }
            Scheme::CramMd5 | Scheme::HmacMd5 => {
                let raw = self.decode_raw(Some(32))?;
                Ok(ct_eq(&raw, &HmacMd5State::from_key(password).to_bytes()))
            }
            Scheme::Pbkdf2 => {
                let (salt, rounds, hash) = parse_pbkdf2(&self.value)?;
                Ok(ct_eq(
                    &hash,
                    &pbkdf2_sha1(password, salt.as_bytes(), rounds),
                ))
            }
            Scheme::ScramSha1 | Scheme::ScramSha256 => {
                let creds = self.scram_credentials()?.expect("SCRAM scheme");
                let derived =
                    ScramCredentials::derive(creds.hash, password, &creds.salt, creds.iterations);
                Ok(ct_eq(&derived.stored_key, &creds.stored_key))
            }
            Scheme::Argon2i | Scheme::Argon2id => argon::verify(self.scheme, &self.value, password),
            Scheme::Sha
            | Scheme::Sha1
            | Scheme::Sha256
            | Scheme::Sha512
            | Scheme::PlainMd5
            | Scheme::LdapMd5
            | Scheme::Smd5
            | Scheme::Ssha
            | Scheme::Ssha256
            | Scheme::Ssha512 => {
                let (hash, len, salted) = digest_kind(self.scheme).expect("digest scheme");
                if !salted {
                    let raw = self.decode_raw(Some(len))?;
                    return Ok(ct_eq(&raw, &hash(password)));
                }
                let raw = self.decode_raw(None)?;
                if raw.len() <= len {
                    return Err(Error::malformed(name, "no salt after the digest"));
                }
                let (digest, salt) = raw.split_at(len);
                let mut input = password.to_vec();
                input.extend_from_slice(salt);
                let ok = ct_eq(digest, &hash(&input));
                input.fill(0);
                Ok(ok)
            }
        }
    }

    /// SCRAM credentials for `hash`, if this password can provide them:
    /// `Ok(None)` when the scheme cannot (a one-way hash of another kind).
    pub fn scram_credentials(&self) -> Result<Option<ScramCredentials>> {
        match self.scheme {
            Scheme::ScramSha1 => ScramCredentials::parse(ScramHash::Sha1, &self.value).map(Some),
            Scheme::ScramSha256 => {
                ScramCredentials::parse(ScramHash::Sha256, &self.value).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// The HMAC-MD5 contexts CRAM-MD5 needs, from a CRAM-MD5 or plaintext password.
    pub fn cram_md5_state(&self) -> Result<Option<HmacMd5State>> {
        match self.scheme {
            Scheme::CramMd5 | Scheme::HmacMd5 => {
                let raw = self.decode_raw(Some(32))?;
                let arr: [u8; 32] = raw.as_slice().try_into().expect("length checked");
                Ok(Some(HmacMd5State::from_bytes(&arr)))
            }
            s if s.is_plaintext() => Ok(Some(HmacMd5State::from_key(&self.decode_text()?))),
            _ => Ok(None),
        }
    }
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

fn verify_crypt(name: &'static str, stored: &str, password: &[u8]) -> Result<bool> {
    if stored.is_empty() {
        return Err(Error::malformed(name, "empty crypt string"));
    }
    if stored.starts_with("$2") {
        // bcrypt uses at most 72 bytes; reject oddities the crate would choke on.
        if stored.len() != 60 {
            return Err(Error::malformed(name, "bcrypt string is not 60 characters"));
        }
    } else if !stored.starts_with('$') && stored.len() != 13 {
        return Err(Error::malformed(name, "not a known crypt(3) format"));
    }
    // crypt(3) strings use `./0-9A-Za-z` plus `$` separators and `rounds=N`;
    // anything else is malformed (and would upset the crypt implementation).
    if !stored
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'/' | b'$' | b'='))
    {
        return Err(Error::malformed(name, "invalid character in crypt string"));
    }
    let password = if stored.starts_with("$2") && password.len() > 72 {
        &password[..72]
    } else {
        password
    };
    let computed = pwhash::unix::crypt(password, stored)
        .map_err(|e| Error::malformed(name, format!("crypt: {e}")))?;
    Ok(ct_eq(computed.as_bytes(), stored.as_bytes()))
}

fn digest_md5(user: &str, password: &[u8]) -> [u8; 16] {
    let (u, realm) = user.rsplit_once('@').unwrap_or((user, ""));
    let mut h = Md5::new();
    h.update(u.as_bytes());
    h.update(b":");
    h.update(realm.as_bytes());
    h.update(b":");
    h.update(password);
    h.finalize().into()
}

fn parse_pbkdf2(value: &str) -> Result<(&str, u32, Vec<u8>)> {
    let parts: Vec<&str> = value.split('$').collect();
    if parts.len() != 5 || !parts[0].is_empty() || parts[1] != "1" {
        return Err(Error::malformed("PBKDF2", "expected $1$salt$rounds$hash"));
    }
    let rounds: u32 = parts[3]
        .parse()
        .map_err(|_| Error::malformed("PBKDF2", "rounds is not a number"))?;
    if rounds == 0 || rounds > 10_000_000 {
        return Err(Error::malformed("PBKDF2", "rounds out of range"));
    }
    let hash = hex_decode(parts[4]).ok_or_else(|| Error::malformed("PBKDF2", "hash is not hex"))?;
    if hash.len() != 20 {
        return Err(Error::malformed("PBKDF2", "hash is not 20 bytes"));
    }
    Ok((parts[2], rounds, hash))
}

fn pbkdf2_sha1(password: &[u8], salt: &[u8], rounds: u32) -> [u8; 20] {
    let mut out = [0u8; 20];
    pbkdf2::pbkdf2::<hmac::Hmac<Sha1>>(password, salt, rounds, &mut out)
        .expect("HMAC takes any key");
    out
}

/// Generates `{SCHEME}…` for `password` the way `doveadm pw -s SCHEME [-r ROUNDS]`
/// does. `scheme_spec` may carry a `.b64`/`.hex` suffix; `user` matters only
/// for DIGEST-MD5.
// The crypt(3) formats are deprecated by the crate for new passwords, but
// generating them is what `doveadm pw -s MD5-CRYPT` etc. is asked for.
#[allow(deprecated)]
pub fn generate(
    scheme_spec: &str,
    password: &[u8],
    user: &str,
    rounds: Option<u32>,
) -> Result<String> {
    let (scheme, enc) = parse_scheme_name(scheme_spec)?;
    let prefix = format!("{{{}}}", scheme_spec.to_ascii_uppercase());
    let encode = |raw: &[u8]| match enc.unwrap_or(scheme.default_encoding()) {
        Encoding::Hex => hex_encode(raw),
        _ => B64.encode(raw),
    };
    let crypt_err = |e: pwhash::error::Error| Error::Unsupported(format!("crypt: {e}"));
    let body = match scheme {
        Scheme::Plain | Scheme::Clear | Scheme::Cleartext => match enc {
            None | Some(Encoding::None) => String::from_utf8(password.to_vec())
                .map_err(|_| Error::Unsupported("PLAIN passwords must be UTF-8 text".into()))?,
            Some(_) => encode(password),
        },
        Scheme::PlainTrunc => {
            let text = std::str::from_utf8(password).map_err(|_| {
                Error::Unsupported("PLAIN-TRUNC passwords must be UTF-8 text".into())
            })?;
            format!("{}-{}", password.len(), text)
        }
        Scheme::Crypt | Scheme::BlfCrypt => {
            let cost = rounds.unwrap_or(5);
            if !(4..=31).contains(&cost) {
                return Err(Error::Unsupported("bcrypt cost must be 4..31".into()));
            }
            let salt = random_bytes(16);
            let salt = bcrypt_salt(&salt);
            let pw = &password[..password.len().min(72)];
            pwhash::bcrypt::hash_with(
                pwhash::bcrypt::BcryptSetup {
                    salt: Some(&salt),
                    cost: Some(cost),
                    variant: Some(pwhash::bcrypt::BcryptVariant::V2y),
                },
                pw,
            )
            .map_err(crypt_err)?
        }
        Scheme::DesCrypt => {
            pwhash::unix_crypt::hash_with(&random_salt(2), password).map_err(crypt_err)?
        }
        Scheme::Md5Crypt | Scheme::Md5 => pwhash::md5_crypt::hash_with(
            pwhash::HashSetup {
                salt: Some(&random_salt(8)),
                rounds: None,
            },
            password,
        )
        .map_err(crypt_err)?,
        Scheme::Sha256Crypt | Scheme::Sha512Crypt => {
            let salt = random_salt(16);
            let setup = pwhash::HashSetup {
                salt: Some(&salt),
                rounds: rounds.filter(|&r| r != 5000),
            };
            if scheme == Scheme::Sha256Crypt {
                pwhash::sha256_crypt::hash_with(setup, password).map_err(crypt_err)?
            } else {
                pwhash::sha512_crypt::hash_with(setup, password).map_err(crypt_err)?
            }
        }
        Scheme::DigestMd5 => encode(&digest_md5(user, password)),
        Scheme::CramMd5 | Scheme::HmacMd5 => encode(&HmacMd5State::from_key(password).to_bytes()),
        Scheme::Pbkdf2 => {
            let rounds = rounds.unwrap_or(5000).max(1);
            let salt = random_salt(16);
            format!(
                "$1${salt}${rounds}${}",
                hex_encode(&pbkdf2_sha1(password, salt.as_bytes(), rounds))
            )
        }
        Scheme::ScramSha1 | Scheme::ScramSha256 => {
            let hash = if scheme == Scheme::ScramSha1 {
                ScramHash::Sha1
            } else {
                ScramHash::Sha256
            };
            let iterations = rounds.unwrap_or(SCRAM_DEFAULT_ITERATIONS).max(1);
            ScramCredentials::derive(hash, password, &random_bytes(16), iterations).encode()
        }
        Scheme::Argon2i | Scheme::Argon2id => argon::generate(scheme, password, rounds)?,
        Scheme::Sha
        | Scheme::Sha1
        | Scheme::Sha256
        | Scheme::Sha512
        | Scheme::PlainMd5
        | Scheme::LdapMd5
        | Scheme::Smd5
        | Scheme::Ssha
        | Scheme::Ssha256
        | Scheme::Ssha512 => {
            let (hash, _, salted) = digest_kind(scheme).expect("digest scheme");
            if salted {
                let salt = random_bytes(4);
                let mut input = password.to_vec();
                input.extend_from_slice(&salt);
                let mut raw = hash(&input);
                input.fill(0);
                raw.extend_from_slice(&salt);
                encode(&raw)
            } else {
                encode(&hash(password))
            }
        }
    };
    Ok(format!("{prefix}{body}"))
}

/// bcrypt's own base64 of 16 salt bytes (22 characters).
fn bcrypt_salt(raw: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::new();
    let mut bits: u32 = 0;
    let mut nbits = 0;
    for &b in raw {
        bits = (bits << 8) | u32::from(b);
        nbits += 8;
        while nbits >= 6 {
            nbits -= 6;
            out.push(ALPHABET[((bits >> nbits) & 63) as usize] as char);
        }
    }
    if nbits > 0 {
        out.push(ALPHABET[((bits << (6 - nbits)) & 63) as usize] as char);
    }
    out
}

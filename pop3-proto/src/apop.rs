//! The APOP digest (RFC 1939 section 7).

use md5::{Digest, Md5};

use crate::{Command, Secret};

/// The APOP digest: MD5 of the greeting's timestamp (`<...>` included)
/// followed by the shared secret, as 32 lower-case hex digits.
///
/// ```
/// use columba_pop3_proto::apop_digest;
///
/// // The example of RFC 1939 section 7.
/// let digest = apop_digest(b"<1896.697170952@dbc.mtview.ca.us>", b"tanstaaf");
/// assert_eq!(digest.expose(), b"c4c9334bac560ecc979e58001b3e22fb");
/// ```
pub fn apop_digest(timestamp: &[u8], secret: &[u8]) -> Secret {
    let mut md5 = Md5::new();
    md5.update(timestamp);
    md5.update(secret);
    let mut hex = Vec::with_capacity(32);
    for byte in md5.finalize() {
        hex.extend_from_slice(format!("{byte:02x}").as_bytes());
    }
    Secret::new(hex)
}

impl Command {
    /// `APOP name digest` for the greeting's timestamp and the secret.
    pub fn apop(name: &[u8], timestamp: &[u8], secret: &[u8]) -> Command {
        Command::Apop {
            name: name.to_vec(),
            digest: apop_digest(timestamp, secret),
        }
    }
}

/// Whether `digest` (as the client sent it, hex in either case) is the
/// APOP digest of `timestamp` and `secret`. The comparison does not stop
/// at the first differing byte.
pub fn apop_digest_matches(digest: &Secret, timestamp: &[u8], secret: &[u8]) -> bool {
    let expected = apop_digest(timestamp, secret);
    let given = digest.expose();
    given.len() == expected.expose().len()
        && given
            .iter()
            .zip(expected.expose())
            .fold(0u8, |diff, (a, b)| diff | (a.to_ascii_lowercase() ^ b))
            == 0
}

//! Random salts and nonces from the operating system.

/// The salt alphabet of Dovecot's text-salted schemes (crypt's `./0-9A-Za-z`).
pub const SALT_CHARS: &[u8; 64] =
    b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `n` random bytes.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    // The OS random source failing is not recoverable for a password tool.
    getrandom::fill(&mut buf).expect("the operating system's random source failed");
    buf
}

/// `n` random characters from [`SALT_CHARS`].
pub fn random_salt(n: usize) -> String {
    random_bytes(n)
        .into_iter()
        .map(|b| SALT_CHARS[(b & 63) as usize] as char)
        .collect()
}

/// `n` random bytes as lowercase hex.
pub fn random_hex(n: usize) -> String {
    hex_encode(&random_bytes(n))
}

/// Lowercase hex.
pub fn hex_encode(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

/// Decodes hex (either case); `None` if malformed.
pub fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    s.as_bytes()
        .chunks(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

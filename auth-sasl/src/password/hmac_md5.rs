//! The `CRAM-MD5`/`HMAC-MD5` stored form: the HMAC-MD5 inner and outer MD5
//! states after the key block, so CRAM-MD5 can be verified without the
//! plaintext password.

use md5::{Digest, Md5};

const MD5_INIT: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];

/// HMAC-MD5 precomputed contexts: `outer` after `key ⊕ opad`, `inner` after `key ⊕ ipad`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HmacMd5State {
    /// MD5 state after the outer key block.
    pub outer: [u32; 4],
    /// MD5 state after the inner key block.
    pub inner: [u32; 4],
}

impl HmacMd5State {
    /// Precomputes the contexts for `key`.
    pub fn from_key(key: &[u8]) -> HmacMd5State {
        let mut block = [0u8; 64];
        if key.len() > 64 {
            block[..16].copy_from_slice(&Md5::digest(key));
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        let mut inner = MD5_INIT;
        let mut outer = MD5_INIT;
        let ipad: [u8; 64] = std::array::from_fn(|i| block[i] ^ 0x36);
        let opad: [u8; 64] = std::array::from_fn(|i| block[i] ^ 0x5c);
        md5::block_api::compress(&mut inner, &[ipad]);
        md5::block_api::compress(&mut outer, &[opad]);
        block.fill(0);
        HmacMd5State { outer, inner }
    }

    /// The 32-byte stored form: outer then inner, each as 4 little-endian u32.
    pub fn to_bytes(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (i, w) in self.outer.iter().chain(self.inner.iter()).enumerate() {
            out[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
        }
        out
    }

    /// Reads the 32-byte stored form.
    pub fn from_bytes(b: &[u8; 32]) -> HmacMd5State {
        let word =
            |i: usize| u32::from_le_bytes([b[i * 4], b[i * 4 + 1], b[i * 4 + 2], b[i * 4 + 3]]);
        HmacMd5State {
            outer: [word(0), word(1), word(2), word(3)],
            inner: [word(4), word(5), word(6), word(7)],
        }
    }

    /// HMAC-MD5 of `message` under the key these contexts came from.
    pub fn mac(&self, message: &[u8]) -> [u8; 16] {
        let inner = finish(self.inner, message);
        finish(self.outer, &inner)
    }
}

/// Finishes MD5 from `state` (which has absorbed exactly one 64-byte block) over `data`.
fn finish(mut state: [u32; 4], data: &[u8]) -> [u8; 16] {
    let total_bits = ((64 + data.len()) as u64).wrapping_mul(8);
    let mut msg = Vec::with_capacity(data.len() + 72);
    msg.extend_from_slice(data);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&total_bits.to_le_bytes());
    let blocks: Vec<[u8; 64]> = msg
        .chunks_exact(64)
        .map(|c| c.try_into().expect("64-byte chunk"))
        .collect();
    md5::block_api::compress(&mut state, &blocks);
    let mut out = [0u8; 16];
    for (i, w) in state.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{KeyInit, Mac};

    #[test]
    fn matches_hmac_crate() {
        for key in [&b"secret"[..], &[7u8; 100][..], b""] {
            let state = HmacMd5State::from_key(key);
            for msg in [
                &b"<1896.697170952@postoffice.example.net>"[..],
                b"",
                &[1u8; 200][..],
            ] {
                let mut mac = <hmac::Hmac<Md5> as KeyInit>::new_from_slice(key).unwrap();
                mac.update(msg);
                assert_eq!(state.mac(msg)[..], mac.finalize().into_bytes()[..]);
            }
            assert!(HmacMd5State::from_bytes(&state.to_bytes()) == state);
        }
    }
}

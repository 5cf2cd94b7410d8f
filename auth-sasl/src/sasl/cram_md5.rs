//! CRAM-MD5 (RFC 2195), server side.

use subtle::ConstantTimeEq;

use super::{utf8, MechError, ServerMechanism, ServerStep};
use crate::password::random::{hex_decode, random_bytes};
use crate::password::StoredPassword;

/// CRAM-MD5: challenge `<random.timestamp@host>`, response `user SP hex(HMAC-MD5)`.
#[derive(Debug)]
pub struct CramMd5Server {
    challenge: Vec<u8>,
    state: u8,
    user: String,
    digest: Vec<u8>,
}

impl CramMd5Server {
    /// A new exchange; `hostname` goes into the challenge.
    pub fn new(hostname: &str) -> CramMd5Server {
        let r = random_bytes(8);
        let n = u64::from_le_bytes(r.try_into().expect("8 bytes"));
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        CramMd5Server {
            challenge: format!("<{n}.{secs}@{hostname}>").into_bytes(),
            state: 0,
            user: String::new(),
            digest: Vec::new(),
        }
    }
}

impl ServerMechanism for CramMd5Server {
    fn name(&self) -> &'static str {
        "CRAM-MD5"
    }

    fn step(&mut self, input: Option<&[u8]>) -> Result<ServerStep, MechError> {
        match self.state {
            0 => {
                if input.is_some_and(|d| !d.is_empty()) {
                    return Err(MechError::Unexpected);
                }
                self.state = 1;
                Ok(ServerStep::Challenge(self.challenge.clone()))
            }
            1 => {
                self.state = 2;
                let data = input.ok_or(MechError::Unexpected)?;
                let space = data
                    .iter()
                    .rposition(|&b| b == b' ')
                    .ok_or(MechError::Malformed("invalid input"))?;
                let user = utf8(&data[..space], "username is not UTF-8")?;
                let digest = std::str::from_utf8(&data[space + 1..])
                    .ok()
                    .and_then(hex_decode)
                    .filter(|d| d.len() == 16)
                    .ok_or(MechError::Malformed("invalid response digest"))?;
                if user.is_empty() {
                    return Err(MechError::Malformed("empty username"));
                }
                self.user = user.clone();
                self.digest = digest;
                Ok(ServerStep::NeedCredentials {
                    authcid: user,
                    authzid: None,
                })
            }
            _ => Err(MechError::Unexpected),
        }
    }

    fn credentials(&mut self, stored: Option<&StoredPassword>) -> Result<ServerStep, MechError> {
        if self.state != 2 {
            return Err(MechError::Unexpected);
        }
        self.state = 3;
        let state = stored
            .and_then(|s| s.cram_md5_state().ok().flatten())
            .ok_or(MechError::Failed)?;
        let expected = state.mac(&self.challenge);
        if bool::from(expected.ct_eq(&self.digest[..])) {
            Ok(ServerStep::Success {
                authcid: std::mem::take(&mut self.user),
                authzid: None,
                final_data: None,
            })
        } else {
            Err(MechError::Failed)
        }
    }
}

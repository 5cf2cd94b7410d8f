//! SCRAM-SHA-1 / SCRAM-SHA-256 (RFC 5802, RFC 7677), with the `-PLUS`
//! variants when the caller supplies channel-binding data.

use base64::Engine as _;
use subtle::ConstantTimeEq;

use super::{MechError, ServerMechanism, ServerStep};
use crate::password::random::random_bytes;
use crate::password::scram::{ScramCredentials, ScramHash, SCRAM_DEFAULT_ITERATIONS};
use crate::password::{StoredPassword, B64};

/// Channel-binding data of the underlying TLS connection.
#[derive(Clone, PartialEq, Eq)]
pub struct ChannelBinding {
    /// The binding type, e.g. `tls-exporter`, `tls-unique`, `tls-server-end-point`.
    pub kind: String,
    /// The binding data.
    pub data: Vec<u8>,
}

impl std::fmt::Debug for ChannelBinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelBinding")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// Decodes a SCRAM `saslname` (`=2C` → `,`, `=3D` → `=`).
pub(crate) fn decode_saslname(s: &str) -> Result<String, MechError> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        match rest.get(i..i + 3) {
            Some("=2C") => out.push(','),
            Some("=3D") => out.push('='),
            _ => return Err(MechError::Malformed("invalid username escape")),
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Encodes a SCRAM `saslname`.
pub(crate) fn encode_saslname(s: &str) -> String {
    s.replace('=', "=3D").replace(',', "=2C")
}

/// Valid printable nonce characters (excluding `,`).
fn valid_nonce(n: &str) -> bool {
    !n.is_empty() && n.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b',')
}

enum State {
    Start,
    WaitCredentials,
    WaitFinal,
    Done,
}

/// The server side of SCRAM.
pub struct ScramServer {
    hash: ScramHash,
    binding: Option<ChannelBinding>,
    state: State,
    gs2_header: String,
    client_first_bare: String,
    client_nonce: String,
    server_nonce: String,
    server_first: String,
    authcid: String,
    authzid: Option<String>,
    creds: Option<ScramCredentials>,
}

impl ScramServer {
    /// A new exchange; `binding` set makes it the `-PLUS` variant.
    pub fn new(hash: ScramHash, binding: Option<ChannelBinding>) -> ScramServer {
        let mut server_nonce = B64.encode(random_bytes(18));
        server_nonce.retain(|c| c != ',');
        ScramServer {
            hash,
            binding,
            state: State::Start,
            gs2_header: String::new(),
            client_first_bare: String::new(),
            client_nonce: String::new(),
            server_nonce,
            server_first: String::new(),
            authcid: String::new(),
            authzid: None,
            creds: None,
        }
    }

    fn client_first(&mut self, data: &[u8]) -> Result<ServerStep, MechError> {
        let text = std::str::from_utf8(data)
            .map_err(|_| MechError::Malformed("client-first is not UTF-8"))?;
        let mut parts = text.splitn(3, ',');
        let (Some(cb), Some(authzid), Some(bare)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(MechError::Malformed("invalid client-first message"));
        };
        match (cb, &self.binding) {
            ("n", None) | ("y", None) => {}
            (cb, Some(b)) if cb.strip_prefix("p=") == Some(b.kind.as_str()) => {}
            (cb, Some(_)) if cb.starts_with("p=") => {
                return Err(MechError::Malformed("unsupported channel binding type"))
            }
            (_, Some(_)) => return Err(MechError::Malformed("channel binding is required")),
            _ => return Err(MechError::Malformed("channel binding is not supported")),
        }
        self.authzid = match authzid {
            "" => None,
            a => Some(decode_saslname(
                a.strip_prefix("a=")
                    .ok_or(MechError::Malformed("invalid authzid"))?,
            )?),
        };
        self.gs2_header = format!("{cb},{authzid},");
        let mut fields = bare.split(',');
        let user = fields
            .next()
            .and_then(|f| f.strip_prefix("n="))
            .ok_or(MechError::Malformed("missing n="))?;
        let nonce = fields
            .next()
            .and_then(|f| f.strip_prefix("r="))
            .ok_or(MechError::Malformed("missing r="))?;
        if !valid_nonce(nonce) {
            return Err(MechError::Malformed("invalid client nonce"));
        }
        self.authcid = decode_saslname(user)?;
        if self.authcid.is_empty() {
            return Err(MechError::Malformed("empty username"));
        }
        self.client_nonce = nonce.to_string();
        self.client_first_bare = bare.to_string();
        self.state = State::WaitCredentials;
        Ok(ServerStep::NeedCredentials {
            authcid: self.authcid.clone(),
            authzid: self.authzid.clone().filter(|a| *a != self.authcid),
        })
    }

    fn client_final(&mut self, data: &[u8]) -> Result<ServerStep, MechError> {
        self.state = State::Done;
        let text = std::str::from_utf8(data)
            .map_err(|_| MechError::Malformed("client-final is not UTF-8"))?;
        let (without_proof, proof) = text
            .rsplit_once(",p=")
            .ok_or(MechError::Malformed("missing proof"))?;
        let mut fields = without_proof.split(',');
        let cbind = fields
            .next()
            .and_then(|f| f.strip_prefix("c="))
            .ok_or(MechError::Malformed("missing c="))?;
        let nonce = fields
            .next()
            .and_then(|f| f.strip_prefix("r="))
            .ok_or(MechError::Malformed("missing r="))?;
        let mut expected_cbind = self.gs2_header.as_bytes().to_vec();
        if let Some(b) = &self.binding {
            expected_cbind.extend_from_slice(&b.data);
        }
        let cbind = B64
            .decode(cbind)
            .map_err(|_| MechError::Malformed("invalid c="))?;
        if !bool::from(cbind.ct_eq(&expected_cbind)) {
            return Err(MechError::Malformed("channel binding data mismatch"));
        }
        if nonce != format!("{}{}", self.client_nonce, self.server_nonce) {
            return Err(MechError::Malformed("wrong nonce"));
        }
        let proof = B64
            .decode(proof)
            .map_err(|_| MechError::Malformed("invalid proof"))?;
        let creds = self.creds.take().ok_or(MechError::Failed)?;
        if proof.len() != creds.stored_key.len() {
            return Err(MechError::Malformed("invalid proof length"));
        }
        let auth_message = format!(
            "{},{},{}",
            self.client_first_bare, self.server_first, without_proof
        );
        let client_signature = self.hash.hmac(&creds.stored_key, auth_message.as_bytes());
        let client_key: Vec<u8> = proof
            .iter()
            .zip(&client_signature)
            .map(|(a, b)| a ^ b)
            .collect();
        if !bool::from(self.hash.hash(&client_key).ct_eq(&creds.stored_key)) {
            return Err(MechError::Failed);
        }
        let server_signature = self.hash.hmac(&creds.server_key, auth_message.as_bytes());
        Ok(ServerStep::Success {
            authcid: std::mem::take(&mut self.authcid),
            authzid: self.authzid.take().filter(|a| !a.is_empty()),
            final_data: Some(format!("v={}", B64.encode(server_signature)).into_bytes()),
        })
    }
}

impl ServerMechanism for ScramServer {
    fn name(&self) -> &'static str {
        match (self.hash, self.binding.is_some()) {
            (ScramHash::Sha1, false) => "SCRAM-SHA-1",
            (ScramHash::Sha1, true) => "SCRAM-SHA-1-PLUS",
            (ScramHash::Sha256, false) => "SCRAM-SHA-256",
            (ScramHash::Sha256, true) => "SCRAM-SHA-256-PLUS",
        }
    }

    fn step(&mut self, input: Option<&[u8]>) -> Result<ServerStep, MechError> {
        match (&self.state, input) {
            (State::Start, None) | (State::Start, Some([])) => {
                Ok(ServerStep::Challenge(Vec::new()))
            }
            (State::Start, Some(data)) => self.client_first(data),
            (State::WaitFinal, Some(data)) => self.client_final(data),
            _ => {
                self.state = State::Done;
                Err(MechError::Unexpected)
            }
        }
    }

    fn credentials(&mut self, stored: Option<&StoredPassword>) -> Result<ServerStep, MechError> {
        if !matches!(self.state, State::WaitCredentials) {
            return Err(MechError::Unexpected);
        }
        let stored = stored.ok_or(MechError::Failed)?;
        let creds = match stored.scram_credentials() {
            Ok(Some(c)) if c.hash == self.hash => c,
            Ok(_) => {
                let plain = stored.plaintext().ok_or(MechError::Failed)?;
                ScramCredentials::derive(
                    self.hash,
                    &plain,
                    &random_bytes(16),
                    SCRAM_DEFAULT_ITERATIONS,
                )
            }
            Err(_) => return Err(MechError::Failed),
        };
        self.server_first = format!(
            "r={}{},s={},i={}",
            self.client_nonce,
            self.server_nonce,
            B64.encode(&creds.salt),
            creds.iterations
        );
        self.creds = Some(creds);
        self.state = State::WaitFinal;
        Ok(ServerStep::Challenge(
            self.server_first.clone().into_bytes(),
        ))
    }
}

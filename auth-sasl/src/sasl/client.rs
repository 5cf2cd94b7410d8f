//! The client side of the mechanisms: produce responses to challenges.

use base64::Engine as _;
use subtle::ConstantTimeEq;

use super::scram::{encode_saslname, ChannelBinding};
use crate::password::hmac_md5::HmacMd5State;
use crate::password::random::{hex_encode, random_bytes};
use crate::password::scram::{ScramHash, SCRAM_MAX_ITERATIONS};
use crate::password::B64;
use crate::{Error, Result, Secret};

/// What a client authenticates with.
#[derive(Debug, Clone, Default)]
pub struct ClientCredentials {
    /// Authentication identity (login name).
    pub authcid: String,
    /// Authorization identity (log in as), if different.
    pub authzid: Option<String>,
    /// Password, or bearer token for OAUTHBEARER/XOAUTH2.
    pub password: Secret,
    /// Channel-binding data for the `-PLUS` mechanisms.
    pub channel_binding: Option<ChannelBinding>,
}

impl ClientCredentials {
    /// Login name and password.
    pub fn new(authcid: &str, password: &str) -> ClientCredentials {
        ClientCredentials {
            authcid: authcid.into(),
            password: Secret::from(password),
            ..Default::default()
        }
    }

    /// Sets the authorization identity.
    pub fn authzid(mut self, authzid: &str) -> ClientCredentials {
        self.authzid = Some(authzid.into());
        self
    }
}

/// The client side of a SASL mechanism.
pub trait ClientMechanism: Send {
    /// The mechanism's name.
    fn name(&self) -> &'static str;
    /// Whether the first [`step`](Self::step) (with `None`) yields an initial response.
    fn has_initial_response(&self) -> bool;
    /// Produces the next response: `None` asks for the initial response,
    /// `Some(challenge)` answers a server challenge.
    fn step(&mut self, challenge: Option<&[u8]>) -> Result<Vec<u8>>;
    /// Checks the server's final data (SCRAM's `v=`); other mechanisms accept none.
    fn finish(&mut self, final_data: Option<&[u8]>) -> Result<()> {
        match final_data {
            None | Some([]) => Ok(()),
            Some(_) => Err(Error::Sasl("unexpected final data from the server".into())),
        }
    }
}

/// Creates a client mechanism by (case-insensitive) name.
pub fn client_mechanism(name: &str, creds: ClientCredentials) -> Option<Box<dyn ClientMechanism>> {
    Some(match name.to_ascii_uppercase().as_str() {
        "PLAIN" => Box::new(PlainClient { creds }),
        "LOGIN" => Box::new(LoginClient { creds, state: 0 }),
        "CRAM-MD5" => Box::new(CramMd5Client { creds }),
        "SCRAM-SHA-1" => Box::new(ScramClient::new(ScramHash::Sha1, creds, false)),
        "SCRAM-SHA-256" => Box::new(ScramClient::new(ScramHash::Sha256, creds, false)),
        "SCRAM-SHA-1-PLUS" if creds.channel_binding.is_some() => {
            Box::new(ScramClient::new(ScramHash::Sha1, creds, true))
        }
        "SCRAM-SHA-256-PLUS" if creds.channel_binding.is_some() => {
            Box::new(ScramClient::new(ScramHash::Sha256, creds, true))
        }
        "EXTERNAL" => Box::new(ExternalClient { creds }),
        "ANONYMOUS" => Box::new(AnonymousClient { creds }),
        "OAUTHBEARER" => Box::new(OAuthClient {
            creds,
            xoauth2: false,
        }),
        "XOAUTH2" => Box::new(OAuthClient {
            creds,
            xoauth2: true,
        }),
        _ => return None,
    })
}

struct PlainClient {
    creds: ClientCredentials,
}

impl ClientMechanism for PlainClient {
    fn name(&self) -> &'static str {
        "PLAIN"
    }
    fn has_initial_response(&self) -> bool {
        true
    }
    fn step(&mut self, _challenge: Option<&[u8]>) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        out.extend_from_slice(self.creds.authzid.as_deref().unwrap_or("").as_bytes());
        out.push(0);
        out.extend_from_slice(self.creds.authcid.as_bytes());
        out.push(0);
        out.extend_from_slice(self.creds.password.expose());
        Ok(out)
    }
}

struct LoginClient {
    creds: ClientCredentials,
    state: u8,
}

impl ClientMechanism for LoginClient {
    fn name(&self) -> &'static str {
        "LOGIN"
    }
    fn has_initial_response(&self) -> bool {
        false
    }
    fn step(&mut self, challenge: Option<&[u8]>) -> Result<Vec<u8>> {
        let Some(_) = challenge else {
            return Ok(Vec::new());
        };
        self.state += 1;
        match self.state {
            1 => Ok(self.creds.authcid.as_bytes().to_vec()),
            2 => Ok(self.creds.password.expose().to_vec()),
            _ => Err(Error::Sasl("LOGIN: too many challenges".into())),
        }
    }
}

struct CramMd5Client {
    creds: ClientCredentials,
}

impl ClientMechanism for CramMd5Client {
    fn name(&self) -> &'static str {
        "CRAM-MD5"
    }
    fn has_initial_response(&self) -> bool {
        false
    }
    fn step(&mut self, challenge: Option<&[u8]>) -> Result<Vec<u8>> {
        let challenge =
            challenge.ok_or_else(|| Error::Sasl("CRAM-MD5 needs a challenge".into()))?;
        let mac = HmacMd5State::from_key(self.creds.password.expose()).mac(challenge);
        Ok(format!("{} {}", self.creds.authcid, hex_encode(&mac)).into_bytes())
    }
}

struct ExternalClient {
    creds: ClientCredentials,
}

impl ClientMechanism for ExternalClient {
    fn name(&self) -> &'static str {
        "EXTERNAL"
    }
    fn has_initial_response(&self) -> bool {
        true
    }
    fn step(&mut self, _challenge: Option<&[u8]>) -> Result<Vec<u8>> {
        Ok(self.creds.authzid.clone().unwrap_or_default().into_bytes())
    }
}

struct AnonymousClient {
    creds: ClientCredentials,
}

impl ClientMechanism for AnonymousClient {
    fn name(&self) -> &'static str {
        "ANONYMOUS"
    }
    fn has_initial_response(&self) -> bool {
        true
    }
    fn step(&mut self, _challenge: Option<&[u8]>) -> Result<Vec<u8>> {
        Ok(self.creds.authcid.as_bytes().to_vec())
    }
}

struct OAuthClient {
    creds: ClientCredentials,
    xoauth2: bool,
}

impl ClientMechanism for OAuthClient {
    fn name(&self) -> &'static str {
        if self.xoauth2 {
            "XOAUTH2"
        } else {
            "OAUTHBEARER"
        }
    }
    fn has_initial_response(&self) -> bool {
        true
    }
    fn step(&mut self, challenge: Option<&[u8]>) -> Result<Vec<u8>> {
        if challenge.is_some_and(|c| !c.is_empty()) {
            // The server's error report: acknowledge so it can send FAIL.
            return Ok(vec![1]);
        }
        let mut out = if self.xoauth2 {
            format!("user={}\x01", self.creds.authcid).into_bytes()
        } else {
            format!("n,a={},\x01", encode_saslname(&self.creds.authcid)).into_bytes()
        };
        out.extend_from_slice(b"auth=Bearer ");
        out.extend_from_slice(self.creds.password.expose());
        out.extend_from_slice(b"\x01\x01");
        Ok(out)
    }
}

struct ScramClient {
    hash: ScramHash,
    creds: ClientCredentials,
    plus: bool,
    nonce: String,
    gs2_header: String,
    client_first_bare: String,
    server_signature: Option<Vec<u8>>,
    state: u8,
}

impl ScramClient {
    fn new(hash: ScramHash, creds: ClientCredentials, plus: bool) -> ScramClient {
        let mut nonce = B64.encode(random_bytes(18));
        nonce.retain(|c| c != ',');
        ScramClient {
            hash,
            creds,
            plus,
            nonce,
            gs2_header: String::new(),
            client_first_bare: String::new(),
            server_signature: None,
            state: 0,
        }
    }

    fn server_first(&mut self, challenge: &[u8]) -> Result<Vec<u8>> {
        let bad = |why: &str| Error::Sasl(format!("SCRAM server-first: {why}"));
        let text = std::str::from_utf8(challenge).map_err(|_| bad("not UTF-8"))?;
        let mut nonce = None;
        let mut salt = None;
        let mut iterations = None;
        for field in text.split(',') {
            if let Some(v) = field.strip_prefix("r=") {
                nonce = Some(v);
            } else if let Some(v) = field.strip_prefix("s=") {
                salt = Some(B64.decode(v).map_err(|_| bad("salt is not base64"))?);
            } else if let Some(v) = field.strip_prefix("i=") {
                iterations = Some(v.parse::<u32>().map_err(|_| bad("bad iteration count"))?);
            } else if field.starts_with("m=") {
                return Err(bad("mandatory extension not supported"));
            }
        }
        let nonce = nonce.ok_or_else(|| bad("missing r="))?;
        let salt = salt.ok_or_else(|| bad("missing s="))?;
        let iterations = iterations.ok_or_else(|| bad("missing i="))?;
        if !nonce.starts_with(&self.nonce) || nonce.len() == self.nonce.len() {
            return Err(bad("server nonce does not extend ours"));
        }
        if iterations == 0 || iterations > SCRAM_MAX_ITERATIONS {
            return Err(bad("iteration count out of range"));
        }
        let mut cbind = self.gs2_header.as_bytes().to_vec();
        if self.plus {
            if let Some(b) = &self.creds.channel_binding {
                cbind.extend_from_slice(&b.data);
            }
        }
        let without_proof = format!("c={},r={}", B64.encode(&cbind), nonce);
        let auth_message = format!("{},{},{}", self.client_first_bare, text, without_proof);
        let salted = self
            .hash
            .salted_password(self.creds.password.expose(), &salt, iterations);
        let client_key = self.hash.hmac(&salted, b"Client Key");
        let stored_key = self.hash.hash(&client_key);
        let client_signature = self.hash.hmac(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&client_signature)
            .map(|(a, b)| a ^ b)
            .collect();
        let server_key = self.hash.hmac(&salted, b"Server Key");
        self.server_signature = Some(self.hash.hmac(&server_key, auth_message.as_bytes()));
        Ok(format!("{without_proof},p={}", B64.encode(proof)).into_bytes())
    }
}

impl ClientMechanism for ScramClient {
    fn name(&self) -> &'static str {
        match (self.hash, self.plus) {
            (ScramHash::Sha1, false) => "SCRAM-SHA-1",
            (ScramHash::Sha1, true) => "SCRAM-SHA-1-PLUS",
            (ScramHash::Sha256, false) => "SCRAM-SHA-256",
            (ScramHash::Sha256, true) => "SCRAM-SHA-256-PLUS",
        }
    }
    fn has_initial_response(&self) -> bool {
        true
    }
    fn step(&mut self, challenge: Option<&[u8]>) -> Result<Vec<u8>> {
        match (self.state, challenge) {
            (0, None) | (0, Some([])) => {
                self.state = 1;
                let cb = match (&self.creds.channel_binding, self.plus) {
                    (Some(b), true) => format!("p={}", b.kind),
                    _ => "n".to_string(),
                };
                let authzid = match &self.creds.authzid {
                    Some(a) => format!("a={}", encode_saslname(a)),
                    None => String::new(),
                };
                self.gs2_header = format!("{cb},{authzid},");
                self.client_first_bare = format!(
                    "n={},r={}",
                    encode_saslname(&self.creds.authcid),
                    self.nonce
                );
                Ok(format!("{}{}", self.gs2_header, self.client_first_bare).into_bytes())
            }
            (1, Some(c)) => {
                self.state = 2;
                self.server_first(c)
            }
            (2, Some(c)) => {
                // server-final sent as a challenge: verify it, answer empty.
                self.finish(Some(c))?;
                Ok(Vec::new())
            }
            _ => Err(Error::Sasl("SCRAM: unexpected challenge".into())),
        }
    }
    fn finish(&mut self, final_data: Option<&[u8]>) -> Result<()> {
        let Some(expected) = self.server_signature.take() else {
            return if self.state == 3 {
                Ok(())
            } else {
                Err(Error::Sasl("SCRAM: exchange not finished".into()))
            };
        };
        let data = final_data.ok_or_else(|| Error::Sasl("SCRAM: no server signature".into()))?;
        let text = std::str::from_utf8(data)
            .map_err(|_| Error::Sasl("SCRAM server-final is not UTF-8".into()))?;
        if let Some(e) = text.strip_prefix("e=") {
            return Err(Error::Sasl(format!("SCRAM server error: {e}")));
        }
        let v = text
            .strip_prefix("v=")
            .and_then(|v| B64.decode(v.split(',').next().unwrap_or("")).ok())
            .ok_or_else(|| Error::Sasl("SCRAM server-final has no v=".into()))?;
        if !bool::from(v.ct_eq(&expected)) {
            return Err(Error::Sasl("SCRAM: server signature does not match".into()));
        }
        self.state = 3;
        Ok(())
    }
}

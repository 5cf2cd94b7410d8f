//! OAUTHBEARER (RFC 7628) and XOAUTH2, server side. Tokens are validated by
//! the caller (see [`crate::db::TokenValidator`]).

use super::{utf8, MechError, ServerMechanism, ServerStep};
use crate::Secret;

/// Finds `auth=Bearer <token>` among `\x01`-separated `key=value` items.
fn bearer(items: &[u8]) -> Result<Secret, MechError> {
    for item in items.split(|&b| b == 1) {
        if let Some(v) = item.strip_prefix(b"auth=") {
            let token = v
                .strip_prefix(b"Bearer ")
                .or_else(|| v.strip_prefix(b"bearer "))
                .ok_or(MechError::Malformed("auth is not a Bearer token"))?;
            if token.is_empty() {
                return Err(MechError::Malformed("empty token"));
            }
            return Ok(Secret::new(token));
        }
    }
    Err(MechError::Malformed("missing auth=Bearer"))
}

/// OAUTHBEARER: `n,a=user,\x01auth=Bearer token\x01\x01`.
#[derive(Debug, Default)]
pub struct OAuthBearerServer {
    state: u8,
}

impl ServerMechanism for OAuthBearerServer {
    fn name(&self) -> &'static str {
        "OAUTHBEARER"
    }

    fn step(&mut self, input: Option<&[u8]>) -> Result<ServerStep, MechError> {
        match (self.state, input) {
            (0, None) => {
                self.state = 1;
                Ok(ServerStep::Challenge(Vec::new()))
            }
            (0 | 1, Some(data)) => {
                self.state = 2;
                let comma = |d: &[u8]| d.iter().position(|&b| b == b',');
                // GS2 header: flag, authzid, then the \x01-separated items.
                let first = comma(data).ok_or(MechError::Malformed("missing GS2 header"))?;
                if !matches!(&data[..first], b"n" | b"y") {
                    return Err(MechError::Malformed("channel binding is not supported"));
                }
                let rest = &data[first + 1..];
                let second = comma(rest).ok_or(MechError::Malformed("missing GS2 header"))?;
                let authzid = &rest[..second];
                let user = authzid
                    .strip_prefix(b"a=")
                    .ok_or(MechError::Malformed("missing a=user"))?;
                let user = utf8(user, "user is not UTF-8")?
                    .replace("=2C", ",")
                    .replace("=3D", "=");
                let token = bearer(&rest[second + 1..])?;
                Ok(ServerStep::VerifyToken { user, token })
            }
            (3, Some(_)) => Err(MechError::Failed),
            _ => Err(MechError::Unexpected),
        }
    }

    fn token_rejected(&mut self) -> Option<Vec<u8>> {
        self.state = 3;
        Some(br#"{"status":"invalid_token","schemes":"bearer","scope":"mail"}"#.to_vec())
    }
}

/// XOAUTH2: `user=USER\x01auth=Bearer TOKEN\x01\x01`.
#[derive(Debug, Default)]
pub struct XOAuth2Server {
    state: u8,
}

impl ServerMechanism for XOAuth2Server {
    fn name(&self) -> &'static str {
        "XOAUTH2"
    }

    fn step(&mut self, input: Option<&[u8]>) -> Result<ServerStep, MechError> {
        match (self.state, input) {
            (0, None) => {
                self.state = 1;
                Ok(ServerStep::Challenge(Vec::new()))
            }
            (0 | 1, Some(data)) => {
                self.state = 2;
                let user = data
                    .split(|&b| b == 1)
                    .find_map(|i| i.strip_prefix(b"user="))
                    .ok_or(MechError::Malformed("missing user="))?;
                let user = utf8(user, "user is not UTF-8")?;
                let token = bearer(data)?;
                Ok(ServerStep::VerifyToken { user, token })
            }
            (3, Some(_)) => Err(MechError::Failed),
            _ => Err(MechError::Unexpected),
        }
    }

    fn token_rejected(&mut self) -> Option<Vec<u8>> {
        self.state = 3;
        Some(br#"{"status":"401","schemes":"bearer","scope":"mail"}"#.to_vec())
    }
}

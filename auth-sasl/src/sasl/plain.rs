//! PLAIN (RFC 4616) and LOGIN, server side.

use super::{utf8, MechError, ServerMechanism, ServerStep};
use crate::Secret;

/// PLAIN: `authzid NUL authcid NUL password`.
#[derive(Debug, Default)]
pub struct PlainServer {
    done: bool,
    asked: bool,
}

impl ServerMechanism for PlainServer {
    fn name(&self) -> &'static str {
        "PLAIN"
    }

    fn step(&mut self, input: Option<&[u8]>) -> Result<ServerStep, MechError> {
        if self.done {
            return Err(MechError::Unexpected);
        }
        let Some(data) = input else {
            if self.asked {
                return Err(MechError::Unexpected);
            }
            self.asked = true;
            return Ok(ServerStep::Challenge(Vec::new()));
        };
        self.done = true;
        let mut parts = data.splitn(3, |&b| b == 0);
        let (Some(authzid), Some(authcid), Some(password)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(MechError::Malformed("invalid input"));
        };
        if password.contains(&0) {
            return Err(MechError::Malformed("NUL in password"));
        }
        if authcid.is_empty() {
            return Err(MechError::Malformed("empty authentication identity"));
        }
        let authcid = utf8(authcid, "authentication identity is not UTF-8")?;
        let authzid = utf8(authzid, "authorization identity is not UTF-8")?;
        Ok(ServerStep::VerifyPlain {
            authzid: (!authzid.is_empty() && authzid != authcid).then_some(authzid),
            authcid,
            password: Secret::new(password),
        })
    }
}

/// LOGIN: `Username:` then `Password:` prompts.
#[derive(Debug, Default)]
pub struct LoginServer {
    user: Option<String>,
    state: u8,
}

impl ServerMechanism for LoginServer {
    fn name(&self) -> &'static str {
        "LOGIN"
    }

    fn step(&mut self, input: Option<&[u8]>) -> Result<ServerStep, MechError> {
        match (self.state, input) {
            (0, None) | (0, Some([])) => {
                self.state = 1;
                Ok(ServerStep::Challenge(b"Username:".to_vec()))
            }
            (0, Some(user)) | (1, Some(user)) => {
                if user.is_empty() || user.contains(&0) {
                    return Err(MechError::Malformed("invalid username"));
                }
                self.user = Some(utf8(user, "username is not UTF-8")?);
                self.state = 2;
                Ok(ServerStep::Challenge(b"Password:".to_vec()))
            }
            (2, Some(password)) => {
                self.state = 3;
                if password.contains(&0) {
                    return Err(MechError::Malformed("NUL in password"));
                }
                Ok(ServerStep::VerifyPlain {
                    authcid: self.user.take().ok_or(MechError::Unexpected)?,
                    authzid: None,
                    password: Secret::new(password),
                })
            }
            _ => Err(MechError::Unexpected),
        }
    }
}

//! EXTERNAL (RFC 4422 appendix A) and ANONYMOUS (RFC 4505), server side.

use super::{utf8, MechError, ServerMechanism, ServerStep};

/// EXTERNAL: the client may only name an authorization identity.
#[derive(Debug, Default)]
pub struct ExternalServer {
    state: u8,
}

impl ServerMechanism for ExternalServer {
    fn name(&self) -> &'static str {
        "EXTERNAL"
    }

    fn step(&mut self, input: Option<&[u8]>) -> Result<ServerStep, MechError> {
        match (self.state, input) {
            (0, None) => {
                self.state = 1;
                Ok(ServerStep::Challenge(Vec::new()))
            }
            (0 | 1, Some(data)) => {
                self.state = 2;
                let authzid = utf8(data, "authorization identity is not UTF-8")?;
                Ok(ServerStep::External {
                    authzid: (!authzid.is_empty()).then_some(authzid),
                })
            }
            _ => Err(MechError::Unexpected),
        }
    }
}

/// ANONYMOUS: the client sends optional trace information.
#[derive(Debug, Default)]
pub struct AnonymousServer {
    state: u8,
}

impl ServerMechanism for AnonymousServer {
    fn name(&self) -> &'static str {
        "ANONYMOUS"
    }

    fn step(&mut self, input: Option<&[u8]>) -> Result<ServerStep, MechError> {
        match (self.state, input) {
            (0, None) => {
                self.state = 1;
                Ok(ServerStep::Challenge(Vec::new()))
            }
            (0 | 1, Some(data)) => {
                self.state = 2;
                if data.len() > 1020 {
                    return Err(MechError::Malformed("trace information too long"));
                }
                Ok(ServerStep::Anonymous {
                    trace: String::from_utf8_lossy(data).into_owned(),
                })
            }
            _ => Err(MechError::Unexpected),
        }
    }
}

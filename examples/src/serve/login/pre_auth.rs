//! The pre-auth halves of `columba-session`'s IMAP and POP3 sessions,
//! behind one interface so a single login loop drives both.

use columba_session::{
    Credentials, ImapConfig, ImapEvent, ImapSession, LoginFailure, Pop3Config, Pop3Event,
    Pop3Session,
};

/// What the session asks of the login process.
pub enum PreAuthEvent {
    /// Send the output, then run the TLS handshake.
    StartTls,
    /// LOGIN or USER/PASS (or AUTH PLAIN decoded by the session): relayed
    /// to the auth process as PLAIN.
    Plaintext {
        /// The credentials.
        credentials: Credentials,
        /// `LOGIN`, `USER` or `PLAIN`, for the log.
        method: String,
    },
    /// AUTHENTICATE / AUTH with a mechanism.
    SaslStart {
        /// The mechanism.
        mechanism: String,
        /// The initial response (SASL-IR).
        initial_response: Option<Vec<u8>>,
    },
    /// The client's answer to a challenge.
    SaslResponse(Vec<u8>),
    /// The client cancelled the exchange (`*`).
    SaslCancel,
    /// Send the output, then close.
    Close,
    /// Nothing for a login process to do.
    Ignore,
}

/// A pre-auth session.
pub trait PreAuth {
    /// Bytes to send.
    fn take_output(&mut self) -> Vec<u8>;
    /// The next request.
    fn poll(&mut self) -> Option<PreAuthEvent>;
    /// Bytes from the client.
    fn feed(&mut self, data: &[u8]);
    /// TLS is on.
    fn tls_started(&mut self);
    /// A challenge from the auth process.
    fn challenge(&mut self, data: &[u8]);
    /// The authentication failed.
    fn failed(&mut self, failure: LoginFailure, reason: Option<&str>);
    /// The authentication succeeded: the session's state, encoded, for the
    /// post-login process.
    fn handoff(&mut self, user: &str) -> Vec<u8>;
}

/// The mechanisms to offer: those the auth process announced, in its order.
pub struct Offer {
    /// Mechanism names, upper-case.
    pub mechanisms: Vec<String>,
    /// STARTTLS/STLS can be offered.
    pub starttls: bool,
    /// The connection is under TLS already.
    pub tls: bool,
    /// Plaintext authentication allowed without TLS.
    pub plaintext_without_tls: bool,
    /// The greeting.
    pub greeting: String,
}

/// A new IMAP pre-auth session.
pub fn imap(offer: Offer) -> Box<dyn PreAuth> {
    Box::new(ImapSession::new(ImapConfig {
        starttls: offer.starttls,
        tls: offer.tls,
        plaintext_without_tls: offer.plaintext_without_tls,
        greeting: offer.greeting,
        sasl_mechanisms: offer.mechanisms,
        sasl_passthrough: true,
        ..ImapConfig::default()
    }))
}

/// A new POP3 pre-auth session.
pub fn pop3(offer: Offer) -> Box<dyn PreAuth> {
    Box::new(Pop3Session::new(Pop3Config {
        stls: offer.starttls,
        tls: offer.tls,
        plaintext_without_tls: offer.plaintext_without_tls,
        greeting: offer.greeting,
        sasl_mechanisms: offer.mechanisms,
        sasl_passthrough: true,
    }))
}

impl PreAuth for ImapSession {
    fn take_output(&mut self) -> Vec<u8> {
        ImapSession::take_output(self)
    }
    fn poll(&mut self) -> Option<PreAuthEvent> {
        Some(match self.poll_event()? {
            ImapEvent::StartTls => PreAuthEvent::StartTls,
            ImapEvent::Authenticate {
                credentials,
                method,
            } => PreAuthEvent::Plaintext {
                credentials,
                method,
            },
            ImapEvent::SaslStart {
                mechanism,
                initial_response,
            } => PreAuthEvent::SaslStart {
                mechanism,
                initial_response,
            },
            ImapEvent::SaslResponse(data) => PreAuthEvent::SaslResponse(data),
            ImapEvent::SaslCancel => PreAuthEvent::SaslCancel,
            ImapEvent::Close => PreAuthEvent::Close,
            _ => PreAuthEvent::Ignore,
        })
    }
    fn feed(&mut self, data: &[u8]) {
        ImapSession::feed(self, data);
    }
    fn tls_started(&mut self) {
        ImapSession::tls_started(self);
    }
    fn challenge(&mut self, data: &[u8]) {
        self.sasl_challenge(data);
    }
    fn failed(&mut self, failure: LoginFailure, reason: Option<&str>) {
        self.login_failed_with(failure, reason);
    }
    fn handoff(&mut self, user: &str) -> Vec<u8> {
        self.login_handoff(user).encode()
    }
}

impl PreAuth for Pop3Session {
    fn take_output(&mut self) -> Vec<u8> {
        Pop3Session::take_output(self)
    }
    fn poll(&mut self) -> Option<PreAuthEvent> {
        Some(match self.poll_event()? {
            Pop3Event::StartTls => PreAuthEvent::StartTls,
            Pop3Event::Authenticate {
                credentials,
                method,
            } => PreAuthEvent::Plaintext {
                credentials,
                method,
            },
            Pop3Event::SaslStart {
                mechanism,
                initial_response,
            } => PreAuthEvent::SaslStart {
                mechanism,
                initial_response,
            },
            Pop3Event::SaslResponse(data) => PreAuthEvent::SaslResponse(data),
            Pop3Event::SaslCancel => PreAuthEvent::SaslCancel,
            Pop3Event::Close => PreAuthEvent::Close,
            _ => PreAuthEvent::Ignore,
        })
    }
    fn feed(&mut self, data: &[u8]) {
        Pop3Session::feed(self, data);
    }
    fn tls_started(&mut self) {
        Pop3Session::tls_started(self);
    }
    fn challenge(&mut self, data: &[u8]) {
        self.sasl_challenge(data);
    }
    fn failed(&mut self, failure: LoginFailure, reason: Option<&str>) {
        self.login_failed_with(failure, reason);
    }
    fn handoff(&mut self, user: &str) -> Vec<u8> {
        self.login_handoff(user).encode()
    }
}

//! The outcome of an authentication, as the auth-client protocol reports it.

use crate::db::Fields;

/// `FAIL`'s `code=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailCode {
    /// `temp_fail`: internal/temporary failure.
    TempFail,
    /// `authz_fail`: authenticated, but may not log in as the requested user.
    AuthzFail,
    /// `user_disabled`.
    UserDisabled,
    /// `pass_expired`.
    PassExpired,
    /// `invalid_base64`.
    InvalidBase64,
}

impl FailCode {
    /// The wire word.
    pub fn as_str(self) -> &'static str {
        match self {
            FailCode::TempFail => "temp_fail",
            FailCode::AuthzFail => "authz_fail",
            FailCode::UserDisabled => "user_disabled",
            FailCode::PassExpired => "pass_expired",
            FailCode::InvalidBase64 => "invalid_base64",
        }
    }
}

/// A failed authentication.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthFailure {
    /// `user=`, if known.
    pub user: Option<String>,
    /// `code=`.
    pub code: Option<FailCode>,
    /// `reason=`, shown to the user.
    pub reason: Option<String>,
    /// Don't delay the reply (`nodelay`).
    pub nodelay: bool,
    /// Whether the failure counts for the per-IP penalty (wrong credentials do,
    /// temporary failures don't).
    pub penalize: bool,
}

impl AuthFailure {
    /// Wrong credentials for `user`.
    pub fn credentials(user: Option<&str>) -> AuthFailure {
        AuthFailure {
            user: user.map(str::to_string),
            penalize: true,
            ..Default::default()
        }
    }

    /// A temporary failure.
    pub fn temp(reason: &str) -> AuthFailure {
        AuthFailure {
            code: Some(FailCode::TempFail),
            reason: Some(reason.into()),
            ..Default::default()
        }
    }

    /// A protocol-level failure of the client's data.
    pub fn protocol(reason: &str) -> AuthFailure {
        AuthFailure {
            reason: Some(reason.into()),
            penalize: true,
            ..Default::default()
        }
    }
}

/// What an authentication came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthVerdict {
    /// Success: `OK id user=<user> <fields>`.
    Ok {
        /// The canonical user name.
        user: String,
        /// Fields after `user=`.
        fields: Fields,
    },
    /// Failure.
    Fail(AuthFailure),
}

/// One finished authentication, for the embedding application's log. It
/// carries no credentials by construction: no password, token or SASL data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthEvent {
    /// `OK` or `FAIL`.
    pub success: bool,
    /// The user, if known.
    pub user: Option<String>,
    /// The client's remote IP (`rip=`).
    pub remote_ip: Option<std::net::IpAddr>,
    /// `code=` of a failure.
    pub code: Option<FailCode>,
    /// `reason=` of a failure.
    pub reason: Option<String>,
}

impl std::fmt::Display for AuthEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "auth {}: user=<{}>, rip={}",
            if self.success { "succeeded" } else { "failed" },
            self.user.as_deref().unwrap_or(""),
            self.remote_ip.map(|i| i.to_string()).unwrap_or_default()
        )?;
        if let Some(c) = self.code {
            write!(f, ", code={}", c.as_str())?;
        }
        if let Some(r) = &self.reason {
            write!(f, ", reason={r}")?;
        }
        Ok(())
    }
}

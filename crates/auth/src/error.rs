//! OAuth 2.0 errors (RFC 6749 §5.2) and the failures of token checks.

/// An error the token or authorization endpoint returns: `{"error": code, "error_description"}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {description}")]
pub struct OAuthError {
    /// RFC 6749 error code (`invalid_grant`, `invalid_client` …).
    pub code: &'static str,
    /// What went wrong, for the client's developer (never a secret).
    pub description: String,
}

impl OAuthError {
    /// `invalid_request`: a parameter is missing, repeated or malformed.
    pub fn invalid_request(description: impl Into<String>) -> OAuthError {
        OAuthError {
            code: "invalid_request",
            description: description.into(),
        }
    }

    /// `invalid_client`: client authentication failed (HTTP 401).
    pub fn invalid_client(description: impl Into<String>) -> OAuthError {
        OAuthError {
            code: "invalid_client",
            description: description.into(),
        }
    }

    /// `invalid_grant`: the code, refresh token or credentials are invalid, expired or used.
    pub fn invalid_grant(description: impl Into<String>) -> OAuthError {
        OAuthError {
            code: "invalid_grant",
            description: description.into(),
        }
    }

    /// `invalid_scope`: the scope asked for is unknown or exceeds what was granted.
    pub fn invalid_scope(description: impl Into<String>) -> OAuthError {
        OAuthError {
            code: "invalid_scope",
            description: description.into(),
        }
    }

    /// `unauthorized_client`: this client may not use this grant type.
    pub fn unauthorized_client(description: impl Into<String>) -> OAuthError {
        OAuthError {
            code: "unauthorized_client",
            description: description.into(),
        }
    }

    /// `unsupported_grant_type`.
    pub fn unsupported_grant_type(grant_type: &str) -> OAuthError {
        OAuthError {
            code: "unsupported_grant_type",
            description: format!("grant_type {grant_type:?} is not supported"),
        }
    }

    /// `access_denied`: the user or the server refused.
    pub fn access_denied(description: impl Into<String>) -> OAuthError {
        OAuthError {
            code: "access_denied",
            description: description.into(),
        }
    }

    /// `server_error`: our fault (storage failed); details are logged, not returned.
    pub fn server_error() -> OAuthError {
        OAuthError {
            code: "server_error",
            description: "the authorization server failed; see its log".into(),
        }
    }

    /// The HTTP status for this error: 401 for client authentication, 500 for ours, else 400.
    pub fn status(&self) -> u16 {
        match self.code {
            "invalid_client" => 401,
            "server_error" => 500,
            _ => 400,
        }
    }
}

impl From<medulla_store::Error> for OAuthError {
    fn from(error: medulla_store::Error) -> OAuthError {
        tracing::error!(%error, "authorization storage failed");
        OAuthError::server_error()
    }
}

/// Why a bearer token was refused (all answered 401 with `WWW-Authenticate`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// No `Authorization: Bearer` header.
    #[error("no access token")]
    Missing,
    /// Not a JWT we can read, a bad signature, an algorithm we do not accept, or a key we do
    /// not know.
    #[error("the access token is invalid")]
    Invalid,
    /// Past `exp`.
    #[error("the access token has expired")]
    Expired,
    /// Before `nbf`.
    #[error("the access token is not valid yet")]
    NotYetValid,
    /// Issued by someone else.
    #[error("the access token was issued by another server")]
    WrongIssuer,
    /// Meant for another server.
    #[error("the access token is for another audience")]
    WrongAudience,
    /// Revoked, or its client or user was disabled.
    #[error("the access token was revoked")]
    Revoked,
}

/// Failures of the account and client directory (CLI and admin use).
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// Bad input (name, role, scope, JWKS …), said plainly.
    #[error("{0}")]
    Invalid(String),
    /// The name or id is taken.
    #[error("{0} already exists")]
    Exists(String),
    /// No such user or client.
    #[error("{0} not found")]
    NotFound(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] medulla_store::Error),
    /// Key or file handling failed.
    #[error("{0}")]
    Io(String),
}

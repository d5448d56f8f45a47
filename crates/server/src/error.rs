//! The one place where failures become HTTP responses.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use medulla_engine::operation_outcome;

/// Everything a request can fail with. Engine errors carry their own status; the rest are
/// HTTP-level problems only the server sees.
#[derive(Debug)]
pub enum ApiError {
    /// An interaction failed.
    Engine(medulla_engine::Error),
    /// The body's media type is not supported (415).
    UnsupportedMediaType(String),
    /// No acceptable response format (406).
    NotAcceptable(String),
    /// The body exceeds the configured limit (413).
    PayloadTooLarge(usize),
    /// A malformed request outside the engine's view: unreadable body, bad header (400).
    BadRequest(String),
    /// The method is not defined for this path (405).
    MethodNotAllowed,
    /// No such endpoint (404).
    UnknownPath(String),
    /// A bug or a failed task (500). The detail goes to the log only.
    Internal(String),
    /// No valid access token (401 with `WWW-Authenticate`); the text says why, never more.
    Unauthorized(medulla_auth::TokenError),
}

impl From<medulla_engine::Error> for ApiError {
    fn from(error: medulla_engine::Error) -> Self {
        ApiError::Engine(error)
    }
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::Engine(error) => {
                StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::UnknownPath(_) => StatusCode::NOT_FOUND,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
        }
    }

    fn outcome(&self) -> serde_json::Value {
        let single = |code: &str, text: String| operation_outcome("error", code, &[(None, text)]);
        match self {
            ApiError::Engine(error) => error.to_outcome(),
            ApiError::UnsupportedMediaType(text) => single("not-supported", text.clone()),
            ApiError::NotAcceptable(text) => single("not-supported", text.clone()),
            ApiError::PayloadTooLarge(limit) => single(
                "too-costly",
                format!("the request body exceeds the limit of {limit} bytes"),
            ),
            ApiError::BadRequest(text) => single("invalid", text.clone()),
            ApiError::MethodNotAllowed => single(
                "not-supported",
                "this HTTP method is not supported on this path".to_owned(),
            ),
            ApiError::UnknownPath(path) => {
                single("not-found", format!("no FHIR endpoint at {path:?}"))
            }
            ApiError::Internal(_) => {
                single("exception", "internal error; see the server log".to_owned())
            }
            ApiError::Unauthorized(why) => single("login", why.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            // Detail for operators only; it never contains resource content.
            let detail = match &self {
                ApiError::Internal(detail) => detail.clone(),
                ApiError::Engine(error) => error.to_string(),
                _ => String::new(),
            };
            tracing::error!(status = status.as_u16(), %detail, "request failed");
        } else {
            tracing::debug!(status = status.as_u16(), "request rejected");
        }
        let body = serde_json::to_vec(&self.outcome()).unwrap_or_default();
        let mut response = (status, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(crate::FHIR_JSON),
        );
        if let ApiError::Unauthorized(why) = &self {
            // RFC 6750 §3: no error code when no token was sent at all.
            let challenge = match why {
                medulla_auth::TokenError::Missing => "Bearer realm=\"medulla\"".to_owned(),
                other => format!(
                    "Bearer realm=\"medulla\", error=\"invalid_token\", error_description=\"{other}\""
                ),
            };
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, value);
            }
        }
        response
    }
}

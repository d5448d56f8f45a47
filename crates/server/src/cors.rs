//! Cross-origin resource sharing, so that browser-based SMART apps served from another origin
//! can call the FHIR API and the authorization server.
//!
//! The middleware wraps the whole router, outside authentication: a preflight (`OPTIONS` with
//! `Origin` and `Access-Control-Request-Method`) carries no token and is answered here, `204`,
//! before any route or the `authenticate` middleware sees it. Only configured origins get CORS
//! headers, and the matching origin is echoed (never the list). Credentials (cookies, client
//! certificates) are never allowed cross-origin: SMART apps send their bearer token in
//! `Authorization`, which needs no `Access-Control-Allow-Credentials`, and that is also what
//! makes the `*` origin safe to offer.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// Methods a cross-origin caller may use.
const ALLOW_METHODS: &str = "GET, POST, PUT, PATCH, DELETE, OPTIONS";

/// Request headers a cross-origin caller may send beyond the CORS-safelisted ones.
const ALLOW_HEADERS: &str =
    "authorization, content-type, prefer, if-match, if-none-exist, if-none-match, x-purpose-of-use";

/// Response headers a cross-origin caller may read.
const EXPOSE_HEADERS: &str =
    "location, content-location, etag, last-modified, x-progress, retry-after, www-authenticate";

/// How long (seconds) a browser may cache a preflight answer.
const MAX_AGE: &str = "600";

/// Which origins may call the server from a browser.
#[derive(Debug)]
pub(crate) struct CorsPolicy {
    /// `*` was configured: every origin, answered with `Access-Control-Allow-Origin: *`.
    is_any: bool,
    /// Exact origins (`https://app.example.org`), compared without regard to ASCII case.
    origins: Vec<String>,
}

impl CorsPolicy {
    /// The policy for the configured origins; `None` when there are none (no CORS at all).
    pub(crate) fn new(origins: &[String]) -> Option<CorsPolicy> {
        if origins.is_empty() {
            return None;
        }
        Some(CorsPolicy {
            is_any: origins.iter().any(|origin| origin == "*"),
            origins: origins
                .iter()
                .map(|origin| origin.trim_end_matches('/').to_owned())
                .collect(),
        })
    }

    /// The `Access-Control-Allow-Origin` value for a request's `Origin`, if it is allowed.
    fn allow_origin(&self, origin: &HeaderValue) -> Option<HeaderValue> {
        if self.is_any {
            return Some(HeaderValue::from_static("*"));
        }
        let origin_text = origin.to_str().ok()?;
        self.origins
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(origin_text))
            .then(|| origin.clone())
    }
}

/// Answers preflights and adds CORS headers to the responses of allowed origins.
pub(crate) async fn cors(
    State(policy): State<Arc<CorsPolicy>>,
    request: Request,
    next: Next,
) -> Response {
    let allowed = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|origin| policy.allow_origin(origin));
    let is_preflight = request.method() == Method::OPTIONS
        && request.headers().contains_key(header::ORIGIN)
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if is_preflight {
        let mut response = StatusCode::NO_CONTENT.into_response();
        let headers = response.headers_mut();
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
        if let Some(origin) = allowed {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static(ALLOW_METHODS),
            );
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static(ALLOW_HEADERS),
            );
            headers.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static(MAX_AGE),
            );
        }
        return response;
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    // The answer depends on the Origin header even when it carries no CORS headers, so that a
    // shared cache never hands one origin's answer to another.
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = allowed {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSE_HEADERS),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(origins: &[&str]) -> CorsPolicy {
        let origins: Vec<String> = origins.iter().map(|origin| (*origin).to_owned()).collect();
        CorsPolicy::new(&origins).expect("origins given")
    }

    #[test]
    fn no_origins_means_no_policy() {
        assert!(CorsPolicy::new(&[]).is_none());
    }

    #[test]
    fn the_matching_origin_is_echoed() {
        let policy = policy(&["https://app.example.org/", "https://other.example.org"]);
        let origin = HeaderValue::from_static("https://APP.example.org");
        assert_eq!(policy.allow_origin(&origin), Some(origin.clone()));
        let stranger = HeaderValue::from_static("https://evil.example.org");
        assert_eq!(policy.allow_origin(&stranger), None);
    }

    #[test]
    fn star_allows_every_origin_with_a_star() {
        let policy = policy(&["*"]);
        assert_eq!(
            policy.allow_origin(&HeaderValue::from_static("https://any.example.org")),
            Some(HeaderValue::from_static("*"))
        );
    }
}

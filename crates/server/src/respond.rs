//! Building FHIR responses: headers from stored versions, pretty printing, `Prefer` handling.

use crate::FHIR_JSON;
use crate::negotiate::{Negotiated, ReturnPreference};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use medulla_engine::{fhir_time, operation_outcome};
use medulla_store::StoredResource;

/// A JSON response with the FHIR media type, pretty-printed when asked.
pub fn json_response(status: StatusCode, body: Vec<u8>, negotiated: &Negotiated) -> Response {
    let body = if negotiated.pretty {
        pretty(body)
    } else {
        body
    };
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
    response
}

fn pretty(body: Vec<u8>) -> Vec<u8> {
    match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(value) => serde_json::to_vec_pretty(&value).unwrap_or(body),
        Err(_) => body,
    }
}

/// `ETag` and `Last-Modified` of a version.
pub fn version_headers(headers: &mut HeaderMap, resource: &StoredResource) {
    if let Ok(etag) = HeaderValue::from_str(&format!("W/\"{}\"", resource.version)) {
        headers.insert(header::ETAG, etag);
    }
    let modified = httpdate::fmt_http_date(fhir_time::to_system_time(resource.last_updated));
    if let Ok(modified) = HeaderValue::from_str(&modified) {
        headers.insert(header::LAST_MODIFIED, modified);
    }
}

/// The absolute version URL of a resource.
pub fn location(base_url: &str, resource: &StoredResource) -> String {
    format!(
        "{base_url}/{}/{}/_history/{}",
        resource.resource_type, resource.id, resource.version
    )
}

/// The response to a write: status, `Location`, `ETag`, `Last-Modified`, and a body as `Prefer`
/// asks.
pub fn written(
    status: StatusCode,
    base_url: &str,
    resource: &StoredResource,
    body: Vec<u8>,
    negotiated: &Negotiated,
    message: &str,
) -> Response {
    let mut response = match negotiated.return_preference {
        ReturnPreference::Representation => json_response(status, body, negotiated),
        ReturnPreference::Minimal => status.into_response(),
        ReturnPreference::OperationOutcome => {
            let outcome = operation_outcome(
                "information",
                "informational",
                &[(None, message.to_owned())],
            );
            json_response(
                status,
                serde_json::to_vec(&outcome).unwrap_or_default(),
                negotiated,
            )
        }
    };
    let headers = response.headers_mut();
    version_headers(headers, resource);
    if let Ok(location) = HeaderValue::from_str(&location(base_url, resource)) {
        headers.insert(header::LOCATION, location.clone());
        headers.insert(header::CONTENT_LOCATION, location);
    }
    response
}

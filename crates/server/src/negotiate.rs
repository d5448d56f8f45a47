//! Content negotiation and request headers: `_format`, `Accept`, `Content-Type`, `Prefer`,
//! `If-Match` and friends.

use crate::error::ApiError;
use axum::http::{HeaderMap, header};
use medulla_engine::Handling;

/// How the response body is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReturnPreference {
    /// The resource (default).
    #[default]
    Representation,
    /// No body.
    Minimal,
    /// An OperationOutcome about the interaction.
    OperationOutcome,
}

/// What the request's headers and result parameters ask for.
#[derive(Debug, Clone)]
pub struct Negotiated {
    /// `_pretty=true`.
    pub pretty: bool,
    /// `Prefer: return=…`.
    pub return_preference: ReturnPreference,
    /// `Prefer: handling=…`.
    pub handling: Handling,
}

fn is_json_media(media: &str) -> bool {
    let essence = media
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    matches!(
        essence.as_str(),
        "application/fhir+json"
            | "application/json"
            | "application/json+fhir"
            | "json"
            | "text/json"
    )
}

fn is_xml_media(media: &str) -> bool {
    media.to_ascii_lowercase().contains("xml")
}

/// Checks `_format` and `Accept`, and reads `Prefer` and `_pretty`.
///
/// # Errors
/// 406 when only unsupported formats (XML, Turtle) are acceptable.
pub fn negotiate(headers: &HeaderMap, params: &[(String, String)]) -> Result<Negotiated, ApiError> {
    let mut pretty = false;
    for (name, value) in params {
        match name.as_str() {
            "_format" if !is_json_media(value) => {
                return Err(ApiError::NotAcceptable(format!(
                    "_format {value:?} is not supported; this server speaks FHIR JSON (application/fhir+json){}",
                    if is_xml_media(value) {
                        ", XML support is planned"
                    } else {
                        ""
                    }
                )));
            }
            "_pretty" => pretty = value == "true",
            _ => {}
        }
    }
    let has_format = params.iter().any(|(name, _)| name == "_format");
    if let (false, Some(accept)) = (
        has_format,
        headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()),
    ) {
        let acceptable = accept.split(',').any(|media| {
            let essence = media.split(';').next().unwrap_or("").trim();
            essence.is_empty()
                || essence == "*/*"
                || essence == "application/*"
                || is_json_media(essence)
        });
        if !acceptable {
            return Err(ApiError::NotAcceptable(format!(
                "cannot answer in any of the accepted formats {accept:?}; this server speaks FHIR JSON (application/fhir+json)"
            )));
        }
    }
    let mut return_preference = ReturnPreference::default();
    let mut handling = Handling::Lenient;
    for prefer in headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
    {
        for token in prefer.split([',', ';']).map(str::trim) {
            match token {
                "return=minimal" => return_preference = ReturnPreference::Minimal,
                "return=representation" => return_preference = ReturnPreference::Representation,
                "return=OperationOutcome" => return_preference = ReturnPreference::OperationOutcome,
                "handling=strict" => handling = Handling::Strict,
                "handling=lenient" => handling = Handling::Lenient,
                _ => {}
            }
        }
    }
    Ok(Negotiated {
        pretty,
        return_preference,
        handling,
    })
}

/// What kind of body a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// A FHIR resource in JSON.
    FhirJson,
    /// A JSON Patch document.
    JsonPatch,
}

/// Checks the request's `Content-Type` against what the interaction takes.
///
/// # Errors
/// 415 for missing or unsupported media types.
pub fn check_content_type(
    headers: &HeaderMap,
    accepted: &[BodyKind],
) -> Result<BodyKind, ApiError> {
    let Some(content_type) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return Err(ApiError::UnsupportedMediaType(
            "the request has no Content-Type; send application/fhir+json".to_owned(),
        ));
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let kind = if is_json_media(&essence) {
        Some(BodyKind::FhirJson)
    } else if essence == "application/json-patch+json" {
        Some(BodyKind::JsonPatch)
    } else {
        None
    };
    match kind {
        Some(kind) if accepted.contains(&kind) => Ok(kind),
        _ => {
            let wanted: Vec<&str> = accepted
                .iter()
                .map(|kind| match kind {
                    BodyKind::FhirJson => "application/fhir+json",
                    BodyKind::JsonPatch => "application/json-patch+json",
                })
                .collect();
            Err(ApiError::UnsupportedMediaType(format!(
                "Content-Type {content_type:?} is not supported here{}; send {}",
                if is_xml_media(&essence) {
                    " (XML is planned, not yet supported)"
                } else {
                    ""
                },
                wanted.join(" or ")
            )))
        }
    }
}

/// Reads a version from `If-Match` (`W/"3"` or `"3"`).
///
/// # Errors
/// 400 when the header is not a version ETag.
pub fn if_match(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or("");
    parse_etag(text).map(Some).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "If-Match {text:?} is not a version ETag like W/\"3\""
        ))
    })
}

/// Parses `W/"3"`, `"3"` or `3`.
pub fn parse_etag(text: &str) -> Option<u64> {
    let trimmed = text.trim();
    let trimmed = trimmed.strip_prefix("W/").unwrap_or(trimmed);
    trimmed.trim_matches('"').parse().ok()
}

/// The `If-None-Exist` criteria, without a leading `?` or base URL.
pub fn if_none_exist(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("if-none-exist")?.to_str().ok()?.trim();
    let criteria = value
        .rsplit_once('?')
        .map_or(value, |(_, criteria)| criteria);
    (!criteria.is_empty()).then(|| criteria.to_owned())
}

//! `GET /$data-quality`: the data quality report of `medulla-quality` over the current
//! resources, as JSON (a plain JSON document, not a FHIR resource) or as an HTML page.

use crate::access::Caller;
use crate::error::ApiError;
use crate::handlers::params_of;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use medulla_quality::{QualityOptions, QualityReport};
use serde_json::Value;

/// The page needs its inline styles and nothing else: no scripts, no requests.
const HTML_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'";

/// How the report is rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReportFormat {
    Json { pretty: bool },
    Html,
}

/// `_format=html` (or `text/html`) or `Accept: text/html` ask for the page; `_format` wins over
/// `Accept`; anything else JSON.
fn report_format(
    headers: &HeaderMap,
    params: &[(String, String)],
) -> Result<ReportFormat, ApiError> {
    let pretty = params
        .iter()
        .any(|(name, value)| name == "_pretty" && value == "true");
    let json = ReportFormat::Json { pretty };
    if let Some((_, format)) = params.iter().find(|(name, _)| name == "_format") {
        let essence = format.split(';').next().unwrap_or("").trim();
        return match essence.to_ascii_lowercase().as_str() {
            "html" | "text/html" => Ok(ReportFormat::Html),
            "json" | "application/json" | "application/fhir+json" => Ok(json),
            _ => Err(ApiError::NotAcceptable(format!(
                "_format {format:?} is not supported by $data-quality; use json or html"
            ))),
        };
    }
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| {
            accept.split(',').any(|media| {
                media
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .eq_ignore_ascii_case("text/html")
            })
        });
    Ok(if wants_html { ReportFormat::Html } else { json })
}

/// The `_type` values, comma-separated and repeatable; empty for every type.
fn requested_types(params: &[(String, String)]) -> Vec<String> {
    params
        .iter()
        .filter(|(name, _)| name == "_type")
        .flat_map(|(_, value)| value.split(','))
        .map(str::trim)
        .filter(|resource_type| !resource_type.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `GET /$data-quality[?_type=A,B][&_format=html]`: scans the current resources (needs
/// unrestricted read access to the types), validates and checks each, and answers the report.
/// Read-only; runs on a blocking thread.
pub(crate) async fn data_quality(
    Caller(guard): Caller,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let params = params_of(&uri);
    let format = report_format(&headers, &params)?;
    let types = requested_types(&params);
    // One report at a time: each validates every resource it scans and holds a read
    // transaction open; concurrent requests wait their turn.
    static ONE_AT_A_TIME: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);
    let _turn = ONE_AT_A_TIME
        .acquire()
        .await
        .map_err(|error| ApiError::Internal(format!("data quality queue closed: {error}")))?;
    let report = tokio::task::spawn_blocking(move || {
        // The stored profiles count: mustSupport completeness for resources declaring them.
        let validator = guard.engine().validator()?;
        let mut builder = QualityReport::builder(&validator, QualityOptions::default());
        guard.scan_current(&types, &mut |stored| {
            // A stored body that is not JSON is counted as input that is not a resource.
            let resource = stored
                .body
                .as_deref()
                .and_then(|body| serde_json::from_slice::<Value>(body).ok())
                .unwrap_or(Value::Null);
            builder.add(&resource);
            true
        })?;
        Ok::<_, medulla_engine::Error>(builder.finish())
    })
    .await
    .map_err(|error| ApiError::Internal(format!("data quality task failed: {error}")))??;
    let (content_type, body) = match format {
        ReportFormat::Html => ("text/html; charset=utf-8", report.to_html().into_bytes()),
        ReportFormat::Json { pretty } => {
            let json = report.to_json();
            let body = if pretty {
                serde_json::to_vec_pretty(&json)
            } else {
                serde_json::to_vec(&json)
            };
            (
                "application/json",
                body.map_err(|error| ApiError::Internal(format!("render the report: {error}")))?,
            )
        }
    };
    let mut response = (StatusCode::OK, body).into_response();
    let response_headers = response.headers_mut();
    response_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if format == ReportFormat::Html {
        response_headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(HTML_POLICY),
        );
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn format_comes_from_format_parameter_then_accept() {
        let mut html_accept = HeaderMap::new();
        html_accept.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/html,application/xhtml+xml;q=0.9"),
        );
        let none = HeaderMap::new();
        assert_eq!(
            report_format(&none, &[]).ok(),
            Some(ReportFormat::Json { pretty: false })
        );
        assert_eq!(
            report_format(&html_accept, &[]).ok(),
            Some(ReportFormat::Html)
        );
        assert_eq!(
            report_format(&none, &params(&[("_format", "html")])).ok(),
            Some(ReportFormat::Html)
        );
        assert_eq!(
            report_format(
                &html_accept,
                &params(&[("_format", "json"), ("_pretty", "true")])
            )
            .ok(),
            Some(ReportFormat::Json { pretty: true })
        );
        assert!(matches!(
            report_format(&none, &params(&[("_format", "xml")])),
            Err(ApiError::NotAcceptable(_))
        ));
    }

    #[test]
    fn types_are_comma_separated_and_repeatable() {
        assert_eq!(
            requested_types(&params(&[
                ("_type", "Patient, Observation,"),
                ("_type", "Encounter")
            ])),
            ["Patient", "Observation", "Encounter"]
        );
    }
}

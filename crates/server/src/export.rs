//! The Bulk Data Access IG's HTTP protocol for `$export`: kick-off (`Prefer: respond-async`,
//! 202 + `Content-Location`), status polling (202 with `X-Progress`/`Retry-After`, then the
//! manifest), cancellation (DELETE) and file download.

use crate::AppState;
use crate::access::Caller;
use crate::error::ApiError;
use crate::handlers::params_of;
use crate::negotiate;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use medulla_bulk::{ExportRequest, Exports, Level, Status};
use medulla_engine::{Error, Guarded};
use serde_json::json;

type Result<T> = std::result::Result<T, ApiError>;

fn exports(state: &AppState) -> Result<&Exports> {
    state.config.exports.as_ref().ok_or_else(|| {
        ApiError::Engine(Error::invalid(
            None,
            "bulk export is not enabled on this server",
        ))
    })
}

fn bulk_error(error: medulla_bulk::Error) -> ApiError {
    match error {
        medulla_bulk::Error::Engine(error) => ApiError::Engine(error),
        medulla_bulk::Error::Invalid(message) => ApiError::Engine(Error::invalid(None, message)),
        other => ApiError::Internal(other.to_string()),
    }
}

/// `202 Accepted` pointing at a job's status URL.
fn accepted(location: &str) -> Response {
    let mut response = StatusCode::ACCEPTED.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response
            .headers_mut()
            .insert(header::CONTENT_LOCATION, value);
    }
    response
}

/// `202 Accepted` for a status poll of a running job: progress and when to ask again.
fn in_progress(written: u64) -> Response {
    let mut response = StatusCode::ACCEPTED.into_response();
    let headers = response.headers_mut();
    if let Ok(progress) =
        HeaderValue::from_str(&format!("in progress: {written} resources written"))
    {
        headers.insert("x-progress", progress);
    }
    headers.insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
    response
}

/// Bulk operations run as background jobs: the client must say it accepts that.
fn require_async(headers: &HeaderMap, operation: &str) -> Result<()> {
    let respond_async = headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split([',', ';']).any(|t| t.trim() == "respond-async"));
    if respond_async {
        Ok(())
    } else {
        Err(ApiError::BadRequest(format!(
            "{operation} runs asynchronously: send Prefer: respond-async"
        )))
    }
}

/// Only the caller who started a job may see, download or cancel it (when the server
/// authenticates); to anyone else it does not exist.
fn check_owner(exports: &Exports, job: &str, guard: &Guarded) -> Result<()> {
    if guard.access().is_anonymous() {
        return Ok(());
    }
    let owner = exports.state(job).and_then(|state| state.request.owner);
    if owner.as_deref() == Some(guard.access().subject.name()) {
        Ok(())
    } else {
        Err(ApiError::Engine(Error::NotFound(format!(
            "export job {job}"
        ))))
    }
}

async fn kick_off(
    state: AppState,
    guard: Guarded,
    headers: HeaderMap,
    uri: Uri,
    level: Level,
) -> Result<Response> {
    let exports = exports(&state)?.clone();
    require_async(&headers, "$export")?;
    let mut request = ExportRequest {
        level,
        request_url: format!("{}{}", state.engine.options().base_url, uri),
        owner: (!guard.access().is_anonymous()).then(|| guard.access().subject.name().to_owned()),
        ..ExportRequest::default()
    };
    for (name, value) in params_of(&uri) {
        match name.as_str() {
            "_type" => request.types.extend(
                value
                    .split(',')
                    .map(|t| t.trim().to_owned())
                    .filter(|t| !t.is_empty()),
            ),
            "_since" => request.since = Some(value),
            "_typeFilter" => request
                .type_filters
                .extend(value.split(',').map(str::to_owned)),
            "_outputFormat"
                if !matches!(
                    value.as_str(),
                    "application/fhir+ndjson" | "application/ndjson" | "ndjson"
                ) =>
            {
                return Err(ApiError::Engine(Error::invalid(
                    Some("_outputFormat"),
                    format!(
                        "_outputFormat {value:?} is not supported; use application/fhir+ndjson"
                    ),
                )));
            }
            "includeAssociatedData" | "_elements" | "patient" => {
                return Err(ApiError::Engine(Error::invalid(
                    Some(&name),
                    format!("{name} is not supported by this server's $export"),
                )));
            }
            _ => {}
        }
    }
    // Bulk export reads whole types: it needs unrestricted read and search of every type it
    // writes (all types when `_type` is absent).
    guard.require_all(&request.types, medulla_engine::Permission::Read)?;
    guard.require_all(&request.types, medulla_engine::Permission::Search)?;
    let job = tokio::task::spawn_blocking(move || exports.start(request))
        .await
        .map_err(|error| ApiError::Internal(error.to_string()))?
        .map_err(bulk_error)?;
    Ok(accepted(&format!(
        "{}/$export-status/{job}",
        state.engine.options().base_url
    )))
}

pub(crate) async fn export_system(
    State(state): State<AppState>,
    Caller(guard): Caller,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response> {
    kick_off(state, guard, headers, uri, Level::System).await
}

pub(crate) async fn export_type(
    State(state): State<AppState>,
    Caller(guard): Caller,
    Path(resource_type): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response> {
    if resource_type != "Patient" {
        return Err(ApiError::Engine(Error::invalid(
            None,
            format!("$export is defined on Patient and Group, not {resource_type}"),
        )));
    }
    kick_off(state, guard, headers, uri, Level::Patient).await
}

pub(crate) async fn export_instance(
    State(state): State<AppState>,
    Caller(guard): Caller,
    Path((resource_type, id)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response> {
    if resource_type != "Group" {
        return Err(ApiError::Engine(Error::invalid(
            None,
            format!("instance-level $export is defined on Group, not {resource_type}"),
        )));
    }
    kick_off(state, guard, headers, uri, Level::Group(id)).await
}

pub(crate) async fn export_status(
    State(state): State<AppState>,
    Caller(guard): Caller,
    Path(job): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response> {
    let negotiated = negotiate::negotiate(&headers, &params_of(&uri))?;
    let exports = exports(&state)?;
    check_owner(exports, &job, &guard)?;
    let job_state = exports
        .state(&job)
        .ok_or_else(|| ApiError::Engine(Error::NotFound(format!("export job {job:?}"))))?;
    match &job_state.status {
        Status::InProgress => Ok(in_progress(job_state.exported)),
        Status::Failed(reason) => Err(ApiError::Internal(format!("export {job} failed: {reason}"))),
        Status::Completed => {
            let base = &state.engine.options().base_url;
            let output: Vec<serde_json::Value> = job_state
                .output
                .iter()
                .map(|file| json!({"type": file.resource_type, "url": format!("{base}/$export-file/{job}/{}", file.name), "count": file.count}))
                .collect();
            let manifest = json!({
                "transactionTime": job_state.transaction_time,
                "request": job_state.request.request_url,
                "requiresAccessToken": !guard.access().is_anonymous(),
                "output": output,
                "error": [],
            });
            let mut response = crate::respond::json_response(
                StatusCode::OK,
                serde_json::to_vec(&manifest).unwrap_or_default(),
                &negotiated,
            );
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            Ok(response)
        }
    }
}

pub(crate) async fn export_cancel(
    State(state): State<AppState>,
    Caller(guard): Caller,
    Path(job): Path<String>,
) -> Result<Response> {
    let exports = exports(&state)?.clone();
    check_owner(&exports, &job, &guard)?;
    let removed = tokio::task::spawn_blocking(move || exports.cancel(&job))
        .await
        .map_err(|error| ApiError::Internal(error.to_string()))?;
    if removed {
        Ok(StatusCode::ACCEPTED.into_response())
    } else {
        Err(ApiError::Engine(Error::NotFound("export job".to_owned())))
    }
}

pub(crate) async fn export_file(
    State(state): State<AppState>,
    Caller(guard): Caller,
    Path((job, name)): Path<(String, String)>,
) -> Result<Response> {
    let exports = exports(&state)?;
    check_owner(exports, &job, &guard)?;
    let path = exports.file(&job, &name).ok_or_else(|| {
        ApiError::Engine(Error::NotFound(format!(
            "export file {name:?} of job {job:?}"
        )))
    })?;
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|error| ApiError::Internal(format!("opening export file: {error}")))?;
    let stream = tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024);
    let mut response = axum::body::Body::from_stream(stream).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/fhir+ndjson"),
    );
    Ok(response)
}

fn imports(state: &AppState) -> Result<&medulla_bulk::Imports> {
    state.config.imports.as_ref().ok_or_else(|| {
        ApiError::Engine(Error::invalid(
            None,
            "bulk import is not enabled on this server",
        ))
    })
}

/// `POST /$import` with a Parameters body: `input` parts (`type`, `url`) naming NDJSON files in
/// the server's import folder; `inputFormat` must be NDJSON.
pub(crate) async fn import_start(
    State(state): State<AppState>,
    Caller(guard): Caller,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response> {
    let imports = imports(&state)?.clone();
    require_async(&headers, "$import")?;
    // Import writes any type: administrators only.
    guard.require_all(&[], medulla_engine::Permission::Create)?;
    guard.require_all(&[], medulla_engine::Permission::Update)?;
    let parameters: serde_json::Value = serde_json::from_slice(&body).map_err(|error| {
        ApiError::BadRequest(format!(
            "the body is not a JSON Parameters resource: {error}"
        ))
    })?;
    if parameters
        .get("resourceType")
        .and_then(serde_json::Value::as_str)
        != Some("Parameters")
    {
        return Err(ApiError::BadRequest(
            "$import takes a Parameters resource".to_owned(),
        ));
    }
    let mut inputs = Vec::new();
    for parameter in parameters
        .get("parameter")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
    {
        match parameter.get("name").and_then(serde_json::Value::as_str) {
            Some("inputFormat") => {
                let format = parameter
                    .get("valueCode")
                    .or_else(|| parameter.get("valueString"))
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("");
                if !matches!(
                    format,
                    "application/fhir+ndjson" | "application/ndjson" | "ndjson"
                ) {
                    return Err(ApiError::Engine(Error::invalid(
                        Some("inputFormat"),
                        format!(
                            "inputFormat {format:?} is not supported; use application/fhir+ndjson"
                        ),
                    )));
                }
            }
            Some("input") => {
                let part = |name: &str| {
                    parameter
                        .get("part")
                        .and_then(serde_json::Value::as_array)
                        .into_iter()
                        .flatten()
                        .find(|p| p.get("name").and_then(serde_json::Value::as_str) == Some(name))
                        .and_then(|p| {
                            ["valueCode", "valueUri", "valueUrl", "valueString"]
                                .iter()
                                .find_map(|key| p.get(*key))
                                .and_then(serde_json::Value::as_str)
                                .map(str::to_owned)
                        })
                };
                let (Some(resource_type), Some(url)) = (part("type"), part("url")) else {
                    return Err(ApiError::Engine(Error::invalid(
                        Some("input"),
                        "each input needs a type and a url part",
                    )));
                };
                inputs.push(medulla_bulk::ImportInput { resource_type, url });
            }
            _ => {}
        }
    }
    let job = tokio::task::spawn_blocking(move || imports.start(inputs))
        .await
        .map_err(|error| ApiError::Internal(error.to_string()))?
        .map_err(bulk_error)?;
    Ok(accepted(&format!(
        "{}/$import-status/{job}",
        state.engine.options().base_url
    )))
}

/// `GET /$import-status/{job}`: 202 while running, then a manifest of what was loaded.
pub(crate) async fn import_status(
    State(state): State<AppState>,
    Caller(guard): Caller,
    Path(job): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response> {
    let negotiated = negotiate::negotiate(&headers, &params_of(&uri))?;
    guard.require_all(&[], medulla_engine::Permission::Create)?;
    let job_state = imports(&state)?
        .state(&job)
        .ok_or_else(|| ApiError::Engine(Error::NotFound(format!("import job {job:?}"))))?;
    match &job_state.status {
        Status::InProgress => {
            let written: u64 = job_state.written.values().sum();
            Ok(in_progress(written))
        }
        Status::Failed(reason) => Err(ApiError::Internal(format!("import {job} failed: {reason}"))),
        Status::Completed => {
            let output: Vec<serde_json::Value> = job_state
                .inputs
                .iter()
                .map(|input| json!({"type": input.resource_type, "inputUrl": input.url, "count": job_state.written.get(&input.url).copied().unwrap_or(0)}))
                .collect();
            let errors: Vec<serde_json::Value> = job_state
                .errors
                .iter()
                .map(|e| json!({"diagnostics": e}))
                .collect();
            let manifest = json!({
                "transactionTime": job_state.transaction_time,
                "output": output,
                "unchanged": job_state.unchanged,
                "errorCount": job_state.error_count,
                "error": errors,
            });
            Ok(crate::respond::json_response(
                StatusCode::OK,
                serde_json::to_vec(&manifest).unwrap_or_default(),
                &negotiated,
            ))
        }
    }
}

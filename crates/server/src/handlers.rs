//! One handler per interaction. Each reads the request, calls the engine, and shapes the
//! response; none holds FHIR logic of its own.

use crate::AppState;
use crate::access::Caller;
use crate::error::ApiError;
use crate::negotiate::{self, BodyKind, Negotiated};
use crate::respond::{self, json_response};
use axum::body::Body;
use axum::extract::{MatchedPath, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use medulla_engine::query::parse_query_string;
use medulla_engine::{Guarded, PatchTarget, Shape};
use medulla_store::{HistoryScope, StoredResource};
use serde_json::Value;

type Result<T> = std::result::Result<T, ApiError>;

/// Logs each request with its route template (never the raw URL: queries can hold PHI).
pub(crate) async fn log_request(request: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    static NEXT_REQUEST_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let request_id = NEXT_REQUEST_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let response = next.run(request).await;
    tracing::debug!(
        %request_id,
        %method,
        route,
        status = response.status().as_u16(),
        micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        "request"
    );
    response
}

/// Headers every response carries: no MIME sniffing, no referrer leaking paths and queries, no
/// framing (clickjacking), and, when the server is reached over TLS (`ServerConfig::hsts`),
/// `Strict-Transport-Security` so browsers never fall back to plain HTTP.
pub(crate) async fn security_headers(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        axum::http::HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        axum::http::HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_FRAME_OPTIONS,
        axum::http::HeaderValue::from_static("DENY"),
    );
    if state.config.hsts {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            axum::http::HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    response
}

pub(crate) fn params_of(uri: &Uri) -> Vec<(String, String)> {
    uri.query().map(parse_query_string).unwrap_or_default()
}

/// Most bytes of a rejected (too large) body read and thrown away before answering 413.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

/// Reads the whole body up to the configured limit.
async fn read_body(state: &AppState, headers: &HeaderMap, mut body: Body) -> Result<bytes::Bytes> {
    let limit = state.config.body_limit;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        drain(body).await;
        return Err(ApiError::PayloadTooLarge(limit));
    }
    let mut collected = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|error| {
            ApiError::BadRequest(format!("cannot read the request body: {error}"))
        })?;
        if let Ok(data) = frame.into_data() {
            if collected.len() + data.len() > limit {
                drain(body).await;
                return Err(ApiError::PayloadTooLarge(limit));
            }
            collected.extend_from_slice(&data);
        }
    }
    Ok(collected.freeze())
}

/// Reads and discards the rest of a body that will not be used (up to [`DRAIN_LIMIT`]). A client
/// still sending its body when the server answers and closes the connection gets a reset
/// instead of the answer; draining lets it read the 413.
async fn drain(mut body: Body) {
    let mut seen = 0usize;
    while let Some(Ok(frame)) = body.frame().await {
        if let Some(data) = frame.data_ref() {
            seen = seen.saturating_add(data.len());
            if seen > DRAIN_LIMIT {
                return;
            }
        }
    }
}

/// Reads and parses a JSON body of an accepted kind.
async fn json_body(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    accepted: &[BodyKind],
) -> Result<(BodyKind, Value)> {
    let kind = negotiate::check_content_type(headers, accepted)?;
    let bytes = read_body(state, headers, body).await?;
    if bytes.is_empty() {
        return Err(ApiError::BadRequest("the request body is empty".to_owned()));
    }
    let value: Value = serde_json::from_slice(&bytes).map_err(|error| {
        ApiError::BadRequest(format!(
            "the body is not valid JSON (line {}, column {}): {error}",
            error.line(),
            error.column()
        ))
    })?;
    Ok((kind, value))
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> std::result::Result<T, medulla_engine::Error> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| ApiError::Internal(format!("blocking task failed: {error}")))?
        .map_err(ApiError::from)
}

fn base(state: &AppState) -> &str {
    &state.engine.options().base_url
}

pub(crate) async fn metadata(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response> {
    let negotiated = negotiate::negotiate(&headers, &params_of(&uri))?;
    Ok(json_response(
        StatusCode::OK,
        state.capability.as_ref().clone(),
        &negotiated,
    ))
}

pub(crate) async fn system_root(
    Caller(guard): Caller,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response> {
    let params = params_of(&uri);
    let types: Vec<String> = params
        .iter()
        .filter(|(name, _)| name == "_type")
        .flat_map(|(_, value)| {
            value
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    search(guard, headers, types, String::new(), params).await
}

pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

pub(crate) async fn unknown_path(uri: axum::extract::OriginalUri) -> ApiError {
    ApiError::UnknownPath(uri.path().to_owned())
}

pub(crate) async fn system_bundle(
    State(state): State<AppState>,
    Caller(guard): Caller,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Result<Response> {
    let negotiated = negotiate::negotiate(&headers, &params_of(&uri))?;
    let (_, bundle) = json_body(&state, &headers, body, &[BodyKind::FhirJson]).await?;
    let response = guard.process_bundle(bundle).await?;
    let with_resources = negotiated.return_preference != negotiate::ReturnPreference::Minimal;
    Ok(json_response(
        StatusCode::OK,
        response.render(with_resources),
        &negotiated,
    ))
}

async fn history(
    guard: Guarded,
    headers: HeaderMap,
    uri: Uri,
    scope: HistoryScope,
) -> Result<Response> {
    let params = params_of(&uri);
    let negotiated = negotiate::negotiate(&headers, &params)?;
    let engine = guard.clone();
    // Inside the nested `/fhir` router the URI has lost its `/fhir` prefix: `/_history`.
    let path = uri
        .path()
        .trim_start_matches("/fhir/")
        .trim_start_matches('/')
        .to_owned();
    let body = blocking(move || engine.history_bundle(scope, &path, &params)).await?;
    Ok(json_response(StatusCode::OK, body, &negotiated))
}

pub(crate) async fn system_history(
    Caller(guard): Caller,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response> {
    history(guard, headers, uri, HistoryScope::System).await
}

pub(crate) async fn type_history(
    Caller(guard): Caller,
    Path(resource_type): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response> {
    history(guard, headers, uri, HistoryScope::Type(resource_type)).await
}

pub(crate) async fn instance_history(
    Caller(guard): Caller,
    Path((resource_type, id)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response> {
    history(
        guard,
        headers,
        uri,
        HistoryScope::Instance(resource_type, id),
    )
    .await
}

async fn search(
    guard: Guarded,
    headers: HeaderMap,
    types: Vec<String>,
    path: String,
    params: Vec<(String, String)>,
) -> Result<Response> {
    let negotiated = negotiate::negotiate(&headers, &params)?;
    let engine = guard.clone();
    let handling = negotiated.handling;
    let body = blocking(move || engine.search_bundle(&types, &path, &params, handling)).await?;
    Ok(json_response(StatusCode::OK, body, &negotiated))
}

pub(crate) async fn type_search(
    State(state): State<AppState>,
    Caller(guard): Caller,
    Path(resource_type): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response> {
    if crate::audit_api::serves(&state, &resource_type) {
        let params = params_of(&uri);
        let negotiated = negotiate::negotiate(&headers, &params)?;
        return crate::audit_api::search(&state, &guard, params, &negotiated).await;
    }
    let path = resource_type.clone();
    search(guard, headers, vec![resource_type], path, params_of(&uri)).await
}

pub(crate) async fn type_search_post(
    State(state): State<AppState>,
    Caller(guard): Caller,
    Path(resource_type): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Result<Response> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return Err(ApiError::UnsupportedMediaType(format!(
            "POST _search takes application/x-www-form-urlencoded, not {content_type:?}"
        )));
    }
    let bytes = read_body(&state, &headers, body).await?;
    let form = std::str::from_utf8(&bytes)
        .map_err(|_| ApiError::BadRequest("the form body is not UTF-8".to_owned()))?;
    let mut params = params_of(&uri);
    params.extend(parse_query_string(form));
    let path = resource_type.clone();
    search(guard, headers, vec![resource_type], path, params).await
}

fn created_status(created: bool) -> StatusCode {
    if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}

fn write_response(
    state: &AppState,
    written: &medulla_engine::Written,
    negotiated: &Negotiated,
    message: &str,
) -> Response {
    let resource = &written.resource;
    let body = resource.body.clone().unwrap_or_default();
    respond::written(
        created_status(written.created),
        base(state),
        resource,
        body,
        negotiated,
        message,
    )
}

pub(crate) async fn type_create(
    State(state): State<AppState>,
    Caller(guard): Caller,
    Path(resource_type): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Result<Response> {
    let negotiated = negotiate::negotiate(&headers, &params_of(&uri))?;
    let (_, resource) = json_body(&state, &headers, body, &[BodyKind::FhirJson]).await?;
    let written = guard
        .create(&resource_type, resource, negotiate::if_none_exist(&headers))
        .await?;
    let message = if written.changed {
        "created"
    } else {
        "an existing resource matched If-None-Exist; nothing was created"
    };
    Ok(write_response(&state, &written, &negotiated, message))
}

fn criteria_of(uri: &Uri) -> Result<String> {
    match uri.query() {
        Some(query) if !query.is_empty() => Ok(query.to_owned()),
        _ => Err(ApiError::BadRequest(
            "a conditional interaction on a resource type needs search criteria in the query"
                .to_owned(),
        )),
    }
}

/// Removes result parameters (`_format`, `_pretty`) from conditional criteria.
fn strip_result_params(criteria: &str) -> String {
    criteria
        .split('&')
        .filter(|pair| !pair.starts_with("_format=") && !pair.starts_with("_pretty="))
        .collect::<Vec<_>>()
        .join("&")
}

pub(crate) async fn type_conditional_update(
    State(state): State<AppState>,
    Caller(guard): Caller,
    Path(resource_type): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Result<Response> {
    let negotiated = negotiate::negotiate(&headers, &params_of(&uri))?;
    let criteria = strip_result_params(&criteria_of(&uri)?);
    let (_, resource) = json_body(&state, &headers, body, &[BodyKind::FhirJson]).await?;
    let if_match = negotiate::if_match(&headers)?;
    let written = guard
        .conditional_update(&resource_type, &criteria, resource, if_match)
        .await?;
    Ok(write_response(&state, &written, &negotiated, "updated"))
}

pub(crate) async fn type_conditional_delete(
    Caller(guard): Caller,
    Path(resource_type): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response> {
    let negotiated = negotiate::negotiate(&headers, &params_of(&uri))?;
    let criteria = strip_result_params(&criteria_of(&uri)?);
    let deleted = guard.conditional_delete(&resource_type, &criteria).await?;
    let message = match deleted.len() {
        0 => "no resource matched; nothing was deleted".to_owned(),
        n => format!("deleted {n} resource(s)"),
    };
    let outcome =
        medulla_engine::operation_outcome("information", "informational", &[(None, message)]);
    Ok(json_response(
        StatusCode::OK,
        serde_json::to_vec(&outcome).unwrap_or_default(),
        &negotiated,
    ))
}

async fn patch(
    state: AppState,
    guard: Guarded,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
    resource_type: String,
    target: PatchTarget,
) -> Result<Response> {
    let negotiated = negotiate::negotiate(&headers, &params_of(&uri))?;
    let (_, operations) = json_body(&state, &headers, body, &[BodyKind::JsonPatch]).await?;
    let if_match = negotiate::if_match(&headers)?;
    let written = guard
        .patch(&resource_type, target, operations, if_match)
        .await?;
    Ok(write_response(&state, &written, &negotiated, "patched"))
}

pub(crate) async fn type_conditional_patch(
    State(state): State<AppState>,
    Caller(guard): Caller,
    Path(resource_type): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Result<Response> {
    let criteria = strip_result_params(&criteria_of(&uri)?);
    patch(
        state,
        guard,
        headers,
        uri,
        body,
        resource_type,
        PatchTarget::Criteria(criteria),
    )
    .await
}

pub(crate) async fn instance_patch(
    State(state): State<AppState>,
    Caller(guard): Caller,
    Path((resource_type, id)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Result<Response> {
    patch(
        state,
        guard,
        headers,
        uri,
        body,
        resource_type,
        PatchTarget::Id(id),
    )
    .await
}

/// 304 when `If-None-Match` names the current version or `If-Modified-Since` is not older.
fn not_modified(headers: &HeaderMap, resource: &StoredResource) -> bool {
    if let Some(wanted) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    {
        return wanted
            .split(',')
            .any(|tag| tag.trim() == "*" || negotiate::parse_etag(tag) == Some(resource.version));
    }
    if let Some(since) = headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok())
    {
        let modified_seconds = resource.last_updated.micros() / 1_000_000;
        let since_seconds = since
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        return modified_seconds <= since_seconds;
    }
    false
}

fn read_response(
    resource: &StoredResource,
    headers: &HeaderMap,
    params: &[(String, String)],
    negotiated: &Negotiated,
) -> Result<Response> {
    if not_modified(headers, resource) {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        respond::version_headers(response.headers_mut(), resource);
        return Ok(response);
    }
    let shape = Shape::from_params(params)?;
    let body = resource
        .body
        .as_deref()
        .map(|body| shape.apply(body).into_owned())
        .unwrap_or_default();
    let mut response = json_response(StatusCode::OK, body, negotiated);
    respond::version_headers(response.headers_mut(), resource);
    Ok(response)
}

pub(crate) async fn instance_read(
    State(state): State<AppState>,
    Caller(guard): Caller,
    Path((resource_type, id)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response> {
    let params = params_of(&uri);
    let negotiated = negotiate::negotiate(&headers, &params)?;
    if let Some(operation) = id.strip_prefix('$') {
        let input = medulla_engine::OperationInput::from_query(&params);
        return run_operation(
            guard,
            resource_type,
            None,
            operation.to_owned(),
            input,
            &negotiated,
        )
        .await;
    }
    if crate::audit_api::serves(&state, &resource_type) {
        return crate::audit_api::read(&state, &guard, &id, &negotiated).await;
    }
    let engine = guard.clone();
    let resource = blocking(move || engine.read(&resource_type, &id)).await?;
    read_response(&resource, &headers, &params, &negotiated)
}

pub(crate) async fn instance_vread(
    Caller(guard): Caller,
    Path((resource_type, id, version)): Path<(String, String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response> {
    let params = params_of(&uri);
    let negotiated = negotiate::negotiate(&headers, &params)?;
    let engine = guard.clone();
    let resource = blocking(move || engine.vread(&resource_type, &id, &version)).await?;
    read_response(&resource, &headers, &params, &negotiated)
}

pub(crate) async fn instance_update(
    State(state): State<AppState>,
    Caller(guard): Caller,
    Path((resource_type, id)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Result<Response> {
    let negotiated = negotiate::negotiate(&headers, &params_of(&uri))?;
    let (_, resource) = json_body(&state, &headers, body, &[BodyKind::FhirJson]).await?;
    let if_match = negotiate::if_match(&headers)?;
    let written = guard
        .update(&resource_type, &id, resource, if_match)
        .await?;
    Ok(write_response(
        &state,
        &written,
        &negotiated,
        if written.created {
            "created"
        } else {
            "updated"
        },
    ))
}

pub(crate) async fn instance_delete(
    Caller(guard): Caller,
    Path((resource_type, id)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response> {
    let negotiated = negotiate::negotiate(&headers, &params_of(&uri))?;
    let tombstone = guard.delete(&resource_type, &id).await?;
    let mut response = match negotiated.return_preference {
        negotiate::ReturnPreference::OperationOutcome => {
            let message = if tombstone.is_some() {
                "deleted"
            } else {
                "already deleted"
            };
            let outcome = medulla_engine::operation_outcome(
                "information",
                "informational",
                &[(None, message.to_owned())],
            );
            json_response(
                StatusCode::OK,
                serde_json::to_vec(&outcome).unwrap_or_default(),
                &negotiated,
            )
        }
        _ => StatusCode::NO_CONTENT.into_response(),
    };
    if let Some(tombstone) = &tombstone {
        respond::version_headers(response.headers_mut(), tombstone);
    }
    Ok(response)
}

/// Runs an operation on a type (`id` = `None`) or an instance and answers its result.
async fn run_operation(
    guard: Guarded,
    resource_type: String,
    id: Option<String>,
    operation: String,
    input: medulla_engine::OperationInput,
    negotiated: &negotiate::Negotiated,
) -> Result<Response> {
    let body = blocking(move || {
        guard
            .operation(&resource_type, id.as_deref(), &operation, &input)
            .map(|result| serde_json::to_vec(&result).unwrap_or_default())
    })
    .await?;
    Ok(json_response(StatusCode::OK, body, negotiated))
}

/// `POST /CodeSystem/$lookup` and the other type-level operations whose input is a
/// Parameters resource (or only the query string, with an empty body).
pub(crate) async fn type_operation_post(
    State(state): State<AppState>,
    Caller(guard): Caller,
    Path((resource_type, target)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Result<Response> {
    operation_post(
        state,
        guard,
        resource_type,
        None,
        target,
        headers,
        uri,
        body,
    )
    .await
}

/// `POST /ValueSet/{id}/$expand` and the other instance-level operations.
pub(crate) async fn instance_operation_post(
    State(state): State<AppState>,
    Caller(guard): Caller,
    Path((resource_type, id, target)): Path<(String, String, String)>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Result<Response> {
    operation_post(
        state,
        guard,
        resource_type,
        Some(id),
        target,
        headers,
        uri,
        body,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn operation_post(
    state: AppState,
    guard: Guarded,
    resource_type: String,
    id: Option<String>,
    target: String,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Result<Response> {
    let params = params_of(&uri);
    let negotiated = negotiate::negotiate(&headers, &params)?;
    let Some(operation) = target.strip_prefix('$') else {
        return Err(ApiError::MethodNotAllowed);
    };
    let bytes = read_body(&state, &headers, body).await?;
    let input = if bytes.is_empty() {
        medulla_engine::OperationInput::from_query(&params)
    } else {
        negotiate::check_content_type(&headers, &[BodyKind::FhirJson])?;
        let body: Value = serde_json::from_slice(&bytes).map_err(|error| {
            ApiError::BadRequest(format!("the request body is not JSON: {error}"))
        })?;
        if operation == "validate" {
            medulla_engine::OperationInput::from_body(body, &params)?
        } else {
            medulla_engine::OperationInput::from_parameters(&body, &params)?
        }
    };
    run_operation(
        guard,
        resource_type,
        id,
        operation.to_owned(),
        input,
        &negotiated,
    )
    .await
}

/// `GET /Patient/1/Observation`, `/Patient/1/*` and `/Patient/1/$everything`.
pub(crate) async fn compartment_search(
    Caller(guard): Caller,
    Path((compartment, id, target)): Path<(String, String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response> {
    let params = params_of(&uri);
    let negotiated = negotiate::negotiate(&headers, &params)?;
    let engine = guard.clone();
    let handling = negotiated.handling;
    let path = uri
        .path()
        .trim_start_matches("/fhir/")
        .trim_start_matches('/')
        .to_owned();
    if target != "$everything"
        && let Some(operation) = target.strip_prefix('$')
    {
        let input = medulla_engine::OperationInput::from_query(&params);
        return run_operation(
            guard,
            compartment,
            Some(id),
            operation.to_owned(),
            input,
            &negotiated,
        )
        .await;
    }
    let body = blocking(move || {
        if target == "$everything" {
            if compartment != "Patient" {
                return Err(medulla_engine::Error::invalid(
                    None,
                    "$everything is defined for Patient only",
                ));
            }
            engine.everything_bundle(&id, &path, &params)
        } else {
            engine.compartment_bundle(&compartment, &id, &target, &path, &params, handling)
        }
    })
    .await?;
    Ok(json_response(StatusCode::OK, body, &negotiated))
}

async fn start_reindex(
    state: AppState,
    guard: Guarded,
    headers: HeaderMap,
    uri: Uri,
    types: Vec<String>,
) -> Result<Response> {
    let negotiated = negotiate::negotiate(&headers, &params_of(&uri))?;
    let engine = guard.clone();
    let job = blocking(move || engine.start_reindex(types)).await?;
    let location = format!("{}/$reindex/{job}", base(&state));
    let status = state
        .engine
        .reindex_status(&job)
        .map(|status| status.to_parameters())
        .unwrap_or_default();
    let mut response = json_response(
        StatusCode::ACCEPTED,
        serde_json::to_vec(&status).unwrap_or_default(),
        &negotiated,
    );
    if let Ok(value) = axum::http::HeaderValue::from_str(&location) {
        response
            .headers_mut()
            .insert(header::CONTENT_LOCATION, value);
    }
    Ok(response)
}

/// `POST /$reindex`: reindex every resource with the current SearchParameters.
pub(crate) async fn reindex_start(
    State(state): State<AppState>,
    Caller(guard): Caller,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response> {
    start_reindex(state, guard, headers, uri, Vec::new()).await
}

/// `POST /{type}/$reindex`.
pub(crate) async fn reindex_type_start(
    State(state): State<AppState>,
    Caller(guard): Caller,
    Path(resource_type): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response> {
    start_reindex(state, guard, headers, uri, vec![resource_type]).await
}

/// `GET /$reindex/{job}`: the job's progress as Parameters (200 when done, 202 while running).
pub(crate) async fn reindex_status(
    State(state): State<AppState>,
    Caller(guard): Caller,
    Path(job): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response> {
    let negotiated = negotiate::negotiate(&headers, &params_of(&uri))?;
    guard.require_all(&[], medulla_engine::Permission::Update)?;
    let status = state.engine.reindex_status(&job).ok_or_else(|| {
        ApiError::Engine(medulla_engine::Error::NotFound(format!(
            "reindex job {job:?}"
        )))
    })?;
    let code = match status.state {
        medulla_engine::ReindexState::Running => StatusCode::ACCEPTED,
        _ => StatusCode::OK,
    };
    Ok(json_response(
        code,
        serde_json::to_vec(&status.to_parameters()).unwrap_or_default(),
        &negotiated,
    ))
}

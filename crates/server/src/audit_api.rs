//! `AuditEvent` over FHIR, served from the audit ledger: read and search only, for callers the
//! guard allows (the `auditor` role, or anyone when the server runs without authentication).
//!
//! Search parameters: `date` (with `ge`, `gt`, `le`, `lt`, `eq` on instants or dates),
//! `patient`, `agent` (user name or client id; `agent-name` too), `subtype` (the interaction),
//! `type`, `action`, `outcome`, `_count`; newest first; `next` links page by sequence number.

use crate::AppState;
use crate::error::ApiError;
use crate::negotiate::Negotiated;
use crate::respond::json_response;
use axum::http::StatusCode;
use axum::response::Response;
use medulla_audit::{Action, AuditLog, AuditQuery, Outcome};
use medulla_engine::{EntryParts, Error, Guarded, Permission};

/// Whether `resource_type` is served from the ledger.
pub(crate) fn serves(state: &AppState, resource_type: &str) -> bool {
    resource_type == "AuditEvent" && state.security.audit.is_some()
}

fn ledger(state: &AppState) -> Result<&AuditLog, ApiError> {
    state
        .security
        .audit
        .as_deref()
        .ok_or_else(|| ApiError::Internal("no audit ledger".into()))
}

fn require(guard: &Guarded, permission: Permission) -> Result<(), ApiError> {
    if guard.decide("AuditEvent", permission).is_allowed() {
        Ok(())
    } else {
        Err(ApiError::Engine(Error::Forbidden(
            "AuditEvents are readable by the auditor role only".into(),
        )))
    }
}

/// `GET /AuditEvent/{id}`.
pub(crate) async fn read(
    state: &AppState,
    guard: &Guarded,
    id: &str,
    negotiated: &Negotiated,
) -> Result<Response, ApiError> {
    require(guard, Permission::Read)?;
    let not_found = || ApiError::Engine(Error::NotFound(format!("AuditEvent/{id}")));
    let seq: u64 = id.parse().map_err(|_| not_found())?;
    let ledger = ledger(state)?.clone();
    let body = tokio::task::spawn_blocking(move || ledger.read(seq))
        .await
        .map_err(|error| ApiError::Internal(error.to_string()))?
        .map_err(|error| ApiError::Internal(error.to_string()))?
        .ok_or_else(not_found)?;
    Ok(json_response(StatusCode::OK, body, negotiated))
}

fn instant_ms(value: &str) -> Option<(i64, i64)> {
    let (low, high) = medulla_engine::fhir_time::parse_range(value)?;
    // Timestamps are microseconds since the epoch in the store's time type.
    Some((low.0 / 1000, high.0 / 1000))
}

fn parse_query(params: &[(String, String)]) -> Result<AuditQuery, ApiError> {
    let invalid =
        |name: &str, message: String| ApiError::Engine(Error::invalid(Some(name), message));
    let mut query = AuditQuery::default();
    for (name, value) in params {
        match name.as_str() {
            "date" => {
                let (prefix, rest) = match value.get(..2) {
                    Some(p @ ("ge" | "gt" | "le" | "lt" | "eq")) => (p, &value[2..]),
                    _ => ("eq", value.as_str()),
                };
                let (low, high) = instant_ms(rest).ok_or_else(|| {
                    invalid("date", format!("{value:?} is not a date or instant"))
                })?;
                match prefix {
                    "ge" => query.recorded_ge = Some(low),
                    "gt" => query.recorded_gt = Some(high),
                    "le" => query.recorded_le = Some(high),
                    "lt" => query.recorded_lt = Some(low),
                    _ => {
                        query.recorded_ge = Some(low);
                        query.recorded_le = Some(high);
                    }
                }
            }
            "patient" => query.patient = Some(value.trim_start_matches("Patient/").to_owned()),
            "agent" | "agent-name" => query.agent = Some(value.clone()),
            "subtype" => {
                query.interaction = Some(value.rsplit('|').next().unwrap_or(value).to_owned())
            }
            "type" => query.type_code = Some(value.rsplit('|').next().unwrap_or(value).to_owned()),
            "action" => {
                query.action = Some(Action::from_code(value).ok_or_else(|| {
                    invalid("action", format!("{value:?} is not C, R, U, D or E"))
                })?)
            }
            "outcome" => {
                query.outcome =
                    Some(Outcome::from_code(value).ok_or_else(|| {
                        invalid("outcome", format!("{value:?} is not 0, 4, 8 or 12"))
                    })?)
            }
            "_count" => {
                let count: usize = value
                    .parse()
                    .map_err(|_| invalid("_count", format!("{value:?} is not a number")))?;
                query.count = Some(count.min(medulla_audit::MAX_COUNT));
            }
            "_before" => {
                query.before_seq = Some(
                    value
                        .parse()
                        .map_err(|_| invalid("_before", format!("{value:?} is not a number")))?,
                )
            }
            "_format" | "_pretty" | "_sort" => {}
            other => {
                return Err(invalid(
                    other,
                    format!("AuditEvent search does not support {other:?}"),
                ));
            }
        }
    }
    Ok(query)
}

/// `GET /AuditEvent?…`.
pub(crate) async fn search(
    state: &AppState,
    guard: &Guarded,
    params: Vec<(String, String)>,
    negotiated: &Negotiated,
) -> Result<Response, ApiError> {
    require(guard, Permission::Search)?;
    let query = parse_query(&params)?;
    let count = query.count.unwrap_or(medulla_audit::DEFAULT_COUNT);
    let ledger = ledger(state)?.clone();
    let search = query.clone();
    let found = tokio::task::spawn_blocking(move || ledger.search(&search))
        .await
        .map_err(|error| ApiError::Internal(error.to_string()))?
        .map_err(|error| ApiError::Internal(error.to_string()))?;
    let base = &state.engine.options().base_url;
    let own: Vec<(String, String)> = params
        .iter()
        .filter(|(n, _)| n != "_before")
        .cloned()
        .collect();
    let link_for = |extra: Option<u64>| {
        let mut pairs: Vec<String> = own
            .iter()
            .map(|(n, v)| format!("{}={}", encode(n), encode(v)))
            .collect();
        if let Some(before) = extra {
            pairs.push(format!("_before={before}"));
        }
        if pairs.is_empty() {
            format!("{base}/AuditEvent")
        } else {
            format!("{base}/AuditEvent?{}", pairs.join("&"))
        }
    };
    let mut links = vec![("self", link_for(query.before_seq))];
    if found.len() == count
        && let Some((last, _)) = found.last()
    {
        links.push(("next", link_for(Some(*last))));
    }
    let entries = found.iter().map(|(seq, body)| EntryParts {
        full_url: Some(format!("{base}/AuditEvent/{seq}")),
        resource: Some(std::borrow::Cow::Borrowed(body.as_slice())),
        search_mode: Some("match"),
        ..EntryParts::default()
    });
    let bundle = medulla_engine::render_bundle("searchset", None, &links, entries);
    Ok(json_response(StatusCode::OK, bundle, negotiated))
}

fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

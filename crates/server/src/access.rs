//! Who is calling, and the audit record of what they did.
//!
//! [`authenticate`] runs before every FHIR route: it turns the bearer token into an
//! [`Access`] (or answers 401), and after the handler it appends the interaction to the audit
//! ledger, durably, before the response leaves: an access that cannot be audited is not
//! answered (500). Handlers reach the engine only through the [`Caller`] extractor, which
//! hands out the engine guarded by that access.

use crate::AppState;
use crate::error::ApiError;
use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use medulla_access::{Access, Subject};
use medulla_audit::{Action, AgentKind, AuditRecord, Category, Outcome};
use medulla_engine::Guarded;
use std::net::SocketAddr;
use std::sync::Arc;

/// The engine as the authenticated caller may use it.
pub(crate) struct Caller(pub(crate) Guarded);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // Only `authenticate` inserts an access; a route without it has no data access.
        let access = parts
            .extensions
            .get::<Arc<Access>>()
            .cloned()
            .ok_or_else(|| ApiError::Internal("a data route ran without authentication".into()))?;
        Ok(Caller(state.engine.guarded(access)))
    }
}

/// Routes anyone may call: the CapabilityStatement and SMART discovery (the way a client
/// learns how to get a token).
fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/fhir/metadata" | "/fhir/.well-known/smart-configuration"
    )
}

fn bearer(request: &Request) -> Result<&str, medulla_auth::TokenError> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(medulla_auth::TokenError::Missing)?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or(medulla_auth::TokenError::Invalid)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(medulla_auth::TokenError::Invalid);
    }
    Ok(token.trim())
}

/// Purposes of use asserted by the request (`X-Purpose-Of-Use: BTG` for break-glass).
fn purposes(request: &Request) -> Vec<String> {
    request
        .headers()
        .get_all("x-purpose-of-use")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty() && p.len() <= 32)
        .collect()
}

/// What a request does, for the audit trail.
struct Described {
    interaction: &'static str,
    action: Action,
    category: Category,
    entity: Option<String>,
    patient: Option<String>,
}

fn describe(method: &Method, path: &str) -> Described {
    let rest = path
        .strip_prefix("/fhir")
        .unwrap_or(path)
        .trim_start_matches('/');
    let parts: Vec<&str> = if rest.is_empty() {
        Vec::new()
    } else {
        rest.split('/').collect()
    };
    let (interaction, action) = match (method.as_str(), parts.as_slice()) {
        ("POST", []) => ("batch", Action::Execute),
        ("GET", []) => ("search-system", Action::Read),
        ("GET", ["_history"]) => ("history-system", Action::Read),
        (_, [op, ..]) if op.starts_with('$') => ("operation", Action::Execute),
        (_, [_, op, ..]) if op.starts_with('$') => ("operation", Action::Execute),
        (_, [_, _, op]) if op.starts_with('$') => ("operation", Action::Execute),
        ("GET", [_]) | ("POST", [_, "_search"]) => ("search-type", Action::Read),
        ("GET", [_, "_history"]) => ("history-type", Action::Read),
        ("GET", [_, _]) => ("read", Action::Read),
        ("GET", [_, _, "_history"]) => ("history-instance", Action::Read),
        ("GET", [_, _, "_history", _]) => ("vread", Action::Read),
        ("GET", [_, _, _]) => ("search-compartment", Action::Read),
        ("POST", [_]) => ("create", Action::Create),
        ("PUT", _) => ("update", Action::Update),
        ("PATCH", _) => ("patch", Action::Update),
        ("DELETE", _) => ("delete", Action::Delete),
        _ => ("operation", Action::Execute),
    };
    let category = if parts
        .iter()
        .any(|p| *p == "$export" || p.starts_with("$export-"))
    {
        Category::Export
    } else {
        Category::Rest
    };
    let entity = match parts.as_slice() {
        [t, id, ..] if !t.starts_with('$') && !id.starts_with('$') && !id.starts_with('_') => {
            Some(format!("{t}/{id}"))
        }
        _ => None,
    };
    let patient = match parts.as_slice() {
        ["Patient", id, ..] if !id.starts_with('$') && !id.starts_with('_') => {
            Some((*id).to_owned())
        }
        _ => None,
    };
    Described {
        interaction,
        action,
        category,
        entity,
        patient,
    }
}

/// Authenticates, runs the route, audits. See the module documentation.
pub(crate) async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    if is_public(&path) {
        return next.run(request).await;
    }
    let address = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip().to_string());
    let described = describe(request.method(), &path);
    let query = request.uri().query().map(str::to_owned);
    let purposes = purposes(&request);
    let checked = match (&state.security.auth, &state.security.oidc) {
        (Some(auth), _) => Some(bearer(&request).and_then(|token| auth.check_bearer(token))),
        (None, Some(oidc)) => Some(match bearer(&request) {
            Ok(token) => oidc.check(token).await,
            Err(why) => Err(why),
        }),
        (None, None) => None,
    };
    let access = match checked {
        None => Access::anonymous(),
        Some(checked) => match checked {
            Ok(access) => access,
            Err(why) => {
                let mut record = AuditRecord::new(
                    Category::Security,
                    described.interaction,
                    described.action,
                    Outcome::MinorFailure,
                    "anonymous",
                    AgentKind::Anonymous,
                );
                record.outcome_desc = Some(format!("access refused: {why}"));
                record.network_address = address;
                record.entities.extend(described.entity);
                if let Some(refusal) = audit(&state, record).await {
                    return refusal;
                }
                return ApiError::Unauthorized(why).into_response();
            }
        },
    };
    let access = Arc::new(Access {
        purpose_of_use: purposes,
        ..access
    });
    request.extensions_mut().insert(access.clone());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let _ = route;
    let response = next.run(request).await;
    let status = response.status();
    let outcome = if status.is_success() || status.is_redirection() {
        Outcome::Success
    } else if status.is_client_error() {
        Outcome::MinorFailure
    } else {
        Outcome::SeriousFailure
    };
    let (agent, agent_kind) = match &access.subject {
        Subject::Anonymous => ("anonymous".to_owned(), AgentKind::Anonymous),
        Subject::User(name) => (name.clone(), AgentKind::User),
        Subject::Client(id) => (id.clone(), AgentKind::Client),
    };
    let category = if access.is_break_glass() {
        Category::BreakGlass
    } else {
        described.category
    };
    let mut record = AuditRecord::new(
        category,
        described.interaction,
        described.action,
        outcome,
        agent,
        agent_kind,
    );
    if !outcome_is_success(outcome) {
        record.outcome_desc = Some(format!("HTTP {}", status.as_u16()));
    }
    record.network_address = address;
    record.purpose_of_use = access.purpose_of_use.clone();
    record.patient = access.patient.clone().or(described.patient);
    record.entities.extend(described.entity);
    record.query = query;
    if let Some(client) = &access.client_id {
        record.detail = Some(format!("client {client}"));
    }
    match audit(&state, record).await {
        None => response,
        Some(refusal) => refusal,
    }
}

fn outcome_is_success(outcome: Outcome) -> bool {
    matches!(outcome, Outcome::Success)
}

/// Appends `record` durably; `Some` is the response to send instead (500) when it could not
/// be written.
pub(crate) async fn audit(state: &AppState, record: AuditRecord) -> Option<Response> {
    let ledger = state.security.audit.as_ref()?;
    match ledger.record(record).wait().await {
        Ok(_) => None,
        Err(error) => {
            tracing::error!(%error, "audit record could not be written; the access is refused");
            Some(ApiError::Internal(format!("audit failed: {error}")).into_response())
        }
    }
}

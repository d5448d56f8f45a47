//! The HTTP face of the built-in authorization server: SMART discovery, JWKS, the token,
//! introspection and revocation endpoints, the login and consent page, and EHR launch.
//!
//! Everything here is public by nature (it is how a client gets a token), so nothing here
//! touches FHIR data; logins and token grants go to the audit ledger like any access.

use crate::AppState;
use crate::access::audit;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use medulla_audit::{Action, AgentKind, AuditRecord, Category, Outcome};
use medulla_auth::{ClientCredentials, LoginForm, LoginOutcome, OAuthError, TokenRequest};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

fn no_auth() -> Response {
    (
        StatusCode::NOT_FOUND,
        "this server runs without an authorization server (--auth none)",
    )
        .into_response()
}

fn json(status: StatusCode, value: &serde_json::Value) -> Response {
    let mut response = (status, serde_json::to_vec(value).unwrap_or_default()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    // RFC 6749 §5.1: token responses must not be cached.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

fn oauth_error(error: &OAuthError) -> Response {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = json(
        status,
        &serde_json::json!({ "error": error.code, "error_description": error.description }),
    );
    if status == StatusCode::UNAUTHORIZED
        && let Ok(value) = HeaderValue::from_str("Basic realm=\"medulla\"")
    {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// Parses a form body; a repeated field is an error (RFC 6749 §3.1).
fn parse_form(body: &[u8]) -> Result<HashMap<String, String>, OAuthError> {
    let mut fields = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(body) {
        if fields.insert(name.to_string(), value.to_string()).is_some() {
            return Err(OAuthError::invalid_request(format!("{name} is repeated")));
        }
    }
    Ok(fields)
}

fn basic_credentials(headers: &HeaderMap) -> Result<Option<ClientCredentials>, OAuthError> {
    use base64::Engine as _;
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Ok(None);
    };
    let Some(encoded) = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))
    else {
        return Ok(None);
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| OAuthError::invalid_client("malformed Basic credentials"))?;
    let (id, secret) = decoded
        .split_once(':')
        .ok_or_else(|| OAuthError::invalid_client("malformed Basic credentials"))?;
    // RFC 6749 §2.3.1: both parts are form-encoded.
    let unescape = |text: &str| {
        url::form_urlencoded::parse(format!("x={text}").as_bytes())
            .next()
            .map(|(_, v)| v.to_string())
            .unwrap_or_default()
    };
    Ok(Some(ClientCredentials {
        client_id: unescape(id),
        secret: unescape(secret),
    }))
}

fn token_request(headers: &HeaderMap, body: &[u8]) -> Result<TokenRequest, OAuthError> {
    Ok(TokenRequest {
        form: parse_form(body)?,
        basic: basic_credentials(headers)?,
    })
}

fn address(extensions: &axum::http::Extensions) -> String {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |c| c.0.ip().to_string())
}

/// `GET /.well-known/smart-configuration` (also under `/fhir`) and
/// `/.well-known/openid-configuration`.
pub(crate) async fn smart_configuration(State(state): State<AppState>) -> Response {
    match &state.security.auth {
        Some(auth) => {
            let mut response = json(StatusCode::OK, &auth.smart_configuration());
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("max-age=300"),
            );
            response
        }
        None => no_auth(),
    }
}

/// `GET /auth/jwks`: the public keys that verify our tokens.
pub(crate) async fn jwks(State(state): State<AppState>) -> Response {
    match &state.security.auth {
        Some(auth) => json(StatusCode::OK, &auth.jwks()),
        None => no_auth(),
    }
}

/// `POST /auth/token`.
pub(crate) async fn token(
    State(state): State<AppState>,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(auth) = state.security.auth.clone() else {
        return no_auth();
    };
    let request = match token_request(&headers, &body) {
        Ok(request) => request,
        Err(error) => return oauth_error(&error),
    };
    let grant = request.form.get("grant_type").cloned().unwrap_or_default();
    let result = auth.token(&request).await;
    let named_client = request
        .form
        .get("client_id")
        .cloned()
        .or_else(|| request.basic.as_ref().map(|b| b.client_id.clone()));
    let (agent, kind, outcome, desc) = match &result {
        Ok(response) => match &response.claims {
            Some(claims) if claims.kind == "user" => {
                (claims.sub.clone(), AgentKind::User, Outcome::Success, None)
            }
            Some(claims) => (
                claims.client_id.clone(),
                AgentKind::Client,
                Outcome::Success,
                None,
            ),
            None => (
                "unknown".into(),
                AgentKind::Anonymous,
                Outcome::Success,
                None,
            ),
        },
        Err(error) => (
            named_client.unwrap_or_else(|| "unknown".into()),
            AgentKind::Client,
            Outcome::MinorFailure,
            Some(format!("token refused: {}", error.code)),
        ),
    };
    let mut record = AuditRecord::new(
        Category::Token,
        "token",
        Action::Execute,
        outcome,
        agent,
        kind,
    );
    record.outcome_desc = desc;
    record.network_address = Some(address(&extensions));
    record.detail = Some(format!("grant_type {grant}"));
    if let Ok(Some(patient)) = result.as_ref().map(|r| r.patient.clone()) {
        record.patient = Some(patient);
    }
    if let Some(refusal) = audit(&state, record).await {
        return refusal;
    }
    match result {
        Ok(response) => json(
            StatusCode::OK,
            &serde_json::to_value(&response).unwrap_or_default(),
        ),
        Err(error) => oauth_error(&error),
    }
}

/// Runs a client-authenticated endpoint of the authorization server on the form of a request
/// and answers its JSON (or its OAuth error).
async fn client_endpoint<F, Fut>(
    state: AppState,
    headers: HeaderMap,
    body: Bytes,
    run: F,
) -> Response
where
    F: FnOnce(Arc<medulla_auth::AuthServer>, TokenRequest) -> Fut,
    Fut: std::future::Future<Output = Result<serde_json::Value, OAuthError>>,
{
    let Some(auth) = state.security.auth.clone() else {
        return no_auth();
    };
    let result = match token_request(&headers, &body) {
        Ok(request) => run(auth, request).await,
        Err(error) => Err(error),
    };
    match result {
        Ok(answer) => json(StatusCode::OK, &answer),
        Err(error) => oauth_error(&error),
    }
}

/// `POST /auth/introspect` (RFC 7662; the caller authenticates as a client).
pub(crate) async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    client_endpoint(state, headers, body, |auth, request| async move {
        auth.introspect(&request).await
    })
    .await
}

/// `POST /auth/revoke` (RFC 7009).
pub(crate) async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    client_endpoint(state, headers, body, |auth, request| async move {
        auth.revoke(&request).await.map(|()| serde_json::json!({}))
    })
    .await
}

/// `POST /auth/launch` with a user's bearer token and `{"patient": …, "encounter": …}`:
/// an EHR launch context for an app, valid ten minutes.
pub(crate) async fn launch(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(auth) = state.security.auth.clone() else {
        return no_auth();
    };
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let access = match auth.check_bearer(token) {
        Ok(access) => access,
        Err(why) => return crate::error::ApiError::Unauthorized(why).into_response(),
    };
    let context: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let field = |name: &str| {
        context
            .get(name)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    match auth
        .create_launch(&access, field("patient"), field("encounter"))
        .await
    {
        Ok(launch) => json(StatusCode::OK, &serde_json::json!({ "launch": launch })),
        Err(error) => oauth_error(&error),
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn html(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

fn page(title: &str, inner: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{title}</title><style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}}\
         label{{display:block;margin:.75rem 0 .25rem}}input{{width:100%;padding:.4rem;box-sizing:border-box}}\
         button{{margin:1rem .5rem 0 0;padding:.5rem 1rem}}.error{{color:#a00}}li{{font-family:monospace}}</style></head>\
         <body><h1>{title}</h1>{inner}</body></html>",
        title = escape(title)
    )
}

fn login_page(request: &medulla_auth::AuthorizeRequest, message: Option<&str>) -> String {
    let scopes: String = request
        .scope
        .split_ascii_whitespace()
        .map(|s| format!("<li>{}</li>", escape(s)))
        .collect();
    let patient = if request.wants_patient {
        "<label for=\"patient\">Patient id (for this app's patient context)</label><input id=\"patient\" name=\"patient\">"
    } else {
        ""
    };
    let message = message
        .map(|m| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(m)))
        .unwrap_or_default();
    page(
        "Sign in to Medulla",
        &format!(
            "<p><strong>{client}</strong> asks for access:</p><ul>{scopes}</ul>{message}\
             <form method=\"post\" action=\"authorize\">\
             <input type=\"hidden\" name=\"request_id\" value=\"{id}\">\
             <label for=\"username\">User name</label><input id=\"username\" name=\"username\" autocomplete=\"username\" required>\
             <label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
             {patient}<button name=\"decision\" value=\"approve\">Sign in and allow</button>\
             <button name=\"decision\" value=\"deny\" formnovalidate>Deny</button></form>",
            client = escape(&request.client_name),
            id = escape(&request.id),
        ),
    )
}

fn redirect(location: &str) -> Response {
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET /auth/authorize`: checks the request and shows the login and consent page.
pub(crate) async fn authorize_start(
    State(state): State<AppState>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
    let Some(auth) = state.security.auth.clone() else {
        return no_auth();
    };
    let params = match parse_form(query.unwrap_or_default().as_bytes()) {
        Ok(params) => params,
        Err(error) => {
            return html(
                StatusCode::BAD_REQUEST,
                page("Cannot sign in", &escape(&error.to_string())),
            );
        }
    };
    match auth.begin_authorize(&params).await {
        Ok(request) => html(StatusCode::OK, login_page(&request, None)),
        Err(medulla_auth::AuthorizeFailure::Redirect(location)) => redirect(&location),
        Err(medulla_auth::AuthorizeFailure::Page(message)) => html(
            StatusCode::BAD_REQUEST,
            page("Cannot sign in", &format!("<p>{}</p>", escape(&message))),
        ),
    }
}

/// `POST /auth/authorize`: the login form.
pub(crate) async fn authorize_finish(
    State(state): State<AppState>,
    extensions: axum::http::Extensions,
    body: Bytes,
) -> Response {
    let Some(auth) = state.security.auth.clone() else {
        return no_auth();
    };
    let fields = match parse_form(&body) {
        Ok(fields) => fields,
        Err(error) => {
            return html(
                StatusCode::BAD_REQUEST,
                page("Cannot sign in", &escape(&error.to_string())),
            );
        }
    };
    let field = |name: &str| fields.get(name).cloned().unwrap_or_default();
    let address = address(&extensions);
    let form = LoginForm {
        request_id: field("request_id"),
        username: field("username"),
        password: field("password"),
        approve: field("decision") == "approve",
        patient: fields.get("patient").cloned(),
        address: address.clone(),
    };
    let outcome = match auth.finish_authorize(&form).await {
        Ok(outcome) => outcome,
        Err(message) => {
            return html(
                StatusCode::BAD_REQUEST,
                page("Cannot sign in", &format!("<p>{}</p>", escape(&message))),
            );
        }
    };
    let (result, user) = match &outcome {
        LoginOutcome::Redirect {
            user: Some(user), ..
        } => (Outcome::Success, user.clone()),
        LoginOutcome::Retry {
            failed_login: true, ..
        } => (Outcome::MinorFailure, form.username.clone()),
        _ => return respond_login(outcome),
    };
    let mut record = AuditRecord::new(
        Category::Login,
        "login",
        Action::Execute,
        result,
        user,
        AgentKind::User,
    );
    record.network_address = Some(address);
    if result != Outcome::Success {
        record.outcome_desc = Some("login failed".into());
    }
    if let Some(refusal) = audit(&state, record).await {
        return refusal;
    }
    respond_login(outcome)
}

fn respond_login(outcome: LoginOutcome) -> Response {
    match outcome {
        LoginOutcome::Redirect { location, .. } => redirect(&location),
        LoginOutcome::Retry {
            message, request, ..
        } => html(StatusCode::OK, login_page(&request, Some(&message))),
    }
}

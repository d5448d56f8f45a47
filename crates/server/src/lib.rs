//! The FHIR R4 REST API over HTTP.
//!
//! This crate owns everything HTTP: routes under `/fhir`, content negotiation, request headers
//! (`If-Match`, `If-None-Exist`, `Prefer`, conditional reads), response headers (`ETag`,
//! `Last-Modified`, `Location`), and the mapping of every failure to an OperationOutcome with the
//! right status ([`error::ApiError`]). [`app`] builds the router; [`serve`] runs it over plain
//! HTTP and [`serve_tls`] over HTTPS with a certificate from [`tls::load`] (rustls, ring
//! provider). Transport security lives here too: `Strict-Transport-Security` and the other
//! security headers on every response, and CORS for browser-based SMART apps
//! ([`ServerConfig::cors_origins`]), answered before authentication.
//!
//! Does not: decide FHIR semantics (that is `medulla-engine`), touch SQL, or read the
//! environment; the binary passes a [`ServerConfig`].
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use std::sync::Arc;
//! let store = medulla_store::SqliteStore::open("./medulla-data".as_ref(), Default::default())
//!     .expect("store opens");
//! let engine = medulla_engine::Engine::new(Arc::new(store), Default::default());
//! let router = medulla_server::app(engine, medulla_server::ServerConfig::default());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! medulla_server::serve(listener, router, std::future::pending()).await
//! # }
//! ```

mod access;
mod audit_api;
mod capability;
mod cors;
pub mod error;
mod export;
mod handlers;
pub mod negotiate;
mod oauth;
mod quality;
mod respond;
pub mod tls;

pub use tls::serve_tls;

use axum::Router;
use axum::routing::{get, post};
use medulla_engine::Engine;
use std::sync::Arc;

/// The media type of every FHIR response.
pub const FHIR_JSON: &str = "application/fhir+json; charset=utf-8";

/// Server settings.
#[derive(Clone)]
pub struct ServerConfig {
    /// Largest accepted request body in bytes (413 beyond).
    pub body_limit: usize,
    /// Bulk Data export jobs; `None` disables `$export`.
    pub exports: Option<medulla_bulk::Exports>,
    /// Bulk import jobs; `None` disables `$import`.
    pub imports: Option<medulla_bulk::Imports>,
    /// The built-in authorization server; `None` serves without authentication (allowed on
    /// loopback only: the binary refuses other addresses).
    pub auth: Option<Arc<medulla_auth::AuthServer>>,
    /// Tokens of an external OpenID Connect issuer instead of our own (`--auth oidc`).
    pub oidc: Option<Arc<medulla_auth::OidcVerifier>>,
    /// The audit ledger every access is recorded in before it is answered; `None` audits
    /// nothing.
    pub audit: Option<Arc<medulla_audit::AuditLog>>,
    /// Send `Strict-Transport-Security` on every response: set it when clients reach the
    /// server over HTTPS (the binary sets it with TLS on).
    pub hsts: bool,
    /// Origins (`https://app.example.org`) whose browser scripts may call the server, or `*`
    /// for any; empty sends no CORS headers at all. Credentials are never allowed.
    pub cors_origins: Vec<String>,
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("body_limit", &self.body_limit)
            .field("exports", &self.exports.is_some())
            .field("imports", &self.imports.is_some())
            .field("auth", &self.auth.is_some())
            .field("oidc", &self.oidc.is_some())
            .field("audit", &self.audit.is_some())
            .field("hsts", &self.hsts)
            .field("cors_origins", &self.cors_origins)
            .finish()
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            body_limit: 16 * 1024 * 1024,
            exports: None,
            imports: None,
            auth: None,
            oidc: None,
            audit: None,
            hsts: false,
            cors_origins: Vec::new(),
        }
    }
}

/// Shared state of the handlers.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) engine: Engine,
    pub(crate) config: Arc<ServerConfig>,
    pub(crate) capability: Arc<Vec<u8>>,
    pub(crate) security: Arc<Security>,
}

/// Authentication and audit, shared by every request.
pub(crate) struct Security {
    pub(crate) auth: Option<Arc<medulla_auth::AuthServer>>,
    pub(crate) oidc: Option<Arc<medulla_auth::OidcVerifier>>,
    pub(crate) audit: Option<Arc<medulla_audit::AuditLog>>,
}

/// Builds the router: the FHIR API under `/fhir`.
pub fn app(engine: Engine, config: ServerConfig) -> Router {
    let capability = capability::capability_statement(
        &engine.options().base_url,
        engine.options().allow_multiple_delete,
    );
    let capability = match &config.auth {
        Some(auth) => capability::with_smart_security(capability, auth.config()),
        None => capability,
    };
    let state = AppState {
        capability: Arc::new(serde_json::to_vec(&capability).unwrap_or_default()),
        engine,
        security: Arc::new(Security {
            auth: config.auth.clone(),
            oidc: config.oidc.clone(),
            audit: config.audit.clone(),
        }),
        config: Arc::new(config),
    };
    use export::*;
    use handlers::*;
    let fhir = Router::new()
        .route("/metadata", get(metadata))
        .route("/_history", get(system_history))
        .route("/$reindex", post(reindex_start))
        .route("/$data-quality", get(quality::data_quality))
        .route("/$export", get(export_system).post(export_system))
        .route("/$import", post(import_start))
        .route("/$import-status/{job}", get(import_status))
        .route(
            "/$export-status/{job}",
            get(export_status).delete(export_cancel),
        )
        .route("/$export-file/{job}/{name}", get(export_file))
        .route(
            "/{resource_type}/$export",
            get(export_type).post(export_type),
        )
        .route(
            "/{resource_type}/{id}/$export",
            get(export_instance).post(export_instance),
        )
        .route("/$reindex/{job}", get(reindex_status))
        .route("/{resource_type}/$reindex", post(reindex_type_start))
        .route(
            "/{resource_type}",
            get(type_search)
                .post(type_create)
                .put(type_conditional_update)
                .delete(type_conditional_delete)
                .patch(type_conditional_patch),
        )
        .route("/{resource_type}/_search", post(type_search_post))
        .route("/{resource_type}/_history", get(type_history))
        .route(
            "/{resource_type}/{id}",
            get(instance_read)
                .put(instance_update)
                .delete(instance_delete)
                .patch(instance_patch)
                .post(type_operation_post),
        )
        .route("/{resource_type}/{id}/_history", get(instance_history))
        .route(
            "/{resource_type}/{id}/{target}",
            get(compartment_search).post(instance_operation_post),
        )
        .route(
            "/{resource_type}/{id}/_history/{version}",
            get(instance_vread),
        )
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(unknown_path);
    let data = Router::new()
        .nest("/fhir", fhir)
        .route("/fhir", post(system_bundle).get(system_root))
        .route("/fhir/", post(system_bundle).get(system_root))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            access::authenticate,
        ));
    let oauth = Router::new()
        .route(
            "/.well-known/smart-configuration",
            get(oauth::smart_configuration),
        )
        .route(
            "/fhir/.well-known/smart-configuration",
            get(oauth::smart_configuration),
        )
        .route(
            "/.well-known/openid-configuration",
            get(oauth::smart_configuration),
        )
        .route("/auth/jwks", get(oauth::jwks))
        .route("/auth/token", post(oauth::token))
        .route("/auth/introspect", post(oauth::introspect))
        .route("/auth/revoke", post(oauth::revoke))
        .route("/auth/launch", post(oauth::launch))
        .route(
            "/auth/authorize",
            get(oauth::authorize_start).post(oauth::authorize_finish),
        );
    let router = Router::new()
        .merge(oauth)
        .merge(data)
        .fallback(unknown_path);
    // CORS wraps every route, outside `authenticate`: preflights carry no token.
    let router = match cors::CorsPolicy::new(&state.config.cors_origins) {
        Some(policy) => router.layer(axum::middleware::from_fn_with_state(
            Arc::new(policy),
            cors::cors,
        )),
        None => router,
    };
    router
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            handlers::security_headers,
        ))
        .layer(axum::middleware::from_fn(handlers::log_request))
        .with_state(state)
}

/// Serves `router` on `listener` until `shutdown` completes, then drains open requests.
///
/// # Errors
/// When accepting connections fails.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The peer address goes to the audit trail and to login throttling.
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

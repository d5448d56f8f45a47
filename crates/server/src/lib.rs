//! The FHIR R4 REST API over HTTP.
//!
//! This crate owns everything HTTP: routes under `/fhir`, content negotiation, request headers
//! (`If-Match`, `If-None-Exist`, `Prefer`, conditional reads), response headers (`ETag`,
//! `Last-Modified`, `Location`), and the mapping of every failure to an OperationOutcome with the
//! right status ([`error::ApiError`]). [`app`] builds the router; [`serve`] runs it.
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

mod capability;
pub mod error;
mod export;
mod handlers;
pub mod negotiate;
mod respond;

use axum::Router;
use axum::routing::{get, post};
use medulla_engine::Engine;
use std::sync::Arc;

/// The media type of every FHIR response.
pub const FHIR_JSON: &str = "application/fhir+json; charset=utf-8";

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest accepted request body in bytes (413 beyond).
    pub body_limit: usize,
    /// Bulk Data export jobs; `None` disables `$export`.
    pub exports: Option<medulla_bulk::Exports>,
    /// Bulk import jobs; `None` disables `$import`.
    pub imports: Option<medulla_bulk::Imports>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            body_limit: 16 * 1024 * 1024,
            exports: None,
            imports: None,
        }
    }
}

/// Shared state of the handlers.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) engine: Engine,
    pub(crate) config: Arc<ServerConfig>,
    pub(crate) capability: Arc<Vec<u8>>,
}

/// Builds the router: the FHIR API under `/fhir`.
pub fn app(engine: Engine, config: ServerConfig) -> Router {
    let capability = capability::capability_statement(
        &engine.options().base_url,
        engine.options().allow_multiple_delete,
    );
    let state = AppState {
        capability: Arc::new(serde_json::to_vec(&capability).unwrap_or_default()),
        engine,
        config: Arc::new(config),
    };
    use export::*;
    use handlers::*;
    let fhir = Router::new()
        .route("/metadata", get(metadata))
        .route("/_history", get(system_history))
        .route("/$reindex", post(reindex_start))
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
                .patch(instance_patch),
        )
        .route("/{resource_type}/{id}/_history", get(instance_history))
        .route("/{resource_type}/{id}/{target}", get(compartment_search))
        .route(
            "/{resource_type}/{id}/_history/{version}",
            get(instance_vread),
        )
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(unknown_path);
    Router::new()
        .nest("/fhir", fhir)
        .route("/fhir", post(system_bundle).get(system_root))
        .route("/fhir/", post(system_bundle).get(system_root))
        .fallback(unknown_path)
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
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

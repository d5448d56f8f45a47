//! `medulla serve`.

use crate::cli::ServeArgs;
use anyhow::{Context as _, bail};
use std::sync::Arc;

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    if let Some(mllp) = args.mllp
        && !mllp.ip().is_loopback()
    {
        bail!(
            "refusing to listen for MLLP on {mllp}: MLLP has no authentication of its own, so Medulla only listens on loopback addresses until access control exists"
        );
    }
    if !args.addr.ip().is_loopback() && args.auth == crate::cli::AuthMode::None {
        bail!(
            "refusing to listen on {} without authentication: add --auth smart (and create users and clients with `medulla user add` and `medulla client register`), or listen on a loopback address (127.0.0.1 or ::1)",
            args.addr
        );
    }
    // Load the embedded definitions now, not on the first request.
    let types = medulla_model::definitions().resource_types().count();
    let store = medulla_store::SqliteStore::open(&args.data.data, Default::default())
        .with_context(|| format!("opening the store in {}", args.data.data.display()))?;
    let store = Arc::new(store);
    // Blocking threads run store reads; the store opens at most 8 read connections, so more
    // threads would only wait, and each idle thread keeps allocator memory resident.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(16)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .with_context(|| format!("binding {}", args.addr))?;
        let local = listener.local_addr().context("reading the bound address")?;
        let public_url = args
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{local}"));
        let public_url = public_url.trim_end_matches('/').to_owned();
        let base_url = args
            .base_url
            .clone()
            .unwrap_or_else(|| format!("{public_url}/fhir"));
        let engine = medulla_engine::Engine::new(
            store.clone(),
            medulla_engine::EngineOptions {
                base_url: base_url.clone(),
                allow_multiple_delete: args.allow_multiple_delete,
                cursor_key: cursor_key(&args.data.data)?,
                ..Default::default()
            },
        );
        let (custom, unusable) = engine
            .reload_custom_params()
            .context("loading SearchParameter resources")?;
        for (id, reason) in &unusable {
            tracing::warn!(search_parameter = id, reason, "SearchParameter not used");
        }
        if custom > 0 {
            tracing::info!(custom, "custom search parameters loaded");
        }
        let exports = medulla_bulk::Exports::open(args.data.data.join("exports"), engine.clone())
            .context("opening the exports folder")?;
        // `$import` reads only files placed under the data directory's `import` folder.
        let imports = medulla_bulk::Imports::open(
            args.data.data.join("imports"),
            args.data.data.join("import"),
            engine.clone(),
        )
        .context("opening the import folders")?;
        let mllp = match args.mllp {
            Some(address) => Some(
                tokio::net::TcpListener::bind(address)
                    .await
                    .with_context(|| format!("binding {address} for MLLP"))?,
            ),
            None => None,
        };
        let interface = medulla_interface::Interface::new(engine.clone(), Default::default());
        let auth = match args.auth {
            crate::cli::AuthMode::None => None,
            crate::cli::AuthMode::Smart => {
                let mut config = medulla_auth::AuthConfig::new(&public_url);
                config.fhir_base = base_url.trim_end_matches('/').to_owned();
                Some(Arc::new(
                    medulla_auth::AuthServer::open(&args.data.data, store.clone(), config)
                        .context("opening the authorization server")?,
                ))
            }
        };
        let audit = if args.no_audit {
            tracing::warn!("the audit ledger is off (--no-audit): accesses are not recorded");
            None
        } else {
            Some(Arc::new(
                medulla_audit::AuditLog::open(&args.data.data.join("audit"))
                    .context("opening the audit ledger")?,
            ))
        };
        let router = medulla_server::app(
            engine,
            medulla_server::ServerConfig {
                body_limit: args.body_limit,
                exports: Some(exports),
                imports: Some(imports),
                auth,
                audit: audit.clone(),
            },
        );
        tracing::info!(
            %local,
            base_url,
            auth = ?args.auth,
            resource_types = types,
            startup_ms = started.elapsed().as_millis() as u64,
            "medulla listening"
        );
        // One signal stops both listeners.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown_signal().await;
            let _ = stop.send(true);
        });
        let wait = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        };
        let mllp_task = mllp.map(|listener| {
            if let Ok(local) = listener.local_addr() {
                tracing::info!(%local, "MLLP listening");
            }
            tokio::spawn(medulla_interface::mllp::serve(
                listener,
                interface,
                medulla_interface::mllp::MllpOptions::default(),
                wait(stopped.clone()),
            ))
        });
        let served = medulla_server::serve(listener, router, wait(stopped))
            .await
            .context("serving");
        if let Some(task) = mllp_task {
            match task.await {
                Ok(result) => result.context("serving MLLP")?,
                Err(error) => tracing::error!(%error, "the MLLP listener failed"),
            }
        }
        served
    })?;
    store.close();
    tracing::info!("medulla stopped");
    Ok(())
}

pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing open requests");
}

/// The key that signs search paging cursors: kept in the data directory so that paging links
/// survive a restart; created with random bytes the first time.
fn cursor_key(data: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    let path = data.join("cursor.key");
    match std::fs::read(&path) {
        Ok(key) if key.len() >= 16 => Ok(key),
        _ => {
            let mut key = Vec::with_capacity(32);
            key.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
            key.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
            std::fs::write(&path, &key).with_context(|| format!("writing {}", path.display()))?;
            Ok(key)
        }
    }
}

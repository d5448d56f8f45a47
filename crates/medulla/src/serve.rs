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
    let cors_origins = check_cors_origins(&args.cors_origins)?;
    // Read the certificate and key before anything else is opened, so a bad file fails fast.
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(certificate), Some(key)) => Some(
            medulla_server::tls::load(certificate, key)
                .context("loading the TLS certificate and key")?,
        ),
        (None, None) => None,
        (Some(_), None) => bail!("--tls-cert needs --tls-key (the certificate's private key)"),
        (None, Some(_)) => bail!("--tls-key needs --tls-cert (the certificate it belongs to)"),
    };
    // Load the embedded definitions now, not on the first request.
    let types = medulla_model::definitions().resource_types().count();
    let store = medulla_store::SqliteStore::open(&args.data.data, medulla_engine::sqlite_options())
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
        let public_url = args.public_url.clone().unwrap_or_else(|| {
            let scheme = if tls.is_some() { "https" } else { "http" };
            format!("{scheme}://{local}")
        });
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
                validation: args.validation.policy()?,
                ..Default::default()
            },
        )
        .with_terminology(Arc::new(crate::terminology::open(&args.data.data)?));
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
            crate::cli::AuthMode::Smart => {
                let mut config = medulla_auth::AuthConfig::new(&public_url);
                config.fhir_base = base_url.trim_end_matches('/').to_owned();
                Some(Arc::new(
                    medulla_auth::AuthServer::open(&args.data.data, store.clone(), config)
                        .context("opening the authorization server")?,
                ))
            }
            _ => None,
        };
        if let Some(auth) = &auth {
            // Expired codes, refresh tokens and revocations are deleted hourly, so the store
            // does not grow with every token ever issued.
            let auth = Arc::clone(auth);
            tokio::spawn(async move {
                let mut hourly = tokio::time::interval(std::time::Duration::from_secs(3600));
                loop {
                    hourly.tick().await;
                    match auth.prune().await {
                        Ok(pruned) if pruned.total() > 0 => {
                            tracing::info!(
                                records = pruned.total(),
                                "pruned expired authorization records"
                            );
                        }
                        Ok(_) => {}
                        Err(error) => tracing::warn!(%error, "cannot prune authorization records"),
                    }
                }
            });
        }
        let oidc = match args.auth {
            crate::cli::AuthMode::Oidc => {
                let config = medulla_auth::OidcConfig::load(
                    &args.data.data,
                    args.oidc_issuer.as_deref(),
                    base_url.trim_end_matches('/'),
                )
                .context("reading the OpenID Connect settings")?;
                let issuer = config.issuer.clone();
                let verifier = medulla_auth::OidcVerifier::discover(config)
                    .await
                    .with_context(|| format!("discovering the OpenID Connect issuer {issuer}"))?;
                tracing::info!(
                    issuer,
                    "accepting tokens of an external OpenID Connect issuer"
                );
                Some(Arc::new(verifier))
            }
            _ => None,
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
                oidc,
                audit: audit.clone(),
                hsts: tls.is_some(),
                cors_origins,
            },
        );
        tracing::info!(
            %local,
            base_url,
            auth = ?args.auth,
            tls = tls.is_some(),
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
        let served = match tls {
            Some(tls) => medulla_server::serve_tls(listener, router, tls, wait(stopped)).await,
            None => medulla_server::serve(listener, router, wait(stopped)).await,
        }
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

/// Checks the `--cors-origin` values: `*` alone, or origins as browsers send them
/// (`scheme://host[:port]`, no path); a trailing `/` is dropped and empty entries of the
/// comma-separated variable are skipped.
fn check_cors_origins(origins: &[String]) -> anyhow::Result<Vec<String>> {
    let origins: Vec<String> = origins
        .iter()
        .map(|origin| origin.trim().trim_end_matches('/').to_owned())
        .filter(|origin| !origin.is_empty())
        .collect();
    if origins.iter().any(|origin| origin == "*") {
        if origins.len() > 1 {
            bail!(
                "--cors-origin '*' allows every origin and cannot be combined with other origins"
            );
        }
        return Ok(origins);
    }
    for origin in &origins {
        let host = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"));
        let is_origin = host.is_some_and(|host| {
            !host.is_empty()
                && !host.contains(|character: char| {
                    matches!(character, '/' | '?' | '#' | '@') || character.is_whitespace()
                })
        });
        if !is_origin {
            bail!(
                "--cors-origin '{origin}' is not an origin: expected scheme://host[:port] without a path, e.g. https://app.example.org"
            );
        }
    }
    Ok(origins)
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

#[cfg(test)]
mod tests {
    use super::check_cors_origins;

    fn check(origins: &[&str]) -> anyhow::Result<Vec<String>> {
        let origins: Vec<String> = origins.iter().map(|origin| (*origin).to_owned()).collect();
        check_cors_origins(&origins)
    }

    #[test]
    fn cors_origins_are_normalised() {
        let origins = check(&["https://app.example.org/", "", " http://127.0.0.1:3000 "])
            .expect("valid origins");
        assert_eq!(
            origins,
            ["https://app.example.org", "http://127.0.0.1:3000"]
        );
        assert_eq!(check(&["*"]).expect("star"), ["*"]);
    }

    #[test]
    fn cors_origins_that_are_not_origins_are_refused() {
        for bad in [
            "app.example.org",
            "https://",
            "https://app.example.org/path",
            "ftp://x",
        ] {
            let error = check(&[bad]).expect_err(bad).to_string();
            assert!(error.contains(bad.trim_end_matches('/')), "{error}");
        }
        let error = check(&["*", "https://app.example.org"]).expect_err("star and more");
        assert!(error.to_string().contains("cannot be combined"), "{error}");
    }
}

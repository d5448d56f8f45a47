//! HTTPS: [`load`] reads a PEM certificate chain and private key into a rustls configuration,
//! and [`serve_tls`] serves a router over TLS with it.
//!
//! The accept loop never waits for a client: each accepted connection gets its own task, which
//! runs the TLS handshake with a time limit ([`HANDSHAKE_TIMEOUT`]) and then serves HTTP/1.1 on
//! it. A client that connects and sends nothing, or speaks plain HTTP to the TLS port, costs one
//! task for a few seconds and never the listener. Only the ring crypto provider is used, and
//! only TLS 1.2 and 1.3 are offered.

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tower::Service;

/// How long a client may take to complete the TLS handshake before its connection is closed.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a client may take to send a request's headers once the connection is open (or
/// between requests on a kept-alive connection, hyper's header-read timer).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a certificate or key could not be loaded.
///
/// Messages name the file and never quote key material; the underlying I/O or rustls error is
/// the [`source`](std::error::Error::source), printed after it by `{:#}` in an error chain.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The certificate file could not be read.
    #[error("cannot read the TLS certificate file {}", path.display())]
    ReadCertificate {
        /// The certificate file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The certificate file holds no `CERTIFICATE` PEM block.
    #[error(
        "the TLS certificate file {} holds no PEM certificate (expected a -----BEGIN CERTIFICATE----- block)",
        path.display()
    )]
    NoCertificate {
        /// The certificate file.
        path: PathBuf,
    },
    /// The certificate file is not well-formed PEM.
    #[error("the TLS certificate file {} is not valid PEM: {problem}", path.display())]
    InvalidCertificate {
        /// The certificate file.
        path: PathBuf,
        /// What is wrong, in words.
        problem: &'static str,
    },
    /// The key file could not be read.
    #[error("cannot read the TLS key file {}", path.display())]
    ReadKey {
        /// The key file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The key file holds no unencrypted private key.
    #[error(
        "the TLS key file {} holds no PEM private key (expected an unencrypted PKCS#8, PKCS#1 or SEC1 -----BEGIN ... PRIVATE KEY----- block)",
        path.display()
    )]
    NoKey {
        /// The key file.
        path: PathBuf,
    },
    /// The key file is not well-formed PEM.
    #[error("the TLS key file {} is not valid PEM: {problem}", path.display())]
    InvalidKey {
        /// The key file.
        path: PathBuf,
        /// What is wrong, in words.
        problem: &'static str,
    },
    /// rustls refused the pair: an unsupported key type, or a key that does not belong to the
    /// certificate.
    #[error(
        "the TLS certificate {} and key {} cannot be used together",
        certificate.display(),
        key.display()
    )]
    Unusable {
        /// The certificate file.
        certificate: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said.
        source: rustls::Error,
    },
}

/// Describes a PEM syntax error without quoting the file (a key file's lines are secret).
fn describe_pem_error(error: &rustls::pki_types::pem::Error) -> &'static str {
    use rustls::pki_types::pem::Error;
    match error {
        Error::MissingSectionEnd { .. } => "a PEM block has no -----END ...----- line",
        Error::IllegalSectionStart { .. } => "a -----BEGIN ...----- line is malformed",
        Error::Base64Decode(_) => "a PEM block holds invalid base64",
        Error::SectionTooLarge => "a PEM block is too large",
        _ => "the PEM structure is invalid",
    }
}

/// Reads a PEM certificate chain (leaf first) and a PEM private key into a server
/// configuration for TLS 1.2 and 1.3 with ALPN `http/1.1`, using the ring provider.
///
/// # Errors
/// When a file cannot be read, holds no certificate or key, is malformed, or when the key does
/// not match the certificate; each error names the file.
pub fn load(certificate: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let certificate_pem =
        std::fs::read(certificate).map_err(|source| TlsError::ReadCertificate {
            path: certificate.to_owned(),
            source,
        })?;
    let chain = CertificateDer::pem_slice_iter(&certificate_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| TlsError::InvalidCertificate {
            path: certificate.to_owned(),
            problem: describe_pem_error(&error),
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: certificate.to_owned(),
        });
    }
    let key_pem = std::fs::read(key).map_err(|source| TlsError::ReadKey {
        path: key.to_owned(),
        source,
    })?;
    let private_key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|error| match error {
        rustls::pki_types::pem::Error::NoItemsFound => TlsError::NoKey {
            path: key.to_owned(),
        },
        error => TlsError::InvalidKey {
            path: key.to_owned(),
            problem: describe_pem_error(&error),
        },
    })?;
    let unusable = |source| TlsError::Unusable {
        certificate: certificate.to_owned(),
        key: key.to_owned(),
        source,
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(unusable)?
        .with_no_client_auth()
        .with_single_cert(chain, private_key)
        .map_err(unusable)?;
    // Only HTTP/1.1 is served (the router is built without HTTP/2).
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Serves `router` over TLS on `listener` until `shutdown` completes, then stops accepting and
/// waits for open connections to finish their requests.
///
/// Each request carries the peer's [`ConnectInfo<SocketAddr>`](axum::extract::ConnectInfo), as with
/// [`serve`](crate::serve). A failed or timed-out handshake is logged at debug level and only
/// closes that connection.
///
/// # Errors
/// None at present: accept errors are logged and retried, like [`serve`](crate::serve); the
/// `Result` keeps the two functions interchangeable.
pub async fn serve_tls(
    listener: TcpListener,
    router: Router,
    tls: Arc<rustls::ServerConfig>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let acceptor = TlsAcceptor::from(tls);
    let mut make_service = router.into_make_service_with_connect_info::<SocketAddr>();
    let graceful = GracefulShutdown::new();
    // Dropped when shutdown begins: handshakes still in progress are abandoned rather than
    // holding the shutdown up for their timeout.
    let (stopping, stopping_receiver) = tokio::sync::watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    if !is_connection_error(&error) {
                        // Usually too many open files: wait for some to close.
                        tracing::error!(%error, "accepting a TLS connection failed; retrying in 1 s");
                        tokio::select! {
                            () = tokio::time::sleep(Duration::from_secs(1)) => {}
                            () = &mut shutdown => break,
                        }
                    }
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        std::future::poll_fn(|context| {
            Service::<SocketAddr>::poll_ready(&mut make_service, context)
        })
        .await
        .unwrap_or_else(|never| match never {});
        let service = Service::<SocketAddr>::call(&mut make_service, peer)
            .await
            .unwrap_or_else(|never| match never {});
        tokio::spawn(serve_connection(
            stream,
            peer,
            acceptor.clone(),
            TowerToHyperService::new(service),
            graceful.watcher(),
            stopping_receiver.clone(),
        ));
    }
    drop(listener);
    drop(stopping);
    tracing::debug!(
        connections = graceful.count(),
        "TLS listener closed; waiting for open connections"
    );
    graceful.shutdown().await;
    Ok(())
}

/// Runs the handshake, then HTTP/1.1, on one accepted connection.
async fn serve_connection<S>(
    stream: TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    service: S,
    watcher: Watcher,
    mut stopping: tokio::sync::watch::Receiver<()>,
) where
    S: hyper::service::Service<
            hyper::Request<hyper::body::Incoming>,
            Response = axum::response::Response,
            Error = std::convert::Infallible,
        > + Send
        + 'static,
    S::Future: Send + 'static,
{
    // Responses are written whole; waiting for more bytes (Nagle) only adds latency.
    let _ = stream.set_nodelay(true);
    let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream));
    let stream = tokio::select! {
        handshake = handshake => match handshake {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => {
                tracing::debug!(%peer, %error, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, "TLS handshake timed out");
                return;
            }
        },
        // The sender is dropped (an error here) when the server shuts down.
        _ = stopping.changed() => return,
    };
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service);
    if let Err(error) = watcher.watch(connection).await {
        tracing::debug!(%peer, %error, "TLS connection ended with an error");
    }
}

/// Errors of one connection that the listener itself is not affected by.
fn is_connection_error(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, contents).expect("test file written");
        path
    }

    #[test]
    fn missing_files_are_named() {
        let dir = tempfile::tempdir().expect("temp dir");
        let certificate = dir.path().join("absent-cert.pem");
        let key = dir.path().join("absent-key.pem");
        let error = load(&certificate, &key).expect_err("no file");
        assert!(matches!(error, TlsError::ReadCertificate { .. }), "{error}");
        assert!(error.to_string().contains("absent-cert.pem"), "{error}");
    }

    #[test]
    fn files_without_pem_blocks_are_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let certificate = write(dir.path(), "cert.pem", "not a certificate\n");
        let key = write(dir.path(), "key.pem", "not a key\n");
        let error = load(&certificate, &key).expect_err("no certificate");
        assert!(matches!(error, TlsError::NoCertificate { .. }), "{error}");
        assert!(error.to_string().contains("cert.pem"), "{error}");
    }

    #[test]
    fn malformed_pem_is_described_without_quoting_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let certificate = write(
            dir.path(),
            "cert.pem",
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        );
        let key = write(
            dir.path(),
            "key.pem",
            "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n",
        );
        let error = load(&certificate, &key).expect_err("bad key");
        assert!(matches!(error, TlsError::InvalidKey { .. }), "{error}");
        let message = error.to_string();
        assert!(message.contains("key.pem"), "{message}");
        assert!(!message.contains("c2VjcmV0"), "{message}");
    }
}

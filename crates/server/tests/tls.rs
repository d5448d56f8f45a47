//! HTTPS, security headers and CORS over real loopback sockets: a self-signed certificate made
//! at test time (rcgen), the server on `127.0.0.1:0` through `serve_tls`, and a rustls reqwest
//! client that trusts only that certificate.

use medulla_engine::{Engine, EngineOptions};
use medulla_server::ServerConfig;
use medulla_store::SqliteStore;
use reqwest::Method;
use reqwest::blocking::{Client, Response};
use serde_json::Value;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

const APP_ORIGIN: &str = "https://app.example.org";
const HSTS: &str = "max-age=31536000; includeSubDomains";

/// What a test can change about the server.
#[derive(Default)]
struct Options {
    cors_origins: Vec<String>,
    /// The SMART authorization server and the audit ledger.
    auth: bool,
}

/// A TLS server on a loopback port; dropping it stops the server.
struct TlsServer {
    address: SocketAddr,
    /// `https://127.0.0.1:PORT`
    origin: String,
    /// Trusts the server's certificate and nothing else.
    client: Client,
    runtime: tokio::runtime::Runtime,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    audit: Option<Arc<medulla_audit::AuditLog>>,
    dir: tempfile::TempDir,
}

impl TlsServer {
    fn start(options: Options) -> TlsServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let certified = rcgen::generate_simple_self_signed(vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
        ])
        .expect("certificate generated");
        let certificate_pem = certified.cert.pem();
        let certificate_path = dir.path().join("cert.pem");
        let key_path = dir.path().join("key.pem");
        std::fs::write(&certificate_path, &certificate_pem).expect("certificate written");
        std::fs::write(&key_path, certified.signing_key.serialize_pem()).expect("key written");
        let tls = medulla_server::tls::load(&certificate_path, &key_path).expect("TLS loads");

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind loopback");
        let address = listener.local_addr().expect("local addr");
        let origin = format!("https://{address}");
        let store = Arc::new(
            SqliteStore::open(&dir.path().join("data"), Default::default()).expect("store opens"),
        );
        let engine = Engine::new(
            store.clone(),
            EngineOptions {
                base_url: format!("{origin}/fhir"),
                ..EngineOptions::default()
            },
        );
        let mut config = ServerConfig {
            hsts: true,
            cors_origins: options.cors_origins,
            ..ServerConfig::default()
        };
        if options.auth {
            config.auth = Some(Arc::new(
                medulla_auth::AuthServer::open(
                    &dir.path().join("data"),
                    store,
                    medulla_auth::AuthConfig::new(&origin),
                )
                .expect("authorization server opens"),
            ));
            config.audit = Some(Arc::new(
                medulla_audit::AuditLog::open(&dir.path().join("data/audit"))
                    .expect("ledger opens"),
            ));
        }
        let audit = config.audit.clone();
        let router = medulla_server::app(engine, config);
        let (shutdown, shutdown_received) = tokio::sync::oneshot::channel::<()>();
        let served = runtime.spawn(medulla_server::serve_tls(
            listener,
            router,
            tls,
            async move {
                let _ = shutdown_received.await;
            },
        ));
        let client = Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(
                reqwest::Certificate::from_pem(certificate_pem.as_bytes())
                    .expect("certificate parses"),
            )
            // Well below the server's 10 s handshake timeout, so a blocked listener fails the
            // test instead of being waited out.
            .timeout(Duration::from_secs(5))
            .build()
            .expect("client");
        TlsServer {
            address,
            origin,
            client,
            runtime,
            shutdown: Some(shutdown),
            served: Some(served),
            audit,
            dir,
        }
    }

    fn request(&self, method: Method, path: &str) -> reqwest::blocking::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.origin))
    }

    fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path).send().expect("answered")
    }

    /// A CORS preflight as a browser sends it before a cross-origin request.
    fn preflight(&self, path: &str, origin: &str, method: &str) -> Response {
        self.request(Method::OPTIONS, path)
            .header("origin", origin)
            .header("access-control-request-method", method)
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
            .expect("answered")
    }

    /// Stops accepting and waits for `serve_tls` to return.
    fn shut_down(&mut self) -> std::io::Result<()> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let served = self.served.take().expect("still serving");
        self.runtime
            .block_on(async { tokio::time::timeout(Duration::from_secs(5), served).await })
            .expect("serve_tls returns promptly after shutdown")
            .expect("serve_tls did not panic")
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
}

/// Every `Vary` value of a response, lowercased.
fn vary(response: &Response) -> Vec<String> {
    response
        .headers()
        .get_all("vary")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|value| value.trim().to_ascii_lowercase())
        .collect()
}

/// Sends raw bytes on a fresh TCP connection and returns what came back (possibly nothing).
fn send_raw(address: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(address).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("read timeout");
    stream.write_all(bytes).expect("request sent");
    let mut answer = Vec::new();
    // Reading ends at close, at a reset, or at the timeout; all are fine here.
    let _ = stream.read_to_end(&mut answer);
    answer
}

#[test]
fn metadata_over_https_carries_hsts_and_security_headers() {
    let server = TlsServer::start(Options::default());
    let response = server.get("/fhir/metadata");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(header(&response, "strict-transport-security"), Some(HSTS));
    assert_eq!(header(&response, "x-frame-options"), Some("DENY"));
    assert_eq!(header(&response, "x-content-type-options"), Some("nosniff"));
    assert_eq!(header(&response, "referrer-policy"), Some("no-referrer"));
    // Without --cors-origin there is no CORS at all, not even `Vary: Origin`.
    assert_eq!(header(&response, "access-control-allow-origin"), None);
    assert!(!vary(&response).contains(&"origin".to_owned()));
    let capability: Value = response.json().expect("JSON");
    assert_eq!(capability["resourceType"], "CapabilityStatement");
    assert_eq!(
        capability["implementation"]["url"],
        format!("{}/fhir", server.origin)
    );
    // Error answers carry the headers too.
    let missing = server.get("/fhir/Patient/does-not-exist");
    assert_eq!(missing.status().as_u16(), 404);
    assert_eq!(header(&missing, "strict-transport-security"), Some(HSTS));
}

#[test]
fn tls_1_2_clients_are_served_too() {
    let server = TlsServer::start(Options::default());
    let certificate = server_certificate(&server);
    let client = Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(certificate)
        .max_tls_version(reqwest::tls::Version::TLS_1_2)
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let response = client
        .get(format!("{}/fhir/metadata", server.origin))
        .send()
        .expect("answered over TLS 1.2");
    assert_eq!(response.status().as_u16(), 200);
}

/// The certificate the test server was started with, from its temporary directory.
fn server_certificate(server: &TlsServer) -> reqwest::Certificate {
    let pem = std::fs::read(server.dir.path().join("cert.pem")).expect("certificate file");
    reqwest::Certificate::from_pem(&pem).expect("certificate parses")
}

#[test]
fn plain_http_to_the_tls_port_fails_and_the_listener_keeps_serving() {
    let server = TlsServer::start(Options::default());
    let answer = send_raw(
        server.address,
        b"GET /fhir/metadata HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    );
    assert!(
        !answer.starts_with(b"HTTP/1.1 200"),
        "plain HTTP was answered: {:?}",
        String::from_utf8_lossy(&answer)
    );
    let plain = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client")
        .get(format!("http://{}/fhir/metadata", server.address))
        .send();
    if let Ok(response) = plain {
        assert_ne!(response.status().as_u16(), 200, "plain HTTP was served");
    }
    // Garbage that is not even HTTP.
    let _ = send_raw(server.address, &[0xff; 64]);
    assert_eq!(server.get("/fhir/metadata").status().as_u16(), 200);
}

#[test]
fn a_silent_client_does_not_block_other_clients() {
    let server = TlsServer::start(Options::default());
    // Connects and never starts the handshake; kept open for the whole test.
    let silent = TcpStream::connect(server.address).expect("connects");
    let half_open = {
        let mut stream = TcpStream::connect(server.address).expect("connects");
        // The first bytes of a ClientHello record, then nothing.
        stream.write_all(&[0x16, 0x03, 0x01]).expect("written");
        stream
    };
    for _ in 0..3 {
        // A fresh client each time, so every request needs a new handshake.
        let client = Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(server_certificate(&server))
            .timeout(Duration::from_secs(5))
            .build()
            .expect("client");
        let response = client
            .get(format!("{}/fhir/metadata", server.origin))
            .send()
            .expect("answered while another client sits silent");
        assert_eq!(response.status().as_u16(), 200);
    }
    drop((silent, half_open));
}

#[test]
fn shutdown_returns_while_a_client_sits_in_the_handshake() {
    let mut server = TlsServer::start(Options::default());
    assert_eq!(server.get("/fhir/metadata").status().as_u16(), 200);
    let _silent = TcpStream::connect(server.address).expect("connects");
    // Let the server accept it before shutting down.
    std::thread::sleep(Duration::from_millis(100));
    server.shut_down().expect("serve_tls ends cleanly");
    assert!(
        TcpStream::connect(server.address).is_err(),
        "the listener is closed after shutdown"
    );
}

#[test]
fn cors_preflight_from_an_allowed_origin_is_answered_before_authentication() {
    let server = TlsServer::start(Options {
        cors_origins: vec![APP_ORIGIN.to_owned()],
        auth: true,
    });
    for (path, method) in [
        ("/fhir/Patient", "POST"),
        ("/fhir/Patient/123", "PUT"),
        ("/fhir/metadata", "GET"),
        ("/auth/token", "POST"),
        ("/.well-known/smart-configuration", "GET"),
    ] {
        // No token: preflights never carry one.
        let response = server.preflight(path, APP_ORIGIN, method);
        assert_eq!(response.status().as_u16(), 204, "{path}");
        assert_eq!(
            header(&response, "access-control-allow-origin"),
            Some(APP_ORIGIN),
            "{path}"
        );
        assert_eq!(
            header(&response, "access-control-allow-methods"),
            Some("GET, POST, PUT, PATCH, DELETE, OPTIONS"),
            "{path}"
        );
        let allowed_headers = header(&response, "access-control-allow-headers").unwrap_or("");
        for name in [
            "authorization",
            "content-type",
            "prefer",
            "if-match",
            "if-none-exist",
            "if-none-match",
            "x-purpose-of-use",
        ] {
            assert!(allowed_headers.contains(name), "{path}: {allowed_headers}");
        }
        assert_eq!(
            header(&response, "access-control-max-age"),
            Some("600"),
            "{path}"
        );
        assert_eq!(
            header(&response, "access-control-allow-credentials"),
            None,
            "{path}"
        );
        assert!(vary(&response).contains(&"origin".to_owned()), "{path}");
        assert_eq!(header(&response, "strict-transport-security"), Some(HSTS));
    }
}

#[test]
fn cors_preflight_from_another_origin_gets_no_cors_headers() {
    let server = TlsServer::start(Options {
        cors_origins: vec![APP_ORIGIN.to_owned()],
        auth: true,
    });
    let response = server.preflight("/fhir/Patient", "https://evil.example.org", "GET");
    let cors_headers: Vec<&str> = response
        .headers()
        .keys()
        .map(|name| name.as_str())
        .filter(|name| name.starts_with("access-control-"))
        .collect();
    assert_eq!(cors_headers, Vec::<&str>::new());
    assert!(vary(&response).contains(&"origin".to_owned()));
    // An origin that only shares a prefix with the allowed one is another origin.
    let response = server.preflight("/fhir/Patient", "https://app.example.org.evil.net", "GET");
    assert_eq!(header(&response, "access-control-allow-origin"), None);
}

#[test]
fn cors_requests_from_an_allowed_origin_carry_the_origin_and_exposed_headers() {
    let server = TlsServer::start(Options {
        cors_origins: vec![APP_ORIGIN.to_owned(), "http://127.0.0.1:3000".to_owned()],
        auth: true,
    });
    let response = server
        .request(Method::GET, "/fhir/metadata")
        .header("origin", APP_ORIGIN)
        .send()
        .expect("answered");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        header(&response, "access-control-allow-origin"),
        Some(APP_ORIGIN)
    );
    assert!(vary(&response).contains(&"origin".to_owned()));
    let exposed = header(&response, "access-control-expose-headers").unwrap_or("");
    for name in [
        "location",
        "content-location",
        "etag",
        "last-modified",
        "x-progress",
        "retry-after",
        "www-authenticate",
    ] {
        assert!(exposed.contains(name), "{exposed}");
    }
    // A refused request still tells the app why, readable from script.
    let refused = server
        .request(Method::GET, "/fhir/Patient")
        .header("origin", "http://127.0.0.1:3000")
        .send()
        .expect("answered");
    assert_eq!(refused.status().as_u16(), 401);
    assert_eq!(
        header(&refused, "access-control-allow-origin"),
        Some("http://127.0.0.1:3000")
    );
    assert!(header(&refused, "www-authenticate").is_some());
    // Another origin's simple request is answered, without CORS headers.
    let stranger = server
        .request(Method::GET, "/fhir/metadata")
        .header("origin", "https://evil.example.org")
        .send()
        .expect("answered");
    assert_eq!(stranger.status().as_u16(), 200);
    assert_eq!(header(&stranger, "access-control-allow-origin"), None);
}

#[test]
fn cors_star_allows_any_origin_without_credentials() {
    let server = TlsServer::start(Options {
        cors_origins: vec!["*".to_owned()],
        auth: false,
    });
    let response = server.preflight("/fhir/Patient", "https://anyone.example.net", "POST");
    assert_eq!(response.status().as_u16(), 204);
    assert_eq!(header(&response, "access-control-allow-origin"), Some("*"));
    assert_eq!(header(&response, "access-control-allow-credentials"), None);
}

#[test]
fn the_peer_address_reaches_the_audit_trail_over_tls() {
    let server = TlsServer::start(Options {
        cors_origins: Vec::new(),
        auth: true,
    });
    let refused = server.get("/fhir/Patient");
    assert_eq!(refused.status().as_u16(), 401);
    let ledger = server.audit.as_ref().expect("audit on");
    let events = ledger
        .search(&medulla_audit::AuditQuery::default())
        .expect("ledger searchable");
    let addresses: Vec<String> = events
        .iter()
        .filter_map(|(_, json)| serde_json::from_slice::<Value>(json).ok())
        .filter_map(|event| {
            event["agent"][0]["network"]["address"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(addresses, ["127.0.0.1"]);
}

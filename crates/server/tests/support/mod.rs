//! The test harness: a real Medulla server on a loopback port with a temporary data directory,
//! and a blocking HTTP client that speaks to it.

#![allow(
    dead_code,
    reason = "each test binary uses a different subset of the helpers"
)]

use medulla_engine::{Engine, EngineOptions};
use medulla_server::ServerConfig;
use medulla_store::SqliteStore;
use reqwest::Method;
use reqwest::blocking::Client;
use serde_json::Value;
use std::sync::Arc;

pub const FHIR_JSON: &str = "application/fhir+json";

/// A running server. Dropping it shuts the server down and removes its data.
pub struct Server {
    /// `http://127.0.0.1:PORT/fhir`
    pub base: String,
    pub client: Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    runtime: Option<tokio::runtime::Runtime>,
    store: Arc<SqliteStore>,
    _dir: tempfile::TempDir,
    /// Where `$import` reads its input files.
    #[allow(dead_code)] // only the import tests use it
    pub import_dir: std::path::PathBuf,
    /// `http://127.0.0.1:PORT`: the token issuer when authentication is on.
    pub origin: String,
    /// The data directory (the audit ledger is in its `audit` folder).
    pub data_dir: std::path::PathBuf,
    /// The authorization server, when `Options::auth` is set.
    pub auth: Option<Arc<medulla_auth::AuthServer>>,
    /// The audit ledger, when `Options::audit` is set.
    pub audit: Option<Arc<medulla_audit::AuditLog>>,
}

/// What a test can change about the server.
#[derive(Default)]
pub struct Options {
    pub body_limit: Option<usize>,
    pub allow_multiple_delete: bool,
    /// Run the built-in SMART authorization server (every FHIR request needs a token).
    pub auth: bool,
    /// Record every access in the audit ledger.
    pub audit: bool,
    /// `DATA/auth/roles.json`, written before the server starts.
    pub roles: Option<Value>,
    /// Accept tokens of this external OpenID Connect issuer.
    pub oidc: Option<Arc<medulla_auth::OidcVerifier>>,
    /// The terminology service (default: built-in content only).
    pub terminology: Option<Arc<medulla_terminology::Terminology>>,
    /// The write-time validation policy (default: base).
    pub validation: Option<medulla_engine::ValidationPolicy>,
}

impl Server {
    pub fn start() -> Server {
        Server::start_with(Options::default())
    }

    pub fn start_with(options: Options) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let store =
            Arc::new(SqliteStore::open(dir.path(), Default::default()).expect("store opens"));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind loopback");
        let port = listener.local_addr().expect("local addr").port();
        let base = format!("http://127.0.0.1:{port}/fhir");
        let engine = Engine::new(
            store.clone(),
            EngineOptions {
                base_url: base.clone(),
                allow_multiple_delete: options.allow_multiple_delete,
                validation: options.validation.clone().unwrap_or_default(),
                ..EngineOptions::default()
            },
        );
        let engine = match &options.terminology {
            Some(terminology) => engine.with_terminology(Arc::clone(terminology)),
            None => engine,
        };
        let mut config = ServerConfig {
            exports: Some(
                medulla_bulk::Exports::open(dir.path().join("exports"), engine.clone())
                    .expect("exports folder"),
            ),
            imports: Some(
                medulla_bulk::Imports::open(
                    dir.path().join("imports"),
                    dir.path().join("import"),
                    engine.clone(),
                )
                .expect("import folders"),
            ),
            ..ServerConfig::default()
        };
        if let Some(limit) = options.body_limit {
            config.body_limit = limit;
        }
        let origin = format!("http://127.0.0.1:{port}");
        if let Some(roles) = &options.roles {
            std::fs::create_dir_all(dir.path().join("auth")).expect("auth folder");
            std::fs::write(
                dir.path().join("auth/roles.json"),
                serde_json::to_vec(roles).expect("json"),
            )
            .expect("roles.json");
        }
        if options.auth {
            config.auth = Some(Arc::new(
                medulla_auth::AuthServer::open(
                    dir.path(),
                    store.clone(),
                    medulla_auth::AuthConfig::new(&origin),
                )
                .expect("authorization server opens"),
            ));
        }
        config.oidc = options.oidc.clone();
        if options.audit {
            config.audit = Some(Arc::new(
                medulla_audit::AuditLog::open(&dir.path().join("audit")).expect("ledger opens"),
            ));
        }
        let (auth, audit) = (config.auth.clone(), config.audit.clone());
        let router = medulla_server::app(engine, config);
        let (shutdown, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        runtime.spawn(medulla_server::serve(listener, router, async move {
            let _ = shutdown_rx.await;
        }));
        Server {
            base,
            client: client(),
            shutdown: Some(shutdown),
            runtime: Some(runtime),
            store,
            import_dir: dir.path().join("import"),
            origin,
            data_dir: dir.path().to_owned(),
            auth,
            audit,
            _dir: dir,
        }
    }

    /// Runs a future on the server's runtime (directory set-up in tests).
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.as_ref().expect("runtime").block_on(future)
    }

    /// The store, as the authorization crate takes it.
    pub fn store(&self) -> Arc<dyn medulla_store::Store> {
        self.store.clone()
    }

    /// A request with `Authorization: Bearer token`.
    pub fn as_token(&self, token: &str, method: Method, path: &str) -> Req {
        self.request(method, path)
            .header("authorization", &format!("Bearer {token}"))
    }

    /// `GET path` with a bearer token.
    pub fn get_as(&self, token: &str, path: &str) -> Resp {
        self.as_token(token, Method::GET, path).send()
    }

    /// An absolute URL for `path` below the base (`Patient/1`), or `path` itself when absolute.
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http://") {
            path.to_owned()
        } else if path.is_empty() {
            self.base.clone()
        } else {
            format!("{}/{}", self.base, path.trim_start_matches('/'))
        }
    }

    pub fn request(&self, method: Method, path: &str) -> Req {
        Req {
            builder: self.client.request(method, self.url(path)),
        }
    }

    pub fn get(&self, path: &str) -> Resp {
        self.request(Method::GET, path).send()
    }

    pub fn delete(&self, path: &str) -> Resp {
        self.request(Method::DELETE, path).send()
    }

    pub fn post(&self, path: &str, body: &Value) -> Resp {
        self.request(Method::POST, path).json(body).send()
    }

    pub fn put(&self, path: &str, body: &Value) -> Resp {
        self.request(Method::PUT, path).json(body).send()
    }

    /// Creates a resource and returns it as stored, asserting 201.
    pub fn create(&self, body: &Value) -> Value {
        let resource_type = body["resourceType"].as_str().expect("resourceType");
        let response = self.post(resource_type, body);
        assert_eq!(response.status, 201, "create failed: {}", response.text());
        response.json()
    }

    /// Searches and returns the bundle, asserting 200.
    pub fn search(&self, query: &str) -> Value {
        let response = self.get(query);
        assert_eq!(
            response.status,
            200,
            "search {query} failed: {}",
            response.text()
        );
        response.json()
    }

    /// Number of current resources matching `Type?query`, by `_summary=count`.
    pub fn count(&self, type_and_query: &str) -> u64 {
        let separator = if type_and_query.contains('?') {
            '&'
        } else {
            '?'
        };
        let bundle = self.search(&format!("{type_and_query}{separator}_summary=count"));
        bundle["total"].as_u64().expect("total")
    }

    /// All entries of a paged bundle, following `next` links; also returns the page count.
    pub fn all_pages(&self, first: &str) -> (Vec<Value>, usize) {
        let mut entries = Vec::new();
        let mut pages = 0;
        let mut url = self.url(first);
        loop {
            let bundle = self.search(&url);
            pages += 1;
            assert!(pages < 10_000, "paging does not end");
            if let Some(page) = bundle["entry"].as_array() {
                entries.extend(page.iter().cloned());
            }
            match next_link(&bundle) {
                Some(next) => url = next,
                None => return (entries, pages),
            }
        }
    }

    /// Number of stored versions in the whole system history.
    pub fn system_history_len(&self) -> usize {
        self.all_pages("_history?_count=1000").0.len()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(std::time::Duration::from_secs(5));
        }
        if let Some(audit) = self.audit.take() {
            audit.close();
        }
        self.store.close();
    }
}

pub fn client() -> Client {
    Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .expect("client")
}

pub fn next_link(bundle: &Value) -> Option<String> {
    bundle["link"].as_array()?.iter().find_map(|link| {
        (link["relation"] == "next").then(|| link["url"].as_str().map(str::to_owned))?
    })
}

/// A request being built.
pub struct Req {
    builder: reqwest::blocking::RequestBuilder,
}

impl Req {
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.builder = self.builder.header(name, value);
        self
    }

    /// A FHIR JSON body.
    pub fn json(self, body: &Value) -> Self {
        self.body(FHIR_JSON, serde_json::to_vec(body).expect("serializable"))
    }

    pub fn body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self.builder = self
            .builder
            .header("content-type", content_type)
            .body(body.into());
        self
    }

    /// A body without a Content-Type header.
    pub fn raw_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.builder = self.builder.body(body.into());
        self
    }

    pub fn send(self) -> Resp {
        let response = self.builder.send().expect("request is answered");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().expect("body").to_vec();
        Resp {
            status,
            headers,
            body,
        }
    }
}

/// A received response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("ascii header").to_owned())
    }

    /// The body as text, shortened for assertion messages.
    pub fn text(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        match text.char_indices().nth(3000) {
            Some((cut, _)) => format!("{}… ({} bytes)", &text[..cut], self.body.len()),
            None => text.into_owned(),
        }
    }

    pub fn json(&self) -> Value {
        assert_eq!(
            self.header("content-type").as_deref(),
            Some("application/fhir+json; charset=utf-8"),
            "content type of {self:?}"
        );
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|error| panic!("body is not JSON ({error}): {}", self.text()))
    }

    /// The version number in `ETag: W/"n"`.
    pub fn etag_version(&self) -> u64 {
        let etag = self.header("etag").expect("ETag header");
        etag.strip_prefix("W/\"")
            .and_then(|rest| rest.strip_suffix('"'))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("ETag {etag:?} is not W/\"n\""))
    }

    /// Asserts an OperationOutcome with `status` whose issues mention `needle` in a diagnostics
    /// or expression; returns the outcome.
    pub fn assert_outcome(&self, status: u16, needle: &str) -> Value {
        assert_eq!(self.status, status, "status of {}", self.text());
        let outcome = self.json();
        assert_eq!(outcome["resourceType"], "OperationOutcome", "{outcome}");
        let issues = outcome["issue"].as_array().expect("issues");
        assert_ne!(issues.len(), 0, "{outcome}");
        let mentioned = issues.iter().any(|issue| {
            issue["diagnostics"]
                .as_str()
                .is_some_and(|d| d.contains(needle))
                || issue["expression"].as_array().is_some_and(|e| {
                    e.iter()
                        .any(|e| e.as_str().is_some_and(|e| e.contains(needle)))
                })
        });
        assert!(mentioned, "no issue mentions {needle:?}: {outcome}");
        outcome
    }

    /// The expressions of all issues.
    pub fn expressions(&self) -> Vec<String> {
        let outcome = self.json();
        outcome["issue"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|issue| issue["expression"].as_array().cloned().unwrap_or_default())
            .filter_map(|e| e.as_str().map(str::to_owned))
            .collect()
    }
}

/// Ids of the resources of a bundle's match entries.
pub fn ids(bundle: &Value) -> Vec<String> {
    bundle["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|entry| entry["search"]["mode"] != "outcome")
        .filter_map(|entry| entry["resource"]["id"].as_str().map(str::to_owned))
        .collect()
}

/// A minimal valid Patient with an identifier.
pub fn patient(system: &str, value: &str) -> Value {
    serde_json::json!({
        "resourceType": "Patient",
        "identifier": [{"system": system, "value": value}],
        "name": [{"family": "Test", "given": [value]}],
        "active": true
    })
}

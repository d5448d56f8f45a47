//! `medulla bench`: throughput and latency figures, printed, never asserted.
//!
//! `bench crud` starts `medulla serve` as a child process on a fresh data directory (so its
//! resident memory can be read on its own), drives it over loopback HTTP with keep-alive
//! connections, then measures raw SQLite doing the same inserts and selects of the same JSON
//! (the floor) in the same run.

use crate::cli::{BenchArgs, BenchWhat, CrudBenchArgs};
use anyhow::{Context as _, bail};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.what {
        BenchWhat::Crud(args) => crud(args),
        BenchWhat::Fhirpath(args) => crate::bench_fhirpath::run(args),
        BenchWhat::Search(args) => crate::bench_search::run(args),
        BenchWhat::Ingest(args) => crate::bench_ingest::run(args),
        BenchWhat::Export(args) => crate::bench_export::run(args),
        BenchWhat::Hl7(args) => crate::bench_hl7::run(args),
        BenchWhat::Auth(args) => crate::bench_auth::run(args),
        BenchWhat::Terminology(args) => crate::terminology::bench(args),
        BenchWhat::Validate(args) => crate::bench_validate::run(args),
    }
}

/// Installs a Node.js peer's packages (`npm ci` from its lock file) unless `node_modules`
/// is already there.
pub(crate) fn install_node_peer(dir: &std::path::Path) -> anyhow::Result<()> {
    if dir.join("node_modules").is_dir() {
        return Ok(());
    }
    println!("installing the peer: npm ci in {}", dir.display());
    let status = std::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .status()
        .context("running npm ci (is npm installed?)")?;
    if !status.success() {
        bail!("npm ci in {} failed: {status}", dir.display());
    }
    Ok(())
}

/// The JSON summary a peer prints as its last line of output.
pub(crate) struct PeerSummary(serde_json::Value);

impl PeerSummary {
    /// Reads the last line of `stdout`.
    pub(crate) fn from_output(stdout: &[u8]) -> anyhow::Result<PeerSummary> {
        let summary = String::from_utf8_lossy(stdout)
            .lines()
            .last()
            .map(serde_json::from_str)
            .transpose()
            .context("reading the peer's summary line")?
            .context("the peer printed no summary")?;
        Ok(PeerSummary(summary))
    }

    /// A text member, `?` when missing.
    pub(crate) fn text(&self, key: &str) -> String {
        self.0
            .get(key)
            .and_then(serde_json::Value::as_str)
            .unwrap_or("?")
            .to_owned()
    }

    /// An integer member, 0 when missing.
    pub(crate) fn count(&self, key: &str) -> u64 {
        self.0
            .get(key)
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0)
    }

    /// Any member.
    pub(crate) fn get(&self, key: &str) -> Option<&serde_json::Value> {
        self.0.get(key)
    }

    /// A number member, 0 when missing.
    pub(crate) fn number(&self, key: &str) -> f64 {
        self.0
            .get(key)
            .and_then(serde_json::Value::as_f64)
            .unwrap_or(0.0)
    }
}

const PATIENT: &str = r#"{"resourceType":"Patient","identifier":[{"system":"urn:oid:2.16.840.1.113883.4.3.25","value":"MRN-000"}],"active":true,"name":[{"use":"official","family":"Chalmers","given":["Peter","James"]}],"telecom":[{"system":"phone","value":"(03) 5555 6473","use":"work"}],"gender":"male","birthDate":"1974-12-25","address":[{"use":"home","line":["534 Erewhon St"],"city":"PleasantVille","state":"Vic","postalCode":"3999"}]}"#;
const OBSERVATION: &str = r#"{"resourceType":"Observation","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}]},"subject":{"reference":"Patient/example"},"effectiveDateTime":"2020-03-01T10:15:00+01:00","valueQuantity":{"value":72,"unit":"beats/minute","system":"http://unitsofmeasure.org","code":"/min"}}"#;

pub(crate) struct Server {
    pub(crate) child: std::process::Child,
    pub(crate) port: u16,
    _data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

fn start_server() -> anyhow::Result<Server> {
    let data = tempfile::tempdir().context("creating a temporary data directory")?;
    start_server_in(data, &[])
}

/// Starts `medulla serve` on `data` with `extra` arguments and waits until it listens.
pub(crate) fn start_server_in(data: tempfile::TempDir, extra: &[&str]) -> anyhow::Result<Server> {
    let port = free_port()?;
    let exe = std::env::current_exe().context("locating the medulla binary")?;
    let child = std::process::Command::new(exe)
        .args(["serve", "--log-level", "warn", "--addr"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data")
        .arg(data.path())
        .args(extra)
        .stdout(std::process::Stdio::null())
        .spawn()
        .context("starting medulla serve")?;
    let server = Server {
        child,
        port,
        _data: data,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!("the server did not start listening within 20 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(server)
}

pub(crate) fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

pub(crate) async fn connect(port: u16) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    Ok(sender)
}

/// Sends one request; returns the status and the body.
async fn send(
    sender: &mut SendRequest<Full<Bytes>>,
    method: hyper::Method,
    path: &str,
    body: Option<Bytes>,
    if_match: Option<&str>,
) -> anyhow::Result<(u16, Bytes)> {
    sender.ready().await?;
    let mut request = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1");
    if body.is_some() {
        request = request.header("content-type", "application/fhir+json");
    }
    if let Some(tag) = if_match {
        request = request.header("if-match", tag);
    }
    let request = request.body(Full::new(body.unwrap_or_default()))?;
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

fn id_of(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()?
        .get("id")?
        .as_str()
        .map(str::to_owned)
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    errors: u64,
}

pub(crate) struct Figures {
    pub(crate) rate: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) errors: u64,
}

fn summarize(tallies: Vec<Tally>, seconds: f64, ops_per_sample: f64) -> Figures {
    let mut latencies: Vec<u32> = Vec::new();
    let mut errors = 0;
    for tally in tallies {
        latencies.extend(tally.latencies_us);
        errors += tally.errors;
    }
    latencies.sort_unstable();
    let percentile = |p: f64| -> f64 {
        if latencies.is_empty() {
            return f64::NAN;
        }
        let index = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        f64::from(latencies[index.min(latencies.len() - 1)]) / 1000.0
    };
    Figures {
        rate: latencies.len() as f64 * ops_per_sample / seconds,
        p50_ms: percentile(0.5),
        p99_ms: percentile(0.99),
        errors,
    }
}

/// Runs `clients` loops of `operation` for `seconds`, each on its own keep-alive connection.
pub(crate) async fn drive<F, Fut>(
    port: u16,
    clients: usize,
    seconds: f64,
    operation: F,
) -> anyhow::Result<Figures>
where
    F: Fn(SendRequest<Full<Bytes>>, u64) -> Fut + Send + Sync + 'static + Clone,
    Fut: std::future::Future<Output = (SendRequest<Full<Bytes>>, anyhow::Result<()>)> + Send,
{
    let stop = Arc::new(AtomicBool::new(false));
    let counter = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::new();
    for _ in 0..clients {
        let mut sender = connect(port).await?;
        let stop = stop.clone();
        let counter = counter.clone();
        let operation = operation.clone();
        handles.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            while !stop.load(Ordering::Relaxed) {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let started = Instant::now();
                let (returned, result) = operation(sender, n).await;
                sender = returned;
                match result {
                    Ok(()) => tally
                        .latencies_us
                        .push(u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX)),
                    Err(_) => tally.errors += 1,
                }
            }
            tally
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut tallies = Vec::new();
    for handle in handles {
        tallies.push(handle.await?);
    }
    Ok(summarize(tallies, started.elapsed().as_secs_f64(), 1.0))
}

fn print_row(label: &str, clients: usize, figures: &Figures) {
    println!(
        "| {label:<22} | {clients:>7} | {:>10.0} | {:>8.2} | {:>8.2} | {:>6} |",
        figures.rate, figures.p50_ms, figures.p99_ms, figures.errors
    );
}

fn expect_status(result: anyhow::Result<(u16, Bytes)>, wanted: u16) -> anyhow::Result<Bytes> {
    let (status, body) = result?;
    if status == wanted {
        Ok(body)
    } else {
        bail!("status {status}, wanted {wanted}")
    }
}

fn crud(args: CrudBenchArgs) -> anyhow::Result<()> {
    let server = start_server()?;
    let pid = server.child.id();
    let port = server.port;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    println!(
        "medulla bench crud: server pid {pid} on 127.0.0.1:{port}, {} s per measurement",
        args.seconds
    );
    std::thread::sleep(Duration::from_millis(300));
    let idle_rss = rss_mib(pid);
    println!("server resident memory, idle with an empty store: {idle_rss:.1} MiB");
    println!();
    println!(
        "| {:<22} | {:>7} | {:>10} | {:>8} | {:>8} | {:>6} |",
        "operation", "clients", "ops/s", "p50 ms", "p99 ms", "errors"
    );
    println!(
        "|{:-<24}|{:->9}|{:->12}|{:->10}|{:->10}|{:->8}|",
        "", "", "", "", "", ""
    );
    let mut create_rates = Vec::new();
    let ids: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
    runtime.block_on(async {
        for &clients in &args.clients {
            let ids = ids.clone();
            let figures = drive(port, clients, args.seconds, move |mut sender, _| {
                let ids = ids.clone();
                async move {
                    let result = send(&mut sender, hyper::Method::POST, "/fhir/Patient", Some(Bytes::from_static(PATIENT.as_bytes())), None).await;
                    let outcome = expect_status(result, 201).map(|body| {
                        if let (Some(id), Ok(mut ids)) = (id_of(&body), ids.lock()) {
                            ids.push(id);
                        }
                    });
                    (sender, outcome)
                }
            })
            .await?;
            print_row("create Patient", clients, &figures);
            create_rates.push((clients, figures.rate));
        }
        // Top the store up to the preload size so reads hit a realistic number of rows.
        let have = ids.lock().map(|ids| ids.len()).unwrap_or(0);
        if have < args.preload {
            let mut sender = connect(port).await?;
            for _ in have..args.preload {
                let body = expect_status(
                    send(&mut sender, hyper::Method::POST, "/fhir/Patient", Some(Bytes::from_static(PATIENT.as_bytes())), None).await,
                    201,
                )?;
                if let (Some(id), Ok(mut ids)) = (id_of(&body), ids.lock()) {
                    ids.push(id);
                }
            }
        }
        let pool: Arc<Vec<String>> = Arc::new(ids.lock().map(|ids| ids.clone()).unwrap_or_default());
        for &clients in &args.clients {
            let pool = pool.clone();
            let figures = drive(port, clients, args.seconds, move |mut sender, n| {
                let pool = pool.clone();
                async move {
                    let index = (n.wrapping_mul(2_654_435_761) % pool.len().max(1) as u64) as usize;
                    let path = format!("/fhir/Patient/{}", pool.get(index).map_or("missing", String::as_str));
                    let outcome = expect_status(send(&mut sender, hyper::Method::GET, &path, None, None).await, 200).map(|_| ());
                    (sender, outcome)
                }
            })
            .await?;
            print_row("read Patient", clients, &figures);
        }
        let loaded_rss = rss_mib(pid);
        for &clients in &args.clients {
            let figures = drive(port, clients, args.seconds, move |mut sender, n| async move {
                let outcome = crud_cycle(&mut sender, n).await;
                (sender, outcome)
            })
            .await?;
            // One sample is a full create-read-update-delete cycle: four operations.
            let per_op = Figures { rate: figures.rate * 4.0, ..figures };
            print_row("CRUD mix (ops)", clients, &per_op);
        }
        println!();
        println!("server resident memory after the read benchmark: {loaded_rss:.1} MiB (peak now {:.1} MiB)", rss_mib(pid));
        anyhow::Ok(())
    })?;
    drop(server);
    println!();
    floor(args.seconds, &create_rates)?;
    Ok(())
}

/// Create, read, update and delete of one resource, alternating Patient and Observation.
async fn crud_cycle(sender: &mut SendRequest<Full<Bytes>>, n: u64) -> anyhow::Result<()> {
    let (resource_type, template) = if n.is_multiple_of(2) {
        ("Patient", PATIENT)
    } else {
        ("Observation", OBSERVATION)
    };
    let created = expect_status(
        send(
            sender,
            hyper::Method::POST,
            &format!("/fhir/{resource_type}"),
            Some(Bytes::from_static(template.as_bytes())),
            None,
        )
        .await,
        201,
    )?;
    let id = id_of(&created).context("created resource has no id")?;
    let path = format!("/fhir/{resource_type}/{id}");
    expect_status(
        send(sender, hyper::Method::GET, &path, None, None).await,
        200,
    )?;
    let mut updated: serde_json::Value = serde_json::from_str(template)?;
    if let Some(fields) = updated.as_object_mut() {
        fields.insert("id".into(), serde_json::Value::String(id.clone()));
    }
    expect_status(
        send(
            sender,
            hyper::Method::PUT,
            &path,
            Some(Bytes::from(serde_json::to_vec(&updated)?)),
            Some("W/\"1\""),
        )
        .await,
        200,
    )?;
    expect_status(
        send(sender, hyper::Method::DELETE, &path, None, None).await,
        204,
    )?;
    Ok(())
}

/// Raw SQLite on the same JSON: durable single inserts, batched inserts, and primary-key selects.
fn floor(seconds: f64, create_rates: &[(usize, f64)]) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let conn = rusqlite::Connection::open(dir.path().join("floor.db"))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch("CREATE TABLE blobs (id TEXT PRIMARY KEY, body BLOB NOT NULL)")?;
    let mut next = 0_u64;
    let mut insert = |conn: &rusqlite::Connection| -> anyhow::Result<()> {
        next += 1;
        conn.prepare_cached("INSERT INTO blobs (id, body) VALUES (?1, ?2)")?
            .execute((format!("floor-{next:012}"), PATIENT.as_bytes()))?;
        Ok(())
    };
    let timed = |mut work: Box<dyn FnMut() -> anyhow::Result<u64> + '_>| -> anyhow::Result<f64> {
        let started = Instant::now();
        let mut done = 0;
        while started.elapsed().as_secs_f64() < seconds {
            done += work()?;
        }
        Ok(done as f64 / started.elapsed().as_secs_f64())
    };
    let single = timed(Box::new(|| {
        insert(&conn)?;
        Ok(1)
    }))?;
    let batched = timed(Box::new(|| {
        conn.execute_batch("BEGIN")?;
        for _ in 0..1000 {
            insert(&conn)?;
        }
        conn.execute_batch("COMMIT")?;
        Ok(1000)
    }))?;
    let rows: i64 = conn.query_row("SELECT count(*) FROM blobs", [], |row| row.get(0))?;
    let mut n = 0_i64;
    let select = timed(Box::new(|| {
        n += 1;
        let id = format!(
            "floor-{:012}",
            (n.wrapping_mul(2_654_435_761) % rows.max(1)) + 1
        );
        let body: Vec<u8> = conn
            .prepare_cached("SELECT body FROM blobs WHERE id = ?1")?
            .query_row([id], |row| row.get(0))?;
        Ok(u64::from(!body.is_empty()))
    }))?;
    println!("floor (raw SQLite, same JSON, WAL, synchronous=FULL, one thread, no HTTP/FHIR):");
    println!("  durable insert, one commit each : {single:>10.0} /s");
    println!("  insert, 1000 per commit         : {batched:>10.0} /s");
    println!("  select by primary key           : {select:>10.0} /s");
    for (clients, rate) in create_rates {
        println!(
            "  medulla durable creates with {clients:>2} clients = {:.2}x the one-commit-each floor, {:.3} of the batched floor",
            rate / single.max(1e-9),
            rate / batched.max(1e-9)
        );
    }
    Ok(())
}

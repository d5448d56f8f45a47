//! `medulla bench auth`: what authentication and the audit trail cost.
//!
//! Two `medulla serve` children on fresh data directories with the same patients: one with
//! `--auth none --no-audit`, one with `--auth smart` (every read checks a bearer token and is
//! appended to the hash-chained audit ledger, durably, before it is answered). Keep-alive
//! clients read patients by id from each in turn, twice, in the same run. Then the token
//! endpoint: client-credentials grants/s, each with a fresh ES384 `private_key_jwt` assertion
//! (signed before the clock starts, so the figure is the server's).

use crate::bench::{Figures, connect, drive, start_server_in};
use anyhow::{Context as _, bail};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use std::sync::Arc;

/// Options of `medulla bench auth`.
#[derive(Debug, clap::Args)]
pub struct AuthBenchArgs {
    /// Concurrent keep-alive clients.
    #[arg(long, default_value_t = 16)]
    pub clients: usize,
    /// Seconds per read measurement (each configuration is measured twice, alternating).
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    /// Patients created in each server before reading.
    #[arg(long, default_value_t = 1000)]
    pub patients: usize,
    /// Client-credentials grants made in the token measurement.
    #[arg(long, default_value_t = 4000)]
    pub grants: usize,
}

async fn request(
    sender: &mut SendRequest<Full<Bytes>>,
    method: hyper::Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Bytes>,
) -> anyhow::Result<(u16, Bytes)> {
    sender.ready().await?;
    let mut builder = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let response = sender
        .send_request(builder.body(Full::new(body.unwrap_or_default()))?)
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.into_body().collect().await?.to_bytes()))
}

fn medulla(args: &[&str], data: &std::path::Path) -> anyhow::Result<serde_json::Value> {
    let exe = std::env::current_exe().context("locating the medulla binary")?;
    let output = std::process::Command::new(exe)
        .args(args)
        .arg("--data")
        .arg(data)
        .output()
        .context("running medulla")?;
    if !output.status.success() {
        bail!(
            "medulla {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    serde_json::from_slice(&output.stdout).context("reading medulla's JSON output")
}

/// An ES384 key: the private PEM and the public JWKS.
fn es384_key() -> anyhow::Result<(Vec<u8>, serde_json::Value)> {
    use p384::pkcs8::EncodePrivateKey;
    let secret = p384::SecretKey::random(&mut rand_core::OsRng);
    let pem = secret
        .to_pkcs8_pem(p384::pkcs8::LineEnding::LF)
        .map_err(|e| anyhow::anyhow!("encoding the key: {e}"))?
        .as_bytes()
        .to_vec();
    let mut jwk: serde_json::Value = serde_json::from_str(&secret.public_key().to_jwk_string())?;
    jwk["kid"] = serde_json::json!("bench-1");
    jwk["alg"] = serde_json::json!("ES384");
    Ok((pem, serde_json::json!({ "keys": [jwk] })))
}

async fn seed(port: u16, token: Option<&str>, patients: usize) -> anyhow::Result<Vec<String>> {
    let mut sender = connect(port).await?;
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", "application/fhir+json")];
    if let Some(bearer) = &bearer {
        headers.push(("authorization", bearer.as_str()));
    }
    let mut ids = Vec::with_capacity(patients);
    for n in 0..patients {
        let body = serde_json::json!({"resourceType": "Patient", "active": true,
            "identifier": [{"system": "urn:bench", "value": format!("MRN-{n}")}],
            "name": [{"family": format!("Bench{n}"), "given": ["Pat"]}], "gender": "female", "birthDate": "1980-01-01"});
        let (status, created) = request(
            &mut sender,
            hyper::Method::POST,
            "/fhir/Patient",
            &headers,
            Some(Bytes::from(serde_json::to_vec(&body)?)),
        )
        .await?;
        if status != 201 {
            bail!(
                "seeding: status {status}: {}",
                String::from_utf8_lossy(&created)
            );
        }
        let id = serde_json::from_slice::<serde_json::Value>(&created)?["id"]
            .as_str()
            .map(str::to_owned)
            .context("created patient has an id")?;
        ids.push(id);
    }
    Ok(ids)
}

/// A `system/*.cruds` token by client credentials with HTTP Basic authentication.
async fn system_token(port: u16, basic: &str) -> anyhow::Result<String> {
    let mut sender = connect(port).await?;
    let (status, body) = request(
        &mut sender,
        hyper::Method::POST,
        "/auth/token",
        &[
            ("authorization", basic),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        Some(Bytes::from_static(
            b"grant_type=client_credentials&scope=system%2F*.cruds",
        )),
    )
    .await?;
    if status != 200 {
        bail!("token: status {status}: {}", String::from_utf8_lossy(&body));
    }
    let token: serde_json::Value = serde_json::from_slice(&body)?;
    Ok(token["access_token"]
        .as_str()
        .context("access_token")?
        .to_owned())
}

async fn reads(
    port: u16,
    token: Option<Arc<String>>,
    ids: Arc<Vec<String>>,
    clients: usize,
    seconds: f64,
) -> anyhow::Result<Figures> {
    drive(port, clients, seconds, move |mut sender, n| {
        let ids = ids.clone();
        let token = token.clone();
        async move {
            let id = &ids[usize::try_from(n).unwrap_or(0) % ids.len()];
            let bearer = token.as_ref().map(|t| format!("Bearer {t}"));
            let mut headers = Vec::new();
            if let Some(bearer) = &bearer {
                headers.push(("authorization", bearer.as_str()));
            }
            let result = request(
                &mut sender,
                hyper::Method::GET,
                &format!("/fhir/Patient/{id}"),
                &headers,
                None,
            )
            .await
            .and_then(|(status, _)| {
                if status == 200 {
                    Ok(())
                } else {
                    bail!("status {status}")
                }
            });
            (sender, result)
        }
    })
    .await
}

pub fn run(args: AuthBenchArgs) -> anyhow::Result<()> {
    let open = tempfile::tempdir().context("creating a data directory")?;
    let secured = tempfile::tempdir().context("creating a data directory")?;
    // Clients are registered before the server starts, through the CLI, as an operator would.
    let backend = medulla(
        &[
            "client",
            "register",
            "--name",
            "bench reader",
            "--type",
            "symmetric",
            "--scope",
            "system/*.cruds",
        ],
        secured.path(),
    )?;
    let (pem, jwks) = es384_key()?;
    let jwks_path = secured.path().join("bench-jwks.json");
    std::fs::write(&jwks_path, serde_json::to_vec(&jwks)?)?;
    let jwks_arg = jwks_path.to_string_lossy().into_owned();
    let asymmetric = medulla(
        &[
            "client",
            "register",
            "--name",
            "bench service",
            "--type",
            "asymmetric",
            "--jwks",
            &jwks_arg,
            "--scope",
            "system/*.rs",
        ],
        secured.path(),
    )?;
    // The same clients, registered in a third directory: authentication without the ledger,
    // to tell the two costs apart.
    let auth_only_dir = tempfile::tempdir().context("creating a data directory")?;
    copy_dir(secured.path(), auth_only_dir.path())?;
    let open = start_server_in(open, &["--auth", "none", "--no-audit"])?;
    let secured = start_server_in(secured, &["--auth", "smart"])?;
    let auth_only = start_server_in(auth_only_dir, &["--auth", "smart", "--no-audit"])?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    println!(
        "medulla bench auth: {} patients per server, {} clients, {} s per read measurement",
        args.patients, args.clients, args.seconds
    );
    runtime.block_on(async {
        let client_id = backend["client_id"].as_str().context("client_id")?;
        let secret = backend["client_secret"].as_str().context("client_secret")?;
        let basic = {
            use base64::Engine as _;
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{secret}"))
            )
        };
        let token = Arc::new(system_token(secured.port, &basic).await?);
        let open_ids = Arc::new(seed(open.port, None, args.patients).await?);
        let secured_ids = Arc::new(seed(secured.port, Some(&token), args.patients).await?);
        let auth_only_token = Arc::new(system_token(auth_only.port, &basic).await?);
        let auth_only_ids = Arc::new(seed(auth_only.port, Some(&auth_only_token), args.patients).await?);

        println!("\n| server | round | reads/s | p50 ms | p99 ms | errors |");
        println!("| --- | ---: | ---: | ---: | ---: | ---: |");
        let mut off = Vec::new();
        let mut on = Vec::new();
        for round in 1..=2 {
            let figures = reads(open.port, None, open_ids.clone(), args.clients, args.seconds).await?;
            println!("| auth none, no audit | {round} | {:.0} | {:.2} | {:.2} | {} |", figures.rate, figures.p50_ms, figures.p99_ms, figures.errors);
            off.push(figures.rate);
            let figures = reads(auth_only.port, Some(auth_only_token.clone()), auth_only_ids.clone(), args.clients, args.seconds).await?;
            println!("| auth smart, no audit | {round} | {:.0} | {:.2} | {:.2} | {} |", figures.rate, figures.p50_ms, figures.p99_ms, figures.errors);
            let figures = reads(secured.port, Some(token.clone()), secured_ids.clone(), args.clients, args.seconds).await?;
            println!("| auth smart + audit | {round} | {:.0} | {:.2} | {:.2} | {} |", figures.rate, figures.p50_ms, figures.p99_ms, figures.errors);
            on.push(figures.rate);
        }
        let mean = |rates: &[f64]| rates.iter().sum::<f64>() / rates.len() as f64;
        let overhead = 100.0 * (1.0 - mean(&on) / mean(&off));
        println!(
            "\nread throughput with auth + audit: {:.0} vs {:.0} reads/s without: overhead {overhead:.1}% (goal <= 10%)",
            mean(&on),
            mean(&off)
        );

        // Token endpoint: assertions signed before the clock starts.
        let service = asymmetric["client_id"].as_str().context("client_id")?.to_owned();
        let endpoint = format!("http://127.0.0.1:{}/auth/token", secured.port);
        let key = jsonwebtoken::EncodingKey::from_ec_pem(&pem)?;
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES384);
        header.kid = Some("bench-1".into());
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
        let mut bodies = Vec::with_capacity(args.grants);
        for _ in 0..args.grants {
            let claims = serde_json::json!({"iss": service, "sub": service, "aud": endpoint,
                "exp": now + 280, "jti": uuid::Uuid::new_v4().to_string()});
            let assertion = jsonwebtoken::encode(&header, &claims, &key)?;
            bodies.push(Bytes::from(format!(
                "grant_type=client_credentials&scope=system%2FPatient.rs&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion={assertion}"
            )));
        }
        let bodies = Arc::new(bodies);
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let clients = args.clients.min(8);
        let started = std::time::Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..clients {
            let bodies = bodies.clone();
            let next = next.clone();
            let mut sender = connect(secured.port).await?;
            tasks.push(tokio::spawn(async move {
                let (mut ok, mut failed) = (0_u64, 0_u64);
                loop {
                    let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(body) = bodies.get(n) else { break };
                    let result = request(
                        &mut sender,
                        hyper::Method::POST,
                        "/auth/token",
                        &[("content-type", "application/x-www-form-urlencoded")],
                        Some(body.clone()),
                    )
                    .await;
                    match result {
                        Ok((200, _)) => ok += 1,
                        _ => failed += 1,
                    }
                }
                (ok, failed)
            }));
        }
        let (mut ok, mut failed) = (0, 0);
        for task in tasks {
            let (o, f) = task.await?;
            ok += o;
            failed += f;
        }
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "token endpoint: {ok} client-credentials grants with ES384 assertions in {seconds:.2} s = {:.0} grants/s ({clients} clients, {failed} failed)",
            ok as f64 / seconds
        );
        anyhow::Ok(())
    })?;
    drop(open);
    drop(secured);
    drop(auth_only);
    Ok(())
}

/// Copies the files of a (not yet served) data directory.
fn copy_dir(from: &std::path::Path, to: &std::path::Path) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            std::fs::create_dir_all(&target)?;
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

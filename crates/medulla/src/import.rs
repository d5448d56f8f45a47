//! `medulla import`: loads Bundles and NDJSON files through the engine.
//!
//! Each transaction Bundle is one atomic write; NDJSON lines and collection Bundles are written
//! in batches. A file that fails is reported (with its line where there is one) and the import
//! goes on with the rest. Files named like Synthea's shared-provider Bundles
//! (`hospitalInformation*`, `practitionerInformation*`) are loaded first, because patient
//! Bundles refer to them by conditional reference.

use crate::cli::ImportArgs;
use anyhow::{Context as _, bail};
use medulla_engine::{Engine, resource};
use serde_json::Value;
use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::Semaphore;

/// Writes in flight at once; enough to fill group commits without unbounded memory.
const IN_FLIGHT: usize = 16;

#[derive(Default)]
struct Counters {
    resources: AtomicU64,
    failures: AtomicU64,
}

fn collect_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut pending: Vec<PathBuf> = paths.to_vec();
    while let Some(path) = pending.pop() {
        let metadata =
            std::fs::metadata(&path).with_context(|| format!("reading {}", path.display()))?;
        if metadata.is_dir() {
            for entry in
                std::fs::read_dir(&path).with_context(|| format!("listing {}", path.display()))?
            {
                pending.push(
                    entry
                        .with_context(|| format!("listing {}", path.display()))?
                        .path(),
                );
            }
        } else if paths.contains(&path)
            || matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("json" | "ndjson")
            )
        {
            files.push(path);
        }
    }
    let priority = |path: &Path| {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        !(name.starts_with("hospitalInformation") || name.starts_with("practitionerInformation"))
    };
    files.sort_by(|a, b| (priority(a), a).cmp(&(priority(b), b)));
    Ok(files)
}

pub fn run(args: ImportArgs) -> anyhow::Result<()> {
    let files = collect_files(&args.paths)?;
    if files.is_empty() {
        bail!("no .json or .ndjson files found in the given paths");
    }
    let total_bytes: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let store = medulla_store::SqliteStore::open(&args.data.data, Default::default())
        .with_context(|| format!("opening the store in {}", args.data.data.display()))?;
    let store = Arc::new(store);
    let engine = Engine::new(
        store.clone(),
        medulla_engine::EngineOptions {
            indexing: !args.no_index,
            ..Default::default()
        },
    );
    let bar = if args.quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(total_bytes)
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {bytes}/{total_bytes} {msg} [{elapsed_precise}, eta {eta}]",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let counters = Arc::new(Counters::default());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let started = std::time::Instant::now();
    runtime.block_on(async {
        let permits = Arc::new(Semaphore::new(IN_FLIGHT));
        let mut tasks = tokio::task::JoinSet::new();
        let mut previous_priority = true;
        for file in &files {
            let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let is_priority = name.starts_with("hospitalInformation")
                || name.starts_with("practitionerInformation");
            if previous_priority && !is_priority {
                // Shared providers must be committed before patients refer to them.
                while let Some(joined) = tasks.join_next().await {
                    report(joined, &bar, &counters);
                }
            }
            previous_priority = is_priority;
            let result = import_file(
                &engine,
                file,
                args.batch.max(1),
                &permits,
                &mut tasks,
                &counters,
            )
            .await;
            if let Err(error) = result {
                counters.failures.fetch_add(1, Ordering::Relaxed);
                bar.suspend(|| eprintln!("{}: {error:#}", file.display()));
            }
            bar.inc(std::fs::metadata(file).map(|m| m.len()).unwrap_or(0));
            bar.set_message(format!(
                "{} resources",
                counters.resources.load(Ordering::Relaxed)
            ));
            while let Some(joined) = tasks.try_join_next() {
                report(joined, &bar, &counters);
            }
        }
        while let Some(joined) = tasks.join_next().await {
            report(joined, &bar, &counters);
        }
    });
    bar.finish_and_clear();
    store.close();
    let seconds = started.elapsed().as_secs_f64();
    let resources = counters.resources.load(Ordering::Relaxed);
    let failures = counters.failures.load(Ordering::Relaxed);
    println!(
        "imported {resources} resources from {} files in {seconds:.2} s ({:.0} resources/s, {:.1} MB/s); {failures} failed",
        files.len(),
        resources as f64 / seconds.max(1e-9),
        total_bytes as f64 / 1e6 / seconds.max(1e-9),
    );
    if failures > 0 {
        bail!("{failures} file(s) or line(s) could not be imported (listed above)");
    }
    Ok(())
}

type Job = Result<u64, String>;

fn report(
    joined: Result<Job, tokio::task::JoinError>,
    bar: &indicatif::ProgressBar,
    counters: &Counters,
) {
    match joined {
        Ok(Ok(count)) => {
            counters.resources.fetch_add(count, Ordering::Relaxed);
        }
        Ok(Err(message)) => {
            counters.failures.fetch_add(1, Ordering::Relaxed);
            bar.suspend(|| eprintln!("{message}"));
        }
        Err(error) => {
            counters.failures.fetch_add(1, Ordering::Relaxed);
            bar.suspend(|| eprintln!("import task failed: {error}"));
        }
    }
}

async fn spawn_limited(
    permits: &Arc<Semaphore>,
    tasks: &mut tokio::task::JoinSet<Job>,
    job: impl std::future::Future<Output = Job> + Send + 'static,
) {
    let Ok(permit) = permits.clone().acquire_owned().await else {
        return;
    };
    tasks.spawn(async move {
        let result = job.await;
        drop(permit);
        result
    });
}

async fn import_file(
    engine: &Engine,
    file: &Path,
    batch: usize,
    permits: &Arc<Semaphore>,
    tasks: &mut tokio::task::JoinSet<Job>,
    counters: &Counters,
) -> anyhow::Result<()> {
    let is_ndjson = file.extension().and_then(|e| e.to_str()) == Some("ndjson");
    if is_ndjson {
        return import_ndjson(engine, file, batch, permits, tasks, counters).await;
    }
    let text = std::fs::read(file).context("reading the file")?;
    let value: Value = serde_json::from_slice(&text)
        .map_err(|error| anyhow::anyhow!("line {}: not valid JSON: {error}", error.line()))?;
    let label = file.display().to_string();
    let bundle_type = value.get("type").and_then(Value::as_str).unwrap_or("");
    match (
        value.get("resourceType").and_then(Value::as_str),
        bundle_type,
    ) {
        (Some("Bundle"), "transaction" | "batch") => {
            let engine = engine.clone();
            spawn_limited(permits, tasks, async move {
                let response = engine
                    .process_bundle(value)
                    .await
                    .map_err(|error| format!("{label}: {error}"))?;
                let failed: Vec<String> = response
                    .entries
                    .iter()
                    .enumerate()
                    .filter_map(|(n, entry)| {
                        entry
                            .as_ref()
                            .err()
                            .map(|error| format!("entry {n}: {error}"))
                    })
                    .collect();
                if !failed.is_empty() {
                    return Err(format!("{label}: {}", failed.join("; ")));
                }
                Ok(response.entries.len() as u64)
            })
            .await;
        }
        (Some("Bundle"), _) => {
            let resources: Vec<Value> = value
                .get("entry")
                .and_then(Value::as_array)
                .map(|entries| {
                    entries
                        .iter()
                        .filter_map(|e| e.get("resource").cloned())
                        .collect()
                })
                .unwrap_or_default();
            let mut checked = Vec::with_capacity(resources.len());
            for (n, resource) in resources.into_iter().enumerate() {
                match check(&resource) {
                    Ok(()) => checked.push(resource),
                    Err(error) => {
                        counters.failures.fetch_add(1, Ordering::Relaxed);
                        eprintln!("{label}: entry {n}: {error}");
                    }
                }
            }
            for chunk in chunked(checked, batch) {
                submit_batch(engine, permits, tasks, chunk, label.clone()).await;
            }
        }
        _ => {
            check(&value)?;
            submit_batch(engine, permits, tasks, vec![value], label).await;
        }
    }
    Ok(())
}

fn check(resource: &Value) -> Result<(), medulla_engine::Error> {
    let resource_type = resource
        .get("resourceType")
        .and_then(Value::as_str)
        .unwrap_or("");
    resource::check_type(resource_type)?;
    resource::check_body(resource_type, resource, None)
}

fn chunked(items: Vec<Value>, size: usize) -> Vec<Vec<Value>> {
    let mut chunks = Vec::new();
    let mut current = Vec::with_capacity(size);
    for item in items {
        current.push(item);
        if current.len() == size {
            chunks.push(std::mem::replace(&mut current, Vec::with_capacity(size)));
        }
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

async fn submit_batch(
    engine: &Engine,
    permits: &Arc<Semaphore>,
    tasks: &mut tokio::task::JoinSet<Job>,
    resources: Vec<Value>,
    label: String,
) {
    let engine = engine.clone();
    spawn_limited(permits, tasks, async move {
        engine
            .upsert_batch(resources)
            .await
            .map(|n| n as u64)
            .map_err(|error| format!("{label}: {error}"))
    })
    .await;
}

async fn import_ndjson(
    engine: &Engine,
    file: &Path,
    batch: usize,
    permits: &Arc<Semaphore>,
    tasks: &mut tokio::task::JoinSet<Job>,
    counters: &Counters,
) -> anyhow::Result<()> {
    let reader = std::io::BufReader::new(std::fs::File::open(file).context("opening the file")?);
    let label = file.display().to_string();
    let mut pending = Vec::with_capacity(batch);
    let mut first_line = 1;
    for (n, line) in reader.split(b'\n').enumerate() {
        let number = n + 1;
        let line = line.with_context(|| format!("reading line {number}"))?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let parsed = serde_json::from_slice::<Value>(&line)
            .map_err(|error| format!("not valid JSON: {error}"))
            .and_then(|value| {
                check(&value)
                    .map(|()| value)
                    .map_err(|error| error.to_string())
            });
        match parsed {
            Ok(value) => pending.push(value),
            Err(reason) => {
                counters.failures.fetch_add(1, Ordering::Relaxed);
                eprintln!("{label}:{number}: {reason}");
            }
        }
        if pending.len() == batch {
            let chunk = std::mem::replace(&mut pending, Vec::with_capacity(batch));
            submit_batch(
                engine,
                permits,
                tasks,
                chunk,
                format!("{label}:{first_line}-{number}"),
            )
            .await;
            first_line = number + 1;
        }
    }
    if !pending.is_empty() {
        submit_batch(
            engine,
            permits,
            tasks,
            pending,
            format!("{label}:{first_line}-"),
        )
        .await;
    }
    Ok(())
}

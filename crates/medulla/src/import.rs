//! `medulla import`: loads Bundles and NDJSON files through the engine.
//!
//! NDJSON takes the bulk path: one reader thread cuts each file into batches of lines, worker
//! threads (one per core by default) parse, check and index them, and this thread hands the
//! batches to the store's writer in file order, each as one atomic write job that skips resources
//! already stored with the same content ([`Engine::submit_ingest`]). Every queue between them is
//! bounded, and a token per batch in flight bounds the whole pipeline, so memory does not grow
//! with the input. Because the write is idempotent by resource id, re-running an import after a
//! crash ends with each resource once.
//!
//! Each transaction Bundle is one atomic write; collection Bundles are written in batches like
//! NDJSON. A bad line or file is reported (with its line where there is one); `--on-error skip`
//! goes on with the rest, `--on-error abort` stops. Files named like Synthea's shared-provider
//! Bundles (`hospitalInformation*`, `practitionerInformation*`) are loaded first, because
//! patient Bundles refer to them by conditional reference.

use crate::cli::{ImportArgs, OnError};
use anyhow::{Context as _, bail};
use medulla_engine::{Engine, IngestOutcome, Prepared};
use serde_json::Value;
use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;

/// Write jobs in flight at once; enough to fill group commits.
const IN_FLIGHT: usize = 16;

/// NDJSON files imported at once. One file's pipeline drains at its end (its last writes
/// commit while its workers idle) and fills at its start (workers busy, writer idle); a second
/// file going on meanwhile keeps the writer busy across those gaps.
const FILES_AT_ONCE: usize = 2;

/// NDJSON resources alive at once (read, parsed, or waiting for their commit), in batches of
/// `--batch`: this bounds the pipeline's memory whatever the input size.
const RESOURCES_ALIVE: usize = 16_000;

/// Batches alive at once for a batch size: at least 4, so that reading, parsing and writing
/// overlap.
fn batches_alive(batch: usize) -> usize {
    (RESOURCES_ALIVE / batch.max(1)).max(4)
}

#[derive(Default)]
struct Counters {
    written: AtomicU64,
    unchanged: AtomicU64,
    failures: AtomicU64,
}

impl Counters {
    fn add(&self, outcome: IngestOutcome) {
        self.written
            .fetch_add(outcome.written as u64, Ordering::Relaxed);
        self.unchanged
            .fetch_add(outcome.unchanged as u64, Ordering::Relaxed);
    }

    fn committed(&self) -> u64 {
        self.written.load(Ordering::Relaxed) + self.unchanged.load(Ordering::Relaxed)
    }
}

/// Takes the data directory's import lock (`import.lock`, released when the process ends,
/// however it ends). Two imports into one directory would each load everything, and two bulk
/// loads would race to finish (one of them failing).
fn lock_for_import(data: &Path) -> anyhow::Result<std::fs::File> {
    std::fs::create_dir_all(data).with_context(|| format!("creating {}", data.display()))?;
    let path = data.join("import.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => bail!(
            "another `medulla import` is loading into {}: wait for it to end",
            data.display()
        ),
        Err(std::fs::TryLockError::Error(error)) => {
            Err(error).with_context(|| format!("locking {}", path.display()))
        }
    }
}

fn is_priority(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.starts_with("hospitalInformation") || name.starts_with("practitionerInformation")
}

fn is_ndjson(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()) == Some("ndjson")
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
    files.sort_by(|a, b| (!is_priority(a), a).cmp(&(!is_priority(b), b)));
    Ok(files)
}

/// What every file's import needs.
struct Context {
    engine: Engine,
    batch: usize,
    threads: usize,
    abort: bool,
    /// Set when an `--on-error abort` failure stops the import: other files stop too.
    stopped: std::sync::atomic::AtomicBool,
    counters: Counters,
    bar: indicatif::ProgressBar,
}

impl Context {
    /// Reports a problem on stderr, above the progress bar.
    fn report(&self, message: &str) {
        self.bar.suspend(|| eprintln!("{message}"));
    }
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
    let options = medulla_store::SqliteOptions {
        writer_cache_mib: args.cache_mib,
        // Into an empty store, NDJSON (which neither reads nor searches as it loads) builds the
        // id key and the search value indexes once at the end instead of row by row.
        bulk_load_when_empty: !args.no_index && files.iter().all(|f| is_ndjson(f)),
        ..medulla_engine::sqlite_options()
    };
    let _one_import = lock_for_import(&args.data.data)?;
    let store = medulla_store::SqliteStore::open(&args.data.data, options)
        .with_context(|| format!("opening the store in {}", args.data.data.display()))?;
    let store = Arc::new(store);
    let engine = Engine::new(
        store.clone(),
        medulla_engine::EngineOptions {
            indexing: !args.no_index,
            validation: args.validation.policy()?,
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
    let threads = match args.threads {
        0 => std::thread::available_parallelism().map_or(2, usize::from),
        n => n,
    };
    let context = Context {
        engine,
        batch: args.batch.max(1),
        threads,
        abort: args.on_error == OnError::Abort,
        stopped: Default::default(),
        counters: Counters::default(),
        bar,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let started = std::time::Instant::now();
    let outcome = import_files(&context, &runtime, &files);
    context.bar.finish_and_clear();
    let finished = store.finish_bulk_load();
    let seconds = started.elapsed().as_secs_f64();
    let merged = finished.as_ref().copied().unwrap_or_default();
    // A bulk load writes every copy of a resource and removes the unchanged ones at its end.
    let written = context
        .counters
        .written
        .load(Ordering::Relaxed)
        .saturating_sub(merged.unchanged);
    let unchanged = context.counters.unchanged.load(Ordering::Relaxed) + merged.unchanged;
    let failures = context.counters.failures.load(Ordering::Relaxed);
    let resources = written + unchanged;
    println!(
        "imported {resources} resources from {} files in {seconds:.2} s ({:.0} resources/s, {:.1} MB/s): {written} written, {unchanged} unchanged; {failures} failed",
        files.len(),
        resources as f64 / seconds.max(1e-9),
        total_bytes as f64 / 1e6 / seconds.max(1e-9),
    );
    outcome?;
    finished.context(
        "finishing the bulk load failed (the resources are stored; running the import again \
         or the next start finishes it)",
    )?;
    if failures > 0 {
        bail!("{failures} file(s) or line(s) could not be imported (listed above)");
    }
    Ok(())
}

/// Imports every file: runs of Bundle files concurrently on the async runtime, in order;
/// runs of NDJSON files through the parallel pipeline, [`FILES_AT_ONCE`] at a time, largest
/// first (NDJSON files do not depend on each other).
fn import_files(
    context: &Context,
    runtime: &tokio::runtime::Runtime,
    files: &[PathBuf],
) -> anyhow::Result<()> {
    let mut rest = files;
    while let Some(first) = rest.first() {
        if is_ndjson(first) {
            let end = rest
                .iter()
                .position(|f| !is_ndjson(f))
                .unwrap_or(rest.len());
            import_ndjson_files(context, &rest[..end])?;
            rest = &rest[end..];
        } else {
            let end = rest.iter().position(|f| is_ndjson(f)).unwrap_or(rest.len());
            runtime.block_on(import_bundles(context, &rest[..end]))?;
            rest = &rest[end..];
        }
    }
    Ok(())
}

fn import_ndjson_files(context: &Context, files: &[PathBuf]) -> anyhow::Result<()> {
    let mut queue: Vec<(u64, &PathBuf)> = files
        .iter()
        .map(|file| (std::fs::metadata(file).map_or(0, |m| m.len()), file))
        .collect();
    // Popped from the end: smallest last, so the big files overlap the small ones.
    queue.sort_by_key(|(size, _)| *size);
    let queue = Mutex::new(queue);
    let first_abort: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..FILES_AT_ONCE.min(files.len()) {
            scope.spawn(|| {
                loop {
                    if context.stopped.load(Ordering::Relaxed) {
                        return;
                    }
                    let next = queue.lock().ok().and_then(|mut queue| queue.pop());
                    let Some((_, file)) = next else { return };
                    let Err(error) = import_ndjson(context, file) else {
                        continue;
                    };
                    if context.abort {
                        context.stopped.store(true, Ordering::Relaxed);
                        if let Ok(mut first) = first_abort.lock() {
                            first.get_or_insert(error);
                        }
                        return;
                    }
                    context.counters.failures.fetch_add(1, Ordering::Relaxed);
                    context.report(&format!("{error:#}"));
                }
            });
        }
    });
    match first_abort.into_inner().ok().flatten() {
        Some(error) => Err(error.context(format!(
            "import aborted; {} resources were committed before it, in whole batches",
            context.counters.committed()
        ))),
        None => Ok(()),
    }
}

type Job = Result<IngestOutcome, String>;

/// Imports Bundle files, up to [`IN_FLIGHT`] writes at once.
async fn import_bundles(context: &Context, files: &[PathBuf]) -> anyhow::Result<()> {
    let permits = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut tasks = tokio::task::JoinSet::new();
    let mut previous_priority = true;
    let mut failed = false;
    for file in files {
        if previous_priority && !is_priority(file) {
            // Shared providers must be committed before patients refer to them.
            while let Some(joined) = tasks.join_next().await {
                failed |= report(context, joined);
            }
        }
        previous_priority = is_priority(file);
        if failed && context.abort {
            break;
        }
        if let Err(error) = import_bundle(context, file, &permits, &mut tasks).await {
            failed = true;
            context.counters.failures.fetch_add(1, Ordering::Relaxed);
            context.report(&format!("{}: {error:#}", file.display()));
        }
        context
            .bar
            .inc(std::fs::metadata(file).map(|m| m.len()).unwrap_or(0));
        context
            .bar
            .set_message(format!("{} resources", context.counters.committed()));
        while let Some(joined) = tasks.try_join_next() {
            failed |= report(context, joined);
        }
    }
    while let Some(joined) = tasks.join_next().await {
        failed |= report(context, joined);
    }
    if failed && context.abort {
        bail!(
            "import aborted at the first failed file (above); {} resources were committed",
            context.counters.committed()
        );
    }
    Ok(())
}

/// Counts a finished write; true when it failed.
fn report(context: &Context, joined: Result<Job, tokio::task::JoinError>) -> bool {
    let message = match joined {
        Ok(Ok(outcome)) => {
            context.counters.add(outcome);
            return false;
        }
        Ok(Err(message)) => message,
        Err(error) => format!("import task failed: {error}"),
    };
    context.counters.failures.fetch_add(1, Ordering::Relaxed);
    context.report(&message);
    true
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

async fn import_bundle(
    context: &Context,
    file: &Path,
    permits: &Arc<Semaphore>,
    tasks: &mut tokio::task::JoinSet<Job>,
) -> anyhow::Result<()> {
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
            let engine = context.engine.clone();
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
                Ok(IngestOutcome {
                    written: response.entries.len(),
                    unchanged: 0,
                })
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
                match context.engine.check_for_write(&resource) {
                    Ok(()) => checked.push(resource),
                    Err(error) => {
                        if context.abort {
                            bail!("entry {n}: {error}");
                        }
                        context.counters.failures.fetch_add(1, Ordering::Relaxed);
                        context.report(&format!("{label}: entry {n}: {error}"));
                    }
                }
            }
            let mut checked = checked.into_iter().peekable();
            while checked.peek().is_some() {
                let chunk: Vec<Value> = checked.by_ref().take(context.batch).collect();
                let engine = context.engine.clone();
                let label = label.clone();
                spawn_limited(permits, tasks, async move {
                    engine
                        .ingest_batch(chunk)
                        .await
                        .map_err(|error| format!("{label}: {error}"))
                })
                .await;
            }
        }
        _ => {
            context.engine.check_for_write(&value)?;
            let engine = context.engine.clone();
            spawn_limited(permits, tasks, async move {
                engine
                    .ingest_batch(vec![value])
                    .await
                    .map_err(|error| format!("{label}: {error}"))
            })
            .await;
        }
    }
    Ok(())
}

/// Lines of one NDJSON file as read: (line number, bytes).
struct RawBatch {
    seq: u64,
    lines: Vec<(usize, Vec<u8>)>,
    bytes: u64,
}

/// A batch after the workers: good resources prepared for the writer, bad lines with reasons.
struct ParsedBatch {
    seq: u64,
    first_line: usize,
    last_line: usize,
    good: Vec<Prepared>,
    bad: Vec<(usize, String)>,
    bytes: u64,
}

/// Imports one NDJSON file through the reader → workers → writer pipeline. Bad lines are
/// reported in line order; with `--on-error abort` the first one stops the file (and the
/// import) before its batch is written.
fn import_ndjson(context: &Context, file: &Path) -> anyhow::Result<()> {
    let label = file.display().to_string();
    let reader = std::io::BufReader::with_capacity(
        1 << 20,
        std::fs::File::open(file).with_context(|| format!("{label}: opening the file"))?,
    );
    let (raw_sender, raw_receiver) = sync_channel::<RawBatch>(context.threads * 2);
    // Shared by the workers only, so it closes (and a blocked reader wakes) when they stop.
    let raw_receiver = Arc::new(Mutex::new(raw_receiver));
    let (parsed_sender, parsed_receiver) = sync_channel::<ParsedBatch>(context.threads * 2);
    // One token per batch alive: the reader takes one before reading a batch, and the batch
    // gives it back once written (or dropped).
    let (token_sender, token_receiver) = sync_channel::<()>(batches_alive(context.batch));
    std::thread::scope(|scope| {
        let read =
            scope.spawn(move || read_batches(reader, context.batch, &raw_sender, &token_sender));
        for _ in 0..context.threads {
            let parsed_sender = parsed_sender.clone();
            let raw_receiver = raw_receiver.clone();
            scope.spawn(move || parse_batches(&context.engine, &raw_receiver, &parsed_sender));
        }
        drop(parsed_sender);
        drop(raw_receiver);
        let written = write_in_order(context, &label, parsed_receiver, token_receiver);
        let read = read
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the reader thread panicked")));
        // A write failure or abort stops the reader early, which then reports a closed channel;
        // the write side's error is the one that matters.
        written?;
        read.with_context(|| label.clone())
    })
}

/// Cuts the file into batches of `batch` non-blank lines. Stops early, without error, when the
/// other end hangs up (abort).
fn read_batches(
    reader: impl std::io::BufRead,
    batch: usize,
    raw: &SyncSender<RawBatch>,
    tokens: &SyncSender<()>,
) -> anyhow::Result<()> {
    let mut seq = 0;
    let mut current = RawBatch {
        seq,
        lines: Vec::with_capacity(batch),
        bytes: 0,
    };
    for (n, line) in reader.split(b'\n').enumerate() {
        let number = n + 1;
        let line = line.with_context(|| format!("reading line {number}"))?;
        current.bytes += line.len() as u64 + 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        current.lines.push((number, line));
        if current.lines.len() == batch {
            seq += 1;
            let full = std::mem::replace(
                &mut current,
                RawBatch {
                    seq,
                    lines: Vec::with_capacity(batch),
                    bytes: 0,
                },
            );
            if tokens.send(()).is_err() || raw.send(full).is_err() {
                return Ok(());
            }
        }
    }
    if !current.lines.is_empty() && tokens.send(()).is_ok() {
        let _ = raw.send(current);
    }
    Ok(())
}

/// Lowers the calling thread's priority by 10 nice steps. The store's one writer
/// thread is the pipeline's serial stage; at equal priority the parse workers (one per core,
/// two files at once) took a quarter of its time on a 2-core machine, and the import ran 9–19%
/// slower (docs/benchmarks.md). The workers still get every cycle the writer leaves idle.
/// Best effort: a failure changes only speed.
fn yield_to_writer() {
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{getpriority_process, setpriority_process};
        const WORKER_NICE_STEPS: i32 = 10;
        // On Linux the nice value is per thread: `setpriority` given a thread id sets that one.
        let thread = Some(rustix::thread::gettid());
        if let Ok(current) = getpriority_process(thread) {
            let _ = setpriority_process(thread, (current + WORKER_NICE_STEPS).min(19));
        }
    }
}

/// A worker: parses, checks and indexes batches until the reader is done or the writer side
/// hangs up.
fn parse_batches(
    engine: &Engine,
    raw: &Mutex<Receiver<RawBatch>>,
    parsed: &SyncSender<ParsedBatch>,
) {
    yield_to_writer();
    loop {
        let next = match raw.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        let Ok(batch) = next else { return };
        let mut out = ParsedBatch {
            seq: batch.seq,
            first_line: batch.lines.first().map_or(0, |l| l.0),
            last_line: batch.lines.last().map_or(0, |l| l.0),
            good: Vec::with_capacity(batch.lines.len()),
            bad: Vec::new(),
            bytes: batch.bytes,
        };
        for (number, line) in batch.lines {
            let parsed = serde_json::from_slice::<Value>(&line)
                .map_err(|error| format!("not valid JSON: {error}"))
                .and_then(|value| {
                    engine
                        .check_for_write(&value)
                        .map(|()| value)
                        .map_err(|error| error.to_string())
                });
            match parsed {
                Ok(value) => out.good.push(engine.prepare(value)),
                Err(reason) => out.bad.push((number, reason)),
            }
        }
        if parsed.send(out).is_err() {
            return;
        }
    }
}

/// Takes parsed batches, puts them back in file order, reports bad lines, and submits the good
/// resources, keeping up to [`IN_FLIGHT`] writes queued so the writer's group commits stay full.
fn write_in_order(
    context: &Context,
    label: &str,
    parsed: Receiver<ParsedBatch>,
    tokens: Receiver<()>,
) -> anyhow::Result<()> {
    type Ticket = medulla_store::WriteTicket<IngestOutcome, medulla_engine::Error>;
    let mut waiting: BTreeMap<u64, ParsedBatch> = BTreeMap::new();
    let mut writes: VecDeque<(Ticket, String)> = VecDeque::new();
    let mut next = 0;
    let mut failure: Option<anyhow::Error> = None;
    // Waits for the oldest write; its token goes back to the reader.
    let finish_one = |writes: &mut VecDeque<(Ticket, String)>| -> Option<anyhow::Error> {
        let (ticket, range) = writes.pop_front()?;
        let _ = tokens.recv();
        match ticket.blocking_wait() {
            Ok(outcome) => {
                context.counters.add(outcome);
                context
                    .bar
                    .set_message(format!("{} resources", context.counters.committed()));
                None
            }
            Err(error) => {
                let message = format!("{label}:{range}: {error}");
                if context.abort {
                    return Some(anyhow::anyhow!("{message}"));
                }
                context.counters.failures.fetch_add(1, Ordering::Relaxed);
                context.report(&message);
                None
            }
        }
    };
    'batches: loop {
        if context.stopped.load(Ordering::Relaxed) {
            break;
        }
        // Never block on the workers while writes are pending: waiting for the oldest write
        // instead gives its token back, which the reader may need to go on.
        let batch = match parsed.try_recv() {
            Ok(batch) => batch,
            Err(TryRecvError::Empty) if !writes.is_empty() => {
                if let Some(error) = finish_one(&mut writes) {
                    failure = Some(error);
                    break 'batches;
                }
                continue;
            }
            Err(TryRecvError::Empty) => match parsed.recv() {
                Ok(batch) => batch,
                Err(_) => break,
            },
            Err(TryRecvError::Disconnected) => break,
        };
        waiting.insert(batch.seq, batch);
        while let Some(batch) = waiting.remove(&next) {
            next += 1;
            context.bar.inc(batch.bytes);
            for (number, reason) in &batch.bad {
                let message = format!("{label}:{number}: {reason}");
                if context.abort {
                    failure = Some(anyhow::anyhow!("{message}"));
                    break 'batches;
                }
                context.counters.failures.fetch_add(1, Ordering::Relaxed);
                context.report(&message);
            }
            let range = format!("{}-{}", batch.first_line, batch.last_line);
            if batch.good.is_empty() {
                let _ = tokens.recv();
            } else {
                writes.push_back((context.engine.submit_ingest(batch.good), range));
            }
            while writes.len() > IN_FLIGHT {
                if let Some(error) = finish_one(&mut writes) {
                    failure = Some(error);
                    break 'batches;
                }
            }
        }
    }
    // Hang up first so that, on abort, the reader and workers stop instead of filling queues.
    drop(parsed);
    while !writes.is_empty() {
        if let Some(error) = finish_one(&mut writes) {
            failure.get_or_insert(error);
        }
    }
    drop(tokens);
    failure.map_or(Ok(()), Err)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use rustix::process::getpriority_process;
    use rustix::thread::gettid;

    #[test]
    fn a_worker_lowers_its_own_priority_only() {
        let before = getpriority_process(Some(gettid())).expect("own priority");
        let worker = std::thread::spawn(|| {
            let start = getpriority_process(Some(gettid())).expect("worker priority");
            super::yield_to_writer();
            (
                start,
                getpriority_process(Some(gettid())).expect("worker priority"),
            )
        })
        .join()
        .expect("the worker thread");
        assert_eq!(worker.1, (worker.0 + 10).min(19));
        assert_eq!(getpriority_process(Some(gettid())).ok(), Some(before));
    }
}

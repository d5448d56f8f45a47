//! `medulla bench ingest`: bulk NDJSON import of generated patients into a fresh store with full
//! search indexing, at several sizes, against a floor measured in the same run.
//!
//! The import runs as a child process (`medulla import`), so its peak resident memory (VmHWM,
//! sampled from /proc while it runs) is its own. The floor parses the same NDJSON lines with
//! serde_json and inserts them as raw blobs into a fresh SQLite table (WAL, synchronous=FULL,
//! 1000 rows per commit, no index): what any importer pays before search indexing.

use anyhow::{Context as _, bail};
use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Options of `medulla bench ingest`.
#[derive(Debug, clap::Args)]
pub struct IngestBenchArgs {
    /// Patient counts, comma-separated (about 760 resources and 0.6 MB of NDJSON each).
    #[arg(long, default_value = "1000,10000", value_delimiter = ',')]
    pub patients: Vec<u64>,
    /// Seed of the generated population.
    #[arg(long, default_value_t = 3)]
    pub seed: u64,
    /// Work directory (default: a temporary directory, removed afterwards).
    #[arg(long)]
    pub work: Option<PathBuf>,
    /// Keep each imported store (`WORK/store-N`) for `medulla bench export`; needs `--work`.
    #[arg(long, requires = "work")]
    pub keep_stores: bool,
}

struct Figures {
    resources: u64,
    bytes: u64,
    seconds: f64,
    peak_rss_kib: u64,
}

impl Figures {
    fn rate(&self) -> f64 {
        self.resources as f64 / self.seconds.max(1e-9)
    }

    fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.seconds.max(1e-9)
    }
}

pub fn run(args: IngestBenchArgs) -> anyhow::Result<()> {
    let temporary = tempfile::tempdir().context("creating a work directory")?;
    let work = args
        .work
        .clone()
        .unwrap_or_else(|| temporary.path().to_owned());
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!("bench ingest: {cores} cores, seed {}", args.seed);
    for &patients in &args.patients {
        let input = work.join(format!("ndjson-{patients}"));
        if input.exists() {
            std::fs::remove_dir_all(&input)
                .with_context(|| format!("clearing {}", input.display()))?;
        }
        let options = medulla_synth::SynthOptions {
            patients,
            seed: args.seed,
            format: "ndjson".parse().context("the ndjson format")?,
            threads: 0,
        };
        let started = Instant::now();
        let summary = medulla_synth::generate(&options, &input, &|_| {})
            .with_context(|| format!("generating into {}", input.display()))?;
        println!(
            "\n{patients} patients: {} resources, {:.1} MB of NDJSON (generated in {:.1} s)",
            summary.resources,
            summary.bytes as f64 / 1e6,
            started.elapsed().as_secs_f64()
        );
        // The generator leaves hundreds of MB for the kernel to write back; neither measurement
        // below should pay for that (the import, measured first, otherwise did).
        sync_files(&input)?;

        let store = work.join(format!("store-{patients}"));
        let ours = import(&input, &store)?;
        let store_bytes = dir_size(&store);
        if !args.keep_stores {
            let _ = std::fs::remove_dir_all(&store);
        }
        println!(
            "  medulla import (full indexing): {:>8.0} resources/s {:>6.1} MB/s  {:>6.1} s  peak RSS {:>5.0} MiB  store {:.0} MB",
            ours.rate(),
            ours.mb_per_s(),
            ours.seconds,
            ours.peak_rss_kib as f64 / 1024.0,
            store_bytes as f64 / 1e6,
        );

        let floor_dir = work.join(format!("floor-{patients}"));
        let floor = floor(&input, &floor_dir)?;
        let _ = std::fs::remove_dir_all(&floor_dir);
        println!(
            "  floor (parse + raw blob insert): {:>8.0} resources/s {:>6.1} MB/s  {:>6.1} s",
            floor.rate(),
            floor.mb_per_s(),
            floor.seconds,
        );
        println!(
            "  medulla / floor: {:.2}",
            ours.rate() / floor.rate().max(1e-9)
        );
        let _ = std::fs::remove_dir_all(&input);
    }
    Ok(())
}

/// Syncs every file in `dir` (not recursive) to disk.
fn sync_files(dir: &Path) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_file() {
            std::fs::File::open(&path)
                .and_then(|file| file.sync_all())
                .with_context(|| format!("syncing {}", path.display()))?;
        }
    }
    Ok(())
}

/// Runs `medulla import` on `input` into the fresh store `data`, sampling its peak RSS.
fn import(input: &Path, data: &Path) -> anyhow::Result<Figures> {
    if data.exists() {
        std::fs::remove_dir_all(data).with_context(|| format!("clearing {}", data.display()))?;
    }
    let exe = std::env::current_exe().context("locating the medulla binary")?;
    let started = Instant::now();
    let mut child = std::process::Command::new(exe)
        .args(["--log-level", "warn", "import", "--quiet", "--data"])
        .arg(data)
        .arg(input)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("starting medulla import")?;
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak_rss_kib = 0;
    let status = loop {
        if let Some(status) = child.try_wait().context("waiting for medulla import")? {
            break status;
        }
        peak_rss_kib = peak_rss_kib.max(vm_hwm_kib(&status_path));
        std::thread::sleep(Duration::from_millis(20));
    };
    let seconds = started.elapsed().as_secs_f64();
    let mut summary = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        std::io::Read::read_to_string(&mut stdout, &mut summary).ok();
    }
    if !status.success() {
        bail!("medulla import failed ({status}): {summary}");
    }
    // "imported N resources from …"
    let resources = summary
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("reading the import summary {summary:?}"))?;
    Ok(Figures {
        resources,
        bytes: dir_size(input),
        seconds,
        peak_rss_kib,
    })
}

fn vm_hwm_kib(status_path: &str) -> u64 {
    std::fs::read_to_string(status_path)
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmHWM:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}

fn ndjson_files(input: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(input)
        .with_context(|| format!("listing {}", input.display()))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().and_then(|e| e.to_str()) == Some("ndjson"))
        .collect();
    files.sort();
    Ok(files)
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok()?.metadata().ok())
                .map(|metadata| metadata.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Parses every line and inserts it as a blob: WAL, synchronous=FULL, 1000 rows per commit.
fn floor(input: &Path, dir: &Path) -> anyhow::Result<Figures> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let conn = rusqlite::Connection::open(dir.join("floor.db")).context("opening the floor")?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch(
        "CREATE TABLE raw (seq INTEGER PRIMARY KEY, res_type TEXT NOT NULL, res_id TEXT, body BLOB NOT NULL)",
    )?;
    let started = Instant::now();
    let (mut resources, mut bytes, mut in_batch) = (0u64, 0u64, 0);
    conn.execute_batch("BEGIN")?;
    for file in ndjson_files(input)? {
        let reader = std::io::BufReader::with_capacity(
            1 << 20,
            std::fs::File::open(&file).with_context(|| format!("opening {}", file.display()))?,
        );
        for line in reader.split(b'\n') {
            let line = line.with_context(|| format!("reading {}", file.display()))?;
            bytes += line.len() as u64 + 1;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let value: serde_json::Value = serde_json::from_slice(&line)
                .with_context(|| format!("parsing a line of {}", file.display()))?;
            let resource_type = value
                .get("resourceType")
                .and_then(serde_json::Value::as_str);
            let id = value.get("id").and_then(serde_json::Value::as_str);
            conn.prepare_cached("INSERT INTO raw (res_type, res_id, body) VALUES (?1, ?2, ?3)")?
                .execute((resource_type, id, &line))?;
            resources += 1;
            in_batch += 1;
            if in_batch == 1000 {
                conn.execute_batch("COMMIT; BEGIN")?;
                in_batch = 0;
            }
        }
    }
    conn.execute_batch("COMMIT")?;
    Ok(Figures {
        resources,
        bytes,
        seconds: started.elapsed().as_secs_f64(),
        peak_rss_kib: 0,
    })
}

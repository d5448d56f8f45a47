//! `medulla bench search`: search latency on a generated population at two sizes, to show how
//! latency grows with the database (selective queries should stay nearly flat).

use anyhow::Context as _;
use medulla_engine::{Engine, EngineOptions, Handling};
use medulla_store::Store as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Options of `medulla bench search`.
#[derive(Debug, clap::Args)]
pub struct SearchBenchArgs {
    /// Patients in the full population (about 780 resources each).
    #[arg(long, default_value_t = 1300)]
    pub patients: u64,
    /// Share of the patients loaded for the first, smaller measurement.
    #[arg(long, default_value_t = 0.1)]
    pub first_fraction: f64,
    /// Seed of the generated population.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Runs of each query per measurement.
    #[arg(long, default_value_t = 200)]
    pub iterations: usize,
    /// Work directory (default: a temporary directory, removed afterwards).
    #[arg(long)]
    pub work: Option<PathBuf>,
}

struct Query {
    label: &'static str,
    resource_type: &'static str,
    /// Parameters; `{patient}` is replaced by a random patient id each run.
    params: &'static str,
    /// Pages to follow through `next` links.
    pages: usize,
}

const QUERIES: &[Query] = &[
    Query {
        label: "Observation by patient+code+date, sorted",
        resource_type: "Observation",
        params: "patient={patient}&code=http://loinc.org|8867-4&date=ge2020-01-01&_sort=-date",
        pages: 1,
    },
    Query {
        label: "Patient by name prefix + birthdate",
        resource_type: "Patient",
        params: "name=smi&birthdate=ge1970",
        pages: 1,
    },
    Query {
        label: "Condition by code, include subject",
        resource_type: "Condition",
        params: "code=http://snomed.info/sct|59621000&_include=Condition:subject",
        pages: 1,
    },
    Query {
        label: "Patient _has Observation code",
        resource_type: "Patient",
        params: "_has:Observation:patient:code=http://loinc.org|4548-4&_count=50",
        pages: 1,
    },
    Query {
        label: "Observation by code, 10 pages of 100",
        resource_type: "Observation",
        params: "code=http://loinc.org|8867-4&_count=100",
        pages: 10,
    },
    Query {
        label: "Patient compartment: all Observations",
        resource_type: "Observation",
        params: "subject=Patient/{patient}&_count=100",
        pages: 1,
    },
];

pub fn run(args: SearchBenchArgs) -> anyhow::Result<()> {
    let temporary = tempfile::tempdir().context("creating a work directory")?;
    let work = args
        .work
        .clone()
        .unwrap_or_else(|| temporary.path().to_owned());
    let synth_dir = work.join("synth");
    let data_dir = work.join("data");
    println!(
        "medulla bench search: {} patients (seed {}), {} runs per query",
        args.patients, args.seed, args.iterations
    );
    let started = Instant::now();
    let summary = medulla_synth::generate(
        &medulla_synth::SynthOptions {
            patients: args.patients,
            seed: args.seed,
            format: medulla_synth::OutputFormat::Bundle,
            threads: 0,
        },
        &synth_dir,
        &|_| {},
    )?;
    println!(
        "generated {} resources in {:.1} s",
        summary.resources,
        started.elapsed().as_secs_f64()
    );
    let mut files: Vec<PathBuf> = std::fs::read_dir(&synth_dir)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .collect();
    files.sort();
    let (providers, patients): (Vec<PathBuf>, Vec<PathBuf>) = files.into_iter().partition(|path| {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        name.starts_with("hospital") || name.starts_with("practitioner")
    });
    let first = ((patients.len() as f64) * args.first_fraction).ceil() as usize;
    let stages = [
        providers
            .iter()
            .cloned()
            .chain(patients.iter().take(first).cloned())
            .collect::<Vec<_>>(),
        patients.iter().skip(first).cloned().collect::<Vec<_>>(),
    ];
    println!();
    println!(
        "| {:<44} | {:>9} | {:>8} | {:>8} | {:>9} |",
        "query", "resources", "p50 ms", "p99 ms", "matches"
    );
    println!(
        "|{:-<46}|{:->11}|{:->10}|{:->10}|{:->11}|",
        "", "", "", "", ""
    );
    for stage in stages {
        let import_started = Instant::now();
        // Parsed like the command line, so that every import option keeps its default.
        let mut argv: Vec<std::ffi::OsString> = vec![
            "medulla".into(),
            "import".into(),
            "--quiet".into(),
            "--data".into(),
            data_dir.clone().into(),
        ];
        argv.extend(stage.into_iter().map(Into::into));
        let cli = <crate::cli::Cli as clap::Parser>::try_parse_from(argv)
            .context("building the import arguments")?;
        let crate::cli::Command::Import(import_args) = cli.command else {
            anyhow::bail!("the import arguments did not parse as an import");
        };
        crate::import::run(import_args)?;
        let import_seconds = import_started.elapsed().as_secs_f64();
        measure(&data_dir, &args, import_seconds)?;
    }
    Ok(())
}

fn measure(
    data_dir: &std::path::Path,
    args: &SearchBenchArgs,
    import_seconds: f64,
) -> anyhow::Result<()> {
    let store = Arc::new(medulla_store::SqliteStore::open(
        data_dir,
        medulla_engine::sqlite_options(),
    )?);
    let stats = store.stats()?;
    let engine = Engine::new(
        store.clone(),
        EngineOptions {
            base_url: "http://127.0.0.1/fhir".into(),
            ..Default::default()
        },
    );
    // Patient ids to pick from.
    let patient_ids: Vec<String> = {
        let bundle = engine.search_bundle(
            &["Patient".into()],
            "Patient",
            &[
                ("_count".into(), "1000".into()),
                ("_elements".into(), "id".into()),
            ],
            Handling::Strict,
        )?;
        let value: serde_json::Value = serde_json::from_slice(&bundle)?;
        value["entry"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["resource"]["id"].as_str().map(str::to_owned))
            .collect()
    };
    for query in QUERIES {
        let mut latencies = Vec::with_capacity(args.iterations);
        let mut matches = 0usize;
        for run in 0..args.iterations {
            let patient = patient_ids
                .get((run * 7919) % patient_ids.len().max(1))
                .cloned()
                .unwrap_or_default();
            let text = query.params.replace("{patient}", &patient);
            let mut params = medulla_engine::query::parse_query_string(&text);
            let started = Instant::now();
            for _ in 0..query.pages {
                let bundle = engine.search_bundle(
                    &[query.resource_type.to_owned()],
                    query.resource_type,
                    &params,
                    Handling::Strict,
                )?;
                let value: serde_json::Value = serde_json::from_slice(&bundle)?;
                matches += value["entry"].as_array().map_or(0, |e| {
                    e.iter().filter(|e| e["search"]["mode"] == "match").count()
                });
                let next = value["link"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|l| l["relation"] == "next")
                    .and_then(|l| l["url"].as_str())
                    .map(str::to_owned);
                match next.and_then(|url| url.split_once('?').map(|(_, q)| q.to_owned())) {
                    Some(next_query) => {
                        params = medulla_engine::query::parse_query_string(&next_query)
                    }
                    None => break,
                }
            }
            latencies.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        latencies.sort_by(|a, b| a.total_cmp(b));
        let percentile = |p: f64| {
            latencies
                .get(((latencies.len() as f64 - 1.0) * p).round() as usize)
                .copied()
                .unwrap_or(f64::NAN)
        };
        println!(
            "| {:<44} | {:>9} | {:>8.2} | {:>8.2} | {:>9.1} |",
            query.label,
            stats.resources,
            percentile(0.5),
            percentile(0.99),
            matches as f64 / args.iterations.max(1) as f64
        );
    }
    println!(
        "| (store: {} resources, {} index rows = {:.1} per resource; import took {:.1} s) | | | | |",
        stats.resources,
        stats.index_rows,
        stats.index_rows as f64 / stats.resources.max(1) as f64,
        import_seconds
    );
    store.close();
    Ok(())
}

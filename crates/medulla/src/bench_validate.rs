//! `medulla bench validate`: resources validated per second against the base R4 definitions,
//! on generated patient data, and with `--peer` the Python package fhir.resources (pydantic
//! models) building the same resources in the same run.
//!
//! The work: `--patients` patients from `medulla-synth` (NDJSON layout: plain ids, `Type/id`
//! references), every resource of every type written to one NDJSON file, one resource per line.
//! Both sides parse the file before the clock starts and time validation only. One untimed
//! pass counts the issues; then, for each thread count, threads take every N-th resource and
//! validate in a loop for `--seconds`. The peer (`bench/fhir-resources-py/run.py`) does the
//! same with forked processes, since Python threads share one interpreter lock.

use anyhow::{Context as _, bail};
use clap::Args;
use medulla_validation::{Options, Severity, Validator};
use serde_json::Value as Json;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead as _, BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::bench_fhirpath::thousands;

#[derive(Debug, Args)]
pub struct ValidateBenchArgs {
    /// Synthetic patients whose resources are validated (plus the seed's shared Organizations
    /// and Practitioners).
    #[arg(long, default_value_t = 100)]
    pub patients: u64,
    /// Generator seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Thread counts to measure, comma-separated (default: 1 and every core). The peer runs
    /// with the same numbers of processes.
    #[arg(long, value_delimiter = ',')]
    pub threads: Vec<usize>,
    /// Seconds per measurement (each thread loops over its share until then).
    #[arg(long, default_value_t = 3.0)]
    pub seconds: f64,
    /// Also run the Python package fhir.resources on the same resources in the same run; needs
    /// python3 with the venv module (the bench installs the pinned requirements into a
    /// virtual environment on first use).
    #[arg(long)]
    pub peer: bool,
    /// The peer's folder (requirements.txt, run.py).
    #[arg(long, default_value = "bench/fhir-resources-py")]
    pub peer_dir: PathBuf,
    /// The peer's virtual environment (default: `peers/fhir-resources-py-venv` in the cargo
    /// target directory this binary runs from, else in the temporary directory).
    #[arg(long)]
    pub venv: Option<PathBuf>,
    /// The Python interpreter that creates the virtual environment.
    #[arg(long, default_value = "python3")]
    pub python: PathBuf,
    /// Make extensions whose definitions are unknown errors (the HL7 Java validator's default)
    /// instead of information issues. The generator writes US Core race, ethnicity and
    /// birth-sex extensions on every Patient, which base R4 does not define.
    #[arg(long)]
    pub strict_extensions: bool,
    /// Keep the NDJSON file in this folder (default: a temporary folder, removed).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Most distinct issue messages printed per severity.
const TOP_MESSAGES: usize = 10;

const OUR_CHECKS: &str = "base R4 4.0.1 StructureDefinitions (snapshot): element names, \
cardinality, JSON shape (arrays, _element companions, no empty values), types and choice types, \
primitive formats and ranges, fixed and pattern values, terminology bindings (required = error, \
extensible = warning) against the built-in R4 value sets, constraint invariants (FHIRPath: \
dom-*, ele-1, per-resource rules), reference target types, contained resources, extension \
definitions where known";
const PEER_CHECKS: &str = "pydantic models of R4 4.0.1: element names, JSON types, required \
elements, lists vs single values, one value[x] per choice, primitive regexes; no bindings, no \
invariants";

pub fn run(args: ValidateBenchArgs) -> anyhow::Result<()> {
    if args.seconds.is_nan() || args.seconds <= 0.0 {
        bail!("--seconds must be more than 0, not {}", args.seconds);
    }
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let mut thread_counts = if args.threads.is_empty() {
        vec![1, cores]
    } else {
        args.threads.clone()
    };
    thread_counts.dedup();
    if thread_counts.contains(&0) {
        bail!("--threads must be at least 1");
    }

    let temp;
    let dir: &Path = match &args.out {
        Some(out) => {
            std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
            out
        }
        None => {
            temp = tempfile::tempdir().context("creating a temporary folder")?;
            temp.path()
        }
    };
    let started = Instant::now();
    let ndjson = write_population(args.patients, args.seed, dir)?;
    let generated_seconds = started.elapsed().as_secs_f64();
    let resources = read_ndjson(&ndjson)?;
    let bytes = std::fs::metadata(&ndjson).map_or(0, |meta| meta.len());
    print_work(&args, &resources, bytes, generated_seconds, cores);

    let started = Instant::now();
    let validator = Validator::r4();
    let options = Options::default().allow_unknown_extensions(!args.strict_extensions);
    // The definitions load and the constraints compile on first use: not part of the rate.
    let _ = validator.validate(
        &serde_json::json!({"resourceType": "Basic", "code": {"text": "x"}}),
        &options,
    );
    let load_seconds = started.elapsed().as_secs_f64();
    let check = check_pass(&validator, &options, &resources);
    print_check(&check, resources.len(), load_seconds);

    let mut ours = Vec::new();
    for &threads in &thread_counts {
        let measured = measure(&validator, &options, &resources, threads, args.seconds)?;
        println!(
            "medulla         {:>10} resources/s on {threads} thread{}  ({} validations in {:.2} s)",
            thousands(measured.rate),
            if threads == 1 { "" } else { "s" },
            thousands(measured.validated as f64),
            measured.seconds,
        );
        ours.push((threads, measured.rate));
    }

    if args.peer {
        let venv = match &args.venv {
            Some(venv) => venv.clone(),
            None => default_venv()?,
        };
        let peer = run_peer(&args, &venv, &ndjson, &thread_counts).context(
            "the Python peer could not run (our figures above stand; run without --peer to skip it)",
        )?;
        print_peer(&peer, &check, &ours);
    }
    if args.out.is_some() {
        println!("NDJSON kept in {}", ndjson.display());
    }
    Ok(())
}

/// The work and what each side checks.
fn print_work(
    args: &ValidateBenchArgs,
    resources: &[Json],
    bytes: u64,
    generated_seconds: f64,
    cores: usize,
) {
    let mut type_counts: BTreeMap<&str, usize> = BTreeMap::new();
    for resource in resources {
        *type_counts.entry(resource_type(resource)).or_default() += 1;
    }
    println!(
        "validate: {} patients (seed {}) → {} resources of {} types, {:.1} MB of NDJSON (generated in {:.1} s); {} s per measurement; {cores} cores",
        args.patients,
        args.seed,
        thousands(resources.len() as f64),
        type_counts.len(),
        bytes as f64 / 1e6,
        generated_seconds,
        args.seconds,
    );
    println!(
        "types: {}",
        type_counts
            .iter()
            .map(|(name, count)| format!("{name} {count}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("what each side checks (both time validation of parsed JSON, not parsing):");
    println!(
        "  medulla         {OUR_CHECKS}; extensions not defined in base R4 are {}",
        if args.strict_extensions {
            "errors (--strict-extensions)"
        } else {
            "information issues (--strict-extensions makes them errors)"
        }
    );
    if args.peer {
        println!("  fhir.resources  {PEER_CHECKS}");
    }
}

fn resource_type(resource: &Json) -> &str {
    resource
        .get("resourceType")
        .and_then(Json::as_str)
        .unwrap_or("?")
}

/// Generates the population as NDJSON (one file per type) and joins the files into
/// `dir/resources.ndjson`.
fn write_population(patients: u64, seed: u64, dir: &Path) -> anyhow::Result<PathBuf> {
    let synth_dir = dir.join("synth");
    let options = medulla_synth::SynthOptions {
        patients,
        seed,
        format: medulla_synth::OutputFormat::Ndjson,
        threads: 0,
    };
    medulla_synth::generate(&options, &synth_dir, &|_| {})
        .with_context(|| format!("generating patients into {}", synth_dir.display()))?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(&synth_dir)
        .with_context(|| format!("listing {}", synth_dir.display()))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "ndjson"))
        .collect();
    files.sort();
    let path = dir.join("resources.ndjson");
    let mut out = BufWriter::new(
        std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?,
    );
    for file in &files {
        let mut input = std::io::BufReader::new(
            std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?,
        );
        std::io::copy(&mut input, &mut out)
            .with_context(|| format!("copying {}", file.display()))?;
    }
    out.flush()
        .with_context(|| format!("writing {}", path.display()))?;
    std::fs::remove_dir_all(&synth_dir)
        .with_context(|| format!("removing {}", synth_dir.display()))?;
    Ok(path)
}

fn read_ndjson(path: &Path) -> anyhow::Result<Vec<Json>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut resources = Vec::new();
    for (number, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        resources.push(
            serde_json::from_str(&line)
                .with_context(|| format!("parsing line {} of {}", number + 1, path.display()))?,
        );
    }
    Ok(resources)
}

/// What the untimed pass found.
#[derive(Default)]
struct Check {
    by_severity: BTreeMap<Severity, usize>,
    /// Resources with an error or fatal issue, by type.
    invalid_by_type: BTreeMap<String, usize>,
    /// Whether each resource (file order) is valid.
    valid: Vec<bool>,
    /// (severity, details) → (count, an example location).
    messages: HashMap<(Severity, String), (usize, String)>,
}

fn check_pass(validator: &Validator, options: &Options, resources: &[Json]) -> Check {
    let mut check = Check::default();
    for resource in resources {
        let outcome = validator.validate(resource, options);
        let valid = outcome.is_valid();
        check.valid.push(valid);
        if !valid {
            *check
                .invalid_by_type
                .entry(resource_type(resource).to_owned())
                .or_default() += 1;
        }
        for issue in outcome.issues {
            *check.by_severity.entry(issue.severity).or_default() += 1;
            let entry = check
                .messages
                .entry((issue.severity, issue.details))
                .or_insert((0, issue.expression));
            entry.0 += 1;
        }
    }
    check
}

fn print_check(check: &Check, resources: usize, load_seconds: f64) {
    let invalid: usize = check.invalid_by_type.values().sum();
    let severities = [
        Severity::Fatal,
        Severity::Error,
        Severity::Warning,
        Severity::Information,
    ]
    .iter()
    .map(|severity| {
        format!(
            "{} {}",
            check.by_severity.get(severity).copied().unwrap_or(0),
            severity.as_str()
        )
    })
    .collect::<Vec<_>>()
    .join(", ");
    println!(
        "medulla issues (untimed pass; definitions loaded in {load_seconds:.2} s): {severities}; {invalid} of {} resources with errors",
        thousands(resources as f64)
    );
    if invalid > 0 {
        println!(
            "  RESOURCES WITH ERRORS on generated data (a generator or validator bug): {}",
            check
                .invalid_by_type
                .iter()
                .map(|(name, count)| format!("{name} {count}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    for (label, wanted) in [
        ("errors", Severity::Error),
        ("fatal", Severity::Fatal),
        ("warnings", Severity::Warning),
    ] {
        let mut top: Vec<(&String, &(usize, String))> = check
            .messages
            .iter()
            .filter(|((severity, _), _)| *severity == wanted)
            .map(|((_, details), value)| (details, value))
            .collect();
        if top.is_empty() {
            continue;
        }
        top.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(b.0)));
        println!("  top {label}:");
        for (details, (count, expression)) in top.iter().take(TOP_MESSAGES) {
            println!(
                "    {count:>7}  {} (e.g. at {expression})",
                clip(details, 160)
            );
        }
    }
}

fn clip(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

struct Measured {
    validated: u64,
    seconds: f64,
    rate: f64,
}

/// `threads` threads, thread `t` validating resources `t`, `t + threads`, … in a loop until
/// `seconds` have passed, so that every thread has the same mix of types.
fn measure(
    validator: &Validator,
    options: &Options,
    resources: &[Json],
    threads: usize,
    seconds: f64,
) -> anyhow::Result<Measured> {
    let started = Instant::now();
    let validated = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|offset| {
                scope.spawn(move || {
                    let mut validated = 0_u64;
                    let mut issues = 0_usize;
                    loop {
                        let before = validated;
                        for resource in resources.iter().skip(offset).step_by(threads) {
                            let outcome =
                                validator.validate(std::hint::black_box(resource), options);
                            issues += std::hint::black_box(outcome).issues.len();
                            validated += 1;
                            if started.elapsed().as_secs_f64() >= seconds {
                                return validated;
                            }
                        }
                        if validated == before {
                            // This thread's share is empty (fewer resources than threads).
                            std::hint::black_box(issues);
                            return validated;
                        }
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| {
                worker
                    .join()
                    .map_err(|_| anyhow::anyhow!("a validation thread panicked"))
            })
            .sum::<anyhow::Result<u64>>()
    })?;
    let seconds = started.elapsed().as_secs_f64();
    Ok(Measured {
        validated,
        seconds,
        rate: validated as f64 / seconds.max(f64::MIN_POSITIVE),
    })
}

/// `peers/fhir-resources-py-venv` in the cargo target directory of this binary (the one with
/// cargo's `CACHEDIR.TAG`), else in the temporary directory.
fn default_venv() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("locating the medulla binary")?;
    let target = exe
        .parent()
        .and_then(Path::parent)
        .filter(|dir| dir.join("CACHEDIR.TAG").is_file());
    let base = target.map_or_else(|| std::env::temp_dir().join("medulla"), Path::to_path_buf);
    Ok(base.join("peers").join("fhir-resources-py-venv"))
}

/// Creates the virtual environment and installs `requirements.txt` into it, unless the
/// requirements it was made from are the same; returns its interpreter.
fn install_python_peer(python: &Path, peer_dir: &Path, venv: &Path) -> anyhow::Result<PathBuf> {
    let requirements_path = peer_dir.join("requirements.txt");
    let requirements = std::fs::read_to_string(&requirements_path).with_context(|| {
        format!(
            "reading {} (run from the repository root or pass --peer-dir)",
            requirements_path.display()
        )
    })?;
    let marker = venv.join("medulla-requirements.txt");
    let venv_python = venv.join("bin").join("python");
    if venv_python.is_file()
        && std::fs::read_to_string(&marker).is_ok_and(|installed| installed == requirements)
    {
        return Ok(venv_python);
    }
    println!(
        "installing the peer: {} -m venv {} and pip install -r {}",
        python.display(),
        venv.display(),
        requirements_path.display()
    );
    let version = std::process::Command::new(python)
        .arg("--version")
        .output()
        .with_context(|| format!("running {} (is Python 3 installed?)", python.display()))?;
    if !version.status.success() {
        bail!("{} --version failed: {}", python.display(), version.status);
    }
    let output = std::process::Command::new(python)
        .args(["-m", "venv", "--clear"])
        .arg(venv)
        .output()
        .with_context(|| format!("running {} -m venv", python.display()))?;
    if !output.status.success() || !venv_python.is_file() {
        bail!(
            "{} -m venv {} failed ({}): {} (on Debian or Ubuntu: apt-get install python3-venv)",
            python.display(),
            venv.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let status = std::process::Command::new(&venv_python)
        .args([
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(&requirements_path)
        .stdout(std::process::Stdio::null())
        .status()
        .context("running pip")?;
    if !status.success() {
        bail!(
            "pip install -r {} failed: {status} (the package index must be reachable)",
            requirements_path.display()
        );
    }
    std::fs::write(&marker, &requirements)
        .with_context(|| format!("writing {}", marker.display()))?;
    Ok(venv_python)
}

struct PeerRun {
    summary: crate::bench::PeerSummary,
    /// (processes, resources/s).
    rates: Vec<(usize, f64)>,
}

fn run_peer(
    args: &ValidateBenchArgs,
    venv: &Path,
    ndjson: &Path,
    thread_counts: &[usize],
) -> anyhow::Result<PeerRun> {
    let script = args.peer_dir.join("run.py");
    if !script.is_file() {
        bail!(
            "{} not found; run from the repository root or pass --peer-dir",
            script.display()
        );
    }
    let python = install_python_peer(&args.python, &args.peer_dir, venv)?;
    let processes = thread_counts
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let output = std::process::Command::new(&python)
        .arg(&script)
        .arg("--file")
        .arg(ndjson)
        .arg("--seconds")
        .arg(args.seconds.to_string())
        .arg("--processes")
        .arg(processes)
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("running {}", python.display()))?;
    if !output.status.success() {
        bail!("{} failed: {}", script.display(), output.status);
    }
    let summary = crate::bench::PeerSummary::from_output(&output.stdout)?;
    let rates = summary
        .get("runs")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .map(|run| {
            let processes = run.get("processes").and_then(Json::as_u64).unwrap_or(0);
            let rate = run.get("rate").and_then(Json::as_f64).unwrap_or(0.0);
            (usize::try_from(processes).unwrap_or(0), rate)
        })
        .collect();
    Ok(PeerRun { summary, rates })
}

fn print_peer(peer: &PeerRun, check: &Check, ours: &[(usize, f64)]) {
    let summary = &peer.summary;
    println!(
        "peer: fhir.resources {} (FHIR {}; the last release whose root models are R4 4.0.1, see bench/fhir-resources-py/run.py), pydantic {}{}, Python {}",
        summary.text("version"),
        summary.text("fhir_version"),
        summary.text("pydantic"),
        if summary.get("pydantic_compiled") == Some(&Json::Bool(true)) {
            " (compiled)"
        } else {
            ""
        },
        summary.text("python"),
    );
    for &(processes, rate) in &peer.rates {
        println!(
            "fhir.resources  {:>10} resources/s on {processes} process{}",
            thousands(rate),
            if processes == 1 { "" } else { "es" },
        );
    }
    let rejected = summary.count("rejected");
    let resources = summary.count("resources");
    println!(
        "fhir.resources rejected {rejected} of {} resources (counted in its rate like the others){}",
        thousands(resources as f64),
        if rejected == 0 { "" } else { ":" }
    );
    if let Some(Json::Object(by_type)) = summary.get("rejected_by_type") {
        for (name, count) in by_type {
            let example = summary
                .get("rejection_examples")
                .and_then(|examples| examples.get(name))
                .and_then(Json::as_str)
                .unwrap_or("");
            let ours_invalid = check.invalid_by_type.get(name).copied().unwrap_or(0);
            println!(
                "  {name} {count} (medulla: {ours_invalid} with errors); e.g. {}",
                clip(example, 240)
            );
        }
    }
    let rejected_lines: Vec<usize> = summary
        .get("rejected_lines")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter_map(|line| line.as_u64().and_then(|line| usize::try_from(line).ok()))
        .collect();
    let rejected_but_valid = rejected_lines
        .iter()
        .filter(|&&line| check.valid.get(line).copied().unwrap_or(false))
        .count();
    let ours_invalid: usize = check.invalid_by_type.values().sum();
    let invalid_but_accepted =
        ours_invalid.saturating_sub(rejected_lines.len() - rejected_but_valid);
    println!(
        "agreement: {rejected_but_valid} resources rejected by fhir.resources pass medulla; {invalid_but_accepted} with medulla errors pass fhir.resources"
    );
    let mut compared = false;
    for &(threads, our_rate) in ours {
        if let Some(&(_, their_rate)) = peer.rates.iter().find(|(count, _)| *count == threads) {
            if !compared {
                println!(
                    "ratio (medulla resources/s ÷ fhir.resources resources/s, same resources):"
                );
                compared = true;
            }
            println!(
                "  {threads} thread{} vs {threads} process{}: {:.1}×",
                if threads == 1 { "" } else { "s" },
                if threads == 1 { "" } else { "es" },
                our_rate / their_rate.max(f64::MIN_POSITIVE)
            );
        }
    }
}

//! `medulla bench fhirpath`: FHIRPath evaluations per second over the R4 search parameters,
//! and with `--peer` the reference JavaScript engine (fhirpath.js) on the same work in the
//! same run, with the two engines' results compared pair by pair.
//!
//! The work: every R4 search parameter with an expression, each distinct expression compiled
//! once, evaluated on every generated resource whose type is in one of its parameters' bases
//! (`Resource` and `DomainResource` bases apply to every resource derived from them). One
//! untimed round records each pair's result; then `--rounds` timed rounds. The resources,
//! expressions and pairs are written to a folder that `bench/fhirpath-js/run.js` reads.

use anyhow::{Context as _, bail};
use clap::Args;
use medulla_fhirpath::{Environment, FhirPath};
use serde_json::Value as Json;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead as _, BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, Args)]
pub struct FhirpathBenchArgs {
    /// Synthetic patients whose resources are the input (`medulla synth` patients 0..N, plus
    /// the seed's shared Organizations and Practitioners).
    #[arg(long, default_value_t = 5)]
    pub patients: u64,
    /// Generator seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Timed rounds over every pair (after one untimed round that records the results).
    #[arg(long, default_value_t = 3)]
    pub rounds: u32,
    /// Also run the reference JavaScript engine (fhirpath.js) on the same work and compare
    /// rates and results; needs `node` and `npm` (runs `npm ci` when node_modules is missing).
    #[arg(long)]
    pub peer: bool,
    /// The peer's folder (package.json, run.js).
    #[arg(long, default_value = "bench/fhirpath-js")]
    pub peer_dir: PathBuf,
    /// Keep the work and result files in this folder (default: a temporary folder, removed).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Most differing pairs printed per expression, and characters of JSON per printed value.
const EXAMPLES_PER_EXPRESSION: usize = 2;
const EXAMPLE_CHARS: usize = 160;

struct Work {
    resources: Vec<Json>,
    expressions: Vec<String>,
    /// (resource index, expression index), resource-major.
    pairs: Vec<(usize, usize)>,
    params_with_expression: usize,
}

pub fn run(args: FhirpathBenchArgs) -> anyhow::Result<()> {
    if args.rounds == 0 {
        bail!("--rounds must be at least 1");
    }
    let work = build_work(args.patients, args.seed);
    let mut type_counts: BTreeMap<&str, usize> = BTreeMap::new();
    for resource in &work.resources {
        *type_counts.entry(resource_type(resource)).or_default() += 1;
    }
    println!(
        "fhirpath: {} patients (seed {}) → {} resources of {} types; {} search parameters with an expression → {} distinct expressions; {} (resource, expression) pairs; 1 untimed + {} timed rounds",
        args.patients,
        args.seed,
        thousands(work.resources.len() as f64),
        type_counts.len(),
        work.params_with_expression,
        work.expressions.len(),
        thousands(work.pairs.len() as f64),
        args.rounds,
    );

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
    write_work(&work, dir)?;

    let ours = run_medulla(&work, args.rounds)?;
    println!(
        "medulla       {:>12} evaluations/s  ({} evaluations in {:.3} s; {} expressions compiled in {:.1} ms, {} failed; {} evaluation errors)",
        thousands(ours.rate),
        thousands(ours.evaluations as f64),
        ours.seconds,
        work.expressions.len(),
        ours.compile_seconds * 1e3,
        ours.compile_errors,
        ours.errors,
    );
    write_results(&ours.results, &dir.join("results-medulla.ndjson"))?;

    if !args.peer {
        return Ok(());
    }
    let peer = run_peer(&args.peer_dir, dir, args.rounds)?;
    println!(
        "fhirpath.js   {:>12} evaluations/s  ({} evaluations in {:.3} s; fhirpath {} on node {}; {} expressions compiled in {:.1} ms, {} failed; {} evaluation errors)",
        thousands(peer.rate),
        thousands(peer.evaluations as f64),
        peer.seconds,
        peer.version,
        peer.node,
        work.expressions.len(),
        peer.compile_seconds * 1e3,
        peer.compile_errors,
        peer.errors,
    );
    println!(
        "ratio         {:>11.1}×  (medulla evaluations/s ÷ fhirpath.js evaluations/s)",
        ours.rate / peer.rate.max(f64::MIN_POSITIVE)
    );
    compare(&work, &ours.results, &dir.join("results-js.ndjson"), dir)?;
    if args.out.is_some() {
        println!("work and result files kept in {}", dir.display());
    }
    Ok(())
}

fn resource_type(resource: &Json) -> &str {
    resource
        .get("resourceType")
        .and_then(Json::as_str)
        .unwrap_or("?")
}

fn build_work(patients: u64, seed: u64) -> Work {
    let definitions = medulla_model::definitions();
    // The shared Organizations and Practitioners, then each patient's Bundle.
    let bundles = [
        medulla_synth::hospital_information_bundle(seed),
        medulla_synth::practitioner_information_bundle(seed),
    ]
    .into_iter()
    .chain((0..patients).map(|index| medulla_synth::patient_bundle(seed, index)));
    let mut resources = Vec::new();
    for mut bundle in bundles {
        if let Some(Json::Array(entries)) = bundle.get_mut("entry") {
            for entry in entries.iter_mut() {
                if let Some(resource) = entry.get_mut("resource") {
                    resources.push(resource.take());
                }
            }
        }
    }

    // Distinct expressions, and for each concrete resource type the expressions that apply.
    let mut expression_ids: HashMap<&str, usize> = HashMap::new();
    let mut expressions = Vec::new();
    let mut by_type: HashMap<String, Vec<usize>> = HashMap::new();
    let mut params_with_expression = 0;
    let resource_types: Vec<&str> = definitions.resource_types().collect();
    for param in definitions.all_search_params() {
        let Some(expression) = param.expression.as_deref() else {
            continue;
        };
        params_with_expression += 1;
        let id = *expression_ids.entry(expression).or_insert_with(|| {
            expressions.push(expression.to_owned());
            expressions.len() - 1
        });
        for resource_type in &resource_types {
            if param
                .base
                .iter()
                .any(|base| definitions.is_subtype_of(resource_type, base))
            {
                by_type
                    .entry((*resource_type).to_owned())
                    .or_default()
                    .push(id);
            }
        }
    }
    for ids in by_type.values_mut() {
        ids.sort_unstable();
        ids.dedup();
    }

    let mut pairs = Vec::new();
    for (index, resource) in resources.iter().enumerate() {
        if let Some(ids) = by_type.get(resource_type(resource)) {
            pairs.extend(ids.iter().map(|&id| (index, id)));
        }
    }
    Work {
        resources,
        expressions,
        pairs,
        params_with_expression,
    }
}

fn write_work(work: &Work, dir: &Path) -> anyhow::Result<()> {
    let path = dir.join("resources.ndjson");
    let mut out = BufWriter::new(
        std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?,
    );
    for resource in &work.resources {
        serde_json::to_writer(&mut out, resource)?;
        out.write_all(b"\n")?;
    }
    out.flush()
        .with_context(|| format!("writing {}", path.display()))?;
    let path = dir.join("expressions.json");
    std::fs::write(&path, serde_json::to_vec(&work.expressions)?)
        .with_context(|| format!("writing {}", path.display()))?;
    let path = dir.join("pairs.json");
    std::fs::write(&path, serde_json::to_vec(&work.pairs)?)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

struct OurRun {
    results: Vec<Json>,
    evaluations: u64,
    seconds: f64,
    rate: f64,
    compile_seconds: f64,
    compile_errors: usize,
    errors: usize,
}

fn error_json(message: String) -> Json {
    let mut object = serde_json::Map::new();
    object.insert("error".to_owned(), Json::String(message));
    Json::Object(object)
}

fn run_medulla(work: &Work, rounds: u32) -> anyhow::Result<OurRun> {
    let started = Instant::now();
    let compiled: Vec<Result<FhirPath, String>> = work
        .expressions
        .iter()
        .map(|text| FhirPath::compile(text).map_err(|error| format!("compile: {error}")))
        .collect();
    let compile_seconds = started.elapsed().as_secs_f64();
    let compile_errors = compiled.iter().filter(|path| path.is_err()).count();
    let environment = Environment::new();

    let evaluate_pair = |&(resource, expression): &(usize, usize)| {
        let resource = work.resources.get(resource);
        match compiled.get(expression) {
            Some(Ok(path)) => path
                .evaluate(resource, &environment)
                .map_err(|error| error.to_string()),
            Some(Err(error)) => Err(error.clone()),
            None => Err("no such expression".to_owned()),
        }
    };

    // Untimed round: the results, as JSON.
    let mut errors = 0;
    let results: Vec<Json> = work
        .pairs
        .iter()
        .map(|pair| match evaluate_pair(pair) {
            Ok(collection) => Json::Array(collection.iter().map(|value| value.to_json()).collect()),
            Err(message) => {
                errors += 1;
                error_json(message)
            }
        })
        .collect();

    let mut items = 0_usize;
    let started = Instant::now();
    for _ in 0..rounds {
        for pair in &work.pairs {
            if let Ok(collection) = evaluate_pair(std::hint::black_box(pair)) {
                items += std::hint::black_box(collection).len();
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    std::hint::black_box(items);
    let evaluations = work.pairs.len() as u64 * u64::from(rounds);
    Ok(OurRun {
        results,
        evaluations,
        seconds,
        rate: evaluations as f64 / seconds.max(f64::MIN_POSITIVE),
        compile_seconds,
        compile_errors,
        errors,
    })
}

fn write_results(results: &[Json], path: &Path) -> anyhow::Result<()> {
    let mut out = BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
    );
    for result in results {
        serde_json::to_writer(&mut out, result)?;
        out.write_all(b"\n")?;
    }
    out.flush()
        .with_context(|| format!("writing {}", path.display()))
}

struct PeerRun {
    version: String,
    node: String,
    evaluations: u64,
    seconds: f64,
    rate: f64,
    compile_seconds: f64,
    compile_errors: u64,
    errors: u64,
}

fn run_peer(peer_dir: &Path, dir: &Path, rounds: u32) -> anyhow::Result<PeerRun> {
    let script = peer_dir.join("run.js");
    if !script.is_file() {
        bail!(
            "{} not found; run from the repository root or pass --peer-dir",
            script.display()
        );
    }
    crate::bench::install_node_peer(peer_dir)?;
    let output = std::process::Command::new("node")
        .arg(&script)
        .arg("--dir")
        .arg(dir)
        .arg("--rounds")
        .arg(rounds.to_string())
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("running node (is Node.js installed?)")?;
    if !output.status.success() {
        bail!("{} failed: {}", script.display(), output.status);
    }
    let summary = crate::bench::PeerSummary::from_output(&output.stdout)?;
    let number = |key: &str| summary.number(key);
    let count = |key: &str| summary.count(key);
    let text = |key: &str| summary.text(key);
    Ok(PeerRun {
        version: text("version"),
        node: text("node"),
        evaluations: count("evaluations"),
        seconds: number("seconds"),
        rate: number("rate"),
        compile_seconds: number("compile_seconds"),
        compile_errors: count("compile_errors"),
        errors: count("errors"),
    })
}

/// Makes the two engines' JSON comparable: numbers by value (fhirpath.js writes a decimal
/// `1.50` as `1.5` and `72.0` as `72`).
fn normalize(json: &Json) -> Json {
    match json {
        Json::Number(number) => number.as_f64().map_or_else(|| json.clone(), Json::from),
        Json::Array(items) => Json::Array(items.iter().map(normalize).collect()),
        Json::Object(object) => Json::Object(
            object
                .iter()
                .map(|(key, value)| (key.clone(), normalize(value)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn is_error(json: &Json) -> bool {
    json.get("error").is_some()
}

fn clip(json: &Json) -> String {
    let mut text = json.to_string();
    if let Some((at, _)) = text.char_indices().nth(EXAMPLE_CHARS) {
        text.truncate(at);
        text.push('…');
    }
    text
}

#[derive(Default)]
struct Differences {
    count: usize,
    ours_failed: usize,
    peer_failed: usize,
    examples: Vec<String>,
}

fn compare(work: &Work, ours: &[Json], peer_results: &Path, dir: &Path) -> anyhow::Result<()> {
    let file = std::fs::File::open(peer_results)
        .with_context(|| format!("opening {}", peer_results.display()))?;
    let diff_path = dir.join("differences.ndjson");
    let mut diff_out = BufWriter::new(
        std::fs::File::create(&diff_path)
            .with_context(|| format!("creating {}", diff_path.display()))?,
    );
    let mut compared = 0_usize;
    let mut identical = 0_usize;
    let mut both_failed = 0_usize;
    let mut by_expression: BTreeMap<usize, Differences> = BTreeMap::new();
    let lines = std::io::BufReader::new(file).lines();
    for ((line, our), &(resource_index, expression_index)) in lines.zip(ours).zip(work.pairs.iter())
    {
        let line = line.with_context(|| format!("reading {}", peer_results.display()))?;
        let their: Json = serde_json::from_str(&line)
            .with_context(|| format!("parsing a line of {}", peer_results.display()))?;
        compared += 1;
        let (our_error, their_error) = (is_error(our), is_error(&their));
        if our_error && their_error {
            both_failed += 1;
            continue;
        }
        if !our_error && !their_error && normalize(our) == normalize(&their) {
            identical += 1;
            continue;
        }
        let resource = work.resources.get(resource_index);
        let label = resource.map_or_else(
            || "?".to_owned(),
            |resource| {
                format!(
                    "{}/{}",
                    resource_type(resource),
                    resource.get("id").and_then(Json::as_str).unwrap_or("?")
                )
            },
        );
        let differences = by_expression.entry(expression_index).or_default();
        differences.count += 1;
        differences.ours_failed += usize::from(our_error);
        differences.peer_failed += usize::from(their_error);
        if differences.examples.len() < EXAMPLES_PER_EXPRESSION {
            differences.examples.push(format!(
                "      {label}\n        medulla:     {}\n        fhirpath.js: {}",
                clip(our),
                clip(&their)
            ));
        }
        let mut record = serde_json::Map::new();
        record.insert(
            "expression".to_owned(),
            Json::String(
                work.expressions
                    .get(expression_index)
                    .cloned()
                    .unwrap_or_default(),
            ),
        );
        record.insert("resource".to_owned(), Json::String(label));
        record.insert("medulla".to_owned(), our.clone());
        record.insert("fhirpath.js".to_owned(), their);
        serde_json::to_writer(&mut diff_out, &Json::Object(record))?;
        diff_out.write_all(b"\n")?;
    }
    diff_out
        .flush()
        .with_context(|| format!("writing {}", diff_path.display()))?;
    if compared != work.pairs.len() {
        bail!(
            "the peer wrote {compared} results for {} pairs",
            work.pairs.len()
        );
    }
    let different: usize = by_expression.values().map(|d| d.count).sum();
    println!(
        "results: {} pairs compared, {} identical, {} different (in {} expressions), {} failed in both engines",
        thousands(compared as f64),
        thousands(identical as f64),
        thousands(different as f64),
        by_expression.len(),
        both_failed,
    );
    let mut groups: Vec<(&usize, &Differences)> = by_expression.iter().collect();
    groups.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
    for (expression_index, differences) in groups {
        let text = work
            .expressions
            .get(*expression_index)
            .map_or("?", String::as_str);
        let text_json = Json::String(text.to_owned());
        println!(
            "  {} pairs ({} failed in medulla only, {} in fhirpath.js only): {}",
            differences.count,
            differences.ours_failed,
            differences.peer_failed,
            clip(&text_json)
        );
        for example in &differences.examples {
            println!("{example}");
        }
    }
    Ok(())
}

/// `1234567.8` → `1,234,568`.
pub(crate) fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

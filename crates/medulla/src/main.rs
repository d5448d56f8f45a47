//! The `medulla` binary: command-line parsing, configuration, logging set-up, and glue between
//! the library crates. No FHIR logic lives here.

mod bench;
mod bench_auth;
mod bench_export;
mod bench_fhirpath;
mod bench_hl7;
mod bench_ingest;
mod bench_search;
mod bench_validate;
mod cli;
mod export;
mod hl7;
mod import;
mod package;
mod quality;
mod security;
mod serve;
mod terminology;

use clap::Parser;

// mimalloc: the server and importer allocate many short-lived JSON values across threads;
// glibc malloc spent a quarter of import time in its own bookkeeping (perf, 2026-11-25).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    init_logging(&cli.log_level, cli.log_json);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("medulla: error: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn init_logging(level: &str, json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn run(cli: cli::Cli) -> anyhow::Result<()> {
    match cli.command {
        cli::Command::Serve(args) => serve::run(args),
        cli::Command::Import(args) => import::run(args),
        cli::Command::Synth(args) => synth(args),
        cli::Command::Export(args) => export::run(args),
        cli::Command::Quality(args) => quality::run(args),
        cli::Command::Fhirpath(args) => fhirpath(args),
        cli::Command::Bench(args) => bench::run(args),
        cli::Command::Hl7(args) => hl7::run(args),
        cli::Command::User(args) => security::user(args),
        cli::Command::Client(args) => security::client(args),
        cli::Command::Audit(args) => security::audit(args),
        cli::Command::Terminology(args) => terminology::run(args),
        cli::Command::Package(args) => package::run(args),
    }
}

fn synth(args: cli::SynthArgs) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let options = medulla_synth::SynthOptions {
        patients: args.patients,
        seed: args.seed,
        format: args.format.parse().context("reading --format")?,
        threads: 0,
    };
    let bar = indicatif::ProgressBar::new(args.patients);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} patients {elapsed_precise}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let started = std::time::Instant::now();
    let summary = medulla_synth::generate(&options, &args.out, &|done| bar.set_position(done))
        .with_context(|| format!("generating into {}", args.out.display()))?;
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "generated {} patients, {} resources, {} files, {:.1} MB in {:.2} s ({:.1} MB/s)",
        summary.patients,
        summary.resources,
        summary.files,
        summary.bytes as f64 / 1e6,
        seconds,
        summary.bytes as f64 / 1e6 / seconds.max(1e-9)
    );
    Ok(())
}

fn fhirpath(args: cli::FhirpathArgs) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let input = match &args.input {
        Some(path) => {
            let text =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            Some(
                serde_json::from_slice::<serde_json::Value>(&text)
                    .with_context(|| format!("parsing {} as JSON", path.display()))?,
            )
        }
        None => None,
    };
    // `memberOf()` and `%vs-…` answer from the built-in FHIR terminology.
    let terminology = medulla_terminology::Terminology::in_memory();
    let hook = medulla_validation::TerminologyHook::new(&terminology);
    let path = medulla_fhirpath::FhirPath::compile_with(
        &args.expression,
        medulla_fhirpath::Options::strict(),
    )
    .map_err(|error| anyhow::anyhow!("{error}"))?;
    let environment = medulla_fhirpath::Environment::new().with_terminology(&hook);
    let result = path
        .evaluate(input.as_ref(), &environment)
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    let values: Vec<serde_json::Value> = result
        .iter()
        .map(|value| {
            if args.typed {
                value.to_typed_json()
            } else {
                value.to_json()
            }
        })
        .collect();
    println!("{}", serde_json::Value::Array(values));
    Ok(())
}

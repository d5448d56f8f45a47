//! Measures generation throughput: 200 patients (or the first argument) into a temporary
//! directory, then prints patients, resources, megabytes, seconds and MB/s.
//!
//! `cargo run --release -p medulla-synth --example speed -- [patients] [bundle|ndjson]`

use std::time::Instant;

use medulla_synth::{OutputFormat, SynthOptions, generate};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let patients = args.next().map(|n| n.parse()).transpose()?.unwrap_or(200);
    let format: OutputFormat = args
        .next()
        .map(|f| f.parse())
        .transpose()?
        .unwrap_or_default();
    let out = tempfile::tempdir()?;
    let options = SynthOptions {
        patients,
        seed: 1,
        format,
        ..SynthOptions::default()
    };
    let started = Instant::now();
    let summary = generate(&options, out.path(), &|_done| {})?;
    let seconds = started.elapsed().as_secs_f64();
    let megabytes = summary.bytes as f64 / 1_000_000.0;
    println!(
        "format={format:?} patients={} resources={} ({:.0}/patient) files={} MB={megabytes:.1} seconds={seconds:.2} MB/s={:.1}",
        summary.patients,
        summary.resources,
        summary.resources as f64 / summary.patients.max(1) as f64,
        summary.files,
        megabytes / seconds,
    );
    Ok(())
}

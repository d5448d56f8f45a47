//! Validation throughput against the R4 base definitions on generated patient data.
//!
//! `cargo run --release -p medulla-validation --example bench_validate -- [PATIENTS] [SEED]`
//!
//! Generates PATIENTS (default 50) patients with `medulla-synth`, takes every resource out of
//! their transaction Bundles, validates each one on its own (one thread), and prints resources
//! per second, with the commonest issues so that false errors on realistic data show.

use std::collections::HashMap;
use std::time::Instant;

use medulla_validation::{Options, Validator};
use serde_json::Value as Json;

fn main() {
    let mut arguments = std::env::args().skip(1);
    let patients: u64 = arguments.next().and_then(|a| a.parse().ok()).unwrap_or(50);
    let seed: u64 = arguments.next().and_then(|a| a.parse().ok()).unwrap_or(42);

    let resources: Vec<Json> = (0..patients)
        .flat_map(|index| {
            let bundle = medulla_synth::patient_bundle(seed, index);
            bundle["entry"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|entry| entry.get("resource").cloned())
                .collect::<Vec<_>>()
        })
        .collect();

    let started = Instant::now();
    let validator = Validator::r4();
    // Load the definitions and compile the constraints before timing.
    let _ = validator.validate(
        &serde_json::json!({"resourceType": "Basic", "code": {"text": "x"}}),
        &Options::default(),
    );
    let load = started.elapsed();

    let options = Options::default().allow_unknown_extensions(true);
    let started = Instant::now();
    let mut issues_by_message: HashMap<String, usize> = HashMap::new();
    let (mut errors, mut warnings, mut invalid) = (0usize, 0usize, 0usize);
    for resource in &resources {
        let outcome = validator.validate(resource, &options);
        invalid += usize::from(!outcome.is_valid());
        for issue in &outcome.issues {
            if issue.severity.is_error() {
                errors += 1;
            } else if issue.severity == medulla_validation::Severity::Warning {
                warnings += 1;
            }
            let key: String = format!("{} {}", issue.severity.as_str(), issue.details)
                .chars()
                .take(140)
                .collect();
            *issues_by_message.entry(key).or_default() += 1;
        }
    }
    let elapsed = started.elapsed();
    let rate = resources.len() as f64 / elapsed.as_secs_f64();
    println!(
        "validated {} resources of {patients} patients in {:.3} s: {rate:.0} resources/s \
         (one thread; definitions loaded in {:.3} s)",
        resources.len(),
        elapsed.as_secs_f64(),
        load.as_secs_f64()
    );
    println!("{invalid} resources with errors; {errors} errors, {warnings} warnings in all");
    let mut commonest: Vec<(String, usize)> = issues_by_message.into_iter().collect();
    commonest.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    for (message, count) in commonest.iter().take(12) {
        println!("{count:>8}  {message}");
    }
}

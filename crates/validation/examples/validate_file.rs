//! Validates FHIR JSON files against the R4 base definitions (and any StructureDefinitions
//! given with `--profile FILE`) and prints each OperationOutcome.
//!
//! `cargo run -p medulla-validation --example validate_file -- [--profile p.json] a.json b.json`

use std::process::ExitCode;
use std::sync::Arc;

use medulla_validation::{Options, Structures, Validator};

fn main() -> ExitCode {
    let mut structures = Structures::r4();
    let mut files = Vec::new();
    let mut arguments = std::env::args().skip(1);
    while let Some(argument) = arguments.next() {
        if argument == "--profile" {
            let Some(path) = arguments.next() else {
                eprintln!("--profile needs a file");
                return ExitCode::from(2);
            };
            let added = std::fs::read_to_string(&path)
                .map_err(|e| e.to_string())
                .and_then(|text| serde_json::from_str(&text).map_err(|e| e.to_string()))
                .and_then(|json| structures.add_profile(&json).map_err(|e| e.to_string()));
            if let Err(error) = added {
                eprintln!("cannot add profile {path}: {error}");
                return ExitCode::from(2);
            }
        } else {
            files.push(argument);
        }
    }
    let validator = Validator::new(
        structures,
        Arc::new(medulla_terminology::Terminology::in_memory()),
    );
    let mut all_valid = true;
    for path in files {
        let parsed = std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|text| serde_json::from_str(&text).map_err(|e| e.to_string()));
        let resource = match parsed {
            Ok(resource) => resource,
            Err(error) => {
                eprintln!("cannot read {path}: {error}");
                return ExitCode::from(2);
            }
        };
        let outcome = validator.validate(&resource, &Options::default());
        all_valid &= outcome.is_valid();
        println!("{path}:");
        println!(
            "{}",
            serde_json::to_string_pretty(&outcome.to_operation_outcome()).unwrap_or_default()
        );
    }
    if all_valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

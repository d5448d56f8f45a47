//! `medulla terminology load|list` and `medulla bench terminology`: code system releases in
//! the data directory's terminology file, and the terminology benchmark.

use crate::cli::{ReleaseKind, TerminologyArgs, TerminologyBenchArgs, TerminologyCommand};
use anyhow::Context as _;
use medulla_terminology::Terminology;
use std::path::Path;

pub fn run(args: TerminologyArgs) -> anyhow::Result<()> {
    match args.command {
        TerminologyCommand::Load {
            data,
            kind,
            dir,
            edition,
            language_refset,
        } => {
            let terminology = open(&data.data)?;
            match kind {
                ReleaseKind::Snomed => {
                    let mut options = medulla_terminology::snomed::SnomedOptions::default();
                    if let Some(edition) = edition {
                        options.edition = edition;
                    }
                    if let Some(refset) = language_refset {
                        options.language_refset = refset;
                    }
                    let load = terminology
                        .load_snomed(&dir, &options)
                        .with_context(|| format!("loading SNOMED CT from {}", dir.display()))?;
                    print_json(&serde_json::json!({
                        "system": load.system.url(),
                        "version": load.version,
                        "concepts": load.stats.concepts,
                        "inactiveConcepts": load.stats.inactive_concepts,
                        "descriptions": load.stats.descriptions,
                        "isARelationships": load.stats.is_a_relationships,
                        "readSeconds": load.read_time.as_secs_f64(),
                        "saveSeconds": load.save_time.map(|time| time.as_secs_f64()),
                    }))
                }
            }
        }
        TerminologyCommand::List { data } => {
            let terminology = open(&data.data)?;
            let systems: Vec<serde_json::Value> = terminology
                .loaded_code_systems()
                .into_iter()
                .map(|info| {
                    serde_json::json!({
                        "url": info.url,
                        "version": info.version,
                        "name": info.name,
                        "content": info.content.code(),
                    })
                })
                .collect();
            print_json(&serde_json::Value::Array(systems))
        }
    }
}

fn open(data: &Path) -> anyhow::Result<Terminology> {
    Terminology::open(&data.join("terminology")).with_context(|| {
        format!(
            "opening the terminology file in {}",
            data.join("terminology").display()
        )
    })
}

fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

pub fn bench(args: TerminologyBenchArgs) -> anyhow::Result<()> {
    let mut options = medulla_terminology::bench::BenchOptions {
        persist: !args.no_persist,
        calls: args.calls,
        expansions: args.expansions,
        ..Default::default()
    };
    options.size.concepts = args.concepts;
    options.size.descriptions = args.descriptions;
    options.size.relationships = args.relationships;
    let report =
        medulla_terminology::bench::bench(&options).context("running the terminology benchmark")?;
    println!("{report}");
    Ok(())
}

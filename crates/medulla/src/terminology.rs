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
            release_version: version,
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
                ReleaseKind::Loinc => {
                    let options = medulla_terminology::loinc::LoincOptions { version };
                    let load = terminology
                        .load_loinc(&dir, &options)
                        .with_context(|| format!("loading LOINC from {}", dir.display()))?;
                    let stats = &load.stats;
                    print_load(
                        &load,
                        serde_json::json!({
                            "concepts": stats.concepts,
                            "inactiveConcepts": stats.inactive_concepts,
                            "termRows": stats.term_rows,
                            "partRows": stats.part_rows,
                            "hierarchyRows": stats.hierarchy_rows,
                            "parentLinks": stats.parent_links,
                            "skippedRows": stats.skipped_rows,
                        }),
                    )
                }
                ReleaseKind::Icd10cm => {
                    let options = medulla_terminology::icd10cm::Icd10CmOptions { version };
                    let load = terminology
                        .load_icd10cm(&dir, &options)
                        .with_context(|| format!("loading ICD-10-CM from {}", dir.display()))?;
                    let stats = &load.stats;
                    print_load(
                        &load,
                        serde_json::json!({
                            "concepts": stats.concepts,
                            "headerCodes": stats.header_codes,
                            "billableCodes": stats.billable_codes,
                            "parentLinks": stats.parent_links,
                        }),
                    )
                }
                ReleaseKind::Rxnorm => {
                    let options = medulla_terminology::rxnorm::RxNormOptions { version };
                    let load = terminology
                        .load_rxnorm(&dir, &options)
                        .with_context(|| format!("loading RxNorm from {}", dir.display()))?;
                    let stats = &load.stats;
                    print_load(
                        &load,
                        serde_json::json!({
                            "concepts": stats.concepts,
                            "inactiveConcepts": stats.inactive_concepts,
                            "strings": stats.conso_rows,
                            "relationshipRows": stats.relationship_rows,
                            "relationshipProperties": stats.relationship_properties,
                            "parentLinks": stats.parent_links,
                        }),
                    )
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

/// The terminology service of the data directory (its file created if missing).
pub(crate) fn open(data: &Path) -> anyhow::Result<Terminology> {
    Terminology::open(&data.join("terminology")).with_context(|| {
        format!(
            "opening the terminology file in {}",
            data.join("terminology").display()
        )
    })
}

/// Prints what a release load did: the code system, its version, timings and `counts`.
fn print_load<S>(
    load: &medulla_terminology::ReleaseLoad<S>,
    counts: serde_json::Value,
) -> anyhow::Result<()> {
    let mut summary = serde_json::json!({
        "system": load.system.url(),
        "version": load.version,
        "readSeconds": load.read_time.as_secs_f64(),
        "saveSeconds": load.save_time.map(|time| time.as_secs_f64()),
    });
    if let (Some(summary), serde_json::Value::Object(counts)) = (summary.as_object_mut(), counts) {
        summary.extend(counts);
    }
    print_json(&summary)
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

//! The benchmark code runs (on a small release: figures are printed, never asserted), and a
//! synthetic release loads with the counts it was written with, in memory proportional to it.

use medulla_terminology::bench::{BenchOptions, SyntheticSize, bench, write_synthetic_release};
use medulla_terminology::snomed::{SnomedOptions, read_snapshot};

#[test]
fn the_benchmark_runs_on_a_small_release() {
    let options = BenchOptions {
        size: SyntheticSize {
            concepts: 3_000,
            descriptions: 9_000,
            relationships: 7_000,
            seed: 7,
        },
        calls: 2_000,
        expansions: 5,
        ..BenchOptions::default()
    };
    let report = bench(&options).unwrap();
    println!("{report}");
    assert_eq!(report.concepts, 3_000);
    assert_eq!(report.release.descriptions, 9_000);
    assert_eq!(report.release.relationships, 7_000);
    assert_eq!(report.is_a_edges, report.release.is_a);
    assert!(report.closure_size > report.is_a_edges);
    assert!(report.reopen_time.is_some() && report.file_bytes.is_some());
    assert_eq!(report.expand_page.runs, 5);
    assert!(report.expand_page.mean_total > 0.0);
    assert!(report.attribute_relationships > 3_000, "{report}");
    assert_eq!(report.ecl_refinement.runs, 5);
    assert_eq!(report.ecl_grouped_refinement.runs, 5);
    let text = report.to_string();
    assert!(text.contains("$subsumes: "), "{text}");
    assert!(
        text.contains("ECL << clinical finding : 363698007"),
        "{text}"
    );
}

#[test]
fn a_synthetic_release_loads_in_memory_proportional_to_it() {
    let temp = tempfile::tempdir().unwrap();
    let size = SyntheticSize {
        concepts: 20_000,
        descriptions: 60_000,
        relationships: 50_000,
        seed: 3,
    };
    let release = write_synthetic_release(temp.path(), &size).unwrap();
    let (system, stats) = read_snapshot(temp.path(), &SnomedOptions::default()).unwrap();
    assert_eq!(stats.concepts, 20_000);
    assert_eq!(stats.descriptions, 60_000);
    assert_eq!(stats.relationships, 50_000);
    assert_eq!(stats.is_a_relationships, release.is_a);
    // The rest are attribute relationships, all active, a few duplicates aside.
    assert_eq!(
        stats.attribute_relationships,
        50_000 - release.is_a - stats.inactive_relationships
    );
    assert!(
        system.relationship_count() > 20_000,
        "{}",
        system.relationship_count()
    );
    let finding_site = system.concept("363698007").unwrap();
    assert!(finding_site.is_active());
    assert_eq!(stats.preferred_terms, 20_000);
    assert!(stats.inactive_concepts > 100 && stats.inactive_concepts < 400);
    // Every active concept but the root reaches the root.
    let root = system.concept("138875005").unwrap();
    let unreachable = system
        .concepts()
        .filter(|concept| concept.is_active() && concept.code() != "138875005")
        .filter(|concept| !concept.is_a(&root))
        .count();
    assert_eq!(unreachable, 0);
    // What the indexes take grows with the release, not with the files read: under 700 bytes
    // a concept for three descriptions each (the 400,000-concept benchmark measures ~390).
    let memory = system.memory_usage();
    assert!(memory.total() < 20_000 * 700, "{memory}");
}

//! End-to-end checks of generated populations: determinism, size, reference integrity and
//! primitive formats, for both output formats.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use medulla_synth::{
    OutputFormat, SynthOptions, generate, hospital_information_bundle, patient_bundle,
    practitioner_information_bundle,
};
use serde_json::Value;

fn options(patients: u64, seed: u64, format: OutputFormat, threads: usize) -> SynthOptions {
    SynthOptions {
        patients,
        seed,
        format,
        threads,
    }
}

/// Every file of `dir`, by name, with its bytes.
fn read_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .expect("read output dir")
        .map(|entry| {
            let entry = entry.expect("dir entry");
            let name = entry.file_name().to_string_lossy().into_owned();
            (name, std::fs::read(entry.path()).expect("read file"))
        })
        .collect()
}

/// Calls `visit` with every string found under a `reference` key.
fn for_each_reference(value: &Value, visit: &mut dyn FnMut(&str)) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                match (key.as_str(), child) {
                    ("reference", Value::String(text)) => visit(text),
                    _ => for_each_reference(child, visit),
                }
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|item| for_each_reference(item, visit)),
        _ => {}
    }
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// `YYYY-MM-DD`.
fn is_date(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() == 3
        && parts[0].len() == 4
        && parts[1].len() == 2
        && parts[2].len() == 2
        && parts.iter().all(|part| is_digits(part))
}

/// `YYYY-MM-DDThh:mm:ss[.sss](+|-)hh:mm`, as FHIR dateTime and instant allow.
fn is_date_time(text: &str) -> bool {
    let Some((date, time)) = text.split_once('T') else {
        return false;
    };
    if !is_date(date) || time.len() < 14 {
        return false;
    }
    let (clock, zone) = time.split_at(time.len() - 6);
    let clock = clock.strip_suffix(".000").unwrap_or(clock);
    let clock_parts: Vec<&str> = clock.split(':').collect();
    clock_parts.len() == 3
        && clock_parts
            .iter()
            .all(|part| part.len() == 2 && is_digits(part))
        && (zone.starts_with('+') || zone.starts_with('-'))
        && zone.as_bytes()[3] == b':'
        && is_digits(&zone[1..3])
        && is_digits(&zone[4..])
}

const DATE_TIME_KEYS: &[&str] = &[
    "start",
    "end",
    "onsetDateTime",
    "abatementDateTime",
    "recordedDate",
    "effectiveDateTime",
    "issued",
    "authoredOn",
    "occurrenceDateTime",
    "created",
];

/// Checks primitive formats and the shape of quantities anywhere under `value`.
fn check_primitives(value: &Value, path: &str) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let here = format!("{path}.{key}");
                if DATE_TIME_KEYS.contains(&key.as_str()) {
                    let text = child.as_str().unwrap_or_default();
                    assert!(is_date_time(text), "{here} = {child}");
                }
                if key == "birthDate" {
                    assert!(is_date(child.as_str().unwrap_or_default()), "{here}");
                }
                if key == "valueQuantity" {
                    assert!(child["value"].is_number(), "{here}");
                    assert_eq!(child["system"], "http://unitsofmeasure.org", "{here}");
                    assert_eq!(child["code"], child["unit"], "{here}");
                }
                assert!(!child.is_null(), "{here} is null");
                if let Value::String(text) = child {
                    assert!(!text.is_empty(), "{here} is empty");
                }
                check_primitives(child, &here);
            }
        }
        Value::Array(items) => {
            assert!(!items.is_empty(), "{path} is an empty array");
            items.iter().for_each(|item| check_primitives(item, path));
        }
        _ => {}
    }
}

/// Conditional references the shared directory Bundles can satisfy.
fn directory_conditions(seed: u64) -> HashSet<String> {
    let mut conditions = HashSet::new();
    for (bundle, resource_type) in [
        (hospital_information_bundle(seed), "Organization"),
        (practitioner_information_bundle(seed), "Practitioner"),
    ] {
        assert_eq!(bundle["type"], "transaction");
        for entry in bundle["entry"].as_array().expect("entries") {
            assert_eq!(entry["resource"]["resourceType"], resource_type);
            assert_eq!(entry["request"]["method"], "POST");
            assert_eq!(entry["request"]["url"], resource_type);
            let condition = entry["request"]["ifNoneExist"]
                .as_str()
                .expect("ifNoneExist");
            let identifier = condition.strip_prefix("identifier=").expect("identifier=");
            let declared = &entry["resource"]["identifier"][0];
            let expected = format!(
                "{}|{}",
                declared["system"].as_str().expect("system"),
                declared["value"].as_str().expect("value")
            );
            assert_eq!(identifier, expected);
            conditions.insert(format!("{resource_type}?{condition}"));
        }
    }
    conditions
}

#[test]
fn same_options_give_identical_bytes_for_any_thread_count() {
    for format in [OutputFormat::Bundle, OutputFormat::Ndjson] {
        let first = tempfile::tempdir().expect("tempdir");
        let second = tempfile::tempdir().expect("tempdir");
        let summary_one =
            generate(&options(20, 9, format, 2), first.path(), &|_| {}).expect("first run");
        let summary_two =
            generate(&options(20, 9, format, 1), second.path(), &|_| {}).expect("second run");
        assert_eq!(summary_one, summary_two);
        let (tree_one, tree_two) = (read_tree(first.path()), read_tree(second.path()));
        assert_eq!(tree_one.len() as u64, summary_one.files);
        assert_eq!(
            tree_one
                .values()
                .map(|bytes| bytes.len() as u64)
                .sum::<u64>(),
            summary_one.bytes
        );
        assert!(
            tree_one == tree_two,
            "{format:?} output differs between runs"
        );
    }
}

#[test]
fn different_seeds_give_different_patients() {
    assert_ne!(patient_bundle(1, 0), patient_bundle(2, 0));
    assert_ne!(patient_bundle(1, 0), patient_bundle(1, 1));
}

#[test]
fn bundle_files_match_in_memory_bundles_and_report_progress() {
    let out = tempfile::tempdir().expect("tempdir");
    let reported = std::cell::RefCell::new(Vec::new());
    let summary = generate(
        &options(4, 5, OutputFormat::Bundle, 0),
        out.path(),
        &|done| reported.borrow_mut().push(done),
    )
    .expect("generate");
    assert_eq!(reported.into_inner(), vec![1, 2, 3, 4]);
    let tree = read_tree(out.path());
    assert_eq!(summary.files, 6);
    assert!(tree.contains_key("hospitalInformation5.json"));
    assert!(tree.contains_key("practitionerInformation5.json"));
    let mut resources = 0;
    for index in 0..4u64 {
        let prefix = format!("{index:06}_");
        let (name, bytes) = tree
            .iter()
            .find(|(name, _)| name.starts_with(&prefix))
            .expect("patient file");
        let from_file: Value = serde_json::from_slice(bytes).expect("parse");
        let patient = &from_file["entry"][0]["resource"];
        let expected_name = format!(
            "{prefix}{}_{}_{}.json",
            patient["name"][0]["given"][0].as_str().expect("given"),
            patient["name"][0]["family"].as_str().expect("family"),
            patient["id"].as_str().expect("id")
        );
        assert_eq!(name, &expected_name);
        assert_eq!(from_file, patient_bundle(5, index));
        resources += from_file["entry"].as_array().expect("entries").len() as u64;
    }
    let directory = hospital_information_bundle(5)["entry"]
        .as_array()
        .map_or(0, Vec::len)
        + practitioner_information_bundle(5)["entry"]
            .as_array()
            .map_or(0, Vec::len);
    assert_eq!(summary.resources, resources + directory as u64);
}

#[test]
fn patient_bundles_are_transactions_whose_references_resolve() {
    let seed = 3;
    let conditions = directory_conditions(seed);
    for index in 0..6 {
        let bundle = patient_bundle(seed, index);
        assert_eq!(bundle["resourceType"], "Bundle");
        assert_eq!(bundle["type"], "transaction");
        let entries = bundle["entry"].as_array().expect("entries");
        assert_eq!(entries[0]["resource"]["resourceType"], "Patient");
        let mut full_urls = HashSet::new();
        for entry in entries {
            let resource = &entry["resource"];
            let resource_type = resource["resourceType"].as_str().expect("resourceType");
            let id = resource["id"].as_str().expect("id");
            assert_eq!(entry["fullUrl"], format!("urn:uuid:{id}"));
            assert_eq!(entry["request"]["method"], "POST");
            assert_eq!(entry["request"]["url"], resource_type);
            assert!(full_urls.insert(format!("urn:uuid:{id}")), "duplicate {id}");
        }
        let mut checked = 0;
        for_each_reference(&bundle, &mut |reference| {
            checked += 1;
            assert!(
                full_urls.contains(reference) || conditions.contains(reference),
                "patient {index}: unresolved reference {reference}"
            );
        });
        assert!(checked > entries.len(), "only {checked} references");
        check_primitives(&bundle, "Bundle");
    }
}

#[test]
fn resource_counts_fall_in_the_expected_range() {
    let counts: Vec<usize> = (0..20)
        .map(|index| {
            patient_bundle(11, index)["entry"]
                .as_array()
                .map_or(0, Vec::len)
        })
        .collect();
    let mean = counts.iter().sum::<usize>() / counts.len();
    // Infants have a few dozen resources and ninety-year-olds a few thousand; the population
    // average is what benchmarks depend on.
    assert!(
        counts.iter().all(|&count| (10..=3_000).contains(&count)),
        "{counts:?}"
    );
    assert!((500..=1_000).contains(&mean), "mean {mean} of {counts:?}");
}

#[test]
fn ndjson_references_resolve_to_resources_in_the_output() {
    let out = tempfile::tempdir().expect("tempdir");
    let summary = generate(
        &options(10, 4, OutputFormat::Ndjson, 2),
        out.path(),
        &|_| {},
    )
    .expect("generate");
    let mut known = HashSet::new();
    let mut resources = Vec::new();
    for (name, bytes) in read_tree(out.path()) {
        let resource_type = name
            .strip_suffix(".ndjson")
            .expect("ndjson file")
            .to_owned();
        let text = String::from_utf8(bytes).expect("utf-8");
        for line in text.lines() {
            let resource: Value = serde_json::from_str(line).expect("one resource per line");
            assert_eq!(resource["resourceType"], resource_type.as_str());
            let id = resource["id"].as_str().expect("id").to_owned();
            assert!(
                known.insert(format!("{resource_type}/{id}")),
                "duplicate {id}"
            );
            resources.push(resource);
        }
    }
    assert_eq!(resources.len() as u64, summary.resources);
    assert_eq!(
        resources
            .iter()
            .filter(|r| r["resourceType"] == "Patient")
            .count(),
        10
    );
    for resource in &resources {
        for_each_reference(resource, &mut |reference| {
            assert!(
                known.contains(reference),
                "unresolved reference {reference}"
            );
        });
        check_primitives(resource, resource["resourceType"].as_str().unwrap_or("?"));
    }
}

#[test]
fn unknown_format_names_are_rejected() {
    assert_eq!(
        "NDJSON".parse::<OutputFormat>().ok(),
        Some(OutputFormat::Ndjson)
    );
    let error = "csv"
        .parse::<OutputFormat>()
        .expect_err("csv is not a format");
    assert_eq!(
        error.to_string(),
        "unknown output format \"csv\", expected \"bundle\" or \"ndjson\""
    );
}

#[test]
fn unwritable_output_directory_is_an_io_error_naming_the_path() {
    let out = tempfile::tempdir().expect("tempdir");
    let blocker = out.path().join("file");
    std::fs::write(&blocker, b"x").expect("write");
    let target = blocker.join("sub");
    let error = generate(&options(1, 1, OutputFormat::Bundle, 1), &target, &|_| {})
        .expect_err("a file is in the way");
    assert!(
        matches!(&error, medulla_synth::Error::Io { path, .. } if path == &target),
        "{error:?}"
    );
}

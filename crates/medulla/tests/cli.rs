//! The command line: `--version`, `serve` refusing non-loopback addresses, `import` reporting
//! bad files while importing the rest, a `synth` → `import` round trip, and `bench validate`
//! printing its rates.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on unexpected None/Err"
)]

mod common;

use common::{Served, medulla};
use serde_json::json;

fn output_text(output: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn version() {
    let output = medulla().arg("--version").output().unwrap();
    let (stdout, _) = output_text(&output);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        stdout.trim(),
        format!("medulla {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn serve_refuses_non_loopback_addresses() {
    let data = tempfile::tempdir().unwrap();
    for addr in ["0.0.0.0:0", "[::]:0"] {
        let output = medulla()
            .args(["serve", "--addr", addr, "--data"])
            .arg(data.path())
            .output()
            .unwrap();
        let (_, stderr) = output_text(&output);
        assert_ne!(output.status.code(), Some(0), "{addr}: {stderr}");
        assert!(stderr.contains("authentication"), "{addr}: {stderr}");
    }
    let output = medulla()
        .args(["serve", "--addr", "not-an-address"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not-an-address"));
}

#[test]
fn import_reports_bad_files_and_imports_the_rest() {
    let input = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let patient = |value: &str| json!({"resourceType": "Patient", "identifier": [{"system": "urn:import", "value": value}]});
    let bundle = json!({
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": patient("bundle-1"), "request": {"method": "POST", "url": "Patient"}},
            {"resource": patient("bundle-2"), "request": {"method": "POST", "url": "Patient"}}
        ]
    });
    std::fs::write(
        input.path().join("good.json"),
        serde_json::to_vec(&bundle).unwrap(),
    )
    .unwrap();
    let mut with_id = patient("ndjson-3");
    with_id["id"] = json!("from-ndjson");
    let ndjson = [
        serde_json::to_string(&patient("ndjson-1")).unwrap(),
        r#"{"resourceType": "Patient", "identifier": [{"system": "urn:import", "value": "#
            .to_owned(),
        serde_json::to_string(&with_id).unwrap(),
        r#"{"resourceType": "Patient", "active": "yes"}"#.to_owned(),
        String::new(),
        serde_json::to_string(&patient("ndjson-6")).unwrap(),
    ]
    .join("\n");
    std::fs::write(input.path().join("lines.ndjson"), ndjson).unwrap();
    std::fs::write(
        input.path().join("broken.json"),
        r#"{"resourceType": "Bundle", "#,
    )
    .unwrap();
    std::fs::write(input.path().join("notes.txt"), "not FHIR").unwrap();

    let output = medulla()
        .args(["import", "--quiet", "--data"])
        .arg(data.path())
        .arg(input.path())
        .output()
        .unwrap();
    let (stdout, stderr) = output_text(&output);
    assert_eq!(
        output.status.code(),
        Some(2),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    let ndjson_path = input.path().join("lines.ndjson").display().to_string();
    assert!(stderr.contains(&format!("{ndjson_path}:2:")), "{stderr}");
    assert!(stderr.contains(&format!("{ndjson_path}:4:")), "{stderr}");
    assert!(!stderr.contains(&format!("{ndjson_path}:1:")), "{stderr}");
    assert!(stderr.contains("broken.json"), "{stderr}");
    assert!(!stderr.contains("notes.txt"), "{stderr}");
    assert!(stdout.contains("imported 5 resources"), "{stdout}");
    assert!(stdout.contains("3 failed"), "{stdout}");

    let served = Served::start(data.path());
    assert_eq!(served.count("Patient"), 5);
    for value in ["bundle-1", "bundle-2", "ndjson-1", "ndjson-3", "ndjson-6"] {
        assert_eq!(
            served.count(&format!("Patient?identifier=urn:import|{value}")),
            1,
            "{value}"
        );
    }
    let (status, body) = served.get("Patient/from-ndjson");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["identifier"][0]["value"], "ndjson-3");
}

#[test]
fn synth_then_import_round_trip() {
    let out = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let output = medulla()
        .args(["synth", "--patients", "3", "--seed", "11", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    let (stdout, stderr) = output_text(&output);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("generated 3 patients"), "{stdout}");

    let output = medulla()
        .args(["import", "--quiet", "--data"])
        .arg(data.path())
        .arg(out.path())
        .output()
        .unwrap();
    let (stdout, stderr) = output_text(&output);
    assert_eq!(
        output.status.code(),
        Some(0),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    assert!(stdout.contains("0 failed"), "{stdout}");

    let served = Served::start(data.path());
    assert_eq!(served.count("Patient"), 3);
    assert!(served.count("Organization") > 0);
    assert!(served.count("Practitioner") > 0);
    let (status, bundle) = served.get("Patient?_count=1");
    assert_eq!(status, 200);
    let id = bundle["entry"][0]["resource"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, patient) = served.get(&format!("Patient/{id}"));
    assert_eq!(status, 200);
    assert_eq!(patient["id"], id.as_str());
    // Importing the same files again creates no second copy of the shared providers.
    let organizations = served.count("Organization");
    drop(served);
    let again = medulla()
        .args(["import", "--quiet", "--data"])
        .arg(data.path())
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let served = Served::start(data.path());
    assert_eq!(served.count("Organization"), organizations);
}

/// `medulla bench validate` runs end to end on a tiny population and prints its rate lines;
/// the figures themselves are never asserted.
#[test]
fn bench_validate_prints_rates() {
    let output = medulla()
        .args([
            "bench",
            "validate",
            "--patients",
            "2",
            "--seconds",
            "0.2",
            "--threads",
            "1,2",
        ])
        .output()
        .unwrap();
    let (stdout, stderr) = output_text(&output);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("medulla issues (untimed pass"), "{stdout}");
    for threads in ["1 thread ", "2 threads "] {
        let rate_line = stdout
            .lines()
            .find(|line| line.contains("resources/s on") && line.contains(threads))
            .unwrap_or_else(|| panic!("no rate line for {threads}: {stdout}"));
        assert!(rate_line.starts_with("medulla "), "{rate_line}");
    }
}

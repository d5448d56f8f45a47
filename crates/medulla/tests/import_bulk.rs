//! Bulk NDJSON import: idempotent re-runs, resume after `kill -9`, ids given more than once, and
//! `--on-error skip|abort`.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on unexpected None/Err"
)]

mod common;

use common::medulla;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

/// Every (type, id) in the NDJSON files of `dir`, and the number of lines.
fn input_ids(dir: &Path) -> (BTreeSet<(String, String)>, usize) {
    let mut ids = BTreeSet::new();
    let mut lines = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("ndjson") {
            continue;
        }
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            if line.trim().is_empty() {
                continue;
            }
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            lines += 1;
            ids.insert((
                value["resourceType"].as_str().unwrap().to_owned(),
                value["id"].as_str().unwrap().to_owned(),
            ));
        }
    }
    (ids, lines)
}

fn open_db(data: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open_with_flags(
        data.join("medulla.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap()
}

fn count(conn: &rusqlite::Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |row| row.get(0)).unwrap()
}

fn stored_ids(data: &Path) -> BTreeSet<(String, String)> {
    let conn = open_db(data);
    let mut statement = conn
        .prepare("SELECT res_type, res_id FROM resources")
        .unwrap();
    statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn synth(patients: u32, out: &Path) {
    let output = medulla()
        .args(["synth", "--seed", "7", "--format", "ndjson", "--patients"])
        .arg(patients.to_string())
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
}

fn import(data: &Path, extra: &[&str], paths: &[&Path]) -> std::process::Output {
    medulla()
        .args(["import", "--quiet", "--data"])
        .arg(data)
        .args(extra)
        .args(paths)
        .output()
        .unwrap()
}

fn text(output: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn reimporting_the_same_files_writes_nothing() {
    let input = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    synth(3, input.path());
    let (ids, lines) = input_ids(input.path());
    assert_eq!(ids.len(), lines, "synth ids are unique");

    let first = import(data.path(), &[], &[input.path()]);
    let (stdout, stderr) = text(&first);
    assert!(first.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!("{lines} written, 0 unchanged")),
        "{stdout}"
    );

    let second = import(data.path(), &[], &[input.path()]);
    let (stdout, stderr) = text(&second);
    assert!(second.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!("0 written, {lines} unchanged")),
        "{stdout}"
    );
    let conn = open_db(data.path());
    assert_eq!(count(&conn, "SELECT count(*) FROM versions"), lines as i64);
    assert_eq!(stored_ids(data.path()), ids);
}

#[test]
fn kill_9_mid_import_then_rerun_stores_each_resource_once() {
    let input = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    synth(25, input.path());
    let (ids, lines) = input_ids(input.path());

    let mut child = medulla()
        .args(["import", "--quiet", "--batch", "100", "--data"])
        .arg(data.path())
        .arg(input.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill as soon as some batches are durable, long before the end.
    let deadline = Instant::now() + Duration::from_secs(120);
    let database = data.path().join("medulla.db");
    loop {
        assert!(Instant::now() < deadline, "no commit seen within 120 s");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the import finished before it could be killed"
        );
        let committed = if database.exists() {
            rusqlite::Connection::open_with_flags(
                &database,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )
            .and_then(|conn| {
                conn.query_row("SELECT count(*) FROM resources", [], |row| {
                    row.get::<_, i64>(0)
                })
            })
            .unwrap_or(0)
        } else {
            0
        };
        if committed > 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let partial = stored_ids(data.path()).len();
    assert!(
        partial > 0 && partial < lines,
        "killed after {partial} of {lines}"
    );

    let rerun = import(data.path(), &[], &[input.path()]);
    let (stdout, stderr) = text(&rerun);
    assert!(rerun.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!("imported {lines} resources")),
        "{stdout}"
    );

    assert_eq!(
        stored_ids(data.path()),
        ids,
        "exactly the input's resources"
    );
    let conn = open_db(data.path());
    let report: String = conn
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(report, "ok", "SQLite's check of every table and index");
    assert_eq!(count(&conn, "SELECT count(*) FROM resources"), lines as i64);
    assert_eq!(
        count(&conn, "SELECT count(*) FROM versions"),
        lines as i64,
        "no resource stored twice"
    );
    assert_eq!(
        count(&conn, "SELECT count(*) FROM resources WHERE version != 1"),
        0
    );
    // Search indexing is complete for the resumed resources too: one token row per Patient
    // gender, for example.
    let patients = ids.iter().filter(|(t, _)| t == "Patient").count() as i64;
    assert_eq!(
        count(
            &conn,
            "SELECT count(DISTINCT res_key) FROM idx_token WHERE pid = \
             (SELECT pid FROM params WHERE res_type = 'Patient' AND code = 'gender')"
        ),
        patients
    );
}

/// The stored versions of `Patient/id`, oldest first: (version, `meta.versionId`, `gender`).
fn patient_versions(data: &Path, id: &str) -> Vec<(i64, String, String)> {
    let conn = open_db(data);
    let mut statement = conn
        .prepare(
            "SELECT v.version, v.body FROM versions v JOIN resources r ON r.res_key = v.res_key \
             WHERE r.res_type = 'Patient' AND r.res_id = ?1 ORDER BY v.seq",
        )
        .unwrap();
    statement
        .query_map([id], |row| {
            let body: Vec<u8> = row.get(1)?;
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
            Ok((
                row.get(0)?,
                body["meta"]["versionId"].as_str().unwrap().to_owned(),
                body["gender"].as_str().unwrap().to_owned(),
            ))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn an_id_twice_in_the_input_is_a_new_version_unless_unchanged() {
    let input = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let patient = |id: &str, gender: &str| {
        format!(r#"{{"resourceType":"Patient","id":"{id}","gender":"{gender}"}}"#)
    };
    // Into an empty store: the bulk load, which merges copies when it ends; then into the
    // filled store, row by row, which compares each with the stored version. Same result.
    let first = [
        patient("a", "male"),
        patient("b", "female"),
        patient("a", "male"),
        patient("a", "female"),
        patient("a", "female"),
    ];
    std::fs::write(input.path().join("first.ndjson"), first.join("\n")).unwrap();
    let output = import(data.path(), &["--batch", "2"], &[input.path()]);
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("3 written, 2 unchanged"), "{stdout}");
    assert_eq!(
        patient_versions(data.path(), "a"),
        [
            (1, "1".to_owned(), "male".to_owned()),
            (2, "2".to_owned(), "female".to_owned())
        ]
    );
    assert_eq!(patient_versions(data.path(), "b").len(), 1);

    let second = [patient("a", "female"), patient("a", "other")];
    std::fs::write(input.path().join("first.ndjson"), second.join("\n")).unwrap();
    let output = import(data.path(), &["--batch", "1"], &[input.path()]);
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("1 written, 1 unchanged"), "{stdout}");
    let versions = patient_versions(data.path(), "a");
    assert_eq!(versions.len(), 3);
    assert_eq!(versions[2], (3, "3".to_owned(), "other".to_owned()));
    let conn = open_db(data.path());
    assert_eq!(count(&conn, "SELECT count(*) FROM resources"), 2);
    assert_eq!(
        count(&conn, "SELECT version FROM resources WHERE res_id = 'a'"),
        3
    );
}

#[test]
fn a_second_import_into_the_same_directory_is_refused_while_one_runs() {
    let input = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let file = lines_file(input.path());
    // The lock a running import holds.
    let held = std::fs::File::create(data.path().join("import.lock")).unwrap();
    held.lock().unwrap();
    let output = import(data.path(), &[], &[&file]);
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("another `medulla import` is loading into"),
        "{stderr}"
    );
    assert!(
        !data.path().join("medulla.db").exists(),
        "nothing was opened"
    );
    held.unlock().unwrap();
    let output = import(data.path(), &["--on-error", "skip"], &[&file]);
    assert!(text(&output).0.contains("5 written"), "{output:?}");
}

fn lines_file(dir: &Path) -> std::path::PathBuf {
    let patient = |id: &str| format!(r#"{{"resourceType":"Patient","id":"{id}","active":true}}"#);
    let lines = [
        patient("p1"),
        patient("p2"),
        patient("p3"),
        r#"{"resourceType":"Patient","id":"p4", "#.to_owned(),
        patient("p5"),
        r#"{"resourceType":"Patient","id":"p6","active":"yes"}"#.to_owned(),
        patient("p7"),
    ];
    let path = dir.join("patients.ndjson");
    std::fs::write(&path, lines.join("\n")).unwrap();
    path
}

#[test]
fn on_error_skip_reports_each_bad_line_and_imports_the_rest() {
    let input = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let file = lines_file(input.path());
    let output = import(data.path(), &["--batch", "2"], &[&file]);
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(2), "{stdout}\n{stderr}");
    let shown = file.display().to_string();
    assert!(
        stderr.contains(&format!("{shown}:4: not valid JSON")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{shown}:6: Patient.active")),
        "{stderr}"
    );
    assert!(stdout.contains("5 written"), "{stdout}");
    assert!(stdout.contains("2 failed"), "{stdout}");
    let stored: Vec<String> = stored_ids(data.path())
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    assert_eq!(stored, ["p1", "p2", "p3", "p5", "p7"]);
}

#[test]
fn on_error_abort_stops_at_the_first_bad_line_after_whole_batches() {
    let input = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let file = lines_file(input.path());
    let output = import(
        data.path(),
        &["--batch", "2", "--on-error", "abort"],
        &[&file],
    );
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(2), "{stdout}\n{stderr}");
    let shown = file.display().to_string();
    assert!(
        stderr.contains(&format!(
            "import aborted; 2 resources were committed before it, in whole batches: {shown}:4: not valid JSON"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains(":6:"), "{stderr}");
    // Lines 1-2 are one whole batch; line 3 shares its batch with the bad line 4.
    let stored: Vec<String> = stored_ids(data.path())
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    assert_eq!(stored, ["p1", "p2"]);
}

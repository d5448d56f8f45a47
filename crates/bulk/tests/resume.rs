//! An export left unfinished by a crash is resumed when the jobs folder is opened again.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use medulla_bulk::{ExportRequest, Exports, JobState, Level, Status};
use std::sync::Arc;

#[test]
fn unfinished_job_is_resumed_on_open() {
    let data = tempfile::tempdir().unwrap();
    let store =
        Arc::new(medulla_store::SqliteStore::open(data.path(), Default::default()).unwrap());
    let engine = medulla_engine::Engine::new(store, Default::default());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for n in 0..5 {
        let patient = serde_json::json!({"resourceType": "Patient", "id": format!("p{n}")});
        runtime
            .block_on(engine.update("Patient", &format!("p{n}"), patient, None))
            .unwrap();
    }
    let jobs = data.path().join("exports");
    // What a process killed mid-export leaves: job state "in progress" and a partial file.
    let job = JobState {
        id: "crashed".into(),
        request: ExportRequest {
            level: Level::System,
            ..Default::default()
        },
        transaction_time: "2026-01-01T00:00:00.000Z".into(),
        status: Status::InProgress,
        exported: 2,
        output: Vec::new(),
    };
    std::fs::create_dir_all(jobs.join("crashed")).unwrap();
    std::fs::write(
        jobs.join("crashed/job.json"),
        serde_json::to_vec(&job).unwrap(),
    )
    .unwrap();
    std::fs::write(
        jobs.join("crashed/Patient.1.ndjson"),
        "{\"resourceType\":\"Patient\",\"id\":\"p0\"}\n{\"trunc",
    )
    .unwrap();

    let exports = Exports::open(jobs.clone(), engine).unwrap();
    let state = exports.wait("crashed").unwrap();
    assert_eq!(state.status, Status::Completed);
    assert_eq!(state.exported, 5);
    let text = std::fs::read_to_string(jobs.join("crashed/Patient.1.ndjson")).unwrap();
    assert_eq!(text.lines().count(), 5);
    assert!(
        text.lines()
            .all(|line| serde_json::from_str::<serde_json::Value>(line).is_ok())
    );
    // The finished state is persisted.
    let persisted: JobState =
        serde_json::from_slice(&std::fs::read(jobs.join("crashed/job.json")).unwrap()).unwrap();
    assert_eq!(persisted.status, Status::Completed);
}

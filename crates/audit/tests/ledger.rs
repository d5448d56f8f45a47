//! The ledger end to end: appending, reopening, concurrency, search, the AuditEvent shape, and
//! tampering with the SQLite file directly (as an attacker with write access to it would).

use medulla_audit::{
    Action, AgentKind, AuditLog, AuditOptions, AuditQuery, AuditRecord, Category, Error, Outcome,
    Tamper, verify,
};
use rusqlite::Connection;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::time::Duration;

/// A successful read of `Observation/<n>` about `patient` by `agent`.
fn read_record(agent: &str, patient: &str, n: u64) -> AuditRecord {
    let mut record = AuditRecord::new(
        Category::Rest,
        "read",
        Action::Read,
        Outcome::Success,
        agent,
        AgentKind::User,
    );
    record.patient = Some(patient.to_owned());
    record.entities = vec![format!("Observation/{n}")];
    record.network_address = Some("10.0.0.7".into());
    record
}

fn options(checkpoint_every: u64) -> AuditOptions {
    AuditOptions {
        checkpoint_every,
        ..AuditOptions::default()
    }
}

/// A closed ledger of `count` reads by alice, one commit each, with a checkpoint every 10
/// records (so at 10, 20, 30, …).
fn ledger_of(dir: &Path, count: u64) {
    let log = AuditLog::open_with(dir, options(10)).expect("open");
    for n in 1..=count {
        let seq = log
            .append_blocking(read_record("alice", "p1", n))
            .expect("appended");
        assert_eq!(seq, n);
    }
    log.close();
}

/// Opens the ledger file as an attacker would, with the append-only triggers removed.
fn tamper(dir: &Path) -> Connection {
    let conn = Connection::open(dir.join("ledger.sqlite")).expect("open ledger file");
    conn.execute_batch(
        "DROP TRIGGER ledger_no_update; DROP TRIGGER ledger_no_delete;
         DROP TRIGGER checkpoints_no_update; DROP TRIGGER checkpoints_no_delete;",
    )
    .expect("drop triggers");
    conn
}

/// The documented chain hash, written out independently of the crate.
fn chain_hash(prev: &[u8], seq: u64, event: &[u8]) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(b"medulla-audit-v2");
    hasher.update(prev);
    hasher.update(seq.to_be_bytes());
    hasher.update(event);
    hasher.finalize().to_vec()
}

fn column(conn: &Connection, seq: u64, name: &str) -> Vec<u8> {
    let sql = format!("SELECT {name} FROM ledger WHERE seq = ?1");
    conn.query_row(&sql, [seq], |row| row.get(0))
        .expect("row exists")
}

/// Moves rows with `seq >= from` by `by` (positive or negative) without unique-key clashes.
fn renumber(conn: &Connection, from: u64, by: i64) {
    conn.execute("UPDATE ledger SET seq = -seq WHERE seq >= ?1", [from])
        .expect("negate");
    conn.execute("UPDATE ledger SET seq = -seq + ?1 WHERE seq < 0", [by])
        .expect("shift");
}

/// Made-up stored bytes claiming position `seq` (they start with it, as the ledger's do).
fn forged_event(seq: u64) -> Vec<u8> {
    let mut bytes = seq.to_be_bytes().to_vec();
    bytes.extend_from_slice(b"forged by mallory");
    bytes
}

/// `bytes` with every `from` replaced by `to`.
fn replace_bytes(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while !rest.is_empty() {
        if rest.starts_with(from) {
            out.extend_from_slice(to);
            rest = &rest[from.len()..];
        } else {
            out.push(rest[0]);
            rest = &rest[1..];
        }
    }
    out
}

fn insert_row(conn: &Connection, seq: u64, event: &[u8], prev: &[u8], hash: &[u8]) {
    conn.execute(
        "INSERT INTO ledger (seq, recorded, category, type_code, interaction, action, outcome, \
         agent, patient, event, prev, hash) \
         VALUES (?1, 0, 'rest', 'rest', 'read', 'R', 0, 'mallory', NULL, ?2, ?3, ?4)",
        rusqlite::params![seq, event, prev, hash],
    )
    .expect("insert forged row");
}

fn problem(dir: &Path) -> Option<Tamper> {
    verify(dir).expect("verify runs").problem
}

#[test]
fn records_survive_reopening_and_the_chain_continues() {
    let dir = tempfile::tempdir().expect("temp dir");
    ledger_of(dir.path(), 5);
    let log = AuditLog::open(dir.path()).expect("reopen");
    assert_eq!(log.count().expect("count"), 5);
    assert_eq!(log.last_seq().expect("last"), 5);
    let seq = log
        .append_blocking(read_record("bob", "p2", 6))
        .expect("appended");
    assert_eq!(seq, 6);
    let event: Value =
        serde_json::from_slice(&log.read(3).expect("read").expect("present")).expect("JSON");
    assert_eq!(event["id"], "3");
    assert_eq!(log.read(7).expect("read"), None);
    drop(log);

    let report = verify(dir.path()).expect("verify");
    assert_eq!(report.problem, None, "{report}");
    assert_eq!(report.records, 6);
    assert_eq!(report.last_seq, 6);
    assert_eq!(report.last_hash_hex.len(), 64);
    // One key signed everything; the final checkpoint of each session covers its last record.
    assert_eq!(report.public_keys_hex.len(), 1);
    assert_eq!(report.last_checkpoint_seq, Some(6));
    assert_eq!(report.checkpoints, 2);
    assert_eq!(report.unsigned_records, 0);
}

#[test]
fn the_public_key_is_reported_and_the_key_file_is_private() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = AuditLog::open(dir.path()).expect("open");
    log.append_blocking(read_record("alice", "p1", 1))
        .expect("appended");
    let public_key = log.public_key_hex();
    drop(log);
    assert_eq!(
        verify(dir.path()).expect("verify").public_keys_hex,
        vec![public_key]
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join("signing.key"))
            .expect("key file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn many_threads_get_distinct_gapless_durable_sequence_numbers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = AuditLog::open_with(dir.path(), options(100)).expect("open");
    let threads = 8;
    let per_thread = 150;
    let mut seqs: Vec<u64> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|thread| {
                let log = log.clone();
                scope.spawn(move || {
                    (0..per_thread)
                        .map(|n| {
                            log.append_blocking(read_record(&format!("agent-{thread}"), "p1", n))
                                .expect("appended")
                        })
                        .collect::<Vec<u64>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| handle.join().expect("thread finished"))
            .collect()
    });
    seqs.sort_unstable();
    let total = threads * per_thread;
    assert_eq!(seqs, (1..=total).collect::<Vec<u64>>());
    // Acknowledged means committed: a fresh reader sees every record at once.
    assert_eq!(log.count().expect("count"), total);
    for thread in 0..threads {
        let by_agent = log
            .search(&AuditQuery {
                agent: Some(format!("agent-{thread}")),
                count: Some(1000),
                ..AuditQuery::default()
            })
            .expect("search");
        assert_eq!(by_agent.len(), 150);
    }
    drop(log);
    let report = verify(dir.path()).expect("verify");
    assert_eq!(report.problem, None, "{report}");
    assert_eq!(report.records, total);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tickets_resolve_on_async_tasks() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = AuditLog::open(dir.path()).expect("open");
    let tickets: Vec<_> = (1..=20)
        .map(|n| log.record(read_record("alice", "p1", n)))
        .collect();
    let mut seqs = Vec::new();
    for ticket in tickets {
        seqs.push(ticket.wait().await.expect("acknowledged"));
    }
    assert_eq!(seqs, (1..=20).collect::<Vec<u64>>());
}

#[test]
fn a_closed_log_refuses_records_with_an_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = AuditLog::open(dir.path()).expect("open");
    let other_handle = log.clone();
    log.close();
    let refused = other_handle.append_blocking(read_record("alice", "p1", 1));
    assert!(matches!(refused, Err(Error::WriterStopped)), "{refused:?}");
}

#[test]
fn an_unencodable_time_is_refused_through_the_ticket() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = AuditLog::open(dir.path()).expect("open");
    let mut record = read_record("alice", "p1", 1);
    record.recorded = i64::MAX;
    let refused = log.append_blocking(record);
    assert!(
        matches!(
            refused,
            Err(Error::RecordedOutOfRange { recorded: i64::MAX })
        ),
        "{refused:?}"
    );
    assert_eq!(log.count().expect("count"), 0);
}

#[test]
fn a_failed_commit_is_reported_and_the_chain_continues_without_a_gap() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = AuditLog::open(dir.path()).expect("open");
    log.append_blocking(read_record("alice", "p1", 1))
        .expect("appended");
    // Stands in for a full disk under the ledger: the insert fails inside its transaction.
    let conn = Connection::open(dir.path().join("ledger.sqlite")).expect("open ledger file");
    conn.execute_batch(
        "CREATE TRIGGER refuse BEFORE INSERT ON ledger WHEN NEW.agent = 'doomed' \
         BEGIN SELECT RAISE(ABORT, 'simulated write failure'); END;",
    )
    .expect("create trigger");
    // The journal holds the record durably, so it is acknowledged (before this change the
    // ticket itself failed: it waited for the ledger's commit)…
    let seq = log
        .append_blocking(read_record("doomed", "p1", 2))
        .expect("durable in the journal");
    assert_eq!(seq, 2);
    // …and the ledger's failure is reported to whoever waits for the ledger.
    for outcome in [log.flush(), log.count().map(drop)] {
        match outcome {
            Err(Error::CommitFailed(message)) => {
                assert!(message.contains("simulated write failure"), "{message}");
            }
            other => panic!("expected a commit failure, got {other:?}"),
        }
    }
    // Once the cause is gone the retry takes the record: nothing acknowledged is lost, no
    // number is skipped.
    conn.execute_batch("DROP TRIGGER refuse;")
        .expect("drop trigger");
    log.flush().expect("retried");
    let seq = log
        .append_blocking(read_record("bob", "p1", 3))
        .expect("appended");
    assert_eq!(seq, 3);
    assert_eq!(log.count().expect("count"), 3);
    drop(log);
    let report = verify(dir.path()).expect("verify");
    assert_eq!(report.problem, None, "{report}");
    assert_eq!(report.records, 3);
}

#[test]
fn checkpoints_are_signed_every_n_records_and_at_shutdown() {
    let dir = tempfile::tempdir().expect("temp dir");
    ledger_of(dir.path(), 25);
    let conn = Connection::open(dir.path().join("ledger.sqlite")).expect("open");
    let seqs: Vec<u64> = conn
        .prepare("SELECT seq FROM checkpoints ORDER BY seq")
        .expect("prepare")
        .query_map([], |row| row.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(seqs, [10, 20, 25]);
}

#[test]
fn a_checkpoint_is_signed_after_the_interval_while_open() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = AuditLog::open_with(
        dir.path(),
        AuditOptions {
            checkpoint_interval: Duration::from_millis(100),
            ..AuditOptions::default()
        },
    )
    .expect("open");
    for n in 1..=3 {
        log.append_blocking(read_record("alice", "p1", n))
            .expect("appended");
    }
    let mut report = verify(dir.path()).expect("verify");
    for _ in 0..50 {
        if report.last_checkpoint_seq == Some(3) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
        report = verify(dir.path()).expect("verify");
    }
    assert_eq!(report.last_checkpoint_seq, Some(3));
    assert_eq!(report.problem, None, "{report}");
    drop(log);
}

#[test]
fn verify_while_records_are_being_written_sees_one_consistent_snapshot() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = AuditLog::open_with(dir.path(), options(7)).expect("open");
    std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            for n in 0..600 {
                log.append_blocking(read_record("alice", "p1", n))
                    .expect("appended");
            }
        });
        while !writer.is_finished() {
            let report = verify(dir.path()).expect("verify");
            assert_eq!(report.problem, None, "{report}");
        }
    });
}

#[test]
fn the_ledger_file_refuses_updates_and_deletes() {
    let dir = tempfile::tempdir().expect("temp dir");
    ledger_of(dir.path(), 10);
    let conn = Connection::open(dir.path().join("ledger.sqlite")).expect("open");
    let update = conn.execute("UPDATE ledger SET agent = 'x' WHERE seq = 1", []);
    assert!(
        update
            .expect_err("refused")
            .to_string()
            .contains("append-only")
    );
    let delete = conn.execute("DELETE FROM checkpoints", []);
    assert!(
        delete
            .expect_err("refused")
            .to_string()
            .contains("append-only")
    );
}

#[test]
fn verifying_a_directory_without_a_ledger_is_an_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = verify(&dir.path().join("nothing"));
    assert!(
        matches!(missing, Err(Error::NoLedger { .. })),
        "{missing:?}"
    );
}

// Tampering. Each ledger has 30 records and checkpoints at 10, 20 and 30.

#[test]
fn tamper_1_editing_a_records_bytes_names_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    ledger_of(dir.path(), 30);
    tamper(dir.path())
        .execute(
            "UPDATE ledger SET event = CAST(replace(CAST(event AS TEXT), 'alice', 'mallory') AS BLOB) \
             WHERE seq = 15",
            [],
        )
        .expect("edit");
    let found = problem(dir.path());
    assert_eq!(found, Some(Tamper::Edited { seq: 15 }));
    assert_eq!(
        found.expect("a problem").to_string(),
        "record #15 was altered: its contents no longer match the hash chain"
    );
}

#[test]
fn tamper_1b_editing_a_record_and_recomputing_its_hash_names_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    ledger_of(dir.path(), 30);
    let conn = tamper(dir.path());
    let mut event = column(&conn, 15, "event");
    event.extend_from_slice(b" ");
    let hash = chain_hash(&column(&conn, 15, "prev"), 15, &event);
    conn.execute(
        "UPDATE ledger SET event = ?1, hash = ?2 WHERE seq = 15",
        rusqlite::params![event, hash],
    )
    .expect("edit");
    assert_eq!(problem(dir.path()), Some(Tamper::Edited { seq: 15 }));
}

#[test]
fn tamper_2_deleting_a_middle_record_names_the_gap() {
    let dir = tempfile::tempdir().expect("temp dir");
    ledger_of(dir.path(), 30);
    tamper(dir.path())
        .execute("DELETE FROM ledger WHERE seq = 15", [])
        .expect("delete");
    assert_eq!(
        problem(dir.path()),
        Some(Tamper::Deleted {
            first_missing_seq: 15,
            last_missing_seq: 15
        })
    );
}

#[test]
fn tamper_2b_deleting_records_and_renumbering_the_rest_names_the_gap() {
    let dir = tempfile::tempdir().expect("temp dir");
    ledger_of(dir.path(), 30);
    let conn = tamper(dir.path());
    conn.execute("DELETE FROM ledger WHERE seq IN (15, 16)", [])
        .expect("delete");
    renumber(&conn, 17, -2);
    let found = problem(dir.path());
    assert_eq!(
        found,
        Some(Tamper::Deleted {
            first_missing_seq: 15,
            last_missing_seq: 16
        })
    );
    assert_eq!(
        found.expect("a problem").to_string(),
        "records #15 to #16 were deleted: they are missing from the hash chain"
    );
}

#[test]
fn tamper_3_inserting_a_correctly_hashed_record_and_renumbering_names_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    ledger_of(dir.path(), 30);
    let conn = tamper(dir.path());
    renumber(&conn, 15, 1);
    let prev = column(&conn, 14, "hash");
    let event = forged_event(15);
    insert_row(&conn, 15, &event, &prev, &chain_hash(&prev, 15, &event));
    assert_eq!(problem(dir.path()), Some(Tamper::Inserted { seq: 15 }));
}

#[test]
fn tamper_3b_inserting_a_record_with_a_made_up_hash_names_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    ledger_of(dir.path(), 30);
    let conn = tamper(dir.path());
    renumber(&conn, 15, 1);
    let prev = column(&conn, 14, "hash");
    insert_row(&conn, 15, &forged_event(15), &prev, &[7; 32]);
    assert_eq!(problem(dir.path()), Some(Tamper::Inserted { seq: 15 }));
}

#[test]
fn tamper_3c_appending_a_record_linked_to_nothing_names_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    ledger_of(dir.path(), 30);
    insert_row(
        &tamper(dir.path()),
        31,
        &forged_event(31),
        &[1; 32],
        &[2; 32],
    );
    let found = problem(dir.path());
    assert_eq!(found, Some(Tamper::Inserted { seq: 31 }));
    assert_eq!(
        found.expect("a problem").to_string(),
        "a forged record was inserted at #31: it is not part of the hash chain"
    );
}

#[test]
fn tamper_3d_a_row_numbered_zero_is_out_of_range() {
    let dir = tempfile::tempdir().expect("temp dir");
    ledger_of(dir.path(), 30);
    insert_row(&tamper(dir.path()), 0, &forged_event(0), &[0; 32], &[2; 32]);
    assert_eq!(problem(dir.path()), Some(Tamper::OutOfRange { seq: 0 }));
}

#[test]
fn tamper_4_swapping_two_records_numbers_names_the_first() {
    let dir = tempfile::tempdir().expect("temp dir");
    ledger_of(dir.path(), 30);
    let conn = tamper(dir.path());
    conn.execute_batch(
        "UPDATE ledger SET seq = -1 WHERE seq = 14;
         UPDATE ledger SET seq = 14 WHERE seq = 15;
         UPDATE ledger SET seq = 15 WHERE seq = -1;",
    )
    .expect("swap");
    let found = problem(dir.path());
    assert_eq!(
        found,
        Some(Tamper::Reordered {
            seq: 14,
            with_seq: 15
        })
    );
    assert_eq!(
        found.expect("a problem").to_string(),
        "records #14 and #15 were swapped: each sits in the other's place in the hash chain"
    );
}

#[test]
fn tamper_4b_exchanging_two_records_bytes_names_the_first() {
    let dir = tempfile::tempdir().expect("temp dir");
    ledger_of(dir.path(), 30);
    let conn = tamper(dir.path());
    let (first, second) = (column(&conn, 12, "event"), column(&conn, 17, "event"));
    conn.execute("UPDATE ledger SET event = ?1 WHERE seq = 12", [&second])
        .expect("swap");
    conn.execute("UPDATE ledger SET event = ?1 WHERE seq = 17", [&first])
        .expect("swap");
    assert_eq!(
        problem(dir.path()),
        Some(Tamper::Reordered {
            seq: 12,
            with_seq: 17
        })
    );
}

#[test]
fn tamper_4c_swapping_distant_records_names_the_first() {
    let dir = tempfile::tempdir().expect("temp dir");
    ledger_of(dir.path(), 30);
    tamper(dir.path())
        .execute_batch(
            "UPDATE ledger SET seq = -1 WHERE seq = 5;
             UPDATE ledger SET seq = 5 WHERE seq = 25;
             UPDATE ledger SET seq = 25 WHERE seq = -1;",
        )
        .expect("swap");
    assert_eq!(
        problem(dir.path()),
        Some(Tamper::Reordered {
            seq: 5,
            with_seq: 25
        })
    );
}

#[test]
fn tamper_5_deleting_the_last_records_is_caught_by_the_checkpoint() {
    let dir = tempfile::tempdir().expect("temp dir");
    ledger_of(dir.path(), 30);
    tamper(dir.path())
        .execute("DELETE FROM ledger WHERE seq > 24", [])
        .expect("delete");
    let found = problem(dir.path());
    assert_eq!(
        found,
        Some(Tamper::TailTruncated {
            checkpoint_seq: 30,
            last_seq: 24
        })
    );
    assert_eq!(found.as_ref().map(Tamper::first_bad_seq), Some(25));
    assert_eq!(
        found.expect("a problem").to_string(),
        "records after #24 were deleted: the ledger ends at #24 but a signed checkpoint covers \
         records up to #30"
    );
}

#[test]
fn tamper_5b_a_truncated_ledger_keeps_auditing_and_keeps_the_gap_visible() {
    let dir = tempfile::tempdir().expect("temp dir");
    ledger_of(dir.path(), 30);
    tamper(dir.path())
        .execute("DELETE FROM ledger WHERE seq > 24", [])
        .expect("delete");
    let log = AuditLog::open(dir.path()).expect("reopen");
    let seq = log
        .append_blocking(read_record("alice", "p1", 31))
        .expect("appended");
    assert_eq!(seq, 31);
    drop(log);
    assert_eq!(
        problem(dir.path()),
        Some(Tamper::Deleted {
            first_missing_seq: 25,
            last_missing_seq: 30
        })
    );
}

#[test]
fn tamper_6_a_corrupted_checkpoint_signature_is_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    ledger_of(dir.path(), 30);
    let conn = tamper(dir.path());
    let signature: Vec<u8> = conn
        .query_row(
            "SELECT signature FROM checkpoints WHERE seq = 20",
            [],
            |row| row.get(0),
        )
        .expect("checkpoint");
    let mut corrupted = signature;
    corrupted[5] ^= 1;
    conn.execute(
        "UPDATE checkpoints SET signature = ?1 WHERE seq = 20",
        [&corrupted],
    )
    .expect("corrupt");
    assert_eq!(
        problem(dir.path()),
        Some(Tamper::BadCheckpointSignature { seq: 20 })
    );
}

#[test]
fn tamper_6b_a_checkpoint_signed_by_a_substituted_key_fails() {
    let dir = tempfile::tempdir().expect("temp dir");
    ledger_of(dir.path(), 30);
    let conn = tamper(dir.path());
    conn.execute("UPDATE keys SET public_key = ?1", [&[9u8; 32][..]])
        .expect("replace key");
    assert_eq!(
        problem(dir.path()),
        Some(Tamper::BadCheckpointSignature { seq: 10 })
    );
}

#[test]
fn tamper_7_rewriting_the_chain_consistently_is_caught_by_the_checkpoint() {
    let dir = tempfile::tempdir().expect("temp dir");
    ledger_of(dir.path(), 30);
    let conn = tamper(dir.path());
    let mut prev = column(&conn, 14, "hash");
    for seq in 15..=30 {
        let event = replace_bytes(&column(&conn, seq, "event"), b"alice", b"mallory");
        let hash = chain_hash(&prev, seq, &event);
        conn.execute(
            "UPDATE ledger SET event = ?1, prev = ?2, hash = ?3 WHERE seq = ?4",
            rusqlite::params![event, prev, hash, seq],
        )
        .expect("rewrite");
        prev = hash;
    }
    let found = problem(dir.path());
    assert_eq!(
        found,
        Some(Tamper::CheckpointMismatch {
            seq: 20,
            since_seq: 10
        })
    );
    let found = found.expect("a problem");
    assert!(found.first_bad_seq() <= 15);
    assert_eq!(
        found.to_string(),
        "records between #11 and #20 were rewritten: the chain is consistent but its hash at \
         #20 differs from the signed checkpoint"
    );
}

// Search.

#[test]
fn search_filters_by_patient_agent_time_and_codes_newest_first() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = AuditLog::open(dir.path()).expect("open");
    let base = 1_700_000_000_000;
    for n in 0..40u64 {
        let agent = if n % 2 == 0 { "alice" } else { "bob" };
        let patient = format!("p{}", n % 4);
        let mut record = read_record(agent, &patient, n);
        record.recorded = base + i64::try_from(n).expect("small") * 1000;
        if n % 10 == 9 {
            record.interaction = "delete".into();
            record.action = Action::Delete;
            record.outcome = Outcome::MinorFailure;
        }
        log.append_blocking(record).expect("appended");
    }
    let login = AuditRecord::new(
        Category::Login,
        "login",
        Action::Execute,
        Outcome::Success,
        "carol",
        AgentKind::User,
    );
    log.append_blocking(login).expect("appended");

    let seqs = |query: AuditQuery| -> Vec<u64> {
        log.search(&query)
            .expect("search")
            .into_iter()
            .map(|(seq, _)| seq)
            .collect()
    };
    // Patient p1 is n = 1, 5, 9, …, 37 (seq n + 1), newest first, with or without the prefix.
    let p1 = seqs(AuditQuery {
        patient: Some("p1".into()),
        ..AuditQuery::default()
    });
    assert_eq!(p1, [38, 34, 30, 26, 22, 18, 14, 10, 6, 2]);
    assert_eq!(
        seqs(AuditQuery {
            patient: Some("Patient/p1".into()),
            ..AuditQuery::default()
        }),
        p1
    );
    assert_eq!(
        seqs(AuditQuery {
            patient: Some("p1".into()),
            agent: Some("alice".into()),
            ..AuditQuery::default()
        }),
        Vec::<u64>::new()
    );
    assert_eq!(
        seqs(AuditQuery {
            agent: Some("bob".into()),
            recorded_ge: Some(base + 10_000),
            recorded_lt: Some(base + 20_000),
            ..AuditQuery::default()
        }),
        [20, 18, 16, 14, 12]
    );
    assert_eq!(
        seqs(AuditQuery {
            recorded_gt: Some(base + 35_000),
            recorded_le: Some(base + 37_000),
            ..AuditQuery::default()
        }),
        [38, 37]
    );
    assert_eq!(
        seqs(AuditQuery {
            interaction: Some("delete".into()),
            ..AuditQuery::default()
        }),
        [40, 30, 20, 10]
    );
    assert_eq!(
        seqs(AuditQuery {
            action: Some(Action::Delete),
            outcome: Some(Outcome::MinorFailure),
            ..AuditQuery::default()
        }),
        [40, 30, 20, 10]
    );
    assert_eq!(
        seqs(AuditQuery {
            type_code: Some("110114".into()),
            ..AuditQuery::default()
        }),
        [41]
    );
    assert_eq!(
        seqs(AuditQuery {
            category: Some(Category::Login),
            ..AuditQuery::default()
        }),
        [41]
    );
    // Paging: a page of 3, then the next page after its last record.
    let first_page = seqs(AuditQuery {
        agent: Some("alice".into()),
        count: Some(3),
        ..AuditQuery::default()
    });
    assert_eq!(first_page, [39, 37, 35]);
    assert_eq!(
        seqs(AuditQuery {
            agent: Some("alice".into()),
            count: Some(3),
            before_seq: Some(35),
            ..AuditQuery::default()
        }),
        [33, 31, 29]
    );
    assert_eq!(
        seqs(AuditQuery {
            count: Some(0),
            ..AuditQuery::default()
        }),
        Vec::<u64>::new()
    );
    let everything = log.search(&AuditQuery::default()).expect("search");
    assert_eq!(everything.len(), 41);
    let (seq, event) = &everything[0];
    assert_eq!(Some(event.clone()), log.read(*seq).expect("read"));
}

#[test]
fn search_returns_at_most_the_maximum_count() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = AuditLog::open(dir.path()).expect("open");
    let tickets: Vec<_> = (0..1100)
        .map(|n| log.record(read_record("alice", "p1", n)))
        .collect();
    for ticket in tickets {
        ticket.blocking_wait().expect("appended");
    }
    let found = log
        .search(&AuditQuery {
            count: Some(5000),
            ..AuditQuery::default()
        })
        .expect("search");
    assert_eq!(found.len(), medulla_audit::MAX_COUNT);
    assert_eq!(found[0].0, 1100);
}

// The AuditEvent shape.

#[test]
fn a_rest_read_becomes_a_complete_r4_audit_event() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = AuditLog::open(dir.path()).expect("open");
    let mut record = AuditRecord::new(
        Category::Rest,
        "search-type",
        Action::Read,
        Outcome::Success,
        "alice",
        AgentKind::User,
    );
    record.recorded = 1_714_566_600_250;
    record.patient = Some("p1".into());
    record.entities = vec!["Observation/o1".into(), "Observation/o2".into()];
    record.query = Some("Observation?patient=p1&code=1234-5".into());
    record.network_address = Some("192.0.2.10".into());
    record.purpose_of_use = vec!["TREAT".into()];
    record.outcome_desc = Some("2 results".into());
    let seq = log.append_blocking(record).expect("appended");
    let bytes = log.read(seq).expect("read").expect("present");
    let event: Value = serde_json::from_slice(&bytes).expect("JSON");
    let query = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        "Observation?patient=p1&code=1234-5",
    );
    assert_eq!(
        event,
        json!({
            "resourceType": "AuditEvent",
            "id": "1",
            "meta": {"versionId": "1", "lastUpdated": "2024-05-01T12:30:00.250Z"},
            "type": {
                "system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
                "code": "rest",
                "display": "Restful Operation"
            },
            "subtype": [{"system": "http://hl7.org/fhir/restful-interaction", "code": "search-type"}],
            "action": "R",
            "recorded": "2024-05-01T12:30:00.250Z",
            "outcome": "0",
            "outcomeDesc": "2 results",
            "purposeOfEvent": [{"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
                "code": "TREAT"
            }]}],
            "agent": [{
                "type": {"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/extra-security-role-type",
                    "code": "humanuser",
                    "display": "human user"
                }]},
                "who": {"identifier": {"value": "alice"}},
                "requestor": true,
                "network": {"address": "192.0.2.10", "type": "2"}
            }],
            "source": {
                "observer": {"display": "Medulla"},
                "type": [{
                    "system": "http://terminology.hl7.org/CodeSystem/security-source-type",
                    "code": "4",
                    "display": "Application Server"
                }]
            },
            "entity": [
                {
                    "what": {"reference": "Patient/p1"},
                    "type": {
                        "system": "http://terminology.hl7.org/CodeSystem/audit-entity-type",
                        "code": "1",
                        "display": "Person"
                    },
                    "role": {
                        "system": "http://terminology.hl7.org/CodeSystem/object-role",
                        "code": "1",
                        "display": "Patient"
                    }
                },
                {
                    "what": {"reference": "Observation/o1"},
                    "type": {
                        "system": "http://terminology.hl7.org/CodeSystem/audit-entity-type",
                        "code": "2",
                        "display": "System Object"
                    }
                },
                {
                    "what": {"reference": "Observation/o2"},
                    "type": {
                        "system": "http://terminology.hl7.org/CodeSystem/audit-entity-type",
                        "code": "2",
                        "display": "System Object"
                    }
                },
                {
                    "type": {
                        "system": "http://terminology.hl7.org/CodeSystem/audit-entity-type",
                        "code": "2",
                        "display": "System Object"
                    },
                    "role": {
                        "system": "http://terminology.hl7.org/CodeSystem/object-role",
                        "code": "24",
                        "display": "Query"
                    },
                    "query": query
                }
            ]
        })
    );
    // The stored bytes are the hashed bytes: compact, in FHIR's element order.
    assert!(bytes.starts_with(br#"{"resourceType":"AuditEvent","id":"1","meta":{"#));
}

#[test]
fn an_unset_recorded_time_is_filled_with_now() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = AuditLog::open(dir.path()).expect("open");
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis();
    let seq = log
        .append_blocking(read_record("alice", "p1", 1))
        .expect("appended");
    let found = log
        .search(&AuditQuery {
            recorded_ge: Some(i64::try_from(before).expect("fits")),
            ..AuditQuery::default()
        })
        .expect("search");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, seq);
    let event: Value = serde_json::from_slice(&found[0].1).expect("JSON");
    let recorded = event["recorded"].as_str().expect("recorded");
    assert_eq!(recorded.len(), "2024-05-01T12:30:00.250Z".len());
    assert!(recorded.ends_with('Z'));
}

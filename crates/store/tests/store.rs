//! Store behaviour over a real SQLite database in a temp directory.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use medulla_store::*;

fn open() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path(), SqliteOptions::default()).unwrap();
    (dir, store)
}

fn put(
    store: &SqliteStore,
    id: &str,
    version: u64,
    body: Option<&str>,
    index: Option<IndexRows>,
) -> Result<Timestamp, Error> {
    let id = id.to_owned();
    let body = body.map(|b| b.as_bytes().to_vec());
    write(store, move |tx| {
        let now = tx.now();
        tx.put(&NewVersion {
            resource_type: "Patient",
            id: &id,
            version,
            last_updated: now,
            method: if body.is_some() {
                Method::Put
            } else {
                Method::Delete
            },
            body: body.as_deref(),
            index: index.as_ref(),
        })?;
        Ok(now)
    })
    .blocking_wait()
}

fn assert_conflict(result: Result<Timestamp, Error>, expected: u64, found: u64) {
    match result {
        Err(Error::VersionConflict {
            expected: e,
            found: f,
            ..
        }) => assert_eq!((e, f), (expected, found)),
        other => panic!("expected a version conflict, got {other:?}"),
    }
}

/// A refused version 1 inside a job leaves the job usable: the next resource gets the next
/// sequence number, and each resource points at its own version.
#[test]
fn a_refused_create_does_not_disturb_the_next_one() {
    let (_dir, store) = open();
    put(&store, "a", 1, Some("{\"v\":1}"), None).unwrap();
    let outcome = write(&store, |tx| {
        let now = tx.now();
        let new = |id: &'static str, body: &'static [u8]| NewVersion {
            resource_type: "Patient",
            id,
            version: 1,
            last_updated: now,
            method: Method::Put,
            body: Some(body),
            index: None,
        };
        let refused = tx.put(&new("a", b"{\"v\":9}"));
        tx.put(&new("b", b"{\"b\":1}"))?;
        tx.put(&new("c", b"{\"c\":1}"))?;
        Ok::<_, Error>(refused.is_err())
    })
    .blocking_wait()
    .unwrap();
    assert!(outcome);
    for (id, body) in [("a", "{\"v\":1}"), ("b", "{\"b\":1}"), ("c", "{\"c\":1}")] {
        let current = store.read("Patient", id).unwrap().unwrap();
        assert_eq!(
            (current.version, current.body.as_deref()),
            (1, Some(body.as_bytes()))
        );
    }
    let history = store
        .history(&HistoryQuery {
            scope: HistoryScope::System,
            since: None,
            at: None,
            count: 10,
            before_seq: None,
        })
        .unwrap();
    let ids: Vec<_> = history.entries.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["c", "b", "a"]);
}

#[test]
fn versions_are_kept_and_conflicts_rejected() {
    let (_dir, store) = open();
    put(&store, "a", 1, Some("{\"v\":1}"), None).unwrap();
    put(&store, "a", 2, Some("{\"v\":2}"), None).unwrap();
    assert_conflict(put(&store, "a", 2, Some("{\"v\":3}"), None), 2, 2);
    // Version 1 of a resource that exists (even deleted, below) is a conflict naming its version.
    assert_conflict(put(&store, "a", 1, Some("{\"v\":0}"), None), 1, 2);
    put(&store, "a", 3, None, None).unwrap();
    assert_conflict(put(&store, "a", 1, Some("{}"), None), 1, 3);
    let current = store.read("Patient", "a").unwrap().unwrap();
    assert_eq!((current.version, current.is_deleted()), (3, true));
    let first = store.vread("Patient", "a", 1).unwrap().unwrap();
    assert_eq!(first.body.as_deref(), Some(&b"{\"v\":1}"[..]));
    assert_eq!(store.vread("Patient", "a", 9).unwrap(), None);
    let history = store
        .history(&HistoryQuery {
            scope: HistoryScope::Instance("Patient".into(), "a".into()),
            since: None,
            at: None,
            count: 2,
            before_seq: None,
        })
        .unwrap();
    assert_eq!(
        history
            .entries
            .iter()
            .map(|e| e.version)
            .collect::<Vec<_>>(),
        vec![3, 2]
    );
    let rest = store
        .history(&HistoryQuery {
            scope: HistoryScope::Instance("Patient".into(), "a".into()),
            since: None,
            at: None,
            count: 2,
            before_seq: history.next_before_seq,
        })
        .unwrap();
    assert_eq!(
        rest.entries.iter().map(|e| e.version).collect::<Vec<_>>(),
        vec![1]
    );
    assert_eq!(rest.next_before_seq, None);
}

#[test]
fn a_failed_job_leaves_no_trace_and_does_not_harm_its_batch() {
    let (_dir, store) = open();
    let failing = write(&store, |tx| {
        let now = tx.now();
        tx.put(&NewVersion {
            resource_type: "Patient",
            id: "x",
            version: 1,
            last_updated: now,
            method: Method::Post,
            body: Some(b"{}"),
            index: None,
        })?;
        Err::<(), Error>(Error::InvalidCursor("abort on purpose".into()))
    });
    let ok = write(&store, |tx| {
        let now = tx.now();
        tx.put(&NewVersion {
            resource_type: "Patient",
            id: "y",
            version: 1,
            last_updated: now,
            method: Method::Post,
            body: Some(b"{}"),
            index: None,
        })
    });
    assert!(failing.blocking_wait().is_err());
    ok.blocking_wait().unwrap();
    assert_eq!(store.read("Patient", "x").unwrap(), None);
    assert_eq!(
        store.read("Patient", "y").unwrap().map(|r| r.version),
        Some(1)
    );
}

#[test]
fn concurrent_writers_all_land() {
    let (_dir, store) = open();
    let store = std::sync::Arc::new(store);
    let tickets: Vec<_> = (0..200)
        .map(|n| {
            let id = format!("p{n}");
            write(store.as_ref(), move |tx| {
                let now = tx.now();
                tx.put(&NewVersion {
                    resource_type: "Patient",
                    id: &id,
                    version: 1,
                    last_updated: now,
                    method: Method::Post,
                    body: Some(b"{}"),
                    index: None,
                })
            })
        })
        .collect();
    for ticket in tickets {
        ticket.blocking_wait().unwrap();
    }
    assert_eq!(store.stats().unwrap().resources, 200);
}

#[test]
fn token_search_and_paging() {
    let (_dir, store) = open();
    for n in 0..5 {
        let index = IndexRows {
            tokens: vec![TokenRow {
                param: "identifier".into(),
                system: Some("urn:mrn".into()),
                code: Some(format!("{}", n % 2)),
                text: None,
            }],
            ..IndexRows::default()
        };
        put(&store, &format!("p{n}"), 1, Some("{}"), Some(index)).unwrap();
    }
    let query = |after: Option<PageKey>, system: TokenSystem| SearchQuery {
        resource_types: vec!["Patient".into()],
        clauses: vec![Clause(vec![Predicate::Token {
            param: "identifier".into(),
            system,
            code: Some("0".into()),
        }])],
        count: 2,
        after,
        total: true,
        ..SearchQuery::default()
    };
    let first = store
        .search(&query(None, TokenSystem::Is("urn:mrn".into())))
        .unwrap();
    assert_eq!(
        first
            .resources
            .iter()
            .map(|r| r.id.as_str())
            .collect::<Vec<_>>(),
        vec!["p0", "p2"]
    );
    assert_eq!(first.total, Some(3));
    let second = store.search(&query(first.next, TokenSystem::Any)).unwrap();
    assert_eq!(
        second
            .resources
            .iter()
            .map(|r| r.id.as_str())
            .collect::<Vec<_>>(),
        vec!["p4"]
    );
    assert_eq!(second.next, None);
    let none = store.search(&query(None, TokenSystem::None)).unwrap();
    assert!(none.resources.is_empty());
    // Deleting drops the index rows.
    put(&store, "p0", 2, None, None).unwrap();
    let after_delete = store.search(&query(None, TokenSystem::Any)).unwrap();
    assert_eq!(after_delete.total, Some(2));
    assert_eq!(store.stats().unwrap().index_rows, 4);
}

#[test]
fn data_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SqliteStore::open(dir.path(), SqliteOptions::default()).unwrap();
        put(&store, "kept", 1, Some("{\"a\":1}"), None).unwrap();
    }
    let store = SqliteStore::open(dir.path(), SqliteOptions::default()).unwrap();
    assert_eq!(
        store.read("Patient", "kept").unwrap().map(|r| r.version),
        Some(1)
    );
}

#[test]
fn a_store_of_another_layout_version_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("medulla.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE resources (x); PRAGMA user_version = 2;")
            .unwrap();
    }
    let error = SqliteStore::open(dir.path(), SqliteOptions::default()).unwrap_err();
    assert!(
        matches!(
            error,
            Error::SchemaVersion {
                found: 2,
                expected: 3
            }
        ),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains("export it with the build that wrote it")
    );
    // Nothing was created in the old database.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let tables: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))
        .unwrap();
    assert_eq!(tables, 1);
}

#[test]
fn committed_pages_reach_the_database_file_in_the_background() {
    let (dir, store) = open();
    let database = dir.path().join("medulla.db");
    let filler = "x".repeat(2000);
    write(&store, move |tx| {
        let now = tx.now();
        for n in 0..2000 {
            let body = format!(r#"{{"resourceType":"Patient","id":"p{n}","note":"{filler}"}}"#);
            tx.put(&NewVersion {
                resource_type: "Patient",
                id: &format!("p{n}"),
                version: 1,
                last_updated: now,
                method: Method::Put,
                body: Some(body.as_bytes()),
                index: None,
            })?;
        }
        Ok::<_, Error>(())
    })
    .blocking_wait()
    .unwrap();
    // The commit went to the log; no commit checkpoints by itself, so only the background
    // checkpoint can have copied ~4 MB into the database file while the store is still open.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let size = std::fs::metadata(&database).unwrap().len();
        if size > 4_000_000 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the database file is still {size} bytes"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(store.read("Patient", "p1999").unwrap().is_some());
}

#[test]
fn records_are_written_with_the_transaction_and_keep_their_numbers() {
    let (_dir, store) = open();
    let first = write(&store, |tx| {
        assert!(tx.record("log", "a")?.is_none());
        let seq = tx.put_record("log", "a", b"one", Some(b"raw"))?;
        assert_eq!(tx.record("log", "a")?.unwrap().value, b"one");
        Ok::<_, Error>(seq)
    })
    .blocking_wait()
    .unwrap();
    // Replacing keeps the number; a failed job leaves nothing behind.
    let second = write(&store, |tx| tx.put_record("log", "a", b"two", None))
        .blocking_wait()
        .unwrap();
    assert_eq!(first, second);
    let failed: Result<(), Error> = write(&store, |tx| {
        tx.put_record("log", "b", b"lost", None)?;
        Err(Error::CommitFailed("on purpose".into()))
    })
    .blocking_wait();
    assert!(failed.is_err());
    write(&store, |tx| {
        tx.put_record("other", "a", b"x", None).map(|_| ())
    })
    .blocking_wait()
    .unwrap();
    let all = store.records("log", 0, 10).unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(
        (all[0].key.as_str(), all[0].value.as_slice()),
        ("a", &b"two"[..])
    );
    assert_eq!(all[0].data, None);
    assert_eq!(store.record_by_seq("log", first).unwrap().unwrap().key, "a");
    assert!(store.record_by_seq("other", first).unwrap().is_none());
    assert!(store.records("log", first, 10).unwrap().is_empty());
}

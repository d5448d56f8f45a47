//! Query plans of typical searches: each index-table lookup must go through an index, never a
//! full scan of an index table (or of `resources`).
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use medulla_store::*;

fn rows(n: usize) -> IndexRows {
    IndexRows {
        tokens: vec![TokenRow {
            param: "code".into(),
            system: Some("http://loinc.org".into()),
            code: Some(format!("{}", n % 7)),
            text: None,
        }],
        dates: vec![DateRow {
            param: "date".into(),
            low: i64::try_from(n).unwrap() * 1_000_000,
            high: i64::try_from(n).unwrap() * 1_000_000 + 1_000_000,
        }],
        references: vec![ReferenceRow {
            param: "subject".into(),
            target_type: Some("Patient".into()),
            target_id: Some(format!("p{}", n % 11)),
            target_version: None,
            url: None,
        }],
        ..IndexRows::default()
    }
}

fn populated() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path(), SqliteOptions::default()).unwrap();
    load(&store);
    (dir, store)
}

fn load(store: &SqliteStore) {
    let tickets: Vec<_> = (0..50)
        .map(|n| {
            let index = rows(n);
            write(store, move |tx| {
                let now = tx.now();
                tx.put(&NewVersion {
                    resource_type: "Observation",
                    id: &format!("o{n}"),
                    version: 1,
                    last_updated: now,
                    method: Method::Post,
                    body: Some(b"{}"),
                    index: Some(&index),
                })
            })
        })
        .collect();
    for ticket in tickets {
        ticket.blocking_wait().unwrap();
    }
}

fn token_query() -> SearchQuery {
    observations(
        vec![Clause(vec![Predicate::Token {
            param: "code".into(),
            system: TokenSystem::Is("http://loinc.org".into()),
            code: Some("3".into()),
        }])],
        Vec::new(),
    )
}

fn value_indexes(dir: &std::path::Path) -> usize {
    let conn = rusqlite::Connection::open(dir.join("medulla.db")).unwrap();
    conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name GLOB 'idx_*'",
        [],
        |row| row.get(0),
    )
    .unwrap()
}

fn bulk_options() -> SqliteOptions {
    SqliteOptions {
        bulk_load_when_empty: true,
        ..SqliteOptions::default()
    }
}

#[test]
fn a_bulk_load_into_an_empty_store_builds_the_value_indexes_at_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let bulk = bulk_options();
    let store = SqliteStore::open(dir.path(), bulk.clone()).unwrap();
    assert_eq!(value_indexes(dir.path()), 0);
    load(&store);
    // Without its index the search scans, and still finds what it should.
    assert_eq!(store.search(&token_query()).unwrap().resources.len(), 7);
    store.finish_bulk_load().unwrap();
    // Everything is in the database file; the log is empty although the store is still open.
    let log = std::fs::metadata(dir.path().join("medulla.db-wal")).map_or(0, |m| m.len());
    assert_eq!(log, 0);
    drop(store);
    assert_eq!(value_indexes(dir.path()), 10);

    // A store that holds resources keeps its indexes, even when asked to defer them.
    let store = SqliteStore::open(dir.path(), bulk).unwrap();
    assert_eq!(value_indexes(dir.path()), 10);
    assert_indexed(&store, &token_query(), "idx_token_value");
    assert_eq!(store.search(&token_query()).unwrap().resources.len(), 7);
}

#[test]
fn a_bulk_load_that_stops_early_gets_its_indexes_at_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    let bulk = bulk_options();
    let store = SqliteStore::open(dir.path(), bulk).unwrap();
    load(&store);
    // A process that stops without closing (killed) never builds them; leaking the store
    // skips its close, as a kill would.
    std::mem::forget(store);
    assert_eq!(value_indexes(dir.path()), 0);
    let store = SqliteStore::open(dir.path(), SqliteOptions::default()).unwrap();
    assert_eq!(value_indexes(dir.path()), 10);
    assert_indexed(&store, &token_query(), "idx_token_value");
}

fn observations(clauses: Vec<Clause>, sort: Vec<SortKey>) -> SearchQuery {
    SearchQuery {
        resource_types: vec!["Observation".into()],
        clauses,
        sort,
        count: 10,
        after: None,
        total: false,
    }
}

/// Asserts that no step of the plan scans a whole table and that `index` is used; returns the
/// plan for the failure message of the caller.
fn assert_indexed(store: &SqliteStore, query: &SearchQuery, index: &str) -> Vec<String> {
    let plan = store.explain(query).unwrap();
    let scans: Vec<&String> = plan
        .iter()
        .filter(|step| step.starts_with("SCAN ") && !step.contains(" USING "))
        .collect();
    assert_eq!(scans, Vec::<&String>::new(), "full scans in {plan:#?}");
    assert!(
        plan.iter()
            .any(|step| step.contains(&format!("USING INDEX {index}"))
                || step.contains(&format!("USING {index}"))
                || step.contains(&format!("USING COVERING INDEX {index}"))),
        "{index} is not used: {plan:#?}"
    );
    plan
}

#[test]
fn typical_searches_use_indexes() {
    let (_dir, store) = populated();
    let token = observations(
        vec![Clause(vec![Predicate::Token {
            param: "code".into(),
            system: TokenSystem::Is("http://loinc.org".into()),
            code: Some("3".into()),
        }])],
        Vec::new(),
    );
    assert_indexed(&store, &token, "idx_token_value");
    assert_eq!(store.search(&token).unwrap().resources.len(), 7);

    let reference = observations(
        vec![Clause(vec![Predicate::Reference {
            param: "subject".into(),
            target_type: Some("Patient".into()),
            target_id: Some("p4".into()),
            target_version: None,
            url: None,
        }])],
        Vec::new(),
    );
    assert_indexed(&store, &reference, "idx_reference_target");
    assert_eq!(store.search(&reference).unwrap().resources.len(), 5);

    let date_sorted = observations(
        vec![Clause(vec![Predicate::Date {
            param: "date".into(),
            prefix: Prefix::Ge,
            low: 20_000_000,
            high: 21_000_000,
        }])],
        vec![SortKey {
            param: "date".into(),
            kind: SortKind::Index(IndexKind::Date),
            descending: true,
        }],
    );
    // Most rows match, so the date clause is probed per resource rather than listed.
    assert_indexed(&store, &date_sorted, "PRIMARY KEY");
    let page = store.search(&date_sorted).unwrap();
    let ids: Vec<&str> = page.resources.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids,
        vec![
            "o49", "o48", "o47", "o46", "o45", "o44", "o43", "o42", "o41", "o40"
        ]
    );

    // A narrow date range drives the query through the value index.
    let narrow = observations(
        vec![Clause(vec![Predicate::Date {
            param: "date".into(),
            prefix: Prefix::Eq,
            low: 20_000_000,
            high: 21_000_000,
        }])],
        date_sorted.sort.clone(),
    );
    assert_indexed(&store, &narrow, "idx_date_value");
    let page = store.search(&narrow).unwrap();
    assert_eq!(
        page.resources
            .iter()
            .map(|r| r.id.as_str())
            .collect::<Vec<_>>(),
        vec!["o20"]
    );

    // Token AND reference, as a chart review would ask.
    let both = observations(
        vec![token.clauses[0].clone(), reference.clauses[0].clone()],
        vec![SortKey {
            param: "_lastUpdated".into(),
            kind: SortKind::LastUpdated,
            descending: true,
        }],
    );
    assert_indexed(&store, &both, "idx_reference_target");
    // o{n} with n % 7 == 3 and n % 11 == 4: n = 4 + 11k, 4+11k ≡ 3 (mod 7) → k = 5 → n = 59 > 49.
    assert_eq!(store.search(&both).unwrap().resources.len(), 0);

    // The clause that does not drive is probed per candidate through the primary key, not
    // by walking the value index's range for the code (which grows with the table).
    let probe = observations(
        vec![
            reference.clauses[0].clone(),
            Clause(vec![Predicate::Token {
                param: "code".into(),
                system: TokenSystem::Any,
                code: Some("4".into()),
            }]),
        ],
        Vec::new(),
    );
    let plan = assert_indexed(&store, &probe, "idx_reference_target");
    assert!(
        plan.iter()
            .any(|step| step.contains("USING PRIMARY KEY (res_key=?)")),
        "the token probe does not use the primary key: {plan:#?}"
    );
    assert!(
        !plan.iter().any(|step| step.contains("idx_token_value")),
        "{plan:#?}"
    );
    // p4's observations are o4, o15, o26, o37, o48; of those only o4 has code 4 (4 % 7).
    assert_eq!(store.search(&probe).unwrap().resources.len(), 1);
}

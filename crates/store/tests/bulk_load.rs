//! Bulk load into an empty store: the id key is left out while loading, and a resource stored
//! more than once is merged into versions (or removed when unchanged) when the load finishes,
//! whether it finishes normally, is resumed after a stop, or is finished by the next opening.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use medulla_store::*;
use std::sync::Arc;

/// Test bodies are `VERSION|CONTENT`: the store must compare them by content and restamp the
/// version through these rules alone.
#[derive(Debug)]
struct Bodies;

impl StampedBodies for Bodies {
    fn same_content(&self, earlier: &[u8], later: &[u8]) -> bool {
        content(earlier) == content(later)
    }

    fn restamp(
        &self,
        body: &[u8],
        version: u64,
        _last_updated: Timestamp,
    ) -> Result<Vec<u8>, String> {
        Ok(format!("{version}|{}", content(body)).into_bytes())
    }
}

fn content(body: &[u8]) -> &str {
    let text = std::str::from_utf8(body).unwrap();
    text.split_once('|').unwrap().1
}

fn options(bulk: bool) -> SqliteOptions {
    SqliteOptions {
        bulk_load_when_empty: bulk,
        bodies: Some(Arc::new(Bodies)),
        ..SqliteOptions::default()
    }
}

/// Loads `(id, content)` pairs as first versions, one job each, as an import does; returns
/// whether the jobs saw a bulk load.
fn load(store: &SqliteStore, resources: &[(&str, &str)]) -> bool {
    let tickets: Vec<_> = resources
        .iter()
        .map(|&(id, content)| {
            let id = id.to_owned();
            let body = format!("1|{content}");
            let index = IndexRows {
                tokens: vec![TokenRow {
                    param: "code".into(),
                    system: None,
                    code: Some(content.to_owned()),
                    text: None,
                }],
                text: Some(content.to_owned()),
                ..IndexRows::default()
            };
            write(store, move |tx| {
                let now = tx.now();
                tx.put(&NewVersion {
                    resource_type: "Observation",
                    id: &id,
                    version: 1,
                    last_updated: now,
                    method: Method::Put,
                    body: Some(body.as_bytes()),
                    index: Some(&index),
                })?;
                Ok::<_, Error>(tx.bulk_loading())
            })
        })
        .collect();
    let seen: Vec<bool> = tickets
        .into_iter()
        .map(|ticket| ticket.blocking_wait().unwrap())
        .collect();
    seen.into_iter().all(|bulk| bulk)
}

/// Puts one version of `Observation/id`, without index rows, as a job of its own.
fn put(
    store: &SqliteStore,
    id: &'static str,
    version: u64,
    body: &'static str,
) -> Result<(), Error> {
    write(store, move |tx| {
        let now = tx.now();
        tx.put(&NewVersion {
            resource_type: "Observation",
            id,
            version,
            last_updated: now,
            method: Method::Put,
            body: Some(body.as_bytes()),
            index: None,
        })
    })
    .blocking_wait()
}

fn ids_with_code(store: &SqliteStore, code: &str) -> Vec<String> {
    let query = SearchQuery {
        resource_types: vec!["Observation".into()],
        clauses: vec![Clause(vec![Predicate::Token {
            param: "code".into(),
            system: TokenSystem::Any,
            code: Some(code.into()),
        }])],
        sort: Vec::new(),
        count: 100,
        after: None,
        total: false,
    };
    let mut ids: Vec<String> = store
        .search(&query)
        .unwrap()
        .resources
        .into_iter()
        .map(|resource| resource.id)
        .collect();
    ids.sort();
    ids
}

fn count(dir: &std::path::Path, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(dir.join("medulla.db")).unwrap();
    conn.query_row(sql, [], |row| row.get(0)).unwrap()
}

/// SQLite's own check of every table and index.
fn assert_intact(dir: &std::path::Path) {
    let conn = rusqlite::Connection::open(dir.join("medulla.db")).unwrap();
    let report: String = conn
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(report, "ok");
}

fn body(resource: &StoredResource) -> String {
    String::from_utf8(resource.body.clone().unwrap()).unwrap()
}

/// What every test's load ends with: `a` is "x" then "y" (its unchanged copies gone), `b` and
/// `c` are single versions.
fn assert_merged(dir: &std::path::Path, store: &SqliteStore) {
    assert_intact(dir);
    let a = store.read("Observation", "a").unwrap().unwrap();
    assert_eq!((a.version, body(&a)), (2, "2|y".to_owned()));
    let first = store.vread("Observation", "a", 1).unwrap().unwrap();
    assert_eq!(body(&first), "1|x");
    assert!(first.seq < a.seq && first.last_updated < a.last_updated);
    let b = store.read("Observation", "b").unwrap().unwrap();
    assert_eq!((b.version, body(&b)), (1, "1|z".to_owned()));
    assert_eq!(count(dir, "SELECT count(*) FROM resources"), 3);
    assert_eq!(count(dir, "SELECT count(*) FROM versions"), 4);
    // Index rows and full text are the current versions' only.
    assert_eq!(ids_with_code(store, "x"), Vec::<String>::new());
    assert_eq!(ids_with_code(store, "y"), vec!["a".to_owned()]);
    assert_eq!(ids_with_code(store, "z"), vec!["b".to_owned()]);
    assert_eq!(count(dir, "SELECT count(*) FROM idx_token"), 3);
    assert_eq!(count(dir, "SELECT count(*) FROM fts_docsize"), 3);
    // The id key is back: a second first version of `a` is a conflict.
    let again = put(store, "a", 1, "1|w");
    assert!(
        matches!(again, Err(Error::VersionConflict { found: 2, .. })),
        "{again:?}"
    );
}

const FIRST_HALF: &[(&str, &str)] = &[("a", "x"), ("b", "z"), ("a", "x")];
const SECOND_HALF: &[(&str, &str)] = &[("a", "y"), ("c", "w"), ("a", "y"), ("b", "z")];

#[test]
fn copies_of_a_resource_become_its_versions_or_go_when_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path(), options(true)).unwrap();
    assert!(load(&store, FIRST_HALF));
    assert!(load(&store, SECOND_HALF));
    let merged = store.finish_bulk_load().unwrap();
    assert_eq!(
        merged,
        BulkLoadMerge {
            unchanged: 3,
            unchanged_before: 0,
            versions: 1
        }
    );
    let store = SqliteStore::open(dir.path(), options(true)).unwrap();
    assert!(
        !load(&store, &[("d", "v")]),
        "a store with resources is no bulk load"
    );
    assert_eq!(store.finish_bulk_load().unwrap(), BulkLoadMerge::default());
    let store = SqliteStore::open(dir.path(), options(false)).unwrap();
    assert_eq!(count(dir.path(), "SELECT count(*) FROM resources"), 4);
    assert_eq!(ids_with_code(&store, "v"), vec!["d".to_owned()]);
}

#[test]
fn a_bulk_load_stopped_early_goes_on_when_opened_for_one_again() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path(), options(true)).unwrap();
    assert!(load(&store, FIRST_HALF));
    // Leaking the store skips its close, as a kill would.
    std::mem::forget(store);
    let store = SqliteStore::open(dir.path(), options(true)).unwrap();
    assert!(load(&store, SECOND_HALF), "the load goes on");
    assert_eq!(
        store.finish_bulk_load().unwrap(),
        BulkLoadMerge {
            unchanged: 2,
            unchanged_before: 1,
            versions: 1
        }
    );
    let store = SqliteStore::open(dir.path(), options(false)).unwrap();
    assert_merged(dir.path(), &store);
}

#[test]
fn a_bulk_load_stopped_early_is_finished_by_the_next_opening() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path(), options(true)).unwrap();
    assert!(load(&store, FIRST_HALF));
    assert!(load(&store, SECOND_HALF));
    std::mem::forget(store);
    // Copies need the body rules to be merged: without them the store refuses to open, and
    // nothing in it changes.
    let refused = SqliteStore::open(dir.path(), SqliteOptions::default());
    assert!(
        matches!(refused, Err(Error::UnfinishedBulkLoad)),
        "{refused:?}"
    );
    assert_eq!(count(dir.path(), "SELECT count(*) FROM resources"), 7);
    let store = SqliteStore::open(dir.path(), options(false)).unwrap();
    assert_merged(dir.path(), &store);
    assert!(!load(&store, &[("d", "v")]));
}

#[test]
fn a_bulk_load_writes_first_versions_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path(), options(true)).unwrap();
    assert!(load(&store, &[("a", "x")]));
    let later = put(&store, "a", 2, "2|y");
    assert!(matches!(later, Err(Error::CommitFailed(_))), "{later:?}");
    store.finish_bulk_load().unwrap();
    assert_eq!(count(dir.path(), "SELECT count(*) FROM versions"), 1);
}

#[test]
fn an_index_a_finishing_load_did_not_get_to_build_is_built_by_the_next_opening() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path(), options(true)).unwrap();
    assert!(load(&store, &[("a", "x"), ("b", "y")]));
    store.finish_bulk_load().unwrap();
    drop(store);
    // As if the process stopped after the id key and before the last value index.
    let conn = rusqlite::Connection::open(dir.path().join("medulla.db")).unwrap();
    conn.execute_batch("DROP INDEX idx_composite_value")
        .unwrap();
    drop(conn);
    let present = "SELECT count(*) FROM sqlite_master WHERE name = 'idx_composite_value'";
    assert_eq!(count(dir.path(), present), 0);
    let store = SqliteStore::open(dir.path(), SqliteOptions::default()).unwrap();
    assert_eq!(count(dir.path(), present), 1);
    assert_eq!(ids_with_code(&store, "y"), vec!["b".to_owned()]);
}

#[test]
fn a_load_going_on_after_a_finish_stopped_while_merging_appends_versions() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path(), options(true)).unwrap();
    assert!(load(&store, FIRST_HALF));
    assert!(load(&store, SECOND_HALF));
    store.finish_bulk_load().unwrap();
    drop(store);
    // What a finish leaves when it stops between two pages of merging: some resources merged
    // into versions, no id key yet, the index of copies still there.
    let conn = rusqlite::Connection::open(dir.path().join("medulla.db")).unwrap();
    conn.execute_batch(
        "DROP INDEX resources_by_id; \
         CREATE INDEX resources_by_id_copies ON resources (res_type, res_id);",
    )
    .unwrap();
    drop(conn);
    let store = SqliteStore::open(dir.path(), options(true)).unwrap();
    let copies_index = "SELECT count(*) FROM sqlite_master WHERE name = 'resources_by_id_copies'";
    assert_eq!(
        count(dir.path(), copies_index),
        0,
        "the load goes on without it"
    );
    assert!(load(&store, &[("a", "y"), ("a", "q"), ("b", "z")]));
    assert_eq!(
        store.finish_bulk_load().unwrap(),
        BulkLoadMerge {
            unchanged: 2,
            unchanged_before: 0,
            versions: 1
        }
    );
    let store = SqliteStore::open(dir.path(), options(false)).unwrap();
    let versions: Vec<String> = (1..=3)
        .map(|version| body(&store.vread("Observation", "a", version).unwrap().unwrap()))
        .collect();
    assert_eq!(versions, ["1|x", "2|y", "3|q"]);
    assert_eq!(store.read("Observation", "a").unwrap().unwrap().version, 3);
    assert_eq!(ids_with_code(&store, "q"), vec!["a".to_owned()]);
    assert_eq!(ids_with_code(&store, "y"), Vec::<String>::new());
    assert_eq!(count(dir.path(), "SELECT count(*) FROM resources"), 3);
    assert_eq!(count(dir.path(), "SELECT count(*) FROM versions"), 5);
    assert_intact(dir.path());
}

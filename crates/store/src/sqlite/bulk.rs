//! Bulk load into an empty store: what it leaves out while loading, and how it ends.
//!
//! A bulk load (NDJSON import into an empty store, `SqliteOptions::bulk_load_when_empty`)
//! writes resources without the indexes whose inserts land on random B-tree pages: the unique
//! key of resources by type and id (ids are random, so every new resource dirtied a leaf of its
//! own, half of the log's frames at 767,386 resources) and the search value indexes. Its end
//! ([`finish`]) builds them by sorting, which costs a fraction of inserting row by row.
//!
//! Without the id key, nothing stops one resource from being stored twice while loading: the
//! same id twice in the input, or the files loaded again after a crash. [`finish`] merges such
//! copies before it creates the key: a copy whose content equals the one before it is removed,
//! and the others become that resource's later versions, in load order. So a load ends with
//! what the row-by-row path would have written.
//!
//! A store is in a bulk load exactly while it has no id key (the key is dropped in the same
//! transaction that starts the load, and created in the one that ends its merging), which is
//! how an opening after a crash knows.

use super::index_rows;
use super::schema::{self, ID_KEY, VALUE_INDEXES};
use crate::{BulkLoadMerge, Error, StampedBodies, Timestamp};
use rusqlite::{Connection, ErrorCode};

/// Whether the store has its unique key of resources by type and id (a store written before
/// the key had its own name has SQLite's automatic one).
pub(crate) fn id_key_exists(conn: &Connection) -> Result<bool, Error> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'index' \
         AND name IN ('resources_by_id', 'sqlite_autoindex_resources_1'))",
        [],
        |row| row.get(0),
    )?)
}

/// The first `res_key` a write of this opening can get: copies from it on are its own.
pub(crate) fn watermark(conn: &Connection) -> Result<i64, Error> {
    Ok(conn.query_row(
        "SELECT ifnull(max(res_key), 0) + 1 FROM resources",
        [],
        |row| row.get(0),
    )?)
}

/// Whether the store has every index a bulk load leaves out: false while one is going on, or
/// when one stopped before its end had built them all.
pub(crate) fn is_finished(conn: &Connection) -> Result<bool, Error> {
    let expected = VALUE_INDEXES.matches("CREATE INDEX").count();
    Ok(value_index_names(conn)?.len() >= expected && id_key_exists(conn)?)
}

/// The value indexes the store has: the explicit indexes of the `idx_*` tables (their primary
/// keys are SQLite's own, with no SQL).
fn value_index_names(conn: &Connection) -> Result<Vec<String>, Error> {
    Ok(conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name GLOB 'idx_*' \
             AND sql IS NOT NULL",
        )?
        .query_map([], |row| row.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?)
}

/// Starts a bulk load if the store holds no resource: drops the id key (by making the empty
/// `resources` table again, which also turns an older layout's automatic key into a named one)
/// and the value indexes. Returns whether it did.
pub(crate) fn begin_if_empty(conn: &Connection) -> Result<bool, Error> {
    let tx = conn.unchecked_transaction()?;
    let is_empty = tx.query_row("SELECT NOT EXISTS (SELECT 1 FROM resources)", [], |row| {
        row.get::<_, bool>(0)
    })?;
    if is_empty {
        tx.execute_batch("DROP TABLE resources")?;
        schema::create(&tx)?;
        for name in value_index_names(&tx)? {
            // Names come from the schema, never from input.
            tx.execute_batch(&format!("DROP INDEX \"{name}\""))?;
        }
    }
    tx.commit()?;
    Ok(is_empty)
}

/// Ends a bulk load on a connection of its own: merges resources stored more than once (see
/// the module's documentation; `bodies` compares and restamps them; copies from `watermark` on
/// are counted as this opening's), creates the id key, then
/// builds the value indexes, sorting on both cores and spilling to temporary files rather than
/// memory, with a bounded page cache.
///
/// # Errors
/// [`Error::UnfinishedBulkLoad`] when copies need merging and `bodies` is `None`; a database
/// error (a full disk). The id key and its merging commit together, so a failure leaves the
/// load unfinished, to be finished by the next opening.
pub(crate) fn finish(
    database: &std::path::Path,
    bodies: Option<&dyn StampedBodies>,
    watermark: i64,
) -> Result<BulkLoadMerge, Error> {
    let conn = Connection::open(database)?;
    conn.busy_timeout(std::time::Duration::from_secs(60))?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "temp_store", "FILE")?;
    conn.pragma_update(None, "cache_size", -65_536)?;
    conn.pragma_update(None, "threads", 2)?;
    let merged = create_id_key(&conn, bodies, watermark)?;
    conn.execute_batch(VALUE_INDEXES)?;
    // The build is the load's last write: copy it into the database file and empty the log,
    // which the store's idle readers would otherwise keep at its largest size.
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    Ok(merged)
}

/// Creates the unique id key, merging copies first if there are any.
fn create_id_key(
    conn: &Connection,
    bodies: Option<&dyn StampedBodies>,
    watermark: i64,
) -> Result<BulkLoadMerge, Error> {
    if id_key_exists(conn)? {
        return Ok(BulkLoadMerge::default());
    }
    // Usually no id is stored twice, and the key is one sort.
    match conn.execute_batch(ID_KEY) {
        Ok(()) => return Ok(BulkLoadMerge::default()),
        Err(rusqlite::Error::SqliteFailure(error, _))
            if error.code == ErrorCode::ConstraintViolation => {}
        Err(error) => return Err(error.into()),
    }
    let bodies = bodies.ok_or(Error::UnfinishedBulkLoad)?;
    conn.execute_batch(COPIES_INDEX)?;
    // What to do is decided first (reading), then done in the order of the rows on disk: a load
    // resumed after a crash has a copy of everything loaded before it, and removing them id by
    // id dirtied a random page of every table per copy.
    conn.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS copies_gone (res_key INTEGER PRIMARY KEY, seq INTEGER NOT NULL);
         CREATE TEMP TABLE IF NOT EXISTS copies_versioned (res_type TEXT NOT NULL, res_id TEXT NOT NULL);
         DELETE FROM temp.copies_gone; DELETE FROM temp.copies_versioned;",
    )?;
    let mut merged = BulkLoadMerge::default();
    let mut after = (String::new(), String::new());
    loop {
        // Keyset pages of ids; the transaction writes the temporary tables only.
        let tx = conn.unchecked_transaction()?;
        let ids = tx
            .prepare_cached(
                "SELECT res_type, res_id FROM resources WHERE (res_type, res_id) > (?1, ?2) \
                 GROUP BY res_type, res_id HAVING count(*) > 1 ORDER BY res_type, res_id LIMIT 4096",
            )?
            .query_map((&after.0, &after.1), |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<Result<Vec<(String, String)>, _>>()?;
        let Some(last) = ids.last() else { break };
        after = last.clone();
        for (resource_type, id) in &ids {
            let (changed, unchanged) = sort_copies(bodies, read_copies(&tx, resource_type, id)?);
            if changed.len() > 1 {
                tx.prepare_cached("INSERT INTO temp.copies_versioned VALUES (?1, ?2)")?
                    .execute((resource_type, id))?;
                continue;
            }
            for copy in unchanged {
                merged.count_unchanged(copy.res_key, watermark);
                tx.prepare_cached("INSERT INTO temp.copies_gone VALUES (?1, ?2)")?
                    .execute((copy.res_key, copy.seq))?;
            }
        }
        tx.commit()?;
    }
    // Copies with other content, rare: each page of ids merged and committed together.
    let mut after = 0_i64;
    loop {
        let tx = conn.unchecked_transaction()?;
        let ids = tx
            .prepare_cached(
                "SELECT rowid, res_type, res_id FROM temp.copies_versioned WHERE rowid > ?1 \
                 ORDER BY rowid LIMIT 512",
            )?
            .query_map([after], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
            .collect::<Result<Vec<(i64, String, String)>, _>>()?;
        let Some(last) = ids.last() else { break };
        after = last.0;
        for (_, resource_type, id) in &ids {
            merge_versions(&tx, bodies, resource_type, id, watermark, &mut merged)?;
        }
        tx.commit()?;
    }
    // Unchanged copies, in the order of their keys (which is the order they were loaded in).
    // Full text: FTS5 merges its segments as rows change, and merging through this many
    // deletions was two thirds of the time; the segments merge as usual once it is back on.
    conn.execute_batch(FTS_MERGE_OFF)?;
    let mut after = 0_i64;
    loop {
        let tx = conn.unchecked_transaction()?;
        let last: Option<i64> = tx.query_row(
            "SELECT max(res_key) FROM (SELECT res_key FROM temp.copies_gone WHERE res_key > ?1 \
             ORDER BY res_key LIMIT 20000)",
            [after],
            |row| row.get(0),
        )?;
        let Some(last) = last else { break };
        let range =
            "IN (SELECT res_key FROM temp.copies_gone WHERE res_key > ?1 AND res_key <= ?2)";
        for table in REMOVED_ROWS {
            // Table names come from the fixed list above, never from input.
            tx.prepare_cached(&format!("DELETE FROM {table} WHERE res_key {range}"))?
                .execute((after, last))?;
        }
        tx.prepare_cached(
            "DELETE FROM versions WHERE seq IN \
             (SELECT seq FROM temp.copies_gone WHERE res_key > ?1 AND res_key <= ?2)",
        )?
        .execute((after, last))?;
        let keys = tx
            .prepare_cached(
                "SELECT res_key FROM temp.copies_gone WHERE res_key > ?1 AND res_key <= ?2",
            )?
            .query_map((after, last), |row| row.get::<_, i64>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        for key in keys {
            tx.prepare_cached("DELETE FROM fts WHERE rowid = ?1")?
                .execute([key])?;
        }
        tx.commit()?;
        after = last;
    }
    let tx = conn.unchecked_transaction()?;
    tx.execute_batch(
        "DROP INDEX resources_by_id_copies; DROP TABLE temp.copies_gone; \
         DROP TABLE temp.copies_versioned;",
    )?;
    tx.execute_batch(ID_KEY)?;
    tx.execute_batch(FTS_MERGE_ON)?;
    tx.commit()?;
    tracing::info!(
        unchanged = merged.unchanged,
        unchanged_before = merged.unchanged_before,
        versions = merged.versions,
        "bulk load: resources stored more than once were merged"
    );
    Ok(merged)
}

/// FTS5's automatic merging off, then back at its default (4).
const FTS_MERGE_OFF: &str = "INSERT INTO fts (fts, rank) VALUES ('automerge', 0)";
const FTS_MERGE_ON: &str = "INSERT INTO fts (fts, rank) VALUES ('automerge', 4)";

/// The tables whose rows of a removed copy go by `res_key` (full text apart).
const REMOVED_ROWS: [&str; 9] = [
    "resources",
    "idx_string",
    "idx_token",
    "idx_date",
    "idx_number",
    "idx_quantity",
    "idx_reference",
    "idx_uri",
    "idx_composite",
];

impl BulkLoadMerge {
    fn count_unchanged(&mut self, res_key: i64, watermark: i64) {
        if res_key >= watermark {
            self.unchanged += 1;
        } else {
            self.unchanged_before += 1;
        }
    }
}

/// The index that finds copies while merging (and only then: a load that goes on drops it).
const COPIES_INDEX: &str =
    "CREATE INDEX IF NOT EXISTS resources_by_id_copies ON resources (res_type, res_id)";

/// Drops the index of an earlier finish that stopped while merging: a load that goes on would
/// otherwise insert into it row by row.
pub(crate) fn drop_copies_index(conn: &Connection) -> Result<(), Error> {
    conn.execute_batch("DROP INDEX IF EXISTS resources_by_id_copies")?;
    Ok(())
}

/// One stored copy of a resource: its row and its current version.
struct StoredCopy {
    res_key: i64,
    version: u64,
    seq: i64,
    last_updated: i64,
    body: Vec<u8>,
}

/// The copies of one id, in load order. Copies are first versions, except that the first may
/// have more (merged by an earlier finish that stopped before the id key was built, the load
/// then going on).
fn read_copies(conn: &Connection, resource_type: &str, id: &str) -> Result<Vec<StoredCopy>, Error> {
    let mut copies = Vec::new();
    let mut select = conn.prepare_cached(
        "SELECT r.res_key, r.version, v.seq, v.last_updated, v.body \
         FROM resources r JOIN versions v ON v.seq = r.version_seq \
         WHERE r.res_type = ?1 AND r.res_id = ?2 ORDER BY r.res_key",
    )?;
    let mut rows = select.query((resource_type, id))?;
    while let Some(row) = rows.next()? {
        let version = u64::try_from(row.get::<_, i64>(1)?).unwrap_or(0);
        let body: Option<Vec<u8>> = row.get(4)?;
        // A bulk load writes first versions of new resources only (the writer refuses others).
        let Some(body) = body.filter(|_| version == 1 || copies.is_empty()) else {
            return Err(Error::CommitFailed(format!(
                "{resource_type}/{id}: a bulk-loaded copy is not a first version with a body"
            )));
        };
        copies.push(StoredCopy {
            res_key: row.get(0)?,
            version,
            seq: row.get(2)?,
            last_updated: row.get(3)?,
            body,
        });
    }
    Ok(copies)
}

/// The copies whose content changed from the copy before them (the first always), and the
/// others.
fn sort_copies(
    bodies: &dyn StampedBodies,
    copies: Vec<StoredCopy>,
) -> (Vec<StoredCopy>, Vec<StoredCopy>) {
    let mut changed: Vec<StoredCopy> = Vec::with_capacity(copies.len());
    let mut unchanged = Vec::new();
    for copy in copies {
        match changed.last() {
            Some(before) if bodies.same_content(&before.body, &copy.body) => unchanged.push(copy),
            _ => changed.push(copy),
        }
    }
    (changed, unchanged)
}

/// Merges the copies of one id into the last copy whose content changed: its row stays (its
/// index rows and full text are the current version's); the first copy keeps its versions'
/// numbers, each later changed copy's version follows them; every other row goes.
fn merge_versions(
    conn: &Connection,
    bodies: &dyn StampedBodies,
    resource_type: &str,
    id: &str,
    watermark: i64,
    merged: &mut BulkLoadMerge,
) -> Result<(), Error> {
    let (changed, unchanged) = sort_copies(bodies, read_copies(conn, resource_type, id)?);
    for copy in unchanged {
        remove_resource(conn, copy.res_key)?;
        conn.prepare_cached("DELETE FROM versions WHERE seq = ?1")?
            .execute([copy.seq])?;
        merged.count_unchanged(copy.res_key, watermark);
    }
    let (Some(first), Some(survivor)) = (changed.first(), changed.last()) else {
        return Ok(());
    };
    if first.res_key == survivor.res_key {
        return Ok(());
    }
    let (first_key, first_versions, survivor) = (first.res_key, first.version, survivor.res_key);
    let later = changed.len() as u64 - 1;
    conn.prepare_cached("UPDATE resources SET version = ?2 WHERE res_key = ?1")?
        .execute((survivor, (first_versions + later) as i64))?;
    // The survivor's own version first: it leaves (survivor, 1), which the first copy's
    // version 1 moves to last.
    for (number, copy) in changed.iter().enumerate().skip(1).rev() {
        let version = first_versions + number as u64;
        let body = bodies
            .restamp(&copy.body, version, Timestamp(copy.last_updated))
            .map_err(|reason| {
                Error::CommitFailed(format!("{resource_type}/{id} version {version}: {reason}"))
            })?;
        conn.prepare_cached(
            "UPDATE versions SET res_key = ?2, version = ?3, body = ?4 WHERE seq = ?1",
        )?
        .execute((copy.seq, survivor, version as i64, body))?;
        if copy.res_key != survivor {
            remove_resource(conn, copy.res_key)?;
        }
    }
    conn.prepare_cached("UPDATE versions SET res_key = ?2 WHERE res_key = ?1")?
        .execute((first_key, survivor))?;
    remove_resource(conn, first_key)?;
    merged.versions += later;
    Ok(())
}

/// Removes a resource row with its index rows and full text (not its versions).
fn remove_resource(conn: &Connection, res_key: i64) -> Result<(), Error> {
    conn.prepare_cached("DELETE FROM resources WHERE res_key = ?1")?
        .execute([res_key])?;
    index_rows::delete(conn, res_key)?;
    conn.prepare_cached("DELETE FROM fts WHERE rowid = ?1")?
        .execute([res_key])?;
    Ok(())
}

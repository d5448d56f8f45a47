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

/// Whether the store has every index a bulk load leaves out: false while one is going on, or
/// when one stopped before its end had built them all.
pub(crate) fn is_finished(conn: &Connection) -> Result<bool, Error> {
    let expected = VALUE_INDEXES.matches("CREATE INDEX").count();
    let value_indexes: usize = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name GLOB 'idx_*' \
         AND sql IS NOT NULL",
        [],
        |row| row.get(0),
    )?;
    Ok(value_indexes >= expected && id_key_exists(conn)?)
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
        let names = tx
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name GLOB 'idx_*' \
                 AND sql IS NOT NULL",
            )?
            .query_map([], |row| row.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        for name in names {
            // Names come from the schema, never from input.
            tx.execute_batch(&format!("DROP INDEX \"{name}\""))?;
        }
    }
    tx.commit()?;
    Ok(is_empty)
}

/// Ends a bulk load on a connection of its own: merges resources stored more than once (see
/// the module's documentation; `bodies` compares and restamps them), creates the id key, then
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
) -> Result<BulkLoadMerge, Error> {
    let conn = Connection::open(database)?;
    conn.busy_timeout(std::time::Duration::from_secs(60))?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "temp_store", "FILE")?;
    conn.pragma_update(None, "cache_size", -65_536)?;
    conn.pragma_update(None, "threads", 2)?;
    let merged = create_id_key(&conn, bodies)?;
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
    let tx = conn.unchecked_transaction()?;
    tx.execute_batch("CREATE INDEX resources_by_id_copies ON resources (res_type, res_id)")?;
    let mut merged = BulkLoadMerge::default();
    let mut after = (String::new(), String::new());
    loop {
        // Keyset pages, because merging removes rows behind the cursor.
        let ids = tx
            .prepare_cached(
                "SELECT res_type, res_id FROM resources WHERE (res_type, res_id) > (?1, ?2) \
                 GROUP BY res_type, res_id HAVING count(*) > 1 ORDER BY res_type, res_id LIMIT 512",
            )?
            .query_map((&after.0, &after.1), |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<Result<Vec<(String, String)>, _>>()?;
        let Some(last) = ids.last() else { break };
        after = last.clone();
        for (resource_type, id) in &ids {
            merge_copies(&tx, bodies, resource_type, id, &mut merged)?;
        }
    }
    tx.execute_batch("DROP INDEX resources_by_id_copies")?;
    tx.execute_batch(ID_KEY)?;
    tx.commit()?;
    tracing::info!(
        unchanged = merged.unchanged,
        versions = merged.versions,
        "bulk load: resources stored more than once were merged"
    );
    Ok(merged)
}

/// One stored copy of a resource: its row and its only version.
struct Copy {
    res_key: i64,
    seq: i64,
    last_updated: i64,
    body: Vec<u8>,
}

/// Merges the copies of one resource, in load order, into the last copy whose content
/// changed: its row stays (its index rows and full text are the current version's); the
/// other changed copies' versions move to it as versions 1, 2, …; every other row goes.
fn merge_copies(
    conn: &Connection,
    bodies: &dyn StampedBodies,
    resource_type: &str,
    id: &str,
    merged: &mut BulkLoadMerge,
) -> Result<(), Error> {
    let mut copies = Vec::new();
    let mut select = conn.prepare_cached(
        "SELECT r.res_key, r.version, v.seq, v.last_updated, v.body \
         FROM resources r JOIN versions v ON v.seq = r.version_seq \
         WHERE r.res_type = ?1 AND r.res_id = ?2 ORDER BY r.res_key",
    )?;
    let mut rows = select.query((resource_type, id))?;
    while let Some(row) = rows.next()? {
        let version: i64 = row.get(1)?;
        let body: Option<Vec<u8>> = row.get(4)?;
        // A bulk load writes first versions of new resources only (the writer refuses others).
        let (1, Some(body)) = (version, body) else {
            return Err(Error::CommitFailed(format!(
                "{resource_type}/{id}: a bulk-loaded copy is not a first version with a body"
            )));
        };
        copies.push(Copy {
            res_key: row.get(0)?,
            seq: row.get(2)?,
            last_updated: row.get(3)?,
            body,
        });
    }
    drop(rows);
    let mut changed: Vec<Copy> = Vec::with_capacity(copies.len());
    for copy in copies {
        match changed.last() {
            Some(before) if bodies.same_content(&before.body, &copy.body) => {
                remove_resource(conn, copy.res_key)?;
                conn.prepare_cached("DELETE FROM versions WHERE seq = ?1")?
                    .execute([copy.seq])?;
                merged.unchanged += 1;
            }
            _ => changed.push(copy),
        }
    }
    let Some(survivor) = changed.last().map(|copy| copy.res_key) else {
        return Ok(());
    };
    let count = changed.len();
    conn.prepare_cached("UPDATE resources SET version = ?2 WHERE res_key = ?1")?
        .execute((survivor, i64::try_from(count).unwrap_or(i64::MAX)))?;
    // The survivor's own version first: it moves from 1 to `count`, freeing (survivor, 1).
    for (number, copy) in changed.iter().enumerate().rev() {
        let version = number as u64 + 1;
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
    merged.versions += count as u64 - 1;
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

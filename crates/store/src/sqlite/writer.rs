//! The writer thread: group commit of many jobs per transaction.

use super::checkpoint::{Checkpointer, WAL_LIMIT, count_frames, passive_checkpoint};
use super::index_rows::TextOp;
use super::params::ParamIds;
use super::{SharedAliases, current_aliases, index_rows, queries};
use crate::{
    Error, IndexRows, NewVersion, Record, SearchPage, SearchQuery, StoredResource, Timestamp,
    WriteJob, WriteTx,
};
use rusqlite::{Connection, OptionalExtension};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::mpsc::Receiver;

/// Upper bound on jobs sharing one commit, so one batch's latency stays bounded.
const MAX_JOBS_PER_BATCH: usize = 512;

struct SqliteWriteTx<'c> {
    conn: &'c Connection,
    aliases: &'c SharedAliases,
    params: &'c mut ParamIds,
    now: Timestamp,
    /// Full-text changes of this job, applied after the batch's jobs.
    text: Vec<TextOp>,
    inserts: index_rows::Inserts<'c>,
    /// The store is in a bulk load (see `super::bulk`).
    bulk_load: bool,
}

impl SqliteWriteTx<'_> {
    /// The error of a version-1 insert that failed: a version conflict when the resource
    /// exists (the unique key refused the row), else the failure itself.
    fn conflict_or(&self, new: &NewVersion<'_>, error: rusqlite::Error) -> Error {
        let found = self
            .conn
            .prepare_cached("SELECT version FROM resources WHERE res_type = ?1 AND res_id = ?2")
            .and_then(|mut select| {
                select
                    .query_row((new.resource_type, new.id), |row| row.get::<_, i64>(0))
                    .optional()
            });
        match found {
            Ok(Some(version)) => Error::VersionConflict {
                resource_type: new.resource_type.to_owned(),
                id: new.id.to_owned(),
                expected: new.version,
                found: u64::try_from(version).unwrap_or(0),
            },
            _ => error.into(),
        }
    }
}

impl WriteTx for SqliteWriteTx<'_> {
    fn now(&self) -> Timestamp {
        self.now
    }

    fn current(&mut self, resource_type: &str, id: &str) -> Result<Option<StoredResource>, Error> {
        queries::read(self.conn, resource_type, id)
    }

    fn bulk_loading(&self) -> bool {
        self.bulk_load
    }

    fn put(&mut self, new: &NewVersion<'_>) -> Result<(), Error> {
        let conn = self.conn;
        if self.bulk_load && new.version != 1 {
            // Without the id key a later version cannot find the one it follows for sure.
            return Err(Error::CommitFailed(format!(
                "{}/{}: a bulk load writes first versions only",
                new.resource_type, new.id
            )));
        }
        let version = i64::try_from(new.version).unwrap_or(i64::MAX);
        let deleted = i64::from(new.body.is_none());
        // Version 1 is a new resource, so inserting its row is the version check: the unique
        // (type, id) key refuses it when the resource exists. The row gets its final values and
        // the sequence number its version will have (the versions table's next rowid), so
        // nothing updates it afterwards; updating `last_updated`/`deleted` would rewrite its
        // entries in two indexes.
        // `created`: the sequence number the new row points at; `None` for an existing resource.
        let (res_key, created) = if new.version == 1 {
            // Its own statement: as a subquery of the INSERT with RETURNING, it gave the INSERT a
            // statement journal, whose release walks every page the transaction has dirtied.
            let seq: i64 = conn
                .prepare_cached("SELECT ifnull(max(seq), 0) + 1 FROM versions")?
                .query_row([], |row| row.get(0))?;
            let inserted = conn
                .prepare_cached(
                    "INSERT INTO resources (res_type, res_id, version, last_updated, deleted, version_seq) \
                     VALUES (?1, ?2, 1, ?3, ?4, ?5)",
                )?
                .execute((new.resource_type, new.id, new.last_updated.0, deleted, seq));
            match inserted {
                Ok(_) => (conn.last_insert_rowid(), Some(seq)),
                Err(error) => return Err(self.conflict_or(new, error)),
            }
        } else {
            let current: Option<(i64, i64)> = conn
                .prepare_cached(
                    "SELECT res_key, version FROM resources WHERE res_type = ?1 AND res_id = ?2",
                )?
                .query_row((new.resource_type, new.id), |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .optional()?;
            let current_version =
                current.map_or(0, |(_, version)| u64::try_from(version).unwrap_or(0));
            match current {
                Some((res_key, _)) if new.version == current_version + 1 => (res_key, None),
                _ => {
                    return Err(Error::VersionConflict {
                        resource_type: new.resource_type.to_owned(),
                        id: new.id.to_owned(),
                        expected: new.version,
                        found: current_version,
                    });
                }
            }
        };
        conn.prepare_cached(
            "INSERT INTO versions (seq, res_key, res_type, version, last_updated, method, body) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute((
            created,
            res_key,
            new.resource_type,
            version,
            new.last_updated.0,
            new.method.code(),
            new.body,
        ))?;
        if created.is_none() {
            let seq = conn.last_insert_rowid();
            conn.prepare_cached(
                "UPDATE resources SET version = ?2, last_updated = ?3, deleted = ?4, version_seq = ?5 \
                 WHERE res_key = ?1",
            )?
            .execute((res_key, version, new.last_updated.0, deleted, seq))?;
            index_rows::delete(conn, res_key)?;
            self.text.push(TextOp::Delete(res_key));
        }
        if let (Some(rows), Some(_)) = (new.index, new.body) {
            index_rows::insert(
                conn,
                self.params,
                &mut self.inserts,
                res_key,
                new.resource_type,
                rows,
            )?;
            self.text.extend(index_rows::text_of(res_key, rows));
        }
        Ok(())
    }

    fn replace_index(
        &mut self,
        resource_type: &str,
        id: &str,
        version: u64,
        rows: &IndexRows,
    ) -> Result<bool, Error> {
        let current: Option<(i64, i64, i64)> = self
            .conn
            .prepare_cached("SELECT res_key, version, deleted FROM resources WHERE res_type = ?1 AND res_id = ?2")?
            .query_row((resource_type, id), |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .optional()?;
        match current {
            Some((res_key, current_version, 0))
                if u64::try_from(current_version).ok() == Some(version) =>
            {
                index_rows::delete(self.conn, res_key)?;
                index_rows::insert(
                    self.conn,
                    self.params,
                    &mut self.inserts,
                    res_key,
                    resource_type,
                    rows,
                )?;
                self.text.push(TextOp::Delete(res_key));
                self.text.extend(index_rows::text_of(res_key, rows));
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn record(&mut self, kind: &str, key: &str) -> Result<Option<Record>, Error> {
        queries::record(self.conn, kind, key)
    }

    fn put_record(
        &mut self,
        kind: &str,
        key: &str,
        value: &[u8],
        data: Option<&[u8]>,
    ) -> Result<i64, Error> {
        queries::put_record(self.conn, kind, key, self.now, value, data)
    }

    fn delete_record(&mut self, kind: &str, key: &str) -> Result<bool, Error> {
        let deleted = self
            .conn
            .prepare_cached("DELETE FROM records WHERE kind = ?1 AND key = ?2")?
            .execute((kind, key))?;
        Ok(deleted > 0)
    }

    fn search(&mut self, query: &SearchQuery) -> Result<SearchPage, Error> {
        queries::search(self.conn, &current_aliases(self.aliases), query)
    }
}

/// Runs until every sender is dropped. Each loop takes all queued jobs (up to a cap), runs each
/// inside a savepoint of one transaction, commits once, then answers every job.
pub(crate) fn run(
    conn: Connection,
    jobs: Receiver<Box<dyn WriteJob>>,
    aliases: SharedAliases,
    checkpointer: Checkpointer,
    wal_path: &Path,
    bulk_load: bool,
) {
    let mut last_now = Timestamp(0);
    let mut params = ParamIds::default();
    // After the pragmas: `wal_autocheckpoint` replaces any WAL hook.
    conn.wal_hook(Some(count_frames));
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_JOBS_PER_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        // Strictly increasing per batch, so `_since` and history order agree with commit order.
        let now = Timestamp(Timestamp::now().0.max(last_now.0 + 1));
        last_now = now;
        let commit = run_batch(&conn, &aliases, &mut params, &mut batch, now, bulk_load);
        match &commit {
            Ok(()) => checkpointer.nudge(),
            Err(error) => {
                tracing::error!(%error, jobs = batch.len(), "write batch failed; rolled back");
            }
        }
        for job in batch {
            let result = match &commit {
                Ok(()) => Ok(()),
                Err(error) => Err(Error::CommitFailed(error.to_string())),
            };
            job.finish(result);
        }
        if checkpointer.take_caught_up() {
            // Between batches no commit adds frames: copying the short tail the background
            // checkpoint left lets the next transaction start the log over.
            if let Err(error) = passive_checkpoint(&conn) {
                tracing::warn!(%error, "checkpoint of the log's tail failed");
            }
        } else if std::fs::metadata(wal_path).is_ok_and(|wal| wal.len() > WAL_LIMIT) {
            // The background checkpoints have not caught up: copy everything and restart the
            // log here, between batches, waiting for readers of old snapshots if need be.
            if let Err(error) = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(())) {
                tracing::warn!(%error, "checkpoint of an oversized log failed");
            }
        }
    }
    // The writer's connection closes last, with a final checkpoint.
    checkpointer.stop();
    tracing::debug!("store writer stopped");
}

fn run_batch(
    conn: &Connection,
    aliases: &SharedAliases,
    params: &mut ParamIds,
    batch: &mut [Box<dyn WriteJob>],
    now: Timestamp,
    bulk_load: bool,
) -> Result<(), Error> {
    conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
    // A job alone in its batch needs no savepoint: if it fails, the whole transaction is its.
    let alone = batch.len() == 1;
    let mut text = Vec::new();
    for job in batch.iter_mut() {
        match run_job(conn, aliases, params, job.as_mut(), now, alone, bulk_load) {
            Ok(JobEnd::Kept(ops)) => text.extend(ops),
            Ok(JobEnd::Discarded) => {}
            Ok(JobEnd::RolledBackAll) => return Ok(()),
            Err(error) => {
                let _ = conn.execute_batch("ROLLBACK");
                params.forget();
                return Err(error);
            }
        }
    }
    let finished = text
        .iter()
        .try_for_each(|op| op.apply(conn))
        .and_then(|()| {
            conn.prepare_cached("COMMIT")
                .and_then(|mut commit| commit.execute([]))
                .map(drop)
                .map_err(Error::from)
        });
    if let Err(error) = finished {
        let _ = conn.execute_batch("ROLLBACK");
        params.forget();
        return Err(error);
    }
    Ok(())
}

/// How a job ended.
enum JobEnd {
    /// Its changes stay; these full-text changes are still to be made.
    Kept(Vec<TextOp>),
    /// It failed; its savepoint was rolled back.
    Discarded,
    /// It failed alone in its batch; the whole transaction was rolled back.
    RolledBackAll,
}

/// Runs one job in its own savepoint (unless `alone`); a failed or panicking job only rolls
/// back itself.
fn run_job(
    conn: &Connection,
    aliases: &SharedAliases,
    params: &mut ParamIds,
    job: &mut dyn WriteJob,
    now: Timestamp,
    alone: bool,
    bulk_load: bool,
) -> Result<JobEnd, Error> {
    if !alone {
        conn.prepare_cached("SAVEPOINT job")?.execute([])?;
    }
    let mut tx = SqliteWriteTx {
        conn,
        aliases,
        params,
        now,
        text: Vec::new(),
        inserts: index_rows::Inserts::default(),
        bulk_load,
    };
    let kept = catch_unwind(AssertUnwindSafe(|| job.run(&mut tx))).unwrap_or_else(|_| {
        tracing::error!("write job panicked; its changes were rolled back");
        false
    });
    let text = std::mem::take(&mut tx.text);
    // Its statements go back to the connection's cache before the savepoint ends.
    drop(tx);
    if kept {
        if !alone {
            conn.prepare_cached("RELEASE job")?.execute([])?;
        }
        return Ok(JobEnd::Kept(text));
    }
    params.forget();
    if alone {
        conn.prepare_cached("ROLLBACK")?.execute([])?;
        return Ok(JobEnd::RolledBackAll);
    }
    conn.prepare_cached("ROLLBACK TO job")?.execute([])?;
    conn.prepare_cached("RELEASE job")?.execute([])?;
    Ok(JobEnd::Discarded)
}

//! The embedded SQLite backend.

mod bulk;
mod checkpoint;
mod index_rows;
mod params;
mod queries;
mod schema;
mod search_sql;
mod vfs;
mod writer;

use crate::{
    BulkLoadMerge, Error, HistoryPage, HistoryQuery, Include, ParamAliases, Record, SearchPage,
    SearchQuery, StampedBodies, Store, StoreStats, StoredResource, WriteJob,
};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Condvar, Mutex, RwLock};

/// The declared parameter aliases, shared by readers and the writer.
pub(crate) type SharedAliases = Arc<RwLock<Arc<ParamAliases>>>;

/// The aliases in force now (none if the lock was poisoned by a panic elsewhere).
pub(crate) fn current_aliases(shared: &SharedAliases) -> Arc<ParamAliases> {
    shared
        .read()
        .map(|aliases| Arc::clone(&aliases))
        .unwrap_or_default()
}

/// Settings of the SQLite backend.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// `synchronous=FULL` (default): every commit is synced to disk before it is acknowledged.
    /// `false` uses `NORMAL`, which in WAL mode may lose the last commits on power loss; only for
    /// throwaway stores such as benchmarks' floors.
    pub synchronous_full: bool,
    /// Read connections open at most; further readers wait for one to be free.
    pub max_readers: usize,
    /// Page cache of the write connection, in MiB. Bulk import raises it so that the search
    /// indexes' B-tree pages it touches stay in memory; the bound holds whatever the input size.
    pub writer_cache_mib: usize,
    /// Bulk load into an empty store: when the store holds no resource at open (or holds an
    /// unfinished bulk load), the unique key of resources by type and id and the search value
    /// indexes are left out while loading, and [`SqliteStore::finish_bulk_load`] (or closing)
    /// builds them once from the loaded rows, by sorting, instead of inserting into them row by
    /// row. Meanwhile write jobs see [`crate::WriteTx::bulk_loading`]: a first version is not
    /// checked against existing ids, and a resource stored more than once is merged when the
    /// load finishes (see [`SqliteOptions::bodies`]). Only for loads that neither read nor
    /// search as they write (NDJSON import). If the process stops first, opening the store
    /// again with this option goes on with the load; opening it without finishes it.
    pub bulk_load_when_empty: bool,
    /// How to compare and restamp stored bodies, which finishing a bulk load needs when it
    /// stored one resource more than once. Without it, such a store cannot be finished (and
    /// fails to open with [`Error::UnfinishedBulkLoad`]).
    pub bodies: Option<Arc<dyn StampedBodies>>,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            synchronous_full: true,
            max_readers: 8,
            writer_cache_mib: 16,
            bulk_load_when_empty: false,
            bodies: None,
        }
    }
}

/// A store in one directory: `medulla.db` plus SQLite's WAL files.
///
/// One writer thread owns the only write connection; reads use a small pool of read-only
/// connections, which in WAL mode never block the writer or each other.
pub struct SqliteStore {
    database_path: PathBuf,
    options: SqliteOptions,
    jobs: Mutex<Option<Sender<Box<dyn WriteJob>>>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    readers: Mutex<ReaderPool>,
    reader_freed: Condvar,
    aliases: SharedAliases,
    /// A bulk load is going on: its indexes are still to be built.
    bulk_load: std::sync::atomic::AtomicBool,
    /// The first `res_key` this opening writes (see [`BulkLoadMerge::unchanged`]).
    watermark: i64,
}

/// Idle read connections and how many exist in all.
struct ReaderPool {
    idle: Vec<Connection>,
    open: usize,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("database_path", &self.database_path)
            .finish_non_exhaustive()
    }
}

/// The writer's connection: through the WAL-write VFS (see [`vfs`]) when every commit syncs,
/// which that VFS relies on; through the default VFS otherwise or if it cannot be registered.
fn open_writer_connection(path: &Path, synchronous_full: bool) -> Result<Connection, Error> {
    if synchronous_full {
        match vfs::register() {
            Ok(()) => {
                return Ok(Connection::open_with_flags_and_vfs(
                    path,
                    rusqlite::OpenFlags::default(),
                    vfs::NAME,
                )?);
            }
            Err(error) => {
                tracing::warn!(%error, "the WAL-write VFS is unavailable; using SQLite's default");
            }
        }
    }
    Ok(Connection::open(path)?)
}

impl SqliteStore {
    /// Opens (creating if needed) the store in `dir` and starts its writer thread.
    ///
    /// # Errors
    /// When the directory cannot be created or the database cannot be opened or migrated.
    pub fn open(dir: &Path, options: SqliteOptions) -> Result<SqliteStore, Error> {
        std::fs::create_dir_all(dir).map_err(|source| Error::OpenDirectory {
            path: dir.to_owned(),
            source,
        })?;
        let database_path = dir.join("medulla.db");
        let conn = open_writer_connection(&database_path, options.synchronous_full)?;
        schema::apply_pragmas(&conn, options.synchronous_full, options.writer_cache_mib)?;
        schema::create(&conn)?;
        let bulk_load = if !options.bulk_load_when_empty {
            false
        } else if bulk::id_key_exists(&conn)? {
            bulk::begin_if_empty(&conn)?
        } else {
            // A bulk load that stopped: it goes on.
            bulk::drop_copies_index(&conn)?;
            true
        };
        if !bulk_load && !bulk::is_finished(&conn)? {
            tracing::info!("finishing a bulk load that stopped before its end");
            bulk::finish(&database_path, options.bodies.as_deref(), i64::MAX)?;
        }
        let watermark = bulk::watermark(&conn)?;
        let (sender, receiver) = channel();
        let aliases = SharedAliases::default();
        let writer_aliases = Arc::clone(&aliases);
        let checkpointer =
            checkpoint::Checkpointer::start(&database_path, options.synchronous_full)?;
        let wal_path = dir.join("medulla.db-wal");
        let writer = std::thread::Builder::new()
            .name("medulla-store-writer".into())
            .spawn(move || {
                writer::run(
                    conn,
                    receiver,
                    writer_aliases,
                    checkpointer,
                    &wal_path,
                    bulk_load,
                );
            })
            .map_err(|source| Error::OpenDirectory {
                path: dir.to_owned(),
                source,
            })?;
        Ok(SqliteStore {
            database_path,
            options,
            jobs: Mutex::new(Some(sender)),
            writer: Mutex::new(Some(writer)),
            readers: Mutex::new(ReaderPool {
                idle: Vec::new(),
                open: 0,
            }),
            reader_freed: Condvar::new(),
            aliases,
            bulk_load: bulk_load.into(),
            watermark,
        })
    }

    /// The database file.
    pub fn database_path(&self) -> &Path {
        &self.database_path
    }

    /// Stops accepting writes, lets queued jobs finish, and waits for the writer thread; then
    /// finishes a bulk load (a failure is logged: the next opening finishes it).
    pub fn close(&self) {
        if let Err(error) = self.finish_bulk_load() {
            tracing::error!(%error, "finishing the bulk load failed; the next opening finishes it");
        }
    }

    /// Closes the store like [`SqliteStore::close`], reporting how a bulk load (see
    /// [`SqliteOptions::bulk_load_when_empty`]) finished: what merging resources stored more
    /// than once did (nothing when there was no bulk load).
    ///
    /// # Errors
    /// When merging or building an index fails (a full disk, or [`Error::UnfinishedBulkLoad`]
    /// without [`SqliteOptions::bodies`]); the loaded rows are committed regardless, and the
    /// next opening finishes the load.
    pub fn finish_bulk_load(&self) -> Result<BulkLoadMerge, Error> {
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.take();
        }
        let handle = self.writer.lock().ok().and_then(|mut writer| writer.take());
        if let Some(handle) = handle {
            let _ = handle.join();
        }
        if !self
            .bulk_load
            .swap(false, std::sync::atomic::Ordering::AcqRel)
        {
            return Ok(BulkLoadMerge::default());
        }
        let started = std::time::Instant::now();
        let merged = bulk::finish(
            &self.database_path,
            self.options.bodies.as_deref(),
            self.watermark,
        )?;
        tracing::info!(
            seconds = started.elapsed().as_secs_f64(),
            "bulk load finished: id key and search value indexes built"
        );
        Ok(merged)
    }

    /// Takes an idle read connection, opens one if fewer than `max_readers` exist, or waits.
    fn take_reader(&self) -> Result<Connection, Error> {
        let poisoned = || Error::CommitFailed("reader pool lock poisoned".into());
        let mut pool = self.readers.lock().map_err(|_| poisoned())?;
        loop {
            if let Some(conn) = pool.idle.pop() {
                return Ok(conn);
            }
            if pool.open < self.options.max_readers.max(1) {
                pool.open += 1;
                drop(pool);
                let opened = self.open_reader();
                if opened.is_err() {
                    let pool = self.readers.lock();
                    if let Ok(mut pool) = pool {
                        pool.open -= 1;
                    }
                }
                return opened;
            }
            pool = self.reader_freed.wait(pool).map_err(|_| poisoned())?;
        }
    }

    fn open_reader(&self) -> Result<Connection, Error> {
        let conn = Connection::open_with_flags(
            &self.database_path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        conn.pragma_update(None, "cache_size", -2048)?;
        conn.set_prepared_statement_cache_capacity(128);
        schema::stable_plans(&conn)?;
        Ok(conn)
    }

    fn with_reader<T>(&self, f: impl FnOnce(&Connection) -> Result<T, Error>) -> Result<T, Error> {
        let conn = self.take_reader()?;
        let result = f(&conn);
        if let Ok(mut pool) = self.readers.lock() {
            pool.idle.push(conn);
        }
        self.reader_freed.notify_one();
        result
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.close();
    }
}

impl Store for SqliteStore {
    fn read(&self, resource_type: &str, id: &str) -> Result<Option<StoredResource>, Error> {
        self.with_reader(|conn| queries::read(conn, resource_type, id))
    }

    fn vread(
        &self,
        resource_type: &str,
        id: &str,
        version: u64,
    ) -> Result<Option<StoredResource>, Error> {
        self.with_reader(|conn| queries::vread(conn, resource_type, id, version))
    }

    fn history(&self, query: &HistoryQuery) -> Result<HistoryPage, Error> {
        self.with_reader(|conn| queries::history(conn, query))
    }

    fn search(&self, query: &SearchQuery) -> Result<SearchPage, Error> {
        let aliases = current_aliases(&self.aliases);
        self.with_reader(|conn| queries::search(conn, &aliases, query))
    }

    fn include(
        &self,
        keys: &[i64],
        include: &Include,
    ) -> Result<Vec<(i64, StoredResource)>, Error> {
        self.with_reader(|conn| queries::include(conn, keys, include))
    }

    fn revinclude(
        &self,
        keys: &[i64],
        include: &Include,
    ) -> Result<Vec<(i64, StoredResource)>, Error> {
        self.with_reader(|conn| queries::revinclude(conn, keys, include))
    }

    fn scan(
        &self,
        queries: &[SearchQuery],
        visit: &mut dyn FnMut(StoredResource) -> Result<bool, Error>,
    ) -> Result<(), Error> {
        let aliases = current_aliases(&self.aliases);
        self.with_reader(|conn| queries::scan(conn, &aliases, queries, visit))
    }

    fn explain(&self, query: &SearchQuery) -> Result<Vec<String>, Error> {
        let aliases = current_aliases(&self.aliases);
        self.with_reader(|conn| queries::explain(conn, &aliases, query))
    }

    fn submit(&self, job: Box<dyn WriteJob>) {
        let sender = self.jobs.lock().ok().and_then(|jobs| jobs.clone());
        match sender {
            Some(sender) => {
                if let Err(returned) = sender.send(job) {
                    returned.0.finish(Err(Error::WriterStopped));
                }
            }
            None => job.finish(Err(Error::WriterStopped)),
        }
    }

    fn records(&self, kind: &str, after: i64, limit: usize) -> Result<Vec<Record>, Error> {
        self.with_reader(|conn| queries::records(conn, kind, after, limit))
    }

    fn record_by_seq(&self, kind: &str, seq: i64) -> Result<Option<Record>, Error> {
        self.with_reader(|conn| queries::record_by_seq(conn, kind, seq))
    }

    fn record(&self, kind: &str, key: &str) -> Result<Option<Record>, Error> {
        self.with_reader(|conn| queries::record(conn, kind, key))
    }

    fn set_param_aliases(&self, aliases: ParamAliases) {
        if let Ok(mut current) = self.aliases.write() {
            *current = Arc::new(aliases);
        }
    }

    fn stats(&self) -> Result<StoreStats, Error> {
        self.with_reader(|conn| {
            let count = |sql: &str| -> Result<u64, Error> {
                let n: i64 = conn.query_row(sql, [], |row| row.get(0))?;
                Ok(u64::try_from(n).unwrap_or(0))
            };
            Ok(StoreStats {
                resources: count("SELECT count(*) FROM resources")?,
                versions: count("SELECT count(*) FROM versions")?,
                index_rows: count(
                    "SELECT (SELECT count(*) FROM idx_string) + (SELECT count(*) FROM idx_token) \
                     + (SELECT count(*) FROM idx_date) + (SELECT count(*) FROM idx_number) \
                     + (SELECT count(*) FROM idx_quantity) + (SELECT count(*) FROM idx_reference) \
                     + (SELECT count(*) FROM idx_uri) + (SELECT count(*) FROM idx_composite)",
                )?,
            })
        })
    }
}

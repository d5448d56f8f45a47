//! The SQLite schema. See docs/store.md for the crash story of every write.

use rusqlite::Connection;

/// Bumped whenever the schema changes incompatibly.
pub(crate) const SCHEMA_VERSION: i64 = 3;

/// `resources` has one row per logical resource pointing at its current version; `versions`
/// keeps every version (bodies included) in commit order; `idx_*` tables hold search values of
/// current versions only.
const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS resources (
    res_key      INTEGER PRIMARY KEY,
    res_type     TEXT    NOT NULL,
    res_id       TEXT    NOT NULL,
    version      INTEGER NOT NULL,
    last_updated INTEGER NOT NULL,
    deleted      INTEGER NOT NULL,
    version_seq  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS resources_by_type ON resources (res_type, deleted);
CREATE INDEX IF NOT EXISTS resources_by_updated ON resources (res_type, last_updated);

CREATE TABLE IF NOT EXISTS versions (
    seq          INTEGER PRIMARY KEY,
    res_key      INTEGER NOT NULL,
    res_type     TEXT    NOT NULL,
    version      INTEGER NOT NULL,
    last_updated INTEGER NOT NULL,
    method       INTEGER NOT NULL,
    body         BLOB
);
CREATE UNIQUE INDEX IF NOT EXISTS versions_by_resource ON versions (res_key, version);
CREATE INDEX IF NOT EXISTS versions_by_type ON versions (res_type, seq);
CREATE INDEX IF NOT EXISTS versions_by_time ON versions (last_updated);

-- Search parameters by resource type and code; index rows name them by `pid`, which keeps
-- their keys short and their comparisons integer ones.
CREATE TABLE IF NOT EXISTS params (
    pid      INTEGER PRIMARY KEY,
    res_type TEXT NOT NULL,
    code     TEXT NOT NULL,
    UNIQUE (res_type, code)
);
CREATE INDEX IF NOT EXISTS params_by_code ON params (code);

-- Index tables are clustered by resource (`res_key`, `pid`, `ord`: appended in import order,
-- found by resource for sorting and for replacing a resource's rows) and carry value indexes
-- (`VALUE_INDEXES`). `ord` numbers a resource's rows in one table.
CREATE TABLE IF NOT EXISTS idx_string (
    res_key INTEGER NOT NULL, pid INTEGER NOT NULL, ord INTEGER NOT NULL,
    normalized TEXT NOT NULL, exact TEXT NOT NULL,
    PRIMARY KEY (res_key, pid, ord)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS idx_token (
    res_key INTEGER NOT NULL, pid INTEGER NOT NULL, ord INTEGER NOT NULL,
    system TEXT, code TEXT, text TEXT,
    PRIMARY KEY (res_key, pid, ord)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS idx_date (
    res_key INTEGER NOT NULL, pid INTEGER NOT NULL, ord INTEGER NOT NULL,
    low INTEGER NOT NULL, high INTEGER NOT NULL,
    PRIMARY KEY (res_key, pid, ord)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS idx_number (
    res_key INTEGER NOT NULL, pid INTEGER NOT NULL, ord INTEGER NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (res_key, pid, ord)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS idx_quantity (
    res_key INTEGER NOT NULL, pid INTEGER NOT NULL, ord INTEGER NOT NULL,
    value REAL NOT NULL, system TEXT, code TEXT, canonical_value REAL, canonical_code TEXT,
    PRIMARY KEY (res_key, pid, ord)
) WITHOUT ROWID;

-- A reference row is either local (`target_type`/`target_id`) or absolute (`url`); each kind
-- has its own partial index, so no row pays for the other's.
CREATE TABLE IF NOT EXISTS idx_reference (
    res_key INTEGER NOT NULL, pid INTEGER NOT NULL, ord INTEGER NOT NULL,
    target_type TEXT, target_id TEXT, target_version TEXT, url TEXT,
    PRIMARY KEY (res_key, pid, ord)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS idx_uri (
    res_key INTEGER NOT NULL, pid INTEGER NOT NULL, ord INTEGER NOT NULL,
    uri TEXT NOT NULL,
    PRIMARY KEY (res_key, pid, ord)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS idx_composite (
    res_key INTEGER NOT NULL, pid INTEGER NOT NULL, ord INTEGER NOT NULL,
    system TEXT, code TEXT,
    v_system TEXT, v_code TEXT, v_value REAL, v_canonical_value REAL, v_canonical_code TEXT,
    v_low INTEGER, v_high INTEGER, v_text TEXT,
    PRIMARY KEY (res_key, pid, ord)
) WITHOUT ROWID;

-- Keyed records written atomically with resources (see `Record`).
CREATE TABLE IF NOT EXISTS records (
    seq     INTEGER PRIMARY KEY,
    kind    TEXT    NOT NULL,
    key     TEXT    NOT NULL,
    updated INTEGER NOT NULL,
    value   BLOB    NOT NULL,
    data    BLOB,
    UNIQUE (kind, key)
);

-- Full text: rowid is the resource's res_key; nothing but the index is stored.
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(
    text, content, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2'
);
"#;

/// The unique key of resources by type and id. A bulk load into an empty store creates it at
/// its end (see `super::bulk`); every other store has it from the start.
pub(crate) const ID_KEY: &str =
    "CREATE UNIQUE INDEX IF NOT EXISTS resources_by_id ON resources (res_type, res_id)";

/// Every index table's value indexes (their primary keys are SQLite's own, with no SQL). A
/// bulk load into an empty store builds them at its end, by sorting (see `super::bulk`); every
/// other store has them from the start.
pub(crate) const VALUE_INDEXES: &str = r#"
CREATE INDEX IF NOT EXISTS idx_string_value ON idx_string (pid, normalized);
CREATE INDEX IF NOT EXISTS idx_token_value ON idx_token (pid, code, system);
CREATE INDEX IF NOT EXISTS idx_date_value ON idx_date (pid, low, high);
CREATE INDEX IF NOT EXISTS idx_number_value ON idx_number (pid, value);
CREATE INDEX IF NOT EXISTS idx_quantity_canonical ON idx_quantity (pid, canonical_code, canonical_value)
    WHERE canonical_code IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_quantity_written ON idx_quantity (pid, code, value);
CREATE INDEX IF NOT EXISTS idx_reference_target ON idx_reference (target_id, target_type, pid)
    WHERE target_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_reference_url ON idx_reference (url, pid) WHERE url IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_uri_value ON idx_uri (pid, uri);
CREATE INDEX IF NOT EXISTS idx_composite_value ON idx_composite (pid, code, system);
"#;

/// Query-planner stability: plans do not depend on bound values. Without it, SQLite marks a
/// cached statement whose plan looked at a bound value (every `LIMIT ?`) as expired when that
/// value is bound again, and re-prepares it on each run (a tenth of the writer's time under
/// small conditional transactions, perf 2026-11-25).
pub(crate) fn stable_plans(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

pub(crate) fn apply_pragmas(
    conn: &Connection,
    synchronous_full: bool,
    cache_mib: usize,
) -> rusqlite::Result<()> {
    // Searches, conditional writes and index rows use many distinct statements; re-preparing
    // an evicted one costs more than keeping a few hundred (rusqlite keeps 16 by default).
    conn.set_prepared_statement_cache_capacity(512);
    stable_plans(conn)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(
        None,
        "synchronous",
        if synchronous_full { "FULL" } else { "NORMAL" },
    )?;
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // The writer's page cache (16 MiB by default; negative = KiB); readers keep less and lean
    // on the operating system's file cache, so resident memory does not grow with the reader
    // count.
    let cache_kib = i64::try_from(cache_mib.max(1).saturating_mul(1024)).unwrap_or(i64::MAX);
    conn.pragma_update(None, "cache_size", -cache_kib)?;
    // No checkpoints inside commits: a background connection does them (see checkpoint.rs);
    // after a log restart the file is cut back to a bounded size.
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    conn.pragma_update(None, "journal_size_limit", super::checkpoint::WAL_KEEP)?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    Ok(())
}

/// Creates the schema in a new database, or checks an existing one's version and creates the
/// tables and the indexes no bulk load leaves out (see `super::bulk`).
pub(crate) fn create(conn: &Connection) -> Result<(), crate::Error> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if version != 0 && version != SCHEMA_VERSION {
        // Older layouts are not converted in place: a half-converted store would be worse
        // than a clear refusal. Export with the build that wrote it, then import.
        return Err(crate::Error::SchemaVersion {
            found: version,
            expected: SCHEMA_VERSION,
        });
    }
    conn.execute_batch(SCHEMA)?;
    if version == 0 {
        conn.execute_batch(ID_KEY)?;
        conn.execute_batch(VALUE_INDEXES)?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    }
    Ok(())
}

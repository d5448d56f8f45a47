//! The SQLite schema. See docs/store.md for the crash story of every write.

use rusqlite::Connection;

/// Bumped whenever the schema changes incompatibly.
pub(crate) const SCHEMA_VERSION: i64 = 2;

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
    version_seq  INTEGER NOT NULL,
    UNIQUE (res_type, res_id)
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

CREATE TABLE IF NOT EXISTS idx_string (
    res_key INTEGER NOT NULL, res_type TEXT NOT NULL, param TEXT NOT NULL,
    normalized TEXT NOT NULL, exact TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_string_value ON idx_string (res_type, param, normalized);
CREATE INDEX IF NOT EXISTS idx_string_resource ON idx_string (res_key, param);

CREATE TABLE IF NOT EXISTS idx_token (
    res_key INTEGER NOT NULL, res_type TEXT NOT NULL, param TEXT NOT NULL,
    system TEXT, code TEXT, text TEXT
);
CREATE INDEX IF NOT EXISTS idx_token_value ON idx_token (res_type, param, code, system, res_key);
CREATE INDEX IF NOT EXISTS idx_token_resource ON idx_token (res_key, param);

CREATE TABLE IF NOT EXISTS idx_date (
    res_key INTEGER NOT NULL, res_type TEXT NOT NULL, param TEXT NOT NULL,
    low INTEGER NOT NULL, high INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_date_value ON idx_date (res_type, param, low, high);
CREATE INDEX IF NOT EXISTS idx_date_resource ON idx_date (res_key, param);

CREATE TABLE IF NOT EXISTS idx_number (
    res_key INTEGER NOT NULL, res_type TEXT NOT NULL, param TEXT NOT NULL, value REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_number_value ON idx_number (res_type, param, value);
CREATE INDEX IF NOT EXISTS idx_number_resource ON idx_number (res_key, param);

CREATE TABLE IF NOT EXISTS idx_quantity (
    res_key INTEGER NOT NULL, res_type TEXT NOT NULL, param TEXT NOT NULL,
    value REAL NOT NULL, system TEXT, code TEXT, canonical_value REAL, canonical_code TEXT
);
CREATE INDEX IF NOT EXISTS idx_quantity_canonical ON idx_quantity (res_type, param, canonical_code, canonical_value);
CREATE INDEX IF NOT EXISTS idx_quantity_written ON idx_quantity (res_type, param, code, value);
CREATE INDEX IF NOT EXISTS idx_quantity_resource ON idx_quantity (res_key, param);

CREATE TABLE IF NOT EXISTS idx_reference (
    res_key INTEGER NOT NULL, res_type TEXT NOT NULL, param TEXT NOT NULL,
    target_type TEXT, target_id TEXT, target_version TEXT, url TEXT
);
CREATE INDEX IF NOT EXISTS idx_reference_target ON idx_reference (target_id, target_type, param, res_type);
CREATE INDEX IF NOT EXISTS idx_reference_url ON idx_reference (url, param, res_type);
CREATE INDEX IF NOT EXISTS idx_reference_resource ON idx_reference (res_key, param);

CREATE TABLE IF NOT EXISTS idx_uri (
    res_key INTEGER NOT NULL, res_type TEXT NOT NULL, param TEXT NOT NULL, uri TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_uri_value ON idx_uri (res_type, param, uri);
CREATE INDEX IF NOT EXISTS idx_uri_resource ON idx_uri (res_key, param);

CREATE TABLE IF NOT EXISTS idx_composite (
    res_key INTEGER NOT NULL, res_type TEXT NOT NULL, param TEXT NOT NULL,
    system TEXT, code TEXT,
    v_system TEXT, v_code TEXT, v_value REAL, v_canonical_value REAL, v_canonical_code TEXT,
    v_low INTEGER, v_high INTEGER, v_text TEXT
);
CREATE INDEX IF NOT EXISTS idx_composite_value ON idx_composite (res_type, param, code, system);
CREATE INDEX IF NOT EXISTS idx_composite_resource ON idx_composite (res_key, param);

-- Full text: rowid is the resource's res_key; nothing but the index is stored.
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(
    text, content, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2'
);
"#;

pub(crate) fn apply_pragmas(
    conn: &Connection,
    synchronous_full: bool,
    cache_mib: usize,
) -> rusqlite::Result<()> {
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
    // Checkpoint the WAL every ~16 MiB instead of ~4 MiB: fewer, larger checkpoints during
    // bulk writes; readers are unaffected.
    conn.pragma_update(None, "wal_autocheckpoint", 4000)?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    Ok(())
}

pub(crate) fn create(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(SCHEMA)?;
    let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if version == 0 {
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    }
    Ok(())
}

//! The ledger file's tables, indexes and connection settings.

use crate::Error;
use rusqlite::{Connection, OpenFlags};
use std::path::Path;

/// Bumped whenever the layout changes incompatibly; kept in `PRAGMA user_version`.
pub(crate) const LAYOUT_VERSION: i64 = 2;

/// The page size of a new ledger file.
const PAGE_SIZE: i64 = 16384;

/// `ledger` holds one row per record: the filter columns (copies of what the event says, for
/// search only; verification never trusts them), the stored bytes exactly as hashed (sequence
/// number and compact record; the AuditEvent JSON is rendered from them on read), and the
/// chain links. `keys` holds every public key that ever signed a checkpoint.
///
/// The triggers make accidental edits fail loudly; they are no defence against someone who can
/// write the file (the hash chain and the signed checkpoints are).
const SCHEMA: &str = r#"
CREATE TABLE ledger (
    seq         INTEGER PRIMARY KEY,
    recorded    INTEGER NOT NULL,
    category    TEXT    NOT NULL,
    type_code   TEXT    NOT NULL,
    interaction TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    outcome     INTEGER NOT NULL,
    agent       TEXT    NOT NULL,
    patient     TEXT,
    event       BLOB    NOT NULL,
    prev        BLOB    NOT NULL,
    hash        BLOB    NOT NULL
);
CREATE INDEX ledger_by_patient ON ledger (patient, seq) WHERE patient IS NOT NULL;
CREATE INDEX ledger_by_agent ON ledger (agent, seq);
CREATE INDEX ledger_by_recorded ON ledger (recorded);

CREATE TABLE keys (
    key_id     INTEGER PRIMARY KEY,
    public_key BLOB    NOT NULL UNIQUE,
    added_at   INTEGER NOT NULL
);

CREATE TABLE checkpoints (
    seq       INTEGER PRIMARY KEY,
    hash      BLOB    NOT NULL,
    signed_at INTEGER NOT NULL,
    key_id    INTEGER NOT NULL,
    signature BLOB    NOT NULL
);

CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
BEGIN SELECT RAISE(ABORT, 'the audit ledger is append-only'); END;
CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
BEGIN SELECT RAISE(ABORT, 'the audit ledger is append-only'); END;
CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
"#;

/// Opens the write connection: WAL, `synchronous=NORMAL` (the journal is the durable copy of
/// every acknowledged record until a synced ledger commit covers it; see [`crate::writer`]), a
/// page cache large enough for a full batch, and the tables created or checked.
pub(crate) fn open_writer(path: &Path) -> Result<Connection, Error> {
    let mut conn = Connection::open(path)?;
    // Only takes effect while the file is new. Bulk appends measured faster with 16 KiB pages
    // than with 4 KiB ones (when rows were 1.4 KB of JSON; they are about 250 bytes now).
    conn.pragma_update(None, "page_size", PAGE_SIZE)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // 32 MiB: a transaction of 4096 records (about 6.5 MB of rows and index entries) stays in
    // memory instead of spilling to the WAL before its commit.
    conn.pragma_update(None, "cache_size", -32768)?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if version == 0 {
        let tables: i64 =
            tx.query_row("SELECT count(*) FROM sqlite_master", [], |row| row.get(0))?;
        if tables != 0 {
            return Err(Error::LayoutVersion {
                found: 0,
                expected: LAYOUT_VERSION,
            });
        }
        tx.execute_batch(SCHEMA)?;
        tx.pragma_update(None, "user_version", LAYOUT_VERSION)?;
    } else if version != LAYOUT_VERSION {
        return Err(Error::LayoutVersion {
            found: version,
            expected: LAYOUT_VERSION,
        });
    }
    tx.commit()?;
    Ok(conn)
}

/// Opens a read-only connection to an existing ledger.
pub(crate) fn open_reader(path: &Path) -> Result<Connection, Error> {
    if !path.exists() {
        return Err(Error::NoLedger {
            path: path.to_owned(),
        });
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if version != LAYOUT_VERSION {
        return Err(Error::LayoutVersion {
            found: version,
            expected: LAYOUT_VERSION,
        });
    }
    Ok(conn)
}

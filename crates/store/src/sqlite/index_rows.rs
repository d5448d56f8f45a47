//! Writing and removing a resource's search-index rows.

use super::params::ParamIds;
use crate::{CompositeValue, Error, IndexRows};
use rusqlite::{CachedStatement, Connection};

const TABLES: &[&str] = &[
    "DELETE FROM idx_string WHERE res_key = ?1",
    "DELETE FROM idx_token WHERE res_key = ?1",
    "DELETE FROM idx_date WHERE res_key = ?1",
    "DELETE FROM idx_number WHERE res_key = ?1",
    "DELETE FROM idx_quantity WHERE res_key = ?1",
    "DELETE FROM idx_reference WHERE res_key = ?1",
    "DELETE FROM idx_uri WHERE res_key = ?1",
    "DELETE FROM idx_composite WHERE res_key = ?1",
];

/// A change to the full-text index, made after a batch's jobs (see [`TextOp::apply`]).
#[derive(Debug)]
pub(crate) enum TextOp {
    /// Remove the row of a resource.
    Delete(i64),
    /// Add the row of a resource (which has none).
    Insert(i64, Option<String>, Option<String>),
}

impl TextOp {
    /// FTS5 writes its pending terms out at every savepoint boundary, so full-text rows are
    /// written once per batch, outside the jobs' savepoints, in job order. A search inside a
    /// job does not see the full text of its own batch.
    pub(crate) fn apply(&self, conn: &Connection) -> Result<(), Error> {
        match self {
            TextOp::Delete(res_key) => {
                conn.prepare_cached("DELETE FROM fts WHERE rowid = ?1")?
                    .execute([res_key])?;
            }
            TextOp::Insert(res_key, text, content) => {
                conn.prepare_cached("INSERT INTO fts (rowid, text, content) VALUES (?1, ?2, ?3)")?
                    .execute((res_key, text, content))?;
            }
        }
        Ok(())
    }
}

/// Removes every index row of `res_key` but the full-text one (see [`TextOp`]).
pub(crate) fn delete(conn: &Connection, res_key: i64) -> Result<(), Error> {
    for sql in TABLES {
        conn.prepare_cached(sql)?.execute([res_key])?;
    }
    Ok(())
}

/// The insert statement of each index table: string, token, date, number, quantity, reference,
/// uri, composite (the slots of [`Inserts`]).
const INSERTS: [&str; 8] = [
    "INSERT INTO idx_string (res_key, pid, ord, normalized, exact) VALUES (?1, ?2, ?3, ?4, ?5)",
    "INSERT INTO idx_token (res_key, pid, ord, system, code, text) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    "INSERT INTO idx_date (res_key, pid, ord, low, high) VALUES (?1, ?2, ?3, ?4, ?5)",
    "INSERT INTO idx_number (res_key, pid, ord, value) VALUES (?1, ?2, ?3, ?4)",
    "INSERT INTO idx_quantity (res_key, pid, ord, value, system, code, canonical_value, canonical_code) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    "INSERT INTO idx_reference (res_key, pid, ord, target_type, target_id, target_version, url) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    "INSERT INTO idx_uri (res_key, pid, ord, uri) VALUES (?1, ?2, ?3, ?4)",
    "INSERT INTO idx_composite (res_key, pid, ord, system, code, v_system, v_code, v_value, \
     v_canonical_value, v_canonical_code, v_low, v_high, v_text) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
];

/// The index tables' insert statements, taken from the connection's cache once per write job
/// and kept until it ends, instead of once per table per resource: each look-up hashes the
/// statement's text (about 1% of a bulk import's CPU samples).
#[derive(Default)]
pub(crate) struct Inserts<'c> {
    statements: [Option<CachedStatement<'c>>; 8],
}

impl<'c> Inserts<'c> {
    fn get(
        &mut self,
        conn: &'c Connection,
        table: usize,
    ) -> Result<&mut CachedStatement<'c>, Error> {
        Ok(match &mut self.statements[table] {
            Some(statement) => statement,
            slot @ None => slot.insert(conn.prepare_cached(INSERTS[table])?),
        })
    }
}

/// Inserts the index rows of `res_key`, which has none yet, but the full-text one (see
/// [`text_of`]).
pub(crate) fn insert<'c>(
    conn: &'c Connection,
    params: &mut ParamIds,
    inserts: &mut Inserts<'c>,
    res_key: i64,
    res_type: &str,
    rows: &IndexRows,
) -> Result<(), Error> {
    let mut pid = |code: &str| params.get_or_create(conn, res_type, code);
    if !rows.strings.is_empty() {
        let insert = inserts.get(conn, 0)?;
        for (ord, row) in (0_i64..).zip(&rows.strings) {
            insert.execute((res_key, pid(&row.param)?, ord, &row.normalized, &row.exact))?;
        }
    }
    if !rows.tokens.is_empty() {
        let insert = inserts.get(conn, 1)?;
        for (ord, row) in (0_i64..).zip(&rows.tokens) {
            insert.execute((
                res_key,
                pid(&row.param)?,
                ord,
                &row.system,
                &row.code,
                &row.text,
            ))?;
        }
    }
    if !rows.dates.is_empty() {
        let insert = inserts.get(conn, 2)?;
        for (ord, row) in (0_i64..).zip(&rows.dates) {
            insert.execute((res_key, pid(&row.param)?, ord, row.low, row.high))?;
        }
    }
    if !rows.numbers.is_empty() {
        let insert = inserts.get(conn, 3)?;
        for (ord, row) in (0_i64..).zip(&rows.numbers) {
            insert.execute((res_key, pid(&row.param)?, ord, row.value))?;
        }
    }
    if !rows.quantities.is_empty() {
        let insert = inserts.get(conn, 4)?;
        for (ord, row) in (0_i64..).zip(&rows.quantities) {
            insert.execute((
                res_key,
                pid(&row.param)?,
                ord,
                row.value,
                &row.system,
                &row.code,
                row.canonical_value,
                &row.canonical_code,
            ))?;
        }
    }
    if !rows.references.is_empty() {
        let insert = inserts.get(conn, 5)?;
        for (ord, row) in (0_i64..).zip(&rows.references) {
            insert.execute((
                res_key,
                pid(&row.param)?,
                ord,
                &row.target_type,
                &row.target_id,
                &row.target_version,
                &row.url,
            ))?;
        }
    }
    if !rows.uris.is_empty() {
        let insert = inserts.get(conn, 6)?;
        for (ord, row) in (0_i64..).zip(&rows.uris) {
            insert.execute((res_key, pid(&row.param)?, ord, &row.uri))?;
        }
    }
    if !rows.composites.is_empty() {
        let insert = inserts.get(conn, 7)?;
        for (ord, row) in (0_i64..).zip(&rows.composites) {
            let (
                mut v_system,
                mut v_code,
                mut v_value,
                mut v_canonical_value,
                mut v_canonical_code,
            ) = (None, None, None, None, None);
            let (mut v_low, mut v_high, mut v_text) = (None, None, None);
            match &row.value {
                CompositeValue::Token { system, code } => {
                    v_system = system.clone();
                    v_code = code.clone();
                }
                CompositeValue::Quantity(quantity) => {
                    v_system = quantity.system.clone();
                    v_code = quantity.code.clone();
                    v_value = Some(quantity.value);
                    v_canonical_value = quantity.canonical_value;
                    v_canonical_code = quantity.canonical_code.clone();
                }
                CompositeValue::Date { low, high } => {
                    v_low = Some(*low);
                    v_high = Some(*high);
                }
                CompositeValue::String(text) => v_text = Some(text.clone()),
            }
            insert.execute(rusqlite::params![
                res_key,
                pid(&row.param)?,
                ord,
                &row.system,
                &row.code,
                v_system,
                v_code,
                v_value,
                v_canonical_value,
                v_canonical_code,
                v_low,
                v_high,
                v_text
            ])?;
        }
    }
    Ok(())
}

/// The full-text row of `rows`, if it has text.
pub(crate) fn text_of(res_key: i64, rows: &IndexRows) -> Option<TextOp> {
    (rows.text.is_some() || rows.content.is_some())
        .then(|| TextOp::Insert(res_key, rows.text.clone(), rows.content.clone()))
}

//! Read queries shared by the read pool and the writer's transaction.

use super::search_sql::{self, Plan};
use crate::{
    Clause, Error, HistoryPage, HistoryQuery, HistoryScope, Include, Method, PageKey, ParamAliases,
    Predicate, Record, SearchPage, SearchQuery, SortValue, StoredResource, Timestamp,
};
use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, OptionalExtension, Row};
use std::sync::Arc;

/// The columns [`stored_from_row`] reads (a macro, so that constant queries can `concat!` it).
macro_rules! version_columns {
    () => {
        "r.res_type, r.res_id, v.version, v.last_updated, v.method, v.body, v.seq"
    };
}
const VERSION_COLUMNS: &str = version_columns!();

/// The current version by type and id: every write of an id asks this, so its text is a
/// constant rather than formatted per call.
const READ: &str = concat!(
    "SELECT ",
    version_columns!(),
    " FROM resources r JOIN versions v ON v.seq = r.version_seq WHERE r.res_type = ?1 AND r.res_id = ?2"
);

fn stored_from_row(row: &Row<'_>) -> rusqlite::Result<StoredResource> {
    let version: i64 = row.get(2)?;
    Ok(StoredResource {
        resource_type: row.get(0)?,
        id: row.get(1)?,
        version: u64::try_from(version).unwrap_or(0),
        last_updated: Timestamp(row.get(3)?),
        method: Method::from_code(row.get(4)?),
        body: row.get(5)?,
        seq: row.get(6)?,
    })
}

pub(crate) fn read(
    conn: &Connection,
    resource_type: &str,
    id: &str,
) -> Result<Option<StoredResource>, Error> {
    let mut stmt = conn.prepare_cached(READ)?;
    Ok(stmt
        .query_row((resource_type, id), stored_from_row)
        .optional()?)
}

pub(crate) fn vread(
    conn: &Connection,
    resource_type: &str,
    id: &str,
    version: u64,
) -> Result<Option<StoredResource>, Error> {
    let Ok(version) = i64::try_from(version) else {
        return Ok(None);
    };
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM resources r JOIN versions v ON v.res_key = r.res_key \
         WHERE r.res_type = ?1 AND r.res_id = ?2 AND v.version = ?3"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    Ok(stmt
        .query_row((resource_type, id, version), stored_from_row)
        .optional()?)
}

pub(crate) fn history(conn: &Connection, query: &HistoryQuery) -> Result<HistoryPage, Error> {
    let mut sql = format!(
        "SELECT {VERSION_COLUMNS} FROM versions v JOIN resources r ON r.res_key = v.res_key WHERE 1"
    );
    let mut params: Vec<Value> = Vec::new();
    match &query.scope {
        HistoryScope::System => {}
        HistoryScope::Type(resource_type) => {
            sql.push_str(" AND v.res_type = ?");
            params.push(Value::Text(resource_type.clone()));
        }
        HistoryScope::Instance(resource_type, id) => {
            sql.push_str(" AND r.res_type = ? AND r.res_id = ?");
            params.push(Value::Text(resource_type.clone()));
            params.push(Value::Text(id.clone()));
        }
    }
    if let Some(since) = query.since {
        // Commit order and time order agree, so `_since` becomes a lower bound on `seq`, found
        // through the time index; the page is then a plain range scan on `seq`.
        sql.push_str(
            " AND v.seq >= coalesce((SELECT min(seq) FROM versions WHERE last_updated >= ?), \
             9223372036854775807)",
        );
        params.push(Value::Integer(since.0));
    }
    if let Some((start, end)) = query.at {
        sql.push_str(
            " AND v.last_updated < ? AND NOT EXISTS (SELECT 1 FROM versions later \
             WHERE later.res_key = v.res_key AND later.version > v.version AND later.last_updated <= ?)",
        );
        params.push(Value::Integer(end.0));
        params.push(Value::Integer(start.0));
    }
    if let Some(before) = query.before_seq {
        sql.push_str(" AND v.seq < ?");
        params.push(Value::Integer(before));
    }
    sql.push_str(" ORDER BY v.seq DESC LIMIT ?");
    let limit = query.count.saturating_add(1);
    params.push(Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut entries = stmt
        .query_map(rusqlite::params_from_iter(params), stored_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let next_before_seq = if entries.len() > query.count {
        entries.truncate(query.count);
        entries.last().map(|last| last.seq)
    } else {
        None
    };
    Ok(HistoryPage {
        entries,
        next_before_seq,
    })
}

/// Index rows counted at most when estimating a clause's selectivity: enough to tell a
/// selective clause from a broad one, cheap enough to run for every clause.
const ESTIMATE_CAP: usize = 2000;

/// Picks the clause that drives a search: the one matching the fewest index rows (counted up
/// to [`ESTIMATE_CAP`]). A page without sort keys over broad clauses scans the type in storage
/// order instead, probing each clause, so its cost follows the page size, not the match count.
fn choose_plan(
    conn: &Connection,
    aliases: &Arc<ParamAliases>,
    query: &SearchQuery,
) -> Result<Plan, Error> {
    let mut best: Option<(usize, u64)> = None;
    for (index, Clause(predicates)) in query.clauses.iter().enumerate() {
        let mut estimate = 0_u64;
        let mut known = !predicates.is_empty();
        for predicate in predicates {
            if let Predicate::Id(_) = predicate {
                estimate += 1;
                continue;
            }
            match search_sql::estimate_query(
                aliases,
                &query.resource_types,
                predicate,
                ESTIMATE_CAP,
            ) {
                Some(sql) => {
                    let count: i64 = conn
                        .prepare_cached(&sql.text)?
                        .query_row(rusqlite::params_from_iter(sql.params.iter()), |row| {
                            row.get(0)
                        })?;
                    estimate += u64::try_from(count).unwrap_or(0);
                }
                None => known = false,
            }
        }
        if known && best.is_none_or(|(_, lowest)| estimate < lowest) {
            best = Some((index, estimate));
        }
    }
    Ok(match best {
        Some((index, estimate)) if !query.sort.is_empty() || estimate < ESTIMATE_CAP as u64 => {
            Plan::Driver(index)
        }
        _ => Plan::Scan,
    })
}

/// Runs a search page (and its count when asked).
pub(crate) fn search(
    conn: &Connection,
    aliases: &Arc<ParamAliases>,
    query: &SearchQuery,
) -> Result<SearchPage, Error> {
    const COLUMNS: &str =
        "r0.res_type, r0.res_id, v.version, v.last_updated, v.method, v.body, v.seq";
    let plan = choose_plan(conn, aliases, query)?;
    let sql = search_sql::page_query(aliases, query, COLUMNS, plan);
    let mut stmt = conn.prepare_cached(&sql.text)?;
    let sort_count = query.sort.len();
    let mut rows = stmt
        .query_map(rusqlite::params_from_iter(sql.params.iter()), |row| {
            let resource = stored_from_row(row)?;
            let key: i64 = row.get(7)?;
            let mut values = Vec::with_capacity(sort_count);
            for n in 0..sort_count {
                values.push(match row.get_ref(8 + n)? {
                    ValueRef::Null => SortValue::Null,
                    ValueRef::Integer(i) => SortValue::Integer(i),
                    ValueRef::Real(x) => SortValue::Real(x),
                    ValueRef::Text(t) | ValueRef::Blob(t) => {
                        SortValue::Text(String::from_utf8_lossy(t).into_owned())
                    }
                });
            }
            Ok((resource, PageKey { values, key }))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let next = if rows.len() > query.count {
        rows.truncate(query.count);
        rows.last().map(|(_, key)| key.clone())
    } else {
        None
    };
    let total = if query.total {
        let sql = search_sql::count_query(aliases, query, plan);
        let mut stmt = conn.prepare_cached(&sql.text)?;
        let count: i64 = stmt.query_row(rusqlite::params_from_iter(sql.params.iter()), |row| {
            row.get(0)
        })?;
        Some(u64::try_from(count).unwrap_or(0))
    } else {
        None
    };
    let keys = rows.iter().map(|(_, key)| key.key).collect();
    Ok(SearchPage {
        resources: rows.into_iter().map(|(resource, _)| resource).collect(),
        keys,
        next,
        total,
    })
}

fn keys_list(keys: &[i64]) -> String {
    keys.iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Resources that the resources with `keys` refer to through `include`'s parameter.
pub(crate) fn include(
    conn: &Connection,
    keys: &[i64],
    include: &Include,
) -> Result<Vec<(i64, StoredResource)>, Error> {
    linked(conn, keys, include, false)
}

/// Resources of `include.source_type` that refer to the resources with `keys` through its
/// parameter (`_revinclude`).
pub(crate) fn revinclude(
    conn: &Connection,
    keys: &[i64],
    include: &Include,
) -> Result<Vec<(i64, StoredResource)>, Error> {
    linked(conn, keys, include, true)
}

/// Follows reference rows `x` (of `include.source_type`, optionally one parameter and one
/// target type) forward from the resources with `keys` (`_include`) or backward to them
/// (`_revinclude`), returning the current resources at the other end.
fn linked(
    conn: &Connection,
    keys: &[i64],
    include: &Include,
    reverse: bool,
) -> Result<Vec<(i64, StoredResource)>, Error> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let joins = if reverse {
        // `t` are the given resources, `r` the ones referring to them.
        "FROM resources t \
         JOIN idx_reference x ON x.target_id = t.res_id AND x.target_type = t.res_type \
         JOIN resources r ON r.res_key = x.res_key"
    } else {
        "FROM idx_reference x \
         JOIN resources r ON r.res_type = x.target_type AND r.res_id = x.target_id"
    };
    let given = if reverse { "t.res_key" } else { "x.res_key" };
    // Keys are integers from our own tables, so listing them inline is safe.
    let mut sql = format!(
        "SELECT DISTINCT {VERSION_COLUMNS}, r.res_key {joins} \
         JOIN versions v ON v.seq = r.version_seq \
         WHERE {given} IN ({}) AND r.deleted = 0 AND x.target_id IS NOT NULL \
         AND x.pid IN (SELECT pid FROM params WHERE res_type = ?",
        keys_list(keys)
    );
    let mut params: Vec<Value> = vec![Value::Text(include.source_type.clone())];
    if let Some(param) = &include.param {
        sql.push_str(" AND code = ?");
        params.push(Value::Text(param.clone()));
    }
    sql.push(')');
    if let Some(target) = &include.target_type {
        sql.push_str(" AND x.target_type = ?");
        params.push(Value::Text(target.clone()));
    }
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(params), |row| {
            Ok((row.get::<_, i64>(7)?, stored_from_row(row)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// The query plan SQLite chooses for a search (for tests and diagnostics).
pub(crate) fn explain(
    conn: &Connection,
    aliases: &Arc<ParamAliases>,
    query: &SearchQuery,
) -> Result<Vec<String>, Error> {
    const COLUMNS: &str =
        "r0.res_type, r0.res_id, v.version, v.last_updated, v.method, v.body, v.seq";
    let plan = choose_plan(conn, aliases, query)?;
    let sql = search_sql::page_query(aliases, query, COLUMNS, plan);
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {}", sql.text))?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(sql.params.iter()), |row| {
            row.get::<_, String>(3)
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Streams the matches of `queries` inside one read transaction, so that all of them see the
/// same snapshot.
pub(crate) fn scan(
    conn: &Connection,
    aliases: &Arc<ParamAliases>,
    queries: &[SearchQuery],
    visit: &mut dyn FnMut(StoredResource) -> Result<bool, Error>,
) -> Result<(), Error> {
    const COLUMNS: &str =
        "r0.res_type, r0.res_id, v.version, v.last_updated, v.method, v.body, v.seq";
    // A long scan visits bodies in storage order across the versions table; a larger page
    // cache for its duration saves re-reading interior pages. Restored (and freed) afterwards.
    conn.pragma_update(None, "cache_size", -131_072)?;
    conn.execute_batch("BEGIN")?;
    let result = (|| {
        for query in queries {
            let mut query = query.clone();
            query.sort.clear();
            query.after = None;
            query.count = usize::MAX - 1;
            let plan = choose_plan(conn, aliases, &query)?;
            let sql = search_sql::page_query(aliases, &query, COLUMNS, plan);
            let mut stmt = conn.prepare(&sql.text)?;
            let mut rows = stmt.query(rusqlite::params_from_iter(sql.params.iter()))?;
            while let Some(row) = rows.next()? {
                if !visit(stored_from_row(row)?)? {
                    return Ok(());
                }
            }
        }
        Ok(())
    })();
    let _ = conn.execute_batch("COMMIT");
    let _ = conn.pragma_update(None, "cache_size", -2048);
    result
}

const RECORD_COLUMNS: &str = "seq, kind, key, updated, value, data";

fn record_from_row(row: &Row<'_>) -> rusqlite::Result<Record> {
    Ok(Record {
        seq: row.get(0)?,
        kind: row.get(1)?,
        key: row.get(2)?,
        updated: Timestamp(row.get(3)?),
        value: row.get(4)?,
        data: row.get(5)?,
    })
}

/// Record `key` of `kind`.
pub(crate) fn record(conn: &Connection, kind: &str, key: &str) -> Result<Option<Record>, Error> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {RECORD_COLUMNS} FROM records WHERE kind = ?1 AND key = ?2"
        ))?
        .query_row((kind, key), record_from_row)
        .optional()?)
}

/// Record `seq` of `kind`.
pub(crate) fn record_by_seq(
    conn: &Connection,
    kind: &str,
    seq: i64,
) -> Result<Option<Record>, Error> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {RECORD_COLUMNS} FROM records WHERE kind = ?1 AND seq = ?2"
        ))?
        .query_row((kind, seq), record_from_row)
        .optional()?)
}

/// Records of `kind` after `after`, oldest first.
pub(crate) fn records(
    conn: &Connection,
    kind: &str,
    after: i64,
    limit: usize,
) -> Result<Vec<Record>, Error> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = conn
        .prepare_cached(&format!(
            "SELECT {RECORD_COLUMNS} FROM records WHERE kind = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"
        ))?
        .query_map((kind, after, limit), record_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Creates or replaces a record, keeping its sequence number.
pub(crate) fn put_record(
    conn: &Connection,
    kind: &str,
    key: &str,
    updated: Timestamp,
    value: &[u8],
    data: Option<&[u8]>,
) -> Result<i64, Error> {
    let seq: i64 = conn
        .prepare_cached(
            "INSERT INTO records (kind, key, updated, value, data) VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT (kind, key) DO UPDATE SET updated = excluded.updated, \
             value = excluded.value, data = excluded.data RETURNING seq",
        )?
        .query_row((kind, key, updated.0, value, data), |row| row.get(0))?;
    Ok(seq)
}

//! Read queries shared by the read pool and the writer's transaction.

use crate::{
    Clause, Error, HistoryPage, HistoryQuery, HistoryScope, Method, SearchPage, SearchQuery,
    StoredResource, TimeBound, Timestamp, TokenSystem,
};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row};

const VERSION_COLUMNS: &str =
    "r.res_type, r.res_id, v.version, v.last_updated, v.method, v.body, v.seq";

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
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM resources r JOIN versions v ON v.seq = r.version_seq \
         WHERE r.res_type = ?1 AND r.res_id = ?2"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
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

fn push_time_bound(sql: &mut String, params: &mut Vec<Value>, bound: &TimeBound) {
    sql.push_str(if bound.negate { "NOT (1" } else { "(1" });
    if let Some(min) = bound.min {
        sql.push_str(" AND r.last_updated >= ?");
        params.push(Value::Integer(min.0));
    }
    if let Some(max) = bound.max_exclusive {
        sql.push_str(" AND r.last_updated < ?");
        params.push(Value::Integer(max.0));
    }
    sql.push(')');
}

/// Builds the WHERE clause of a search. Every value is bound; only fixed SQL text is appended.
fn push_clauses(sql: &mut String, params: &mut Vec<Value>, query: &SearchQuery) {
    sql.push_str(" WHERE r.res_type = ? AND r.deleted = 0");
    params.push(Value::Text(query.resource_type.clone()));
    for clause in &query.clauses {
        sql.push_str(" AND ");
        match clause {
            Clause::Ids(ids) => {
                sql.push_str("r.res_id IN (");
                for (n, id) in ids.iter().enumerate() {
                    sql.push_str(if n == 0 { "?" } else { ", ?" });
                    params.push(Value::Text(id.clone()));
                }
                sql.push(')');
            }
            Clause::LastUpdated(bounds) => {
                sql.push('(');
                for (n, bound) in bounds.iter().enumerate() {
                    if n > 0 {
                        sql.push_str(" OR ");
                    }
                    push_time_bound(sql, params, bound);
                }
                sql.push(')');
            }
            Clause::Token { param, values } => {
                sql.push_str(
                    "r.res_key IN (SELECT t.res_key FROM idx_token t WHERE t.param = ? AND (",
                );
                params.push(Value::Text(param.clone()));
                for (n, value) in values.iter().enumerate() {
                    if n > 0 {
                        sql.push_str(" OR ");
                    }
                    sql.push_str("(1");
                    if let Some(code) = &value.code {
                        sql.push_str(" AND t.code = ?");
                        params.push(Value::Text(code.clone()));
                    }
                    match &value.system {
                        TokenSystem::Any => {}
                        TokenSystem::None => sql.push_str(" AND t.system IS NULL"),
                        TokenSystem::Is(system) => {
                            sql.push_str(" AND t.system = ?");
                            params.push(Value::Text(system.clone()));
                        }
                    }
                    sql.push(')');
                }
                sql.push_str("))");
            }
        }
    }
}

pub(crate) fn search(conn: &Connection, query: &SearchQuery) -> Result<SearchPage, Error> {
    let mut params: Vec<Value> = Vec::new();
    let mut sql = format!(
        "SELECT {VERSION_COLUMNS}, r.res_key FROM resources r JOIN versions v ON v.seq = r.version_seq"
    );
    push_clauses(&mut sql, &mut params, query);
    if let Some(after) = query.after_key {
        sql.push_str(" AND r.res_key > ?");
        params.push(Value::Integer(after));
    }
    sql.push_str(" ORDER BY r.res_key LIMIT ?");
    params.push(Value::Integer(
        i64::try_from(query.count.saturating_add(1)).unwrap_or(i64::MAX),
    ));
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt
        .query_map(rusqlite::params_from_iter(params), |row| {
            Ok((stored_from_row(row)?, row.get::<_, i64>(7)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let next_after_key = if rows.len() > query.count {
        rows.truncate(query.count);
        rows.last().map(|(_, key)| *key)
    } else {
        None
    };
    let total = if query.total {
        let mut params: Vec<Value> = Vec::new();
        let mut sql = String::from("SELECT count(*) FROM resources r");
        push_clauses(&mut sql, &mut params, query);
        let mut stmt = conn.prepare_cached(&sql)?;
        let count: i64 = stmt.query_row(rusqlite::params_from_iter(params), |row| row.get(0))?;
        Some(u64::try_from(count).unwrap_or(0))
    } else {
        None
    };
    Ok(SearchPage {
        resources: rows.into_iter().map(|(resource, _)| resource).collect(),
        next_after_key,
        total,
    })
}

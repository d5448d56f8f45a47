//! Searching the ledger by its filter columns.

use crate::{Action, Category, Error, Outcome};
use rusqlite::Connection;
use rusqlite::types::Value;

/// Records returned when [`AuditQuery::count`] is not set.
pub const DEFAULT_COUNT: usize = 100;

/// The most records one search returns.
pub const MAX_COUNT: usize = 1000;

/// Filters for [`crate::AuditLog::search`]; every filter that is set must match. Results are
/// newest first (highest sequence number first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Recorded at or after this time (unix ms).
    pub recorded_ge: Option<i64>,
    /// Recorded after this time (unix ms).
    pub recorded_gt: Option<i64>,
    /// Recorded at or before this time (unix ms).
    pub recorded_le: Option<i64>,
    /// Recorded before this time (unix ms).
    pub recorded_lt: Option<i64>,
    /// Concerning this patient (`123` or `Patient/123`).
    pub patient: Option<String>,
    /// By this agent (user name or client id).
    pub agent: Option<String>,
    /// With this interaction (the AuditEvent `subtype` code, e.g. `read`).
    pub interaction: Option<String>,
    /// With this AuditEvent `type` code (`rest`, `110114`, `110106`).
    pub type_code: Option<String>,
    /// Of this category.
    pub category: Option<Category>,
    /// With this action.
    pub action: Option<Action>,
    /// With this outcome.
    pub outcome: Option<Outcome>,
    /// Only records older than this sequence number (for paging: the last one of the page before).
    pub before_seq: Option<u64>,
    /// How many records at most: [`DEFAULT_COUNT`] when not set, never more than [`MAX_COUNT`].
    pub count: Option<usize>,
}

/// Runs the query. The SQL is assembled only from fixed fragments; every value is bound.
pub(crate) fn search(conn: &Connection, query: &AuditQuery) -> Result<Vec<(u64, Vec<u8>)>, Error> {
    let mut clauses: Vec<&'static str> = Vec::new();
    let mut values: Vec<Value> = Vec::new();
    let mut filter = |clause: &'static str, value: Value| {
        clauses.push(clause);
        values.push(value);
    };
    if let Some(time) = query.recorded_ge {
        filter("recorded >= ?", Value::Integer(time));
    }
    if let Some(time) = query.recorded_gt {
        filter("recorded > ?", Value::Integer(time));
    }
    if let Some(time) = query.recorded_le {
        filter("recorded <= ?", Value::Integer(time));
    }
    if let Some(time) = query.recorded_lt {
        filter("recorded < ?", Value::Integer(time));
    }
    if let Some(patient) = &query.patient {
        let id = patient.strip_prefix("Patient/").unwrap_or(patient);
        filter("patient = ?", Value::Text(id.to_owned()));
    }
    if let Some(agent) = &query.agent {
        filter("agent = ?", Value::Text(agent.clone()));
    }
    if let Some(interaction) = &query.interaction {
        filter("interaction = ?", Value::Text(interaction.clone()));
    }
    if let Some(type_code) = &query.type_code {
        filter("type_code = ?", Value::Text(type_code.clone()));
    }
    if let Some(category) = query.category {
        filter("category = ?", Value::Text(category.code().to_owned()));
    }
    if let Some(action) = query.action {
        filter("action = ?", Value::Text(action.code().to_owned()));
    }
    if let Some(outcome) = query.outcome {
        filter("outcome = ?", Value::Integer(outcome.number()));
    }
    if let Some(before) = query.before_seq {
        filter(
            "seq < ?",
            Value::Integer(i64::try_from(before).unwrap_or(i64::MAX)),
        );
    }
    let count = query.count.unwrap_or(DEFAULT_COUNT).min(MAX_COUNT);
    if count == 0 {
        return Ok(Vec::new());
    }
    values.push(Value::Integer(i64::try_from(count).unwrap_or(1000)));
    let mut sql = String::from("SELECT seq, event FROM ledger");
    if !clauses.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&clauses.join(" AND "));
    }
    sql.push_str(" ORDER BY seq DESC LIMIT ?");
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map(rusqlite::params_from_iter(values), |row| {
        Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?))
    })?;
    let mut found = Vec::with_capacity(count.min(64));
    for row in rows {
        let (seq, event) = row?;
        // Sequence numbers below 1 are never written; such a row is not ours to return.
        if let Ok(seq) = u64::try_from(seq) {
            found.push((seq, crate::event::render(seq, &event)?));
        }
    }
    Ok(found)
}

//! Search-parameter ids: index rows name their parameter by a small integer (`pid`) from the
//! `params` table instead of repeating the resource type and code in every row and key.

use crate::Error;
use rusqlite::{Connection, OptionalExtension};
use std::collections::HashMap;

/// The writer's cache of `params`. A parameter seen for the first time is inserted inside the
/// current transaction, so a rollback may remove rows the cache still holds: the writer calls
/// [`ParamIds::forget`] after every rollback.
#[derive(Debug, Default)]
pub(crate) struct ParamIds {
    by_type: HashMap<String, HashMap<String, i64>>,
}

impl ParamIds {
    /// The id of `res_type`'s parameter `code`, created if new.
    pub(crate) fn get_or_create(
        &mut self,
        conn: &Connection,
        res_type: &str,
        code: &str,
    ) -> Result<i64, Error> {
        if let Some(pid) = self.by_type.get(res_type).and_then(|codes| codes.get(code)) {
            return Ok(*pid);
        }
        let existing: Option<i64> = conn
            .prepare_cached("SELECT pid FROM params WHERE res_type = ?1 AND code = ?2")?
            .query_row((res_type, code), |row| row.get(0))
            .optional()?;
        let pid = match existing {
            Some(pid) => pid,
            None => {
                conn.prepare_cached("INSERT INTO params (res_type, code) VALUES (?1, ?2)")?
                    .execute((res_type, code))?;
                conn.last_insert_rowid()
            }
        };
        self.by_type
            .entry(res_type.to_owned())
            .or_default()
            .insert(code.to_owned(), pid);
        Ok(pid)
    }

    /// Drops every cached id (after a rollback).
    pub(crate) fn forget(&mut self) {
        self.by_type.clear();
    }
}
